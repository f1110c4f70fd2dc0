use reqwest::Method;
use serde_json::json;

use crate::support::{Options, PASSWORD, TestApp, spawn_app, spawn_app_with};

#[tokio::test]
async fn register_verify_login_logout() {
    let app = spawn_app().await;
    app.register("Mei@Example.org", "梅").await;
    let token = app.emailed_token("mei@example.org", "verify", 1).await;
    let mail = &app.smtp.to("mei@example.org")[0];
    assert!(
        mail.subject().contains("验证"),
        "Chinese by default: {}",
        mail.subject()
    );

    // Signing in works before verification, but the profile says unverified.
    let session = app.login("mei@example.org", PASSWORD).await;
    let bearer = session.ok(201)["token"].as_str().unwrap().to_string();
    assert!(bearer.len() >= 22, "at least 128 bits");
    assert_eq!(
        app.get("/accounts/me", Some(&bearer)).await.ok(200)["email_verified"],
        false
    );

    app.post("/accounts/verification", None, json!({ "token": token }))
        .await
        .ok(204);
    let me = app.get("/accounts/me", Some(&bearer)).await;
    assert_eq!(me.ok(200)["email_verified"], true);
    assert_eq!(me.body["display_name"], "梅");

    // The token works once.
    app.post("/accounts/verification", None, json!({ "token": token }))
        .await
        .problem(422, "token_used");
    app.post(
        "/accounts/verification",
        None,
        json!({ "token": "not-a-token" }),
    )
    .await
    .problem(422, "token_invalid");

    app.delete("/accounts/sessions/current", Some(&bearer))
        .await
        .ok(204);
    app.get("/accounts/me", Some(&bearer))
        .await
        .problem(401, "unauthenticated");
}

#[tokio::test]
async fn registration_does_not_reveal_existing_accounts() {
    let app = spawn_app().await;
    app.register("taken@example.org", "First").await;
    let again = app
        .post(
            "/accounts",
            None,
            json!({ "email": "taken@example.org", "display_name": "Second", "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        again.ok(202),
        &json!({ "message": "Check your email for a verification link. 请查收验证邮件。" })
    );
    // The owner is told instead, and no second account exists.
    let mails = app
        .smtp
        .wait_for("taken@example.org", 2, std::time::Duration::from_secs(30))
        .await;
    assert!(mails[1].text().contains("已经有账号"));
    app.login("taken@example.org", "some other password")
        .await
        .problem(401, "bad_credentials");
}

#[tokio::test]
async fn english_speakers_get_english_mail() {
    let app = spawn_app().await;
    app.post("/accounts", None, json!({ "email": "en@example.org", "display_name": "Ann", "password": PASSWORD, "language": "en" })).await.ok(202);
    let mails = app
        .smtp
        .wait_for("en@example.org", 1, std::time::Duration::from_secs(30))
        .await;
    assert_eq!(mails[0].subject(), "Verify your email · Yishi");
    assert!(mails[0].text().contains("Hello Ann"));
    let raw = String::from_utf8_lossy(&mails[0].raw).to_lowercase();
    assert!(
        raw.contains("multipart/alternative") && raw.contains("text/html"),
        "text and HTML parts"
    );
}

#[tokio::test]
async fn bad_registrations_are_refused_with_problems() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({ "display_name": "x", "password": PASSWORD }),
            400,
            "invalid_request",
        ),
        (
            json!({ "email": ["a@example.org"], "display_name": "x", "password": PASSWORD }),
            400,
            "invalid_request",
        ),
        (
            json!({ "email": "no-at-sign", "display_name": "x", "password": PASSWORD }),
            422,
            "invalid_email",
        ),
        (
            json!({ "email": "a@example.org", "display_name": "   ", "password": PASSWORD }),
            422,
            "invalid_display_name",
        ),
        (
            json!({ "email": "a@example.org", "display_name": "x".repeat(65), "password": PASSWORD }),
            400,
            "invalid_request",
        ),
        (
            json!({ "email": "a@example.org", "display_name": "x", "password": "short" }),
            422,
            "weak_password",
        ),
        (
            json!({ "email": "a@example.org", "display_name": "x", "password": "p".repeat(129) }),
            400,
            "invalid_request",
        ),
        (
            json!({ "email": format!("{}@example.org", "a".repeat(300)), "display_name": "x", "password": PASSWORD }),
            400,
            "invalid_request",
        ),
        (
            json!({ "email": "a@example.org", "display_name": "x", "password": PASSWORD, "language": "fr" }),
            400,
            "invalid_request",
        ),
    ];
    for (body, status, code) in cases {
        let answer = app.post("/accounts", None, body.clone()).await;
        assert_eq!(
            (answer.status.as_u16(), answer.body["code"].as_str()),
            (status, Some(code)),
            "{body} -> {}",
            answer.body
        );
        answer.problem(status, code);
    }
    app.raw(
        Method::POST,
        "/accounts",
        None,
        "application/json",
        b"{not json".to_vec(),
    )
    .await
    .problem(400, "invalid_request");
    let huge = vec![b'a'; 2 * 1024 * 1024];
    app.raw(Method::POST, "/accounts", None, "application/json", huge)
        .await
        .problem(413, "payload_too_large");
    assert!(app.smtp.all().is_empty(), "nothing was registered");
}

#[tokio::test]
async fn login_failures_are_throttled_without_revealing_accounts() {
    let app = spawn_app_with(Options {
        login_failures_per_account: 3,
        login_failures_per_address: 1000,
        ..Options::default()
    })
    .await;
    app.register("known@example.org", "K").await;
    for _ in 0..3 {
        app.login("known@example.org", "wrong password!")
            .await
            .problem(401, "bad_credentials");
        app.login("unknown@example.org", "wrong password!")
            .await
            .problem(401, "bad_credentials");
    }
    // Over the limit, even the right password is refused for a while, and unknown accounts
    // are throttled the same way as known ones.
    let throttled = app.login("known@example.org", PASSWORD).await;
    throttled.problem(429, "rate_limited");
    app.login("unknown@example.org", "wrong password!")
        .await
        .problem(429, "rate_limited");
    let other = app.login("other@example.org", "wrong password!").await;
    other.problem(401, "bad_credentials");
}

#[tokio::test]
async fn many_wrong_passwords_at_once_are_not_all_tried() {
    let app = spawn_app_with(Options {
        login_failures_per_account: 5,
        login_failures_per_address: 1000,
        ..Options::default()
    })
    .await;
    app.register("target@example.org", "T").await;
    let answers = futures_util::future::join_all((0..25).map(|i| {
        app.login(
            "target@example.org",
            if i == 0 { "wrong one!" } else { "wrong two!" },
        )
    }))
    .await;
    let tried = answers.iter().filter(|a| a.status == 401).count();
    let refused = answers.iter().filter(|a| a.status == 429).count();
    assert_eq!(tried, 5, "only the limit is evaluated");
    assert_eq!(refused, 20);
}

#[tokio::test]
async fn login_failures_are_throttled_per_address() {
    let app = spawn_app_with(Options {
        login_failures_per_account: 1000,
        login_failures_per_address: 4,
        ..Options::default()
    })
    .await;
    for i in 0..4 {
        app.login(&format!("u{i}@example.org"), "wrong password!")
            .await
            .problem(401, "bad_credentials");
    }
    app.login("u9@example.org", "wrong password!")
        .await
        .problem(429, "rate_limited");
}

#[tokio::test]
async fn x_forwarded_for_counts_only_from_a_trusted_proxy() {
    let failed_login_from = |app: &TestApp, client: &str| {
        let request = app
            .client
            .post(app.url("/accounts/sessions"))
            .header("x-forwarded-for", client)
            .json(&json!({ "email": "nobody@example.org", "password": "wrong password!" }))
            .send();
        async move {
            TestApp::answer(request.await.unwrap())
                .await
                .status
                .as_u16()
        }
    };
    // Behind a trusted proxy (the tests come from 127.0.0.1), each client has its own budget.
    let proxied = spawn_app_with(Options {
        login_failures_per_account: 1000,
        login_failures_per_address: 3,
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..Options::default()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(failed_login_from(&proxied, "203.0.113.7").await, 401);
    }
    assert_eq!(failed_login_from(&proxied, "203.0.113.7").await, 429);
    assert_eq!(failed_login_from(&proxied, "203.0.113.8").await, 401);
    // From anyone else the header is the client's word, and ignored.
    let direct = spawn_app_with(Options {
        login_failures_per_account: 1000,
        login_failures_per_address: 3,
        ..Options::default()
    })
    .await;
    for client in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        assert_eq!(failed_login_from(&direct, client).await, 401);
    }
    assert_eq!(failed_login_from(&direct, "203.0.113.4").await, 429);
}

#[tokio::test]
async fn sessions_can_be_listed_and_revoked() {
    let app = spawn_app().await;
    let first = app.verified_user("s@example.org", "S").await;
    let second = app.login("s@example.org", PASSWORD).await.ok(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let list = app.get("/accounts/me/sessions", Some(&first)).await;
    let sessions = list.ok(200).as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();
    app.delete(
        &format!("/accounts/me/sessions/{}", other["id"].as_str().unwrap()),
        Some(&first),
    )
    .await
    .ok(204);
    app.get("/accounts/me", Some(&second))
        .await
        .problem(401, "unauthenticated");
    app.get("/accounts/me", Some(&first)).await.ok(200);

    // Someone else's session, or no session at all, is not found.
    let stranger = app.verified_user("t@example.org", "T").await;
    let mine = app.get("/accounts/me/sessions", Some(&first)).await.body[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.delete(&format!("/accounts/me/sessions/{mine}"), Some(&stranger))
        .await
        .problem(404, "session_not_found");
    app.delete("/accounts/me/sessions/not-a-uuid", Some(&stranger))
        .await
        .problem(400, "invalid_request");
    app.get("/accounts/me", Some(&first)).await.ok(200);
}

/// A sign-in used again after a while shows when: the time is written shortly after the request
/// (with every other sign-in used meanwhile), not before it is answered.
#[tokio::test]
async fn a_sign_in_used_again_shows_when() {
    use sea_orm::sea_query::Expr;
    use sea_orm::{EntityTrait, QueryFilter};
    use yishi::entities::auth_session;

    let app = spawn_app().await;
    let first = app.verified_user("seen@example.org", "Seen").await;
    let second = app.login("seen@example.org", PASSWORD).await.ok(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    auth_session::Entity::update_many()
        .col_expr(auth_session::Column::LastSeenAt, Expr::value(an_hour_ago))
        .filter(sea_orm::ColumnTrait::eq(
            &auth_session::Column::TokenHash,
            yishi::accounts::tokens::hash_token(&second),
        ))
        .exec(&app.db.conn)
        .await
        .unwrap();
    let last_seen = || async {
        let response = app.get("/accounts/me/sessions", Some(&first)).await;
        let other = response
            .ok(200)
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == false)
            .cloned()
            .unwrap();
        chrono::DateTime::parse_from_rfc3339(other["last_seen_at"].as_str().unwrap()).unwrap()
    };
    assert!(last_seen().await < chrono::Utc::now() - chrono::Duration::minutes(59));

    let used = chrono::Utc::now();
    app.get("/accounts/me", Some(&second)).await.ok(200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let seen = last_seen().await;
        if seen >= used - chrono::Duration::seconds(1) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the sign-in still shows {seen} ten seconds after it was used"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A process that stops cleanly writes the uses of sign-ins it has noted but not yet written
/// (they wait about a second, to go together), rather than dropping them.
#[tokio::test]
async fn a_stopping_process_writes_when_sign_ins_were_last_used() {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use yishi::entities::auth_session;

    let app = spawn_app().await;
    let token = app.verified_user("stopping@example.org", "Stopping").await;
    let this_sign_in =
        auth_session::Column::TokenHash.eq(yishi::accounts::tokens::hash_token(&token));
    auth_session::Entity::update_many()
        .col_expr(
            auth_session::Column::LastSeenAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::hours(1)),
        )
        .filter(this_sign_in.clone())
        .exec(&app.db.conn)
        .await
        .unwrap();
    // Another process on the same database, which is then stopped as soon as it has answered.
    let (other, base) = crate::support::serve(&app.database_url).await;
    let used = chrono::Utc::now();
    let me = reqwest::Client::new()
        .get(format!("{base}/api/v1/accounts/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let exit = crate::support::terminate(other).await.status;
    assert!(exit.success(), "exit after SIGTERM: {exit:?}");
    let row = auth_session::Entity::find()
        .filter(this_sign_in)
        .one(&app.db.conn)
        .await
        .unwrap()
        .unwrap();
    assert!(
        row.last_seen_at >= used - chrono::Duration::seconds(1),
        "the sign-in still shows {} after the process that saw it used stopped",
        row.last_seen_at
    );
}

#[tokio::test]
async fn password_reset_by_single_use_emailed_token() {
    let app = spawn_app().await;
    let old_session = app.verified_user("r@example.org", "R").await;
    app.post(
        "/accounts/password-reset",
        None,
        json!({ "email": "r@example.org" }),
    )
    .await
    .ok(202);
    // Unknown addresses get the same answer and no mail.
    let unknown = app
        .post(
            "/accounts/password-reset",
            None,
            json!({ "email": "nobody@example.org" }),
        )
        .await;
    assert_eq!(
        unknown.ok(202)["message"],
        "If the address is registered, a reset link is on its way."
    );
    let token = app.emailed_token("r@example.org", "reset", 2).await;

    app.post(
        "/accounts/password-reset/confirm",
        None,
        json!({ "token": token, "new_password": "short" }),
    )
    .await
    .problem(422, "weak_password");
    app.post(
        "/accounts/password-reset/confirm",
        None,
        json!({ "token": token, "new_password": "a brand new password" }),
    )
    .await
    .ok(204);
    app.post(
        "/accounts/password-reset/confirm",
        None,
        json!({ "token": token, "new_password": "another new password" }),
    )
    .await
    .problem(422, "token_used");

    app.get("/accounts/me", Some(&old_session))
        .await
        .problem(401, "unauthenticated");
    app.login("r@example.org", PASSWORD)
        .await
        .problem(401, "bad_credentials");
    app.login("r@example.org", "a brand new password")
        .await
        .ok(201);
    assert!(app.smtp.to("nobody@example.org").is_empty());
}

#[tokio::test]
async fn expired_reset_tokens_are_refused() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    app.verified_user("x@example.org", "X").await;
    app.post(
        "/accounts/password-reset",
        None,
        json!({ "email": "x@example.org" }),
    )
    .await
    .ok(202);
    let token = app.emailed_token("x@example.org", "reset", 2).await;
    app.db
        .conn
        .execute_unprepared(
            "UPDATE one_time_tokens SET expires_at = created_at WHERE purpose = 'reset_password'",
        )
        .await
        .unwrap();
    app.post(
        "/accounts/password-reset/confirm",
        None,
        json!({ "token": token, "new_password": "a brand new password" }),
    )
    .await
    .problem(422, "token_expired");
}

#[tokio::test]
async fn one_time_tokens_expired_over_a_week_ago_are_forgotten() {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    use yishi::entities::one_time_token::{Column, Entity};
    let app = spawn_app().await;
    for who in ["old@example.org", "recent@example.org"] {
        app.verified_user(who, "T").await;
        app.post("/accounts/password-reset", None, json!({ "email": who }))
            .await
            .ok(202);
        app.emailed_token(who, "reset", 2).await;
    }
    let tokens = |days: i64| {
        Entity::find()
            .filter(Column::Purpose.eq("reset_password"))
            .filter(Column::ExpiresAt.lt(yishi::clock::now() - chrono::Duration::days(days)))
    };
    // Of the two reset links, one expired eight days ago and the other a minute ago.
    let mut links = Entity::find()
        .filter(Column::Purpose.eq("reset_password"))
        .all(&app.db.conn)
        .await
        .unwrap();
    assert_eq!(links.len(), 2);
    links.sort_by_key(|t| t.created_at);
    for (link, days_ago) in links.iter().zip([8, 0]) {
        let expired =
            yishi::clock::now() - chrono::Duration::days(days_ago) - chrono::Duration::minutes(1);
        Entity::update_many()
            .col_expr(Column::ExpiresAt, Expr::value(expired))
            .filter(Column::Id.eq(link.id))
            .exec(&app.db.conn)
            .await
            .unwrap();
    }
    // The scheduler (a pass a second here) forgets the old one and keeps the recent one, which
    // is still refused as expired rather than unknown.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while tokens(7).count(&app.db.conn).await.unwrap() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "never forgotten");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(tokens(0).count(&app.db.conn).await.unwrap(), 1);
    let recent = app.emailed_token("recent@example.org", "reset", 2).await;
    app.post(
        "/accounts/password-reset/confirm",
        None,
        json!({ "token": recent, "new_password": "a brand new password" }),
    )
    .await
    .problem(422, "token_expired");
}

#[tokio::test]
async fn sign_ins_expired_over_a_week_ago_are_forgotten() {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    use yishi::entities::auth_session::{Column, Entity};
    let app = spawn_app().await;
    let live = app.verified_user("live@example.org", "L").await;
    for (who, days_ago) in [("old@example.org", 8), ("recent@example.org", 0)] {
        app.verified_user(who, "T").await;
        let user = yishi::entities::user::Entity::find()
            .filter(yishi::entities::user::Column::Email.eq(who))
            .one(&app.db.conn)
            .await
            .unwrap()
            .unwrap();
        let expired =
            yishi::clock::now() - chrono::Duration::days(days_ago) - chrono::Duration::minutes(1);
        Entity::update_many()
            .col_expr(Column::ExpiresAt, Expr::value(expired))
            .filter(Column::UserId.eq(user.id))
            .exec(&app.db.conn)
            .await
            .unwrap();
    }
    let expired_before = |days: i64| {
        Entity::find()
            .filter(Column::ExpiresAt.lt(yishi::clock::now() - chrono::Duration::days(days)))
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while expired_before(7).count(&app.db.conn).await.unwrap() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "never forgotten");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The one that expired a minute ago is kept for now; the live one still works.
    assert_eq!(expired_before(0).count(&app.db.conn).await.unwrap(), 1);
    app.get("/accounts/me", Some(&live)).await.ok(200);
}

#[tokio::test]
async fn password_change_ends_other_sessions() {
    let app = spawn_app().await;
    let current = app.verified_user("c@example.org", "C").await;
    let other = app.login("c@example.org", PASSWORD).await.ok(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    // A reset link asked for before the change (by the person, or by someone who knows the
    // address) is spent by it.
    app.post(
        "/accounts/password-reset",
        None,
        json!({ "email": "c@example.org" }),
    )
    .await
    .ok(202);
    let reset = app.emailed_token("c@example.org", "reset", 2).await;
    app.post(
        "/accounts/me/password",
        Some(&current),
        json!({ "current_password": "not it at all", "new_password": "fresh password 1" }),
    )
    .await
    .problem(403, "wrong_password");
    app.post(
        "/accounts/me/password",
        Some(&current),
        json!({ "current_password": PASSWORD, "new_password": "fresh password 1" }),
    )
    .await
    .ok(204);
    app.get("/accounts/me", Some(&current)).await.ok(200);
    app.get("/accounts/me", Some(&other))
        .await
        .problem(401, "unauthenticated");
    app.login("c@example.org", "fresh password 1").await.ok(201);
    app.post(
        "/accounts/password-reset/confirm",
        None,
        json!({ "token": reset, "new_password": "the attacker's password" }),
    )
    .await
    .problem(422, "token_used");
    app.login("c@example.org", "fresh password 1").await.ok(201);
}

#[tokio::test]
async fn profile_update_and_resend_verification() {
    let app = spawn_app().await;
    app.register("p@example.org", "P").await;
    let token = app.login("p@example.org", PASSWORD).await.ok(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let me = app
        .patch(
            "/accounts/me",
            Some(&token),
            json!({ "display_name": "  Pat  ", "language": "en" }),
        )
        .await;
    assert_eq!(me.ok(200)["display_name"], "Pat");
    assert_eq!(me.body["language"], "en");
    app.patch("/accounts/me", Some(&token), json!({ "display_name": "" }))
        .await
        .problem(422, "invalid_display_name");
    app.patch(
        "/accounts/me",
        Some(&token),
        json!({ "email_verified": true }),
    )
    .await
    .problem(400, "invalid_request");
    assert_eq!(
        app.get("/accounts/me", Some(&token)).await.body["email_verified"],
        false,
        "no mass assignment"
    );
    app.post("/accounts/me/verification", Some(&token), json!({}))
        .await
        .ok(202);
    let second = app.emailed_token("p@example.org", "verify", 2).await;
    app.post("/accounts/verification", None, json!({ "token": second }))
        .await
        .ok(204);
    app.post("/accounts/me/verification", Some(&token), json!({}))
        .await
        .problem(409, "already_verified");
}

#[tokio::test]
async fn unauthenticated_and_bad_tokens_are_refused() {
    let app = spawn_app().await;
    for path in [
        "/accounts/me",
        "/accounts/me/sessions",
        "/accounts/me/export",
        "/audit/verify",
    ] {
        app.get(path, None).await.problem(401, "unauthenticated");
        app.get(path, Some("garbage"))
            .await
            .problem(401, "unauthenticated");
        app.get(path, Some(&"x".repeat(500)))
            .await
            .problem(401, "unauthenticated");
    }
    // Every 401 names the scheme to answer it with (RFC 9110), a wrong password's too.
    let challenge = |resp: reqwest::Response| {
        assert_eq!(resp.status(), 401);
        resp.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_string())
    };
    let me = app
        .client
        .get(app.url("/accounts/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(challenge(me).as_deref(), Some("Bearer realm=\"yishi\""));
    let wrong = app
        .client
        .post(app.url("/accounts/sessions"))
        .json(&serde_json::json!({ "email": "no@example.org", "password": "wrong password!" }))
        .send()
        .await
        .unwrap();
    assert_eq!(challenge(wrong).as_deref(), Some("Bearer realm=\"yishi\""));
}

#[tokio::test]
async fn export_and_delete_account() {
    let app = spawn_app().await;
    let token = app.verified_user("d@example.org", "Dora").await;
    let export = app.get("/accounts/me/export", Some(&token)).await;
    let body = export.ok(200);
    assert_eq!(body["profile"]["email"], "d@example.org");
    assert_eq!(body["sessions"].as_array().unwrap().len(), 1);
    let actions: Vec<&str> = body["activity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"account.registered") && actions.contains(&"account.email_verified"),
        "{actions:?}"
    );
    let user_id = body["profile"]["id"].as_str().unwrap().to_string();

    app.post(
        "/accounts/me/delete",
        Some(&token),
        json!({ "password": "not my password" }),
    )
    .await
    .problem(403, "wrong_password");
    app.post(
        "/accounts/me/delete",
        Some(&token),
        json!({ "password": PASSWORD }),
    )
    .await
    .ok(204);
    app.get("/accounts/me", Some(&token))
        .await
        .problem(401, "unauthenticated");
    app.login("d@example.org", PASSWORD)
        .await
        .problem(401, "bad_credentials");

    // The record of what they did stays, without their identity.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let user = yishi::entities::user::Entity::find_by_id(user_id.parse::<uuid::Uuid>().unwrap())
        .one(&app.db.conn)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !user.email.contains("d@example.org")
            && user.display_name != "Dora"
            && user.password_hash.is_empty()
    );
    let entries = yishi::entities::audit_entry::Entity::find()
        .filter(yishi::entities::audit_entry::Column::ObjectId.eq(user_id.clone()))
        .all(&app.db.conn)
        .await
        .unwrap();
    assert!(entries.iter().any(|e| e.action == "account.deleted"));
    assert!(entries.iter().all(|e| !e.summary.contains("d@example.org")));
    // The address can register again as a new person.
    app.register("d@example.org", "Dora again").await;
    app.emailed_token("d@example.org", "verify", 2).await;
}

#[tokio::test]
async fn expired_sessions_are_refused() {
    use sea_orm::ConnectionTrait;
    // The sign-in's expiry is moved behind the server's back, which no process is told of; a
    // real expiry is a time, which the token memory honours too (unit test in accounts::cache).
    let app = spawn_app_with(Options {
        auth_cache_secs: 0,
        ..Options::default()
    })
    .await;
    let token = app.verified_user("e@example.org", "E").await;
    app.get("/accounts/me", Some(&token)).await.ok(200);
    app.db
        .conn
        .execute_unprepared("UPDATE auth_sessions SET expires_at = created_at")
        .await
        .unwrap();
    app.get("/accounts/me", Some(&token))
        .await
        .problem(401, "unauthenticated");
}

#[tokio::test]
async fn sign_ins_read_together_each_answer_their_own_request() {
    // No memory of tokens: every request reads its sign-in, and requests arriving together
    // share one read (accounts::lookup). Each must still be answered as its own person, and a
    // signed-out or unknown token refused, whatever it was read with.
    let app = spawn_app_with(Options {
        auth_cache_secs: 0,
        ..Options::default()
    })
    .await;
    let mut people = Vec::new();
    for i in 0..8 {
        let email = format!("together{i}@example.org");
        people.push((app.verified_user(&email, &format!("T{i}")).await, email));
    }
    let (signed_out, _) = people.pop().unwrap();
    app.delete("/accounts/sessions/current", Some(&signed_out))
        .await
        .ok(204);
    let unknown = "y".repeat(43);
    let asks: Vec<(&str, Option<&str>)> = (0..5)
        .flat_map(|_| {
            people
                .iter()
                .map(|(token, email)| (token.as_str(), Some(email.as_str())))
                .chain([(signed_out.as_str(), None), (unknown.as_str(), None)])
        })
        .collect();
    let answers = futures_util::future::join_all(
        asks.iter()
            .map(|(token, _)| app.get("/accounts/me", Some(token))),
    )
    .await;
    for ((_, email), answer) in asks.iter().zip(answers) {
        match email {
            Some(email) => assert_eq!(answer.ok(200)["email"], *email),
            None => answer.problem(401, "unauthenticated"),
        }
    }
}

#[tokio::test]
async fn writes_are_rate_limited_per_actor() {
    let app = spawn_app_with(Options {
        writes_per_minute: 5,
        ..Options::default()
    })
    .await;
    for i in 0..5 {
        app.post(
            "/accounts/password-reset",
            None,
            json!({ "email": format!("w{i}@example.org") }),
        )
        .await
        .ok(202);
    }
    let resp = app
        .client
        .post(app.url("/accounts/password-reset"))
        .json(&json!({ "email": "w9@example.org" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let answer = crate::support::TestApp::answer(resp).await;
    answer.problem(429, "rate_limited");
    // A made-up token opens no fresh count: it is counted by address like no token.
    for junk in ["junk1", "junk2", "junk3"] {
        app.post(
            "/accounts/password-reset",
            Some(junk),
            json!({ "email": "w9@example.org" }),
        )
        .await
        .problem(429, "rate_limited");
    }
    // Reads are not limited.
    app.get("/places", None).await.ok(200);
}

#[tokio::test]
async fn a_signed_in_person_has_a_write_count_of_their_own() {
    let app = spawn_app_with(Options {
        writes_per_minute: 5,
        ..Options::default()
    })
    .await;
    // Signing up, verifying and signing in are three writes from this address.
    let token = app.verified_user("writer@example.org", "写手").await;
    let rename = |name: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            app.patch(
                "/accounts/me",
                Some(&token),
                json!({ "display_name": name }),
            )
            .await
        }
    };
    for _ in 0..5 {
        rename("写手").await.ok(200);
    }
    rename("写手二").await.problem(429, "rate_limited");
    // The address still has its own two writes left, for people not signed in.
    app.post(
        "/accounts/password-reset",
        None,
        json!({ "email": "someone@example.org" }),
    )
    .await
    .ok(202);
}

#[tokio::test]
async fn remembered_tokens_are_forgotten_at_once_on_sign_out_and_role_changes() {
    // A memory long enough that only eviction can make these pass.
    let options = || Options {
        auth_cache_secs: 3600,
        ..Options::default()
    };
    let first = spawn_app_with(options()).await;
    // On PostgreSQL a second process shares the database and is told by NOTIFY; on SQLite the
    // deployment is one process.
    let second = crate::support::second_process(&first, options()).await;
    let other = second.as_ref().unwrap_or(&first);
    let w = first.world().await;
    // The resident is remembered by both processes.
    for app in [&first, other] {
        app.get("/accounts/me", Some(&w.resident_a)).await.ok(200);
    }
    // A role granted through one process is honoured by the other: the unit register opens.
    let units = format!("/communities/{}/units", w.community_a);
    first
        .get(&units, Some(&w.resident_a))
        .await
        .problem(403, "forbidden");
    let me = first
        .get("/accounts/me", Some(&w.resident_a))
        .await
        .ok(200)
        .clone();
    let email = me["email"].as_str().unwrap().to_string();
    other
        .grant(&w.admin, &w.community_a, &email, "committee_member")
        .await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if first.get(&units, Some(&w.resident_a)).await.status == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the grant was not seen"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Signing out through one process refuses the token in the other.
    other
        .delete("/accounts/sessions/current", Some(&w.resident_a))
        .await;
    loop {
        if first.get("/accounts/me", Some(&w.resident_a)).await.status == 401 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sign-out was not seen"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Issue 32: no one floods a mailbox through Yishi. Asking for resets (or registering an
/// address again) answers the same every time, but the address gets at most three such mails
/// an hour; other addresses are not affected.
#[tokio::test]
async fn mails_to_one_address_on_visitors_requests_are_limited() {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    use yishi::entities::outbox;
    let app = spawn_app().await;
    app.verified_user("target@example.org", "Target").await;
    app.verified_user("other@example.org", "Other").await;
    let queued = |to: &'static str, subject: &'static str| {
        let db = app.db.conn.clone();
        async move {
            outbox::Entity::find()
                .filter(outbox::Column::ToAddress.eq(to))
                .filter(outbox::Column::Subject.contains(subject))
                .count(&db)
                .await
                .unwrap()
        }
    };
    for _ in 0..6 {
        let asked = app
            .post(
                "/accounts/password-reset",
                None,
                json!({ "email": "target@example.org" }),
            )
            .await;
        assert_eq!(
            asked.ok(202)["message"],
            "If the address is registered, a reset link is on its way."
        );
    }
    // The mail is queued in the request's transaction: what is there now is all there will be.
    assert_eq!(queued("target@example.org", "密码").await, 3);
    app.post(
        "/accounts/password-reset",
        None,
        json!({ "email": "other@example.org" }),
    )
    .await
    .ok(202);
    assert_eq!(queued("other@example.org", "密码").await, 1);
    // Registering the address again: the same answer each time, three notices at most.
    for _ in 0..5 {
        app.post(
            "/accounts",
            None,
            json!({ "email": "target@example.org", "display_name": "Again", "password": PASSWORD }),
        )
        .await
        .ok(202);
    }
    assert_eq!(queued("target@example.org", "尝试用您的邮箱注册").await, 3);
}
