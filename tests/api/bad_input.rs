//! Walks every operation in the served spec with malformed input, as the platform
//! administrator and as nobody: every answer is a 4xx problem body, never a 5xx.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::spawn_app;

#[tokio::test]
async fn every_operation_answers_bad_input_with_a_4xx_problem() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let spec: Value = app
        .client
        .get(format!("{}/api/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let has_body = op.get("requestBody").is_some();
            let unknown = uuid::Uuid::new_v4().to_string();
            let variants: Vec<(String, Option<Value>, &str)> = {
                let bad_id = path
                    .replace(['{', '}'], "")
                    .split('/')
                    .map(|seg| {
                        if op["parameters"].as_array().is_some_and(|ps| {
                            ps.iter().any(|p| p["in"] == "path" && p["name"] == seg)
                        }) {
                            "not-a-uuid".to_string()
                        } else {
                            seg.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                let unknown_id = path
                    .split('/')
                    .map(|seg| {
                        if seg.starts_with('{') {
                            unknown.clone()
                        } else {
                            seg.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                let mut v = Vec::new();
                if path.contains('{') {
                    v.push((bad_id, has_body.then(|| json!({})), "malformed id"));
                }
                if has_body {
                    v.push((unknown_id.clone(), Some(json!([])), "array body"));
                    v.push((
                        unknown_id.clone(),
                        Some(json!({ "unexpected_field": "x".repeat(5000) })),
                        "unknown field",
                    ));
                    v.push((unknown_id.clone(), Some(json!("text")), "string body"));
                } else if path.contains('{') {
                    v.push((unknown_id, None, "unknown id"));
                }
                v
            };
            for (url, body, what) in variants {
                for token in [Some(admin.as_str()), None] {
                    let answer = app.call(method.clone(), &url, token, body.clone()).await;
                    checked += 1;
                    let status = answer.status.as_u16();
                    let problem = answer.content_type == "application/problem+json"
                        && answer.body["code"].is_string();
                    // Reads of public objects by unknown id are 404; all else is a client error.
                    if !(400..500).contains(&status) || !problem {
                        failures.push(format!(
                            "{method} {url} ({what}, {}): {status} {}",
                            if token.is_some() {
                                "admin"
                            } else {
                                "anonymous"
                            },
                            answer.body
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 100, "walked {checked} requests");
    assert!(
        failures.is_empty(),
        "{} bad answers:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn malformed_query_parameters_are_problems() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for path in [
        "/places?parent_id=nope",
        "/places?kind=7",
        "/organisations?place_id=%%",
        "/proposals?community_id=x",
        "/proposals?page=0",
        "/proposals?page=abc",
        "/proposals?status=maybe",
        "/audit/entries?object_type=place&object_id=x&offset=-1",
    ] {
        let answer = app.get(path, Some(&admin)).await;
        assert_eq!(answer.status.as_u16(), 400, "{path}: {}", answer.body);
        answer.problem(400, "invalid_request");
    }
}

#[tokio::test]
async fn malformed_bodies_are_explained_in_plain_words() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let cases = [
        (
            json!({ "community_id": null, "title": "x", "body": "y" }),
            "missing",
        ),
        (
            json!({ "community_id": "nope", "title": "x", "body": "y" }),
            "UUID",
        ),
        (json!({}), "missing"),
    ];
    for (body, says) in cases {
        let answer = app.post("/proposals", Some(&admin), body.clone()).await;
        answer.problem(400, "invalid_request");
        let detail = answer.body["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{body}: {detail}");
        for parser_words in [
            "Expected input type",
            "string_uuid",
            "parse request payload",
        ] {
            assert!(!detail.contains(parser_words), "{body}: {detail}");
        }
    }
    let answer = app.get("/proposals?page=abc", None).await;
    answer.problem(400, "invalid_request");
    assert_eq!(
        answer.body["detail"],
        "The parameter `page` must be a whole number."
    );
}
