//! Limits that stop guessing and flooding without locking anyone out, shared by every process
//! on one PostgreSQL database (issue 32).

use serde_json::{Value, json};

use crate::support::{Answer, Options, PASSWORD, TestApp, second_process, spawn_app_with};

fn paced(failures: u32) -> Options {
    Options {
        login_failures_per_account: failures,
        login_failures_per_address: 1000,
        ..Options::default()
    }
}

async fn sign_in(app: &TestApp, email: &str, password: &str, device: Option<&str>) -> Answer {
    let mut body = json!({ "email": email, "password": password });
    if let Some(device) = device {
        body["device"] = Value::from(device);
    }
    app.post("/accounts/sessions", None, body).await
}

#[tokio::test]
async fn someone_elses_wrong_passwords_slow_new_devices_but_never_lock_the_owner_out() {
    let app = spawn_app_with(paced(3)).await;
    app.verified_user("owner@example.org", "主人").await;
    // The owner's own browser, which signed in before, was given a device token.
    let first = sign_in(&app, "owner@example.org", PASSWORD, None).await;
    let device = first.ok(201)["device"].as_str().unwrap().to_string();
    assert!(!device.is_empty());

    // Someone else guesses: three attempts go at once, then each must wait.
    for _ in 0..3 {
        sign_in(&app, "owner@example.org", "guess guess!", None)
            .await
            .problem(401, "bad_credentials");
    }
    let waiting = sign_in(&app, "owner@example.org", "guess again!", None).await;
    waiting.problem(429, "rate_limited");
    let wait = waiting.retry_after.expect("a 429 says when to retry");
    assert!(
        (1..=60).contains(&wait),
        "the first wait is a minute: {wait}"
    );
    // Even the right password waits on a device the account was never used on…
    sign_in(&app, "owner@example.org", PASSWORD, None)
        .await
        .problem(429, "rate_limited");
    // …and the owner is told, in their language.
    let told = app
        .smtp
        .wait_matching(
            "owner@example.org",
            1,
            std::time::Duration::from_secs(30),
            |m| m.subject().contains("登录"),
        )
        .await;
    assert!(told[0].text().contains("3"), "{}", told[0].text());

    // The owner's device signs in at once, and keeps its token.
    let again = sign_in(&app, "owner@example.org", PASSWORD, Some(&device)).await;
    assert_eq!(again.ok(201)["device"], Value::from(device.clone()));
    // A token made up, or issued for another account, is no device of this account.
    app.verified_user("other@example.org", "别人").await;
    let others = sign_in(&app, "other@example.org", PASSWORD, None)
        .await
        .ok(201)["device"]
        .as_str()
        .unwrap()
        .to_string();
    for fake in [
        others.as_str(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        sign_in(&app, "owner@example.org", PASSWORD, Some(fake))
            .await
            .problem(429, "rate_limited");
    }
    // A device token is no key: wrong passwords with it meet a hard limit of its own.
    for _ in 0..3 {
        sign_in(&app, "owner@example.org", "guess guess!", Some(&device))
            .await
            .problem(401, "bad_credentials");
    }
    sign_in(&app, "owner@example.org", PASSWORD, Some(&device))
        .await
        .problem(429, "rate_limited");
}

#[tokio::test]
async fn a_password_reset_ends_the_wait_for_new_devices() {
    let app = spawn_app_with(paced(2)).await;
    app.verified_user("reset@example.org", "重设").await;
    for _ in 0..2 {
        sign_in(&app, "reset@example.org", "guess guess!", None)
            .await
            .problem(401, "bad_credentials");
    }
    sign_in(&app, "reset@example.org", PASSWORD, None)
        .await
        .problem(429, "rate_limited");
    app.post(
        "/accounts/password-reset",
        None,
        json!({ "email": "reset@example.org" }),
    )
    .await
    .ok(202);
    let mails = app
        .smtp
        .wait_matching(
            "reset@example.org",
            1,
            std::time::Duration::from_secs(30),
            |m| m.text().contains("/#/reset?token="),
        )
        .await;
    let text = mails[0].text();
    let start = text.find("/#/reset?token=").unwrap() + "/#/reset?token=".len();
    let token: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let new_password = "a brand new passphrase";
    app.post(
        "/accounts/password-reset/confirm",
        None,
        json!({ "token": token, "new_password": new_password }),
    )
    .await
    .ok(204);
    sign_in(&app, "reset@example.org", new_password, None)
        .await
        .ok(201);
}

/// A POST from `client`, as a trusted proxy in front of the server says.
async fn post_from(app: &TestApp, client: &str, path: &str, body: Value) -> Answer {
    let sent = app
        .client
        .post(app.url(path))
        .header("x-forwarded-for", client)
        .json(&body)
        .send()
        .await
        .unwrap();
    TestApp::answer(sent).await
}

#[tokio::test]
async fn two_processes_share_one_limit() {
    let options = || Options {
        writes_per_minute: 3,
        login_failures_per_address: 2,
        login_failures_per_account: 2,
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..Options::default()
    };
    let first = spawn_app_with(options()).await;
    let Some(second) = second_process(&first, options()).await else {
        return; // SQLite is served by one process.
    };
    let wrong = |email: &str| json!({ "email": email, "password": "guess guess!" });
    // Wrong passwords from one address, one to each process: two in all.
    for (n, app) in [&first, &second].into_iter().enumerate() {
        let email = format!("nobody{n}@example.org");
        post_from(app, "203.0.113.1", "/accounts/sessions", wrong(&email))
            .await
            .problem(401, "bad_credentials");
    }
    post_from(
        &first,
        "203.0.113.1",
        "/accounts/sessions",
        wrong("n@example.org"),
    )
    .await
    .problem(429, "rate_limited");

    // Writes from one address: three in all.
    let reset = json!({ "email": "x@example.org" });
    for app in [&first, &second, &first] {
        post_from(
            app,
            "203.0.113.2",
            "/accounts/password-reset",
            reset.clone(),
        )
        .await
        .ok(202);
    }
    let refused = post_from(&second, "203.0.113.2", "/accounts/password-reset", reset).await;
    refused.problem(429, "rate_limited");
    assert!(refused.retry_after.is_some_and(|s| (1..=60).contains(&s)));

    // An account's paced run is one, whichever process and address count it.
    for (app, client) in [(&first, "203.0.113.3"), (&second, "203.0.113.4")] {
        post_from(
            app,
            client,
            "/accounts/sessions",
            wrong("someone@example.org"),
        )
        .await
        .problem(401, "bad_credentials");
    }
    post_from(
        &first,
        "203.0.113.5",
        "/accounts/sessions",
        wrong("someone@example.org"),
    )
    .await
    .problem(429, "rate_limited");
}
