use crate::support::{Options, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_web_client_and_docs_are_served() {
    let app = spawn_app().await;
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    let ready = ready.json::<serde_json::Value>().await.unwrap();
    assert_eq!(ready["database"], "ok");
    // On PostgreSQL ready means listening for the other processes' notices as well.
    let notices = if app.database_url.starts_with("postgres") {
        "listening"
    } else {
        "local"
    };
    assert_eq!(ready["notices"], notices, "{ready}");

    let index = app
        .client
        .get(format!("{}/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(index.status(), 200);
    let csp = index
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = index.text().await.unwrap();
    assert!(html.contains("<html") && html.contains("app.js"), "{html}");

    let docs = app
        .client
        .get(format!("{}/docs/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    // The docs page has its own policy and may not be framed either.
    let docs_csp = docs.headers()["content-security-policy"].to_str().unwrap();
    assert!(docs_csp.contains("frame-ancestors 'none'"), "{docs_csp}");
    assert!(docs_csp.contains("connect-src 'self'"), "{docs_csp}");
    assert_eq!(docs.headers()["x-frame-options"], "DENY");
    assert!(
        docs.text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("swagger")
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_get_problems() {
    let app = spawn_app().await;
    app.get("/no/such/thing", None)
        .await
        .problem(404, "not_found");
    app.call(reqwest::Method::PUT, "/accounts/me", None, None)
        .await
        .problem(405, "method_not_allowed");
}

/// A problem's `type` is a link, relative to the server, to a page that says what the code
/// means in both languages, with the web client's own texts.
#[tokio::test]
async fn a_problems_type_leads_to_a_page_in_both_languages() {
    let app = spawn_app().await;
    let answer = app.get("/tenders/not-a-uuid-at-all/enquiries", None).await;
    let problem = answer.body.clone();
    let code = problem["code"].as_str().unwrap().to_string();
    let kind = problem["type"].as_str().unwrap();
    assert_eq!(kind, format!("/problems/{code}"));
    let (status, content_type, html) = app.page(kind).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let catalogue = |file: &str| -> serde_json::Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("web/i18n")
            .join(file);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    for file in ["zh-CN.json", "en.json"] {
        let text = catalogue(file)[format!("problem.{code}")]
            .as_str()
            .unwrap_or_else(|| panic!("{file} has no text for {code}"))
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        assert!(html.contains(&text), "{file}: {text} not in {html}");
    }
    // The list of every code links to each page; an unknown code is a 404 page.
    let (_, _, index) = app.page("/problems/").await;
    assert!(index.contains(&format!("href=\"/problems/{code}\"")));
    let (status, _, unknown) = app.page("/problems/%3Cscript%3E").await;
    assert_eq!(status, 404);
    assert!(!unknown.contains("<script>"));
}

#[tokio::test]
async fn committed_spec_equals_served_spec() {
    let app = spawn_app().await;
    let served: serde_json::Value = app
        .client
        .get(format!("{}/api/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap_or_default();
    let committed: serde_json::Value = serde_json::from_str(&committed).unwrap_or_default();
    assert!(
        served == committed,
        "openapi/openapi.json differs from the spec the server serves; regenerate it with:\n    cargo run --quiet -- openapi > openapi/openapi.json"
    );
    // Every operation has an id, a tag, a description and problem responses.
    for (path, methods) in served["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            assert!(
                op["operationId"].is_string(),
                "{method} {path} has no operationId"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path} has no tag"
            );
            assert!(
                op["description"].is_string() || op["summary"].is_string(),
                "{method} {path} has no description"
            );
            assert!(
                op["responses"]["400"]["content"]["application/problem+json"].is_object(),
                "{method} {path}"
            );
        }
    }
}

#[tokio::test]
async fn both_languages_have_the_same_keys_and_are_served() {
    let app = spawn_app().await;
    let mut keys = Vec::new();
    for lang in ["zh-CN", "en"] {
        let served: serde_json::Value = app
            .client
            .get(format!("{}/i18n/{lang}.json", app.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut k: Vec<String> = served.as_object().unwrap().keys().cloned().collect();
        k.sort();
        assert!(
            served
                .as_object()
                .unwrap()
                .values()
                .all(|v| v.as_str().is_some_and(|s| !s.is_empty())),
            "{lang} has an empty text"
        );
        keys.push(k);
    }
    let only_zh: Vec<&String> = keys[0].iter().filter(|k| !keys[1].contains(k)).collect();
    let only_en: Vec<&String> = keys[1].iter().filter(|k| !keys[0].contains(k)).collect();
    assert!(
        only_zh.is_empty() && only_en.is_empty(),
        "missing in en: {only_zh:?}; missing in zh-CN: {only_en:?}"
    );
}

/// The value of one sample line of a Prometheus text answer.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn requests_carry_an_id_into_problems_and_are_counted_in_metrics() {
    let app = spawn_app().await;
    // A problem carries the request's id, the same as its header.
    let resp = app
        .client
        .get(app.url("/proposals/not-a-uuid"))
        .send()
        .await
        .unwrap();
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["status"].as_u64().unwrap() >= 400);
    assert_eq!(body["request_id"], id.as_str());
    // A caller's own id is kept when it is plain, replaced when it is not.
    let mine = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "trace-42.a_b")
        .send()
        .await
        .unwrap();
    assert_eq!(mine.headers()["x-request-id"], "trace-42.a_b");
    let odd = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "no spaces; or \"quotes\"")
        .send()
        .await
        .unwrap();
    assert_ne!(odd.headers()["x-request-id"], "no spaces; or \"quotes\"");

    // Operations are counted by their OpenAPI id and status, with latencies.
    let w = app.world().await;
    app.get("/accounts/me", Some(&w.resident_a)).await.ok(200);
    app.get("/accounts/me", None)
        .await
        .problem(401, "unauthenticated");
    let text = app.metrics().await;
    assert!(
        sample(
            &text,
            r#"yishi_http_requests_total{operation="getMe",status="200"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            r#"yishi_http_requests_total{operation="getMe",status="401"}"#
        )
        .is_some_and(|n| n >= 1.0)
    );
    assert!(
        sample(
            &text,
            r#"yishi_http_request_duration_seconds_count{operation="getMe"}"#
        )
        .is_some_and(|n| n >= 2.0)
    );
    for series in [
        "yishi_live_sockets",
        "yishi_ballots_total",
        "yishi_outbox_pending",
        "yishi_outbox_failed",
        "yishi_db_pool_connections",
    ] {
        assert!(sample(&text, series).is_some(), "{series} in {text}");
    }
    // The world's sign-ups queued mail.
    assert!(sample(&text, "yishi_outbox_pending").is_some_and(|n| n.is_finite()));
}

#[tokio::test]
async fn metrics_with_a_token_need_it() {
    let app = crate::support::spawn_app_with(crate::support::Options {
        metrics_token: Some("metrics-secret-1234".into()),
        ..Default::default()
    })
    .await;
    let url = format!("{}/metrics", app.base);
    let refused = app.client.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "metrics_not_allowed");
    let wrong = app
        .client
        .get(&url)
        .bearer_auth("metrics-secret-9999")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let ok = app
        .client
        .get(&url)
        .bearer_auth("metrics-secret-1234")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(
        ok.text()
            .await
            .unwrap()
            .contains("yishi_http_requests_total")
    );
}

/// A browser's preflight for a cross-origin POST with a bearer token.
async fn preflight(app: &crate::support::TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, app.url("/proposals"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cross_origin_calls_are_closed_unless_origins_are_named() {
    let closed = spawn_app().await;
    let r = preflight(&closed, "https://other.example").await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let r = closed
        .client
        .get(closed.url("/places"))
        .header("origin", "https://other.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());

    let open = crate::support::spawn_app_with(crate::support::Options {
        allowed_origins: vec!["https://portal.example.gov.cn".into()],
        ..Default::default()
    })
    .await;
    let r = preflight(&open, "https://portal.example.gov.cn").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://portal.example.gov.cn"
    );
    let methods = r.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(methods.contains("POST"), "{methods}");
    let r = open
        .client
        .get(open.url("/places"))
        .header("origin", "https://portal.example.gov.cn")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://portal.example.gov.cn"
    );
    // An origin not named is refused with a problem, and gets no allow header.
    let r = preflight(&open, "https://evil.example").await;
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["code"].as_str().is_some());
}

/// With every place for requests taken, the next request is refused at once with 503 and
/// `Retry-After`, not queued; once a place frees, requests are answered again. Health checks
/// are not counted.
#[tokio::test]
async fn an_overloaded_server_sheds_requests_with_503() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(Options {
        max_in_flight: 1,
        ..Options::default()
    })
    .await;
    let body = r#"{"email":"nobody@example.org","password":"not the password"}"#;
    // A sign-in whose body arrives slowly holds the one place while the server reads it.
    let mut slow = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    slow.write_all(
        format!(
            "POST /api/v1/accounts/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            body.len(),
            &body[..10]
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // Wait until the server has taken the slow request in: then a read is shed.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let shed = loop {
        let r = app.client.get(app.url("/proposals")).send().await.unwrap();
        if r.status() == 503 {
            break r;
        }
        assert_eq!(r.status(), 200);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slow request never held the place"
        );
        tokio::task::yield_now().await;
    };
    assert_eq!(shed.headers()["retry-after"], "1");
    let problem: serde_json::Value = shed.json().await.unwrap();
    assert_eq!(problem["code"], "overloaded");
    assert_eq!(problem["status"], 503);
    // Health checks are answered all the same.
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // The slow sign-in completes and gets its own answer; then reads are answered again.
    slow.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    app.get("/proposals", None).await.ok(200);
}

/// On SQLite, what a serving process writes reaches the database file itself within moments:
/// the write-ahead log is copied into it in the background (checkpoints), not only once the
/// log has grown large or the process stops. Seen here by a reader that opens the file alone,
/// ignoring the log.
#[tokio::test]
async fn sqlite_writes_reach_the_database_file_while_serving() {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    use yishi::entities::user;

    let app = spawn_app().await;
    let Some(path) = app.database_url.strip_prefix("sqlite://") else {
        return; // PostgreSQL has no such log to copy.
    };
    let path = path.split('?').next().unwrap().to_string();
    // Enough writes after the migrations for the log to hold them, far fewer than SQLite's
    // own threshold for a checkpoint.
    for i in 0..3 {
        app.verified_user(&format!("checkpointed{i}@example.org"), "Checkpointed")
            .await;
    }
    let in_file = || async {
        let file = sea_orm::Database::connect(format!("sqlite://{path}?mode=ro&immutable=true"))
            .await
            .unwrap();
        // Before the migrations' tables are copied there, the file has no `users` table.
        let n = user::Entity::find()
            .filter(user::Column::Email.starts_with("checkpointed"))
            .count(&file)
            .await
            .map_err(|e| e.to_string());
        file.close().await.unwrap();
        n
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let n = in_file().await;
        if n == Ok(3) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after 10 s the database file alone gives {n:?} accounts of the 3; the rest are only in its log"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A transaction dropped before it commits (its request cancelled, say) gives its locks back at
/// once, though the pool no longer pings every connection given back to it
/// (`vendor/sqlx-core`): one with a rollback waiting to be sent is still flushed on its way
/// back. Seen from another pool, whose update of the locked row must not time out.
#[tokio::test]
async fn a_dropped_transaction_gives_its_locks_back_at_once() {
    use sea_orm::{ConnectionTrait, TransactionTrait};

    let app = spawn_app().await;
    if !app.database_url.starts_with("postgres") {
        return; // SQLite's write lock is this process's write gate, released on drop.
    }
    let db = &app.db.conn;
    db.execute_unprepared("CREATE TABLE lock_probe (id int PRIMARY KEY, n int NOT NULL)")
        .await
        .unwrap();
    db.execute_unprepared("INSERT INTO lock_probe VALUES (1, 0)")
        .await
        .unwrap();
    for round in 0..5 {
        let txn = db.begin().await.unwrap();
        txn.execute_unprepared("UPDATE lock_probe SET n = n + 1 WHERE id = 1")
            .await
            .unwrap();
        drop(txn);
        // Queries outside a transaction, through the same pool, while that connection idles.
        for _ in 0..3 {
            db.execute_unprepared("SELECT 1").await.unwrap();
        }
        let other = sea_orm::Database::connect(&app.database_url).await.unwrap();
        let probe = other.begin().await.unwrap();
        probe
            .execute_unprepared("SET LOCAL lock_timeout = '5s'")
            .await
            .unwrap();
        let updated = probe
            .execute_unprepared("UPDATE lock_probe SET n = n + 10 WHERE id = 1")
            .await;
        assert!(
            updated.is_ok(),
            "round {round}: the dropped transaction still holds its row lock: {updated:?}"
        );
        probe.rollback().await.unwrap();
        other.close().await.unwrap();
    }
    // The dropped transactions' updates were rolled back, not committed.
    let n = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT n FROM lock_probe WHERE id = 1",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i32>("", "n")
        .unwrap();
    assert_eq!(n, 0);
}
