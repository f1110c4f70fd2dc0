//! Resolutions through the API: from a passed poll to a completed, rated and evaluated
//! resolution on the dashboard; legal review; objections; the overdue scheduler in two
//! processes; public pages without personal data; refusals.

use std::time::Duration;

use reqwest::multipart::{Form, Part};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use yishi::entities::{outbox, resolution, resolution_milestone};

use crate::support::{Answer, Options, TestApp, World, id, spawn_app, spawn_app_at};

pub(crate) fn day(offset: i64) -> String {
    (yishi::resolutions::service::today() + chrono::Duration::days(offset)).to_string()
}

/// A closed yes/no poll of community A's residents that passed.
pub(crate) async fn passed_poll(app: &TestApp, w: &World, voters: &[(String, String)]) -> String {
    let p = id(app
        .post(
            "/polls",
            Some(&w.committee_a),
            json!({ "community_id": w.community_a, "question": "是否同意更换小区路灯？", "kind": "yes_no", "electorate": "residents" }),
        )
        .await
        .ok(201));
    app.post(&format!("/polls/{p}/open"), Some(&w.committee_a), json!({}))
        .await
        .ok(200);
    for (token, _) in voters {
        app.post(
            &format!("/polls/{p}/ballots"),
            Some(token),
            json!({ "choices": ["yes"] }),
        )
        .await
        .ok(201);
    }
    let closed = app
        .post(
            &format!("/polls/{p}/close"),
            Some(&w.committee_a),
            json!({}),
        )
        .await;
    assert_eq!(closed.ok(200)["passed"], true);
    p
}

/// A property firm of community A and its representative's token and email.
pub(crate) async fn firm(app: &TestApp, w: &World) -> (String, String, String) {
    let org = id(app
        .post(
            "/organisations",
            Some(&w.committee_a),
            json!({ "kind": "property_management_firm", "name": "锦绣物业", "place_id": w.community_a }),
        )
        .await
        .ok(201));
    let email = format!("rep-{}@example.org", uuid::Uuid::new_v4().simple());
    let token = app.verified_user(&email, "陈经理").await;
    app.post(
        &format!("/organisations/{org}/members"),
        Some(&w.committee_a),
        json!({ "email": email, "role": "representative" }),
    )
    .await
    .ok(200);
    (org, token, email)
}

/// A person holding `role` at `place`: their token and email.
async fn holder(app: &TestApp, w: &World, place: &str, role: &str, name: &str) -> (String, String) {
    let email = format!("{role}-{}@example.org", uuid::Uuid::new_v4().simple());
    let token = app.verified_user(&email, name).await;
    app.grant(&w.admin, place, &email, role).await;
    (token, email)
}

pub(crate) async fn create(app: &TestApp, token: &str, body: Value) -> Answer {
    app.post("/resolutions", Some(token), body).await
}

fn uuid_of(s: &str) -> uuid::Uuid {
    s.parse().unwrap()
}

/// Moves a resolution's disclosure end into the past, as if the days had gone by.
pub(crate) async fn end_disclosure(app: &TestApp, rid: &str) {
    resolution::Entity::update_many()
        .col_expr(
            resolution::Column::DisclosureEndsAt,
            Expr::value(Some(chrono::Utc::now() - chrono::Duration::seconds(1))),
        )
        .filter(resolution::Column::Id.eq(uuid_of(rid)))
        .exec(&app.db.conn)
        .await
        .unwrap();
}

/// Reads the resolution until it reaches `status` (the scheduler runs every second in tests).
pub(crate) async fn wait_status(
    app: &TestApp,
    token: Option<&str>,
    rid: &str,
    status: &str,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = app.get(&format!("/resolutions/{rid}"), token).await;
        if r.body["status"] == status {
            return r.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "resolution stayed {} instead of becoming {status}",
            r.body["status"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn upload(
    app: &TestApp,
    token: &str,
    rid: &str,
    percent: i32,
    files: Vec<(&str, Vec<u8>)>,
) -> Answer {
    let mut form = Form::new()
        .text("body", "路灯已采购到位，正在安装。")
        .text("percent", percent.to_string());
    for (name, bytes) in files {
        form = form.part("files", Part::bytes(bytes).file_name(name.to_string()));
    }
    let resp = app
        .client
        .post(app.url(&format!("/resolutions/{rid}/updates")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    TestApp::answer(resp).await
}

fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(len.max(8), 7);
    bytes
}

fn events(view: &Value) -> Vec<String> {
    view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn from_a_passed_poll_to_a_completed_rated_evaluated_resolution_on_the_dashboard() {
    let app = spawn_app().await;
    let w = app.world().await;
    let people = app.residents(&w.admin, &w.community_a, 3).await;
    let p = passed_poll(&app, &w, &people[..2]).await;
    let (org, rep, rep_email) = firm(&app, &w).await;
    let created = create(
        &app,
        &w.committee_a,
        json!({
            "poll_id": p, "title": "更换东门路灯", "body": "物业在一个月内更换东门路灯 12 盏。",
            "responsible_org_id": org, "deadline": day(30), "budget_fen": 500000,
            "milestones": [{ "title": "采购路灯", "deadline": day(10) }],
        }),
    )
    .await;
    let r = created.ok(201);
    let rid = id(r);
    assert_eq!(r["status"], "draft");
    assert_eq!(r["origin"], "poll");
    assert_eq!(r["poll_id"], p.as_str());
    assert_eq!(r["responsible_org_name"], "锦绣物业");
    assert_eq!(r["can"]["edit"], true);
    // Drafts are not public; one resolution per poll.
    app.get(&format!("/resolutions/{rid}"), Some(&people[0].0))
        .await
        .problem(404, "resolution_not_found");
    app.get(&format!("/resolutions/{rid}"), None)
        .await
        .problem(404, "resolution_not_found");
    create(
        &app,
        &w.committee_a,
        json!({ "poll_id": p, "title": "again", "body": "again" }),
    )
    .await
    .problem(409, "resolution_exists");
    app.post(
        &format!("/resolutions/{rid}/take-effect"),
        Some(&people[0].0),
        json!({}),
    )
    .await
    .problem(403, "forbidden");
    let effective = app
        .post(
            &format!("/resolutions/{rid}/take-effect"),
            Some(&w.committee_a),
            json!({}),
        )
        .await;
    assert_eq!(effective.ok(200)["status"], "disclosure");
    assert!(effective.body["disclosure_ends_at"].is_string());
    // A resident follows it; no progress before the work starts.
    let followed = app
        .call(
            reqwest::Method::PUT,
            &format!("/resolutions/{rid}/follow"),
            Some(&people[0].0),
            None,
        )
        .await;
    assert_eq!(followed.ok(200)["following"], true);
    upload(&app, &rep, &rid, 10, vec![])
        .await
        .problem(409, "not_in_progress");
    end_disclosure(&app, &rid).await;
    wait_status(&app, Some(&w.committee_a), &rid, "in_progress").await;

    // Only the responsible organisation reports.
    upload(&app, &w.outsider, &rid, 10, vec![])
        .await
        .problem(403, "forbidden");
    upload(&app, &w.committee_a, &rid, 10, vec![])
        .await
        .problem(403, "forbidden");
    let photo = png(2048);
    let posted = upload(&app, &rep, &rid, 60, vec![("现场.png", photo.clone())]).await;
    let u = posted.ok(201);
    assert_eq!(u["percent"], 60);
    assert_eq!(u["organisation_name"], "锦绣物业");
    let evidence = &u["evidence"][0];
    assert_eq!(evidence["content_type"], "image/png");
    assert_eq!(evidence["file_name"], "现场.png");
    assert_eq!(evidence["size"], 2048);
    use sha2::Digest;
    assert_eq!(
        evidence["sha256"],
        hex::encode(sha2::Sha256::digest(&photo))
    );
    // The follower is emailed.
    let mails = app
        .smtp
        .wait_matching(&people[0].1, 1, Duration::from_secs(30), |m| {
            m.subject().contains("决议进展")
        })
        .await;
    assert!(mails[0].text().contains("60%"), "{}", mails[0].text());
    // Members download the evidence; nobody else.
    let eid = evidence["id"].as_str().unwrap();
    let download = app
        .client
        .get(app.url(&format!("/evidence/{eid}")))
        .bearer_auth(&people[1].0)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().to_vec(), photo);
    app.get(&format!("/evidence/{eid}"), None)
        .await
        .problem(401, "unauthenticated");
    // Oversize and wrong-type files are refused and nothing is kept.
    upload(
        &app,
        &rep,
        &rid,
        70,
        vec![("big.png", png(5 * 1024 * 1024 + 1))],
    )
    .await
    .problem(413, "file_too_large");
    upload(
        &app,
        &rep,
        &rid,
        70,
        vec![
            ("ok.png", png(100)),
            ("page.html", b"<html><script>alert(1)</script>".to_vec()),
        ],
    )
    .await
    .problem(415, "unsupported_file_type");
    let now = app
        .get(&format!("/resolutions/{rid}"), Some(&w.committee_a))
        .await;
    assert_eq!(now.ok(200)["updates"].as_array().unwrap().len(), 1);
    assert_eq!(now.body["progress"], 60);

    // Completing waits for the milestones.
    app.post(
        &format!("/resolutions/{rid}/complete"),
        Some(&rep),
        json!({}),
    )
    .await
    .problem(409, "milestones_open");
    let mid = now.body["milestones"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &format!("/milestones/{mid}/done"),
        Some(&w.outsider),
        json!({}),
    )
    .await
    .problem(403, "forbidden");
    let done = app
        .post(&format!("/milestones/{mid}/done"), Some(&rep), json!({}))
        .await;
    assert!(done.ok(200)["milestones"][0]["done_at"].is_string());
    app.post(&format!("/milestones/{mid}/done"), Some(&rep), json!({}))
        .await
        .problem(409, "milestone_done");
    let completed = app
        .post(
            &format!("/resolutions/{rid}/complete"),
            Some(&rep),
            json!({}),
        )
        .await;
    assert_eq!(completed.ok(200)["status"], "completed");
    assert_eq!(completed.body["completed_on_time"], true);
    assert_eq!(completed.body["progress"], 100);

    // Ratings: once per resident, residents only.
    let rated = app
        .post(
            &format!("/resolutions/{rid}/ratings"),
            Some(&people[0].0),
            json!({ "score": 5, "comment": "灯很亮" }),
        )
        .await;
    assert_eq!(rated.ok(200)["ratings"]["mine"], 5);
    app.post(
        &format!("/resolutions/{rid}/ratings"),
        Some(&people[0].0),
        json!({ "score": 1 }),
    )
    .await
    .problem(409, "already_rated");
    app.post(
        &format!("/resolutions/{rid}/ratings"),
        Some(&w.outsider),
        json!({ "score": 1 }),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/resolutions/{rid}/ratings"),
        Some(&rep),
        json!({ "score": 5 }),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/resolutions/{rid}/ratings"),
        Some(&people[1].0),
        json!({ "score": 6 }),
    )
    .await
    .problem(400, "invalid_request");
    app.post(
        &format!("/resolutions/{rid}/ratings"),
        Some(&people[1].0),
        json!({ "score": 3 }),
    )
    .await
    .ok(200);

    // The evaluator's weighted score, exact.
    let (evaluator, _) = holder(&app, &w, &w.subdistrict, "evaluator", "第三方评估员").await;
    let criteria = json!([{ "name": "按期完成", "weight": 60, "score": 90 }, { "name": "居民满意", "weight": 40, "score": 75 }]);
    app.post(
        &format!("/resolutions/{rid}/evaluations"),
        Some(&evaluator),
        json!({ "criteria": [{ "name": "x", "weight": 90, "score": 90 }], "report": "r" }),
    )
    .await
    .problem(422, "weights_must_sum_to_100");
    // An evaluator who belongs to the organisation that did the work is not a third party.
    app.grant(&w.admin, &w.subdistrict, &rep_email, "evaluator")
        .await;
    app.post(
        &format!("/resolutions/{rid}/evaluations"),
        Some(&rep),
        json!({ "criteria": criteria, "report": "我们做得很好。" }),
    )
    .await
    .problem(409, "evaluator_conflicted");
    app.post(
        &format!("/resolutions/{rid}/evaluations"),
        Some(&people[0].0),
        json!({ "criteria": criteria, "report": "r" }),
    )
    .await
    .problem(403, "forbidden");
    let evaluated = app
        .post(
            &format!("/resolutions/{rid}/evaluations"),
            Some(&evaluator),
            json!({ "criteria": criteria, "report": "按期完成，居民较满意。" }),
        )
        .await;
    assert_eq!(evaluated.ok(200)["evaluations"][0]["total"], 84.0);
    app.post(
        &format!("/resolutions/{rid}/evaluations"),
        Some(&evaluator),
        json!({ "criteria": criteria, "report": "again" }),
    )
    .await
    .problem(409, "already_evaluated");
    let ratings = &evaluated.body["ratings"];
    assert_eq!(ratings["count"], 2);
    assert_eq!(ratings["mean"], 4.0);
    assert_eq!(ratings["distribution"], json!([0, 0, 1, 0, 1]));
    let timeline = events(&evaluated.body);
    for e in [
        "poll.closed",
        "resolution.created",
        "resolution.effective",
        "resolution.started",
        "resolution.update",
        "milestone.done",
        "resolution.completed",
        "resolution.evaluated",
        "rating.first",
    ] {
        assert!(
            timeline.iter().any(|t| t == e),
            "{e} missing from {timeline:?}"
        );
    }

    // The public page: everything that happened, and no personal data.
    let public = app.get(&format!("/resolutions/{rid}"), None).await;
    let text = public.ok(200).to_string();
    for secret in ["陈经理", "第三方评估员", "居民0", "居民1", "@example.org"] {
        assert!(!text.contains(secret), "public page shows {secret}: {text}");
    }
    let me: Value = app
        .get("/accounts/me", Some(&people[0].0))
        .await
        .ok(200)
        .clone();
    assert!(!text.contains(me["id"].as_str().unwrap()));
    assert_eq!(public.body["updates"][0]["author_name"], Value::Null);
    assert_eq!(public.body["ratings"]["comments"], json!(["灯很亮"]));
    // Members see who posted.
    let inside = app
        .get(&format!("/resolutions/{rid}"), Some(&people[2].0))
        .await;
    assert_eq!(inside.ok(200)["updates"][0]["author_name"], "陈经理");

    // The dashboard, for the community and side by side for the subdistrict.
    let d = app
        .get(
            &format!("/places/{}/dashboard", w.community_a),
            Some(&w.committee_a),
        )
        .await;
    let row = &d.ok(200)["communities"][0];
    assert_eq!(row["community_id"], w.community_a.as_str());
    assert_eq!(row["resolutions_adopted"], 1);
    assert_eq!(row["resolutions_completed"], 1);
    assert_eq!(row["completed_on_time"], 1);
    assert_eq!(row["overdue"], 0);
    assert_eq!(row["mean_satisfaction"], 4.0);
    assert_eq!(row["mean_evaluation_score"], 84.0);
    assert_eq!(row["polls_closed"], 1);
    assert!(row["mean_turnout_percent"].as_f64().unwrap() > 0.0);
    assert_eq!(d.body["polls"][0]["passed"], true);
    let side = app
        .get(
            &format!("/places/{}/dashboard", w.subdistrict),
            Some(&w.officer),
        )
        .await;
    assert_eq!(side.ok(200)["communities"].as_array().unwrap().len(), 2);
    app.get(
        &format!("/places/{}/dashboard", w.subdistrict),
        Some(&people[0].0),
    )
    .await
    .problem(403, "forbidden");
    app.get(
        &format!("/places/{}/dashboard", w.community_a),
        Some(&w.outsider),
    )
    .await
    .problem(403, "forbidden");
    app.get(
        &format!(
            "/places/{}/dashboard?from={}&to={}",
            w.community_a,
            day(1),
            day(0)
        ),
        Some(&w.committee_a),
    )
    .await
    .problem(422, "invalid_period");
    let csv = app
        .client
        .get(app.url(&format!("/places/{}/dashboard.csv", w.subdistrict)))
        .bearer_auth(&w.officer)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = csv.text().await.unwrap();
    let mut lines = body.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("community_id,community,from,to,proposals_raised")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .any(|l| l.contains("桂花社区") && l.contains("4.00") && l.contains("84.00"))
    );
    // A community whose name a spreadsheet would run as a formula is written guarded.
    app.place(
        &w.admin,
        "community",
        "=HYPERLINK(\"http://x\")",
        Some(&w.subdistrict),
    )
    .await;
    let csv = app
        .client
        .get(app.url(&format!("/places/{}/dashboard.csv", w.subdistrict)))
        .bearer_auth(&w.officer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains(",\"'=HYPERLINK("), "{csv}");
    assert!(!csv.contains(",=HYPERLINK("), "{csv}");
}

#[tokio::test]
async fn major_resolutions_pass_legal_review_before_taking_effect() {
    let app = spawn_app().await;
    let w = app.world().await;
    let people = app.residents(&w.admin, &w.community_a, 1).await;
    let p = passed_poll(&app, &w, &people).await;
    let (org, _, _) = firm(&app, &w).await;
    let (reviewer, _) = holder(&app, &w, &w.community_a, "legal_reviewer", "法律顾问").await;
    let rid = id(create(
        &app,
        &w.committee_a,
        json!({
            "poll_id": p, "title": "加装电梯", "body": "1号楼加装电梯。", "responsible_org_id": org,
            "deadline": day(90), "major": true,
        }),
    )
    .await
    .ok(201));
    let take_effect = |token: String| {
        let app = &app;
        let rid = rid.clone();
        async move {
            app.post(
                &format!("/resolutions/{rid}/take-effect"),
                Some(&token),
                json!({}),
            )
            .await
        }
    };
    // Skipping the review is refused, for a major matter and for a budget over the threshold.
    take_effect(w.committee_a.clone())
        .await
        .problem(409, "legal_review_required");
    let patched = app
        .patch(
            &format!("/resolutions/{rid}"),
            Some(&w.committee_a),
            json!({ "major": false, "budget_fen": 20_000_000 }),
        )
        .await;
    assert!(
        patched.ok(200)["review_required"]
            .as_str()
            .unwrap()
            .contains("budget"),
        "{}",
        patched.body
    );
    let refused = take_effect(w.committee_a.clone()).await;
    refused.problem(409, "legal_review_required");
    assert!(refused.body["detail"].as_str().unwrap().contains("budget"));
    app.patch(
        &format!("/resolutions/{rid}"),
        Some(&w.committee_a),
        json!({ "major": true }),
    )
    .await
    .ok(200);
    // Reviewing happens only in review, by a designated reviewer, with findings to return it.
    app.post(
        &format!("/resolutions/{rid}/reviews"),
        Some(&reviewer),
        json!({ "decision": "approve" }),
    )
    .await
    .problem(409, "invalid_transition");
    app.post(
        &format!("/resolutions/{rid}/submit-for-review"),
        Some(&people[0].0),
        json!({}),
    )
    .await
    .problem(403, "forbidden");
    let submitted = app
        .post(
            &format!("/resolutions/{rid}/submit-for-review"),
            Some(&w.committee_a),
            json!({}),
        )
        .await;
    assert_eq!(submitted.ok(200)["status"], "in_review");
    assert_eq!(submitted.body["review_required"], "major matter");
    app.patch(
        &format!("/resolutions/{rid}"),
        Some(&w.committee_a),
        json!({ "title": "x" }),
    )
    .await
    .problem(409, "not_draft");
    take_effect(w.committee_a.clone())
        .await
        .problem(409, "invalid_transition");
    for token in [&w.committee_a, &people[0].0] {
        app.post(
            &format!("/resolutions/{rid}/reviews"),
            Some(token),
            json!({ "decision": "approve" }),
        )
        .await
        .problem(403, "forbidden");
    }
    app.post(
        &format!("/resolutions/{rid}/reviews"),
        Some(&reviewer),
        json!({ "decision": "return" }),
    )
    .await
    .problem(422, "findings_required");
    let returned = app
        .post(
            &format!("/resolutions/{rid}/reviews"),
            Some(&reviewer),
            json!({ "decision": "return", "findings": "需补充业主表决依据（民法典第278条）。" }),
        )
        .await;
    assert_eq!(returned.ok(200)["status"], "draft");
    assert_eq!(returned.body["reviews"][0]["decision"], "return");
    assert_eq!(returned.body["reviews"][0]["rule"], "major matter");
    assert_eq!(returned.body["reviews"][0]["reviewer_name"], "法律顾问");
    take_effect(w.committee_a.clone())
        .await
        .problem(409, "legal_review_required");
    // The community's rules set the disclosure period.
    app.call(
        reqwest::Method::PUT,
        &format!("/communities/{}/resolution-settings", w.community_a),
        Some(&people[0].0),
        Some(json!({ "disclosure_days": 3, "review_budget_fen": 1000, "rating_days": 10 })),
    )
    .await
    .problem(403, "forbidden");
    let settings = app
        .call(
            reqwest::Method::PUT,
            &format!("/communities/{}/resolution-settings", w.community_a),
            Some(&w.committee_a),
            Some(json!({ "disclosure_days": 3, "review_budget_fen": 1000, "rating_days": 10 })),
        )
        .await;
    assert_eq!(settings.ok(200)["disclosure_days"], 3);
    app.post(
        &format!("/resolutions/{rid}/submit-for-review"),
        Some(&w.committee_a),
        json!({}),
    )
    .await
    .ok(200);
    let approved = app
        .post(
            &format!("/resolutions/{rid}/reviews"),
            Some(&reviewer),
            json!({ "decision": "approve", "findings": "程序合法。" }),
        )
        .await;
    assert_eq!(approved.ok(200)["status"], "approved");
    assert_eq!(approved.body["reviews"].as_array().unwrap().len(), 2);
    let effective = take_effect(w.committee_a.clone()).await;
    assert_eq!(effective.ok(200)["status"], "disclosure");
    let ends: chrono::DateTime<chrono::Utc> = effective.body["disclosure_ends_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let days = (ends - chrono::Utc::now()).num_hours();
    assert!((71..=72).contains(&days), "disclosure of {days} hours");
    assert!(
        events(&effective.body)
            .iter()
            .filter(|e| *e == "resolution.reviewed")
            .count()
            == 2
    );
}

#[tokio::test]
async fn objections_during_disclosure_are_answered_in_writing() {
    let app = spawn_app().await;
    let w = app.world().await;
    let people = app.residents(&w.admin, &w.community_a, 3).await;
    let p = passed_poll(&app, &w, &people[..1]).await;
    let (org, _, _) = firm(&app, &w).await;
    let rid = id(create(&app, &w.committee_a, json!({
        "poll_id": p, "title": "快递柜选址", "body": "快递柜设在 3 号楼旁。", "responsible_org_id": org, "deadline": day(20),
    }))
    .await
    .ok(201));
    let object = |token: String, reasons: &'static str| {
        let app = &app;
        let rid = rid.clone();
        async move {
            app.post(
                &format!("/resolutions/{rid}/objections"),
                Some(&token),
                json!({ "reasons": reasons }),
            )
            .await
        }
    };
    // Not before it takes effect.
    object(people[0].0.clone(), "太吵")
        .await
        .problem(404, "resolution_not_found");
    app.post(
        &format!("/resolutions/{rid}/take-effect"),
        Some(&w.committee_a),
        json!({}),
    )
    .await
    .ok(200);
    let board = app
        .get(
            &format!("/communities/{}/disclosure-board", w.community_a),
            None,
        )
        .await;
    assert_eq!(board.ok(200)[0]["id"], rid.as_str());
    let lodged = object(people[0].0.clone(), "快递柜离我家窗户太近，夜间噪音大。").await;
    let mine = &lodged.ok(200)["objections"][0];
    assert_eq!(mine["mine"], true);
    assert_eq!(mine["status"], "pending");
    assert!(mine["reasons"].as_str().unwrap().contains("噪音"));
    object(people[0].0.clone(), "again")
        .await
        .problem(409, "objection_pending");
    object(w.outsider.clone(), "x")
        .await
        .problem(403, "forbidden");
    object(people[1].0.clone(), "占用消防通道。").await.ok(200);
    // Others see that objections exist and the answers, never whose or why.
    let public = app.get(&format!("/resolutions/{rid}"), None).await;
    let text = public.ok(200).to_string();
    assert!(!text.contains("噪音") && !text.contains("消防"), "{text}");
    assert_eq!(public.body["objections"].as_array().unwrap().len(), 2);
    let committee_view = app
        .get(&format!("/resolutions/{rid}"), Some(&w.committee_a))
        .await;
    assert_eq!(committee_view.ok(200)["can"]["answer_objections"], true);
    let objections = committee_view.body["objections"]
        .as_array()
        .unwrap()
        .clone();
    let oid = |needle: &str| {
        objections
            .iter()
            .find(|o| o["reasons"].as_str().unwrap().contains(needle))
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (noise, fire) = (oid("噪音"), oid("消防"));
    app.post(
        &format!("/objections/{noise}/answer"),
        Some(&people[2].0),
        json!({ "decision": "dismiss", "answer": "x" }),
    )
    .await
    .problem(403, "forbidden");
    let dismissed = app
        .post(
            &format!("/objections/{noise}/answer"),
            Some(&w.committee_a),
            json!({ "decision": "dismiss", "answer": "快递柜加装静音门，夜间停用。" }),
        )
        .await;
    assert_eq!(dismissed.ok(200)["status"], "disclosure");
    app.post(
        &format!("/objections/{noise}/answer"),
        Some(&w.committee_a),
        json!({ "decision": "dismiss", "answer": "again" }),
    )
    .await
    .problem(409, "objection_answered");
    let mail = app
        .smtp
        .wait_matching(&people[0].1, 1, Duration::from_secs(30), |m| {
            m.subject().contains("异议答复")
        })
        .await;
    assert!(mail[0].text().contains("静音门"), "{}", mail[0].text());
    // Upheld: back to draft, to be reworked.
    let upheld = app
        .post(
            &format!("/objections/{fire}/answer"),
            Some(&w.committee_a),
            json!({ "decision": "uphold_and_revise", "answer": "改设在 5 号楼旁空地。" }),
        )
        .await;
    assert_eq!(upheld.ok(200)["status"], "draft");
    assert!(upheld.body["disclosure_ends_at"].is_null());
    app.get(&format!("/resolutions/{rid}"), None)
        .await
        .problem(404, "resolution_not_found");
    // A new disclosure; a pending objection holds the start after the window ends, and
    // nobody may object once it has ended.
    app.post(
        &format!("/resolutions/{rid}/take-effect"),
        Some(&w.committee_a),
        json!({}),
    )
    .await
    .ok(200);
    object(people[2].0.clone(), "仍然不同意。").await.ok(200);
    end_disclosure(&app, &rid).await;
    object(people[0].0.clone(), "too late")
        .await
        .problem(409, "objection_window_closed");
    let state = yishi::state::AppState::new(
        app.db.clone(),
        std::sync::Arc::new(yishi::config::Settings::default()),
    );
    yishi::resolutions::service::run_due(&state).await.unwrap();
    let held = app
        .get(&format!("/resolutions/{rid}"), Some(&w.committee_a))
        .await;
    assert_eq!(held.ok(200)["status"], "disclosure");
    let last = held.body["objections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["status"] == "pending")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let withdrawn = app
        .post(
            &format!("/objections/{last}/answer"),
            Some(&w.committee_a),
            json!({ "decision": "uphold_and_withdraw", "answer": "撤回，另行协商。" }),
        )
        .await;
    assert_eq!(withdrawn.ok(200)["status"], "withdrawn");
    assert_eq!(withdrawn.body["end_reason"], "撤回，另行协商。");
    object(people[0].0.clone(), "x")
        .await
        .problem(409, "objection_window_closed");
}

#[tokio::test]
async fn the_overdue_scheduler_emails_once_with_two_processes() {
    let app = spawn_app().await;
    let second = spawn_app_at(
        Options::default(),
        app.smtp.clone(),
        app.database_url.clone(),
    )
    .await;
    let w = app.world().await;
    let people = app.residents(&w.admin, &w.community_a, 1).await;
    let p = passed_poll(&app, &w, &people).await;
    let (org, rep, rep_email) = firm(&app, &w).await;
    let rid = id(create(&app, &w.committee_a, json!({
        "poll_id": p, "title": "修复健身器材", "body": "修复小广场健身器材。", "responsible_org_id": org, "deadline": day(5),
        "milestones": [{ "title": "检查器材", "deadline": day(2) }, { "title": "更换零件", "deadline": day(4) }],
    }))
    .await
    .ok(201));
    app.post(
        &format!("/resolutions/{rid}/take-effect"),
        Some(&w.committee_a),
        json!({}),
    )
    .await
    .ok(200);
    end_disclosure(&app, &rid).await;
    wait_status(&second, Some(&rep), &rid, "in_progress").await;
    // The first milestone is done; the deadline and the second milestone pass.
    let view = app.get(&format!("/resolutions/{rid}"), Some(&rep)).await;
    let first = view.ok(200)["milestones"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(&format!("/milestones/{first}/done"), Some(&rep), json!({}))
        .await
        .ok(200);
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    resolution_milestone::Entity::update_many()
        .col_expr(resolution_milestone::Column::DueAt, Expr::value(past))
        .filter(resolution_milestone::Column::ResolutionId.eq(uuid_of(&rid)))
        .exec(&app.db.conn)
        .await
        .unwrap();
    resolution::Entity::update_many()
        .col_expr(resolution::Column::DueAt, Expr::value(Some(past)))
        .filter(resolution::Column::Id.eq(uuid_of(&rid)))
        .exec(&app.db.conn)
        .await
        .unwrap();
    // Both servers' schedulers run every second; two more processes race them here.
    let settings = |url: &str| {
        std::sync::Arc::new(yishi::config::Settings {
            database_url: yishi::config::Secret::new(url),
            ..yishi::config::Settings::default()
        })
    };
    let mut states = Vec::new();
    for _ in 0..2 {
        let s = settings(&app.database_url);
        let db = yishi::db::Db::connect(&s).await.unwrap();
        states.push(yishi::state::AppState::new(db, s));
    }
    let passes = futures_util::future::join_all(
        states
            .iter()
            .chain(states.iter())
            .map(yishi::resolutions::service::run_due),
    )
    .await;
    for pass in passes {
        pass.unwrap();
    }
    let overdue = wait_status(&app, Some(&rep), &rid, "overdue").await;
    assert_eq!(
        overdue["milestones"][0]["overdue"], false,
        "done milestones are never overdue"
    );
    assert_eq!(overdue["milestones"][1]["overdue"], true);
    let mails = app
        .smtp
        .wait_matching(&rep_email, 2, Duration::from_secs(30), |m| {
            m.subject().contains("已逾期")
        })
        .await;
    assert!(mails.iter().any(|m| m.text().contains("更换零件")));
    assert!(!mails.iter().any(|m| m.text().contains("检查器材")));
    // Another round finds nothing to do, and the outbox holds each message once.
    for s in &states {
        assert_eq!(yishi::resolutions::service::run_due(s).await.unwrap(), 0);
    }
    let queued = outbox::Entity::find()
        .filter(outbox::Column::ToAddress.eq(rep_email.clone()))
        .filter(outbox::Column::Subject.contains("已逾期"))
        .all(&app.db.conn)
        .await
        .unwrap();
    assert_eq!(
        queued.len(),
        2,
        "one for the resolution, one for the milestone"
    );
    // Overdue work can still be completed, late.
    let done = app
        .post(
            &format!("/resolutions/{rid}/complete"),
            Some(&rep),
            json!({}),
        )
        .await;
    done.problem(409, "milestones_open");
    let second_id = overdue["milestones"][1]["id"].as_str().unwrap();
    app.post(
        &format!("/milestones/{second_id}/done"),
        Some(&rep),
        json!({}),
    )
    .await
    .ok(200);
    let completed = app
        .post(
            &format!("/resolutions/{rid}/complete"),
            Some(&rep),
            json!({}),
        )
        .await;
    assert_eq!(completed.ok(200)["completed_on_time"], false);
    let d = app
        .get(
            &format!("/places/{}/dashboard", w.community_a),
            Some(&w.committee_a),
        )
        .await;
    assert_eq!(d.ok(200)["communities"][0]["overdue"], 1);
    assert_eq!(d.body["communities"][0]["completed_on_time"], 0);
}

#[tokio::test]
async fn where_resolutions_come_from_and_what_is_refused() {
    let app = spawn_app().await;
    let w = app.world().await;
    let people = app.residents(&w.admin, &w.community_a, 2).await;
    let (org, _, _) = firm(&app, &w).await;
    // A poll that has not closed, or did not pass, makes no resolution.
    let open = id(app
        .post("/polls", Some(&w.committee_a), json!({ "community_id": w.community_a, "question": "q", "kind": "yes_no", "electorate": "residents" }))
        .await
        .ok(201));
    create(
        &app,
        &w.committee_a,
        json!({ "poll_id": open, "title": "t", "body": "b" }),
    )
    .await
    .problem(409, "poll_not_passed");
    app.post(
        &format!("/polls/{open}/open"),
        Some(&w.committee_a),
        json!({}),
    )
    .await
    .ok(200);
    app.post(
        &format!("/polls/{open}/ballots"),
        Some(&people[0].0),
        json!({ "choices": ["no"] }),
    )
    .await
    .ok(201);
    app.post(
        &format!("/polls/{open}/close"),
        Some(&w.committee_a),
        json!({}),
    )
    .await
    .ok(200);
    create(
        &app,
        &w.committee_a,
        json!({ "poll_id": open, "title": "t", "body": "b" }),
    )
    .await
    .problem(409, "poll_not_passed");
    create(
        &app,
        &w.committee_a,
        json!({ "poll_id": uuid::Uuid::new_v4(), "title": "t", "body": "b" }),
    )
    .await
    .problem(404, "poll_not_found");
    create(&app, &w.committee_a, json!({ "title": "t", "body": "b" }))
        .await
        .problem(422, "origin_required");
    let p = passed_poll(&app, &w, &people).await;
    create(
        &app,
        &people[0].0,
        json!({ "poll_id": p, "title": "t", "body": "b" }),
    )
    .await
    .problem(403, "forbidden");
    create(
        &app,
        &w.committee_b,
        json!({ "poll_id": p, "title": "t", "body": "b" }),
    )
    .await
    .problem(403, "forbidden");
    create(
        &app,
        &w.committee_a,
        json!({ "poll_id": p, "title": "t", "body": "b", "deadline": day(-1) }),
    )
    .await
    .problem(422, "deadline_past");
    create(&app, &w.committee_a, json!({ "poll_id": p, "title": "t", "body": "b", "deadline": day(5), "milestones": [{ "title": "m", "deadline": day(6) }] }))
        .await
        .problem(422, "milestone_after_deadline");
    create(
        &app,
        &w.committee_a,
        json!({ "poll_id": p, "title": "t", "body": "b", "is_public": true }),
    )
    .await
    .problem(400, "invalid_request");
    let b_org = id(app
        .post("/organisations", Some(&w.committee_b), json!({ "kind": "social_organisation", "name": "枫林社工站", "place_id": w.community_b }))
        .await
        .ok(201));
    create(
        &app,
        &w.committee_a,
        json!({ "poll_id": p, "title": "t", "body": "b", "responsible_org_id": b_org }),
    )
    .await
    .problem(422, "organisation_out_of_area");
    // Without a responsible party it cannot take effect; a draft can be cancelled with a reason.
    let rid = id(create(
        &app,
        &w.committee_a,
        json!({ "poll_id": p, "title": "t", "body": "b" }),
    )
    .await
    .ok(201));
    app.post(
        &format!("/resolutions/{rid}/take-effect"),
        Some(&w.committee_a),
        json!({}),
    )
    .await
    .problem(409, "incomplete");
    let listed = app
        .get(
            &format!("/resolutions?community_id={}", w.community_a),
            Some(&w.committee_a),
        )
        .await;
    assert_eq!(listed.ok(200).as_array().unwrap().len(), 1);
    let public_list = app
        .get(
            &format!("/resolutions?community_id={}", w.community_a),
            None,
        )
        .await;
    assert_eq!(
        public_list.ok(200).as_array().unwrap().len(),
        0,
        "drafts are not listed publicly"
    );
    app.post(
        &format!("/resolutions/{rid}/cancel"),
        Some(&w.committee_a),
        json!({ "reason": "" }),
    )
    .await
    .problem(400, "invalid_request");
    let cancelled = app
        .post(
            &format!("/resolutions/{rid}/cancel"),
            Some(&w.committee_a),
            json!({ "reason": "与另一决议重复。" }),
        )
        .await;
    assert_eq!(cancelled.ok(200)["status"], "cancelled");
    app.post(
        &format!("/resolutions/{rid}/cancel"),
        Some(&w.committee_a),
        json!({ "reason": "again" }),
    )
    .await
    .problem(409, "invalid_transition");
    // A consensus resolution comes from a session that has been held.
    let s = crate::sessions::convene(&app, &w, json!({ "all_residents": true })).await;
    let sid = id(&s);
    let item = s["agenda"][0]["id"].as_str().unwrap().to_string();
    let consensus = json!({ "session_id": sid, "agenda_item_id": item, "title": "东门路灯由物业维修", "body": "与会各方一致同意。", "responsible_org_id": org, "deadline": day(30) });
    create(&app, &w.committee_a, consensus.clone())
        .await
        .problem(409, "session_not_held");
    app.post(
        &format!("/sessions/{sid}/schedule"),
        Some(&w.secretary_a),
        json!({}),
    )
    .await
    .ok(200);
    app.post(
        &format!("/sessions/{sid}/open"),
        Some(&w.secretary_a),
        json!({}),
    )
    .await
    .ok(200);
    let mut wrong_item = consensus.clone();
    wrong_item["agenda_item_id"] = json!(uuid::Uuid::new_v4());
    create(&app, &w.committee_a, wrong_item)
        .await
        .problem(404, "agenda_item_not_found");
    let c = create(&app, &w.secretary_a, consensus).await;
    assert_eq!(c.ok(201)["origin"], "consensus");
    assert_eq!(c.body["session_id"], sid.as_str());
    assert!(events(&c.body).contains(&"session.held".to_string()));
    // Once adopted, the session's minutes record it.
    app.post(
        &format!("/sessions/{sid}/close"),
        Some(&w.secretary_a),
        json!({}),
    )
    .await
    .ok(200);
    let minutes = app
        .get(&format!("/sessions/{sid}/minutes"), Some(&w.secretary_a))
        .await;
    assert_eq!(
        minutes.ok(200)["resolutions"],
        json!([]),
        "drafts are not in the minutes"
    );
    let cid = id(&c.body);
    app.post(
        &format!("/resolutions/{cid}/take-effect"),
        Some(&w.committee_a),
        json!({}),
    )
    .await
    .ok(200);
    let minutes = app
        .get(&format!("/sessions/{sid}/minutes"), Some(&w.secretary_a))
        .await;
    let recorded = &minutes.ok(200)["resolutions"][0];
    assert_eq!(recorded["title"], "东门路灯由物业维修");
    assert_eq!(recorded["origin"], "consensus");
    assert_eq!(recorded["status"], "disclosure");
}
