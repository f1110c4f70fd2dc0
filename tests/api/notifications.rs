//! Notifications over a real SMTP server: every catalogue entry in both languages, preferences
//! (immediate, digest, off), the digest once across two processes, one-click unsubscribe and
//! forged links, suppression after a permanent failure, merging, the feed and its socket.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;
use yishi::demo::mail as samples;
use yishi::entities::{outbox, user};
use yishi::notifications::Kind;
use yishi::notifications::catalogue::{CATALOGUE, Category};

use crate::smtp::Received;
use crate::support::{Options, TestApp, spawn_app, spawn_app_at, spawn_app_with};

fn state_of(app: &TestApp) -> yishi::state::AppState {
    yishi::state::AppState::new(
        app.db.clone(),
        Arc::new(yishi::config::Settings {
            public_url: app.base.clone(),
            // The server's own master key: what this state seals, the server's worker opens.
            sealing_key_file: crate::support::shared_sealing_key(),
            ..yishi::config::Settings::default()
        }),
    )
}

async fn user_id(app: &TestApp, email: &str) -> Uuid {
    user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&app.db.conn)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Routes one notification as the platform would, in its own transaction.
async fn tell(
    state: &yishi::state::AppState,
    kind: Kind,
    object: Option<Uuid>,
    to: (Uuid, &str),
    language: &str,
) {
    let txn = state.db.write().await.unwrap();
    let mail = samples::sample(state, kind, language);
    yishi::notifications::notify(state, &*txn, kind, object, to.0, to.1, mail)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    state.mail_wake.notify_one();
}

fn header(m: &Received, name: &str) -> Option<String> {
    let parsed = mailparse::parse_mail(&m.raw).unwrap();
    use mailparse::MailHeaderMap;
    parsed.headers.get_first_value(name)
}

async fn person(app: &TestApp, label: &str, language: &str) -> (String, String, Uuid) {
    let email = format!("{label}-{}@example.org", Uuid::new_v4().simple());
    let token = app.verified_user(&email, label).await;
    if language == "en" {
        app.patch("/accounts/me", Some(&token), json!({ "language": "en" }))
            .await
            .ok(200);
    }
    let id = user_id(app, &email).await;
    (token, email, id)
}

/// A message for `to` of `category`, queued as if before a change of preference, due in two
/// seconds.
async fn queue_waiting(app: &TestApp, to: (Uuid, &str), category: &str, subject: &str) -> Uuid {
    use sea_orm::ActiveModelTrait;
    let id = Uuid::new_v4();
    let now = chrono::Utc::now();
    outbox::ActiveModel {
        id: sea_orm::Set(id),
        to_address: sea_orm::Set(to.1.to_string()),
        subject: sea_orm::Set(subject.into()),
        body_text: sea_orm::Set("排队中".into()),
        body_html: sea_orm::Set("<p>排队中</p>".into()),
        status: sea_orm::Set("pending".into()),
        attempts: sea_orm::Set(0),
        next_attempt_at: sea_orm::Set(now + chrono::Duration::seconds(2)),
        locked_until: sea_orm::Set(None),
        last_error: sea_orm::Set(None),
        created_at: sea_orm::Set(now),
        sent_at: sea_orm::Set(None),
        ics: sea_orm::Set(None),
        user_id: sea_orm::Set(Some(to.0)),
        category: sea_orm::Set(Some(category.into())),
        merge_key: sea_orm::Set(None),
    }
    .insert(&app.db.conn)
    .await
    .unwrap();
    id
}

/// The RFC 8058 request: a form-encoded POST to the link, no sign-in; its status.
async fn one_click(app: &TestApp, url: &str) -> u16 {
    app.client
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Waits until the worker has dealt with a queued message (sent it or given it up).
async fn wait_until_settled(app: &TestApp, id: Uuid) -> outbox::Model {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let row = outbox::Entity::find_by_id(id)
            .one(&app.db.conn)
            .await
            .unwrap()
            .unwrap();
        if row.status != "pending" && row.status != "sending" {
            return row;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the waiting message stays queued"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn put_prefs(app: &TestApp, token: &str, body: Value) -> crate::support::Answer {
    app.call(
        reqwest::Method::PUT,
        "/accounts/me/notification-preferences",
        Some(token),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn every_catalogue_entry_renders_in_both_languages_and_arrives() {
    let app = spawn_app().await;
    let state = state_of(&app);
    let catalogue = app.get("/notifications/catalogue", None).await;
    assert_eq!(catalogue.ok(200).as_array().unwrap().len(), CATALOGUE.len());
    for language in ["zh-CN", "en"] {
        let (token, email, id) = person(&app, "reader", language).await;
        // Contracts are off by default for someone outside any organisation; this reader wants all.
        put_prefs(
            &app,
            &token,
            json!({ "categories": [{ "category": "contracts", "mode": "immediate" }] }),
        )
        .await
        .ok(200);
        let before = app.smtp.to(&email).len();
        for e in &CATALOGUE {
            tell(&state, e.kind, Some(Uuid::new_v4()), (id, &email), language).await;
        }
        let got = app
            .smtp
            .wait_for(&email, before + CATALOGUE.len(), Duration::from_secs(60))
            .await;
        let got = &got[before..];
        for e in &CATALOGUE {
            let expected = samples::sample(&state, e.kind, language).subject;
            let m = got
                .iter()
                .find(|m| m.subject() == expected)
                .unwrap_or_else(|| panic!("{} ({language}) did not arrive", e.key));
            // Each subject opens with its kind, in the reader's language.
            let opens_chinese = expected
                .chars()
                .next()
                .is_some_and(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
            assert_eq!(
                opens_chinese,
                language == "zh-CN",
                "{} ({language}): {expected}",
                e.key
            );
            let unsubscribe = header(m, "List-Unsubscribe");
            if e.category == Category::Security {
                assert!(unsubscribe.is_none(), "{} must not be mutable", e.key);
            } else {
                let u = unsubscribe.unwrap_or_else(|| panic!("{} has no List-Unsubscribe", e.key));
                assert!(u.contains("/api/v1/unsubscribe?token="), "{u}");
                assert_eq!(
                    header(m, "List-Unsubscribe-Post").as_deref(),
                    Some("List-Unsubscribe=One-Click")
                );
                assert!(m.text().contains("/#/unsubscribe?token="), "{}", e.key);
            }
        }
    }
}

#[tokio::test]
async fn preferences_are_honoured_and_security_messages_ignore_them() {
    let app = spawn_app().await;
    let state = state_of(&app);
    let (token, email, id) = person(&app, "chooser", "zh-CN").await;
    let prefs = app
        .get("/accounts/me/notification-preferences", Some(&token))
        .await;
    let votes = prefs.ok(200)["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == "votes")
        .unwrap()
        .clone();
    assert_eq!(votes["mode"], "immediate");
    assert_eq!(prefs.body["digest_time"], "08:00");
    // Security cannot be muted; a malformed time is refused.
    put_prefs(
        &app,
        &token,
        json!({ "categories": [{ "category": "security", "mode": "off" }] }),
    )
    .await
    .problem(422, "security_not_mutable");
    put_prefs(&app, &token, json!({ "digest_time": "25:00" }))
        .await
        .problem(400, "invalid_request");
    let set = put_prefs(
        &app,
        &token,
        json!({
            "categories": [
                { "category": "votes", "mode": "off" },
                { "category": "proposals", "mode": "digest" },
                { "category": "resolutions", "mode": "immediate" },
                { "category": "sessions", "mode": "off" },
                { "category": "membership", "mode": "off" },
            ],
            "digest_time": "23:59",
        }),
    )
    .await;
    assert_eq!(set.ok(200)["digest_time"], "23:59");
    let before = app.smtp.to(&email).len();
    tell(&state, Kind::PollResult, None, (id, &email), "zh-CN").await;
    tell(&state, Kind::ProposalThreshold, None, (id, &email), "zh-CN").await;
    tell(
        &state,
        Kind::ResolutionUpdate,
        Some(Uuid::new_v4()),
        (id, &email),
        "zh-CN",
    )
    .await;
    // The immediate one arrives; a password reset arrives whatever the preferences.
    app.post("/accounts/password-reset", None, json!({ "email": email }))
        .await
        .ok(202);
    let got = app
        .smtp
        .wait_for(&email, before + 2, Duration::from_secs(30))
        .await;
    let subjects: Vec<String> = got[before..].iter().map(|m| m.subject()).collect();
    assert!(
        subjects.iter().any(|s| s.contains("决议进展")),
        "{subjects:?}"
    );
    assert!(subjects.iter().any(|s| s.contains("密码")), "{subjects:?}");
    // Nothing else was queued for this person: the off and digest ones wait in the feed.
    let queued = outbox::Entity::find()
        .filter(outbox::Column::ToAddress.eq(email.clone()))
        .all(&app.db.conn)
        .await
        .unwrap();
    assert!(
        !queued
            .iter()
            .any(|m| m.subject.contains("表决结果") || m.subject.contains("联署"))
    );
    // The feed holds all three (security messages stay out of it), unread.
    let feed = app.get("/accounts/me/notifications", Some(&token)).await;
    assert_eq!(feed.ok(200)["unread"], 3);
    let items = feed.body["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|n| n["kind"] != "password_reset"));
    let first = items[0]["id"].as_str().unwrap();
    let read = app
        .post(
            "/accounts/me/notifications/read",
            Some(&token),
            json!({ "ids": [first] }),
        )
        .await;
    assert_eq!(read.ok(200)["unread"], 2);
    app.post("/accounts/me/notifications/read", Some(&token), json!({}))
        .await
        .problem(422, "nothing_to_mark");
    let all = app
        .post(
            "/accounts/me/notifications/read",
            Some(&token),
            json!({ "all": true }),
        )
        .await;
    assert_eq!(all.ok(200)["unread"], 0);
    // The digest time chosen is honoured: at 23:59 it is not due before then, so move it.
    put_prefs(&app, &token, json!({ "digest_time": "00:00" }))
        .await
        .ok(200);
    let digests = app
        .smtp
        .wait_matching(&email, 1, Duration::from_secs(30), |m| {
            m.subject().contains("每日摘要")
        })
        .await;
    let threshold = samples::sample(&state, Kind::ProposalThreshold, "zh-CN").subject;
    assert!(
        digests[0].text().contains(&threshold),
        "{}",
        digests[0].text()
    );
    assert!(!digests[0].text().contains("表决结果"), "off means off");
    // The digest's own unsubscribe link turns off what came by digest.
    assert!(header(&digests[0], "List-Unsubscribe").is_some());
}

#[tokio::test]
async fn the_digest_goes_out_once_with_two_processes_and_never_empty() {
    let app = spawn_app().await;
    let second = spawn_app_at(
        Options::default(),
        app.smtp.clone(),
        app.database_url.clone(),
    )
    .await;
    let (token, email, id) = person(&app, "digester", "zh-CN").await;
    let (idle_token, idle_email, _) = person(&app, "idle", "zh-CN").await;
    for t in [&token, &idle_token] {
        put_prefs(&app, t, json!({
            "categories": [{ "category": "votes", "mode": "digest" }, { "category": "resolutions", "mode": "digest" }],
            "digest_time": "00:00",
        }))
        .await
        .ok(200);
    }
    let mut states = Vec::new();
    for _ in 0..2 {
        let settings = Arc::new(yishi::config::Settings {
            database_url: yishi::config::Secret::new(app.database_url.clone()),
            public_url: app.base.clone(),
            ..yishi::config::Settings::default()
        });
        let db = yishi::db::Db::connect(&settings).await.unwrap();
        states.push(yishi::state::AppState::new(db, settings));
    }
    // Two notices in one transaction, so that no digest can go out between them.
    let txn = states[0].db.write().await.unwrap();
    for kind in [Kind::PollResult, Kind::ResolutionUpdate] {
        let mail = samples::sample(&states[0], kind, "zh-CN");
        yishi::notifications::notify(
            &states[0],
            &*txn,
            kind,
            Some(Uuid::new_v4()),
            id,
            &email,
            mail,
        )
        .await
        .unwrap();
    }
    txn.commit().await.unwrap();
    // Both servers' schedulers run every second; four more passes race them.
    let passes = futures_util::future::join_all(
        states
            .iter()
            .chain(states.iter())
            .map(yishi::notifications::digest::send_due),
    )
    .await;
    for p in passes {
        p.unwrap();
    }
    let got = app
        .smtp
        .wait_matching(&email, 1, Duration::from_secs(30), |m| {
            m.subject().contains("每日摘要")
        })
        .await;
    assert!(got[0].subject().contains("2 条"), "{}", got[0].subject());
    assert!(got[0].text().contains("表决结果") && got[0].text().contains("决议进展"));
    for s in &states {
        assert_eq!(yishi::notifications::digest::send_due(s).await.unwrap(), 0);
    }
    let digests = outbox::Entity::find()
        .filter(outbox::Column::Subject.contains("每日摘要"))
        .all(&app.db.conn)
        .await
        .unwrap();
    assert_eq!(
        digests.len(),
        1,
        "one digest, for the person with something in it"
    );
    assert_eq!(digests[0].to_address, email);
    assert!(!digests.iter().any(|d| d.to_address == idle_email));
    drop(second);
}

#[tokio::test]
async fn one_click_unsubscribe_works_and_forged_links_are_refused() {
    let app = spawn_app().await;
    let state = state_of(&app);
    let (token, email, id) = person(&app, "leaver", "zh-CN").await;
    let (_, other_email, other_id) = person(&app, "other", "zh-CN").await;
    tell(
        &state,
        Kind::ResolutionUpdate,
        Some(Uuid::new_v4()),
        (id, &email),
        "zh-CN",
    )
    .await;
    tell(
        &state,
        Kind::ResolutionUpdate,
        Some(Uuid::new_v4()),
        (other_id, &other_email),
        "zh-CN",
    )
    .await;
    let mine = app
        .smtp
        .wait_matching(&email, 1, Duration::from_secs(30), |m| {
            m.subject().contains("决议进展")
        })
        .await;
    let target = header(&mine[0], "List-Unsubscribe").unwrap();
    let url = target
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string();
    let token_in_link = url.split("token=").nth(1).unwrap().to_string();
    // Forged: a flipped character, another person's id with this signature, another category.
    let mut flipped = token_in_link.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    let someone_else = format!("{}{}", other_id.simple(), &token_in_link[32..]);
    let security = token_in_link.replace(".resolutions.", ".security.");
    // Signed with a key kept outside the database (issue 32): a database reader finds no key
    // to forge one with, and the key a copy of the database could hold is refused.
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(
        yishi::entities::app_key::Entity::find()
            .count(&app.db.conn)
            .await
            .unwrap(),
        0
    );
    let database_key =
        yishi::notifications::keys::sign(b"any key in the database", id, "resolutions");
    for forged in [
        flipped,
        someone_else,
        security,
        database_key,
        "nonsense".to_string(),
    ] {
        let refused = app
            .client
            .post(app.url(&format!("/unsubscribe?token={forged}")))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        TestApp::answer(refused)
            .await
            .problem(422, "invalid_unsubscribe_link");
    }
    // Without RFC 8058's body, a POST to the link (a scanner's, an empty one) turns nothing
    // off.
    let empty = app.client.post(&url).send().await.unwrap();
    TestApp::answer(empty)
        .await
        .problem(415, "unsupported_media_type");
    let other = app
        .client
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=Maybe")
        .send()
        .await
        .unwrap();
    TestApp::answer(other)
        .await
        .problem(422, "one_click_required");
    let inspect = app
        .get(&format!("/unsubscribe?token={token_in_link}"), None)
        .await;
    assert_eq!(inspect.ok(200)["category"], "resolutions");
    assert_eq!(inspect.body["done"], false);
    assert!(
        inspect.body["email_hint"]
            .as_str()
            .unwrap()
            .contains("***@example.org")
    );
    // A message of that kind queued before the unsubscribe and not yet due.
    let waiting = queue_waiting(&app, (id, &email), "resolutions", "排队中的消息").await;
    // The RFC 8058 request: a form-encoded POST to the header's URL, no sign-in.
    assert_eq!(one_click(&app, &url).await, 200);
    let prefs = app
        .get("/accounts/me/notification-preferences", Some(&token))
        .await;
    let resolutions = prefs.ok(200)["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == "resolutions")
        .unwrap()
        .clone();
    assert_eq!(resolutions["mode"], "off");
    // What was waiting is not sent once it falls due: mail stops at once (RFC 8058).
    let given_up = wait_until_settled(&app, waiting).await;
    assert_eq!(given_up.status, "dead");
    assert!(given_up.last_error.unwrap_or_default().contains("turned"));
    assert!(
        !app.smtp
            .to(&email)
            .iter()
            .any(|m| m.subject().contains("排队中")),
        "the waiting message was sent"
    );
    // The other person's preference is untouched, and the next update reaches only them.
    tell(
        &state,
        Kind::ResolutionUpdate,
        Some(Uuid::new_v4()),
        (id, &email),
        "zh-CN",
    )
    .await;
    tell(
        &state,
        Kind::ResolutionUpdate,
        Some(Uuid::new_v4()),
        (other_id, &other_email),
        "zh-CN",
    )
    .await;
    app.smtp
        .wait_matching(&other_email, 2, Duration::from_secs(30), |m| {
            m.subject().contains("决议进展")
        })
        .await;
    let queued = outbox::Entity::find()
        .filter(outbox::Column::ToAddress.eq(email.clone()))
        .filter(outbox::Column::Subject.contains("决议进展"))
        .all(&app.db.conn)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1, "nothing more after unsubscribing");
}

#[tokio::test]
async fn a_permanent_failure_suppresses_the_address_until_the_person_fixes_it() {
    let app = spawn_app().await;
    let state = state_of(&app);
    let admin = app.admin().await;
    let (token, _, id) = person(&app, "mailbox-owner", "zh-CN").await;
    let bad = format!("bounce-{}@example.org", Uuid::new_v4().simple());
    // Point the account at a mailbox that refuses mail (as if the address had changed).
    user::Entity::update_many()
        .col_expr(
            user::Column::Email,
            sea_orm::sea_query::Expr::value(bad.clone()),
        )
        .filter(user::Column::Id.eq(id))
        .exec(&app.db.conn)
        .await
        .unwrap();
    tell(
        &state,
        Kind::ResolutionUpdate,
        Some(Uuid::new_v4()),
        (id, &bad),
        "zh-CN",
    )
    .await;
    // Wait for the outbox to give up on it, then for the address to be suppressed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let page = app.get("/admin/outbox?status=dead", Some(&admin)).await;
        if page.ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["to_address"] == bad.as_str())
        {
            assert!(page.body["suppressed_addresses"].as_u64().unwrap() >= 1);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bounce never went dead"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let prefs = app
        .get("/accounts/me/notification-preferences", Some(&token))
        .await;
    assert_eq!(prefs.ok(200)["email_suppressed"], true);
    // The next message is not even tried.
    tell(
        &state,
        Kind::ResolutionUpdate,
        Some(Uuid::new_v4()),
        (id, &bad),
        "zh-CN",
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let dead = outbox::Entity::find()
            .filter(outbox::Column::ToAddress.eq(bad.clone()))
            .filter(outbox::Column::Status.eq("dead"))
            .all(&app.db.conn)
            .await
            .unwrap();
        if dead.len() == 2 {
            assert!(dead.iter().any(|m| {
                m.last_error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("suppressed"))
            }));
            assert!(dead.iter().all(|m| m.attempts == 1));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second message was not settled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Only administrators see the outbox.
    app.get("/admin/outbox", Some(&token))
        .await
        .problem(403, "forbidden");
    app.get("/admin/outbox?status=lost", Some(&admin))
        .await
        .problem(400, "invalid_request");
    // The person says the mailbox works again.
    let cleared = app
        .call(
            reqwest::Method::DELETE,
            "/accounts/me/email-suppression",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(cleared.ok(200)["email_suppressed"], false);
}

#[tokio::test]
async fn messages_about_one_object_within_the_window_are_merged() {
    let app = spawn_app_with(Options {
        mail_merge_secs: 2,
        ..Options::default()
    })
    .await;
    let mut settings = yishi::config::Settings {
        public_url: app.base.clone(),
        ..yishi::config::Settings::default()
    };
    settings.mail_merge_secs = 2;
    let state = yishi::state::AppState::new(app.db.clone(), Arc::new(settings));
    let (_, email, id) = person(&app, "follower", "zh-CN").await;
    let object = Uuid::new_v4();
    for _ in 0..3 {
        tell(
            &state,
            Kind::ResolutionUpdate,
            Some(object),
            (id, &email),
            "zh-CN",
        )
        .await;
    }
    let got = app
        .smtp
        .wait_matching(&email, 2, Duration::from_secs(30), |m| {
            m.subject().contains("决议进展")
        })
        .await;
    // The first went at once; the two that followed within the window went as one.
    assert_eq!(
        got[1].text().matches("路灯已安装").count(),
        2,
        "{}",
        got[1].text()
    );
    let rows = outbox::Entity::find()
        .filter(outbox::Column::ToAddress.eq(email.clone()))
        .filter(outbox::Column::Subject.contains("决议进展"))
        .all(&app.db.conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    // Another object is not merged with this one.
    tell(
        &state,
        Kind::ResolutionUpdate,
        Some(Uuid::new_v4()),
        (id, &email),
        "zh-CN",
    )
    .await;
    app.smtp
        .wait_matching(&email, 3, Duration::from_secs(30), |m| {
            m.subject().contains("决议进展")
        })
        .await;
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn frame(socket: &mut Ws) -> Value {
    let frame = tokio::time::timeout(Duration::from_secs(30), socket.next())
        .await
        .expect("a frame in time")
        .expect("the socket is open")
        .expect("a frame");
    serde_json::from_str::<Value>(frame.to_text().unwrap()).unwrap()
}

#[tokio::test]
async fn the_feed_is_pushed_over_the_persons_socket() {
    let app = spawn_app().await;
    let state = state_of(&app);
    let (token, email, id) = person(&app, "listener", "zh-CN").await;
    let ws_base = app.base.replace("http://", "ws://");
    // Without a ticket, or with a used one, the upgrade is refused.
    let refused =
        tokio_tungstenite::connect_async(format!("{ws_base}/api/v1/accounts/me/feed?ticket=nope"))
            .await;
    assert!(refused.is_err());
    let ticket = app
        .post("/accounts/me/tickets", Some(&token), json!({}))
        .await;
    let ticket = ticket.ok(201)["ticket"].as_str().unwrap().to_string();
    let (mut socket, _) = tokio_tungstenite::connect_async(format!(
        "{ws_base}/api/v1/accounts/me/feed?ticket={ticket}"
    ))
    .await
    .unwrap();
    let first = frame(&mut socket).await;
    assert_eq!(first["type"], "unread");
    assert_eq!(first["count"], 0);
    tell(
        &state,
        Kind::PollResult,
        Some(Uuid::new_v4()),
        (id, &email),
        "zh-CN",
    )
    .await;
    let pushed = frame(&mut socket).await;
    assert_eq!(pushed["type"], "notification");
    assert_eq!(pushed["notification"]["kind"], "poll_result");
    let count = frame(&mut socket).await;
    assert_eq!(count["type"], "unread");
    assert_eq!(count["count"], 1);
    let reused = tokio_tungstenite::connect_async(format!(
        "{ws_base}/api/v1/accounts/me/feed?ticket={ticket}"
    ))
    .await;
    assert!(reused.is_err(), "a ticket works once");
}

/// Issue 35: mail waiting for the digest follows the person's latest choice. A kind turned off
/// after its notice was queued is left out of the digest; a digest queued before its own
/// unsubscribe link turned everything off is not sent.
#[tokio::test]
async fn a_digest_leaves_out_what_was_turned_off_and_stops_after_its_unsubscribe() {
    use sea_orm::sea_query::Expr;
    use yishi::entities::notification_preference as pref;
    let app = spawn_app().await;
    let state = state_of(&app);
    let (token, email, id) = person(&app, "changer", "zh-CN").await;
    put_prefs(&app, &token, json!({
        "categories": [{ "category": "votes", "mode": "digest" }, { "category": "resolutions", "mode": "digest" }],
        "digest_time": "00:00",
    }))
    .await
    .ok(200);
    // Two notices, and then resolutions turned off, in one transaction: the server's own
    // scheduler cannot send the digest in between.
    let txn = state.db.write().await.unwrap();
    for kind in [Kind::PollResult, Kind::ResolutionUpdate] {
        let mail = samples::sample(&state, kind, "zh-CN");
        yishi::notifications::notify(&state, &*txn, kind, Some(Uuid::new_v4()), id, &email, mail)
            .await
            .unwrap();
    }
    pref::Entity::update_many()
        .col_expr(pref::Column::Mode, Expr::value("off"))
        .filter(pref::Column::UserId.eq(id))
        .filter(pref::Column::Category.eq("resolutions"))
        .exec(&*txn)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    yishi::notifications::digest::send_due(&state)
        .await
        .unwrap();
    let digest = app
        .smtp
        .wait_matching(&email, 1, Duration::from_secs(30), |m| {
            m.subject().contains("每日摘要")
        })
        .await;
    assert!(
        digest[0].subject().contains("1 条"),
        "{}",
        digest[0].subject()
    );
    assert!(digest[0].text().contains("表决结果"));
    assert!(
        !digest[0].text().contains("决议进展"),
        "a kind turned off came in the digest"
    );

    // Another digest waits in the queue; the first one's link turns digests off.
    let link = header(&digest[0], "List-Unsubscribe").expect("a digest is unsubscribable");
    let url = link.trim_matches(|c| c == '<' || c == '>').to_string();
    let waiting = queue_waiting(&app, (id, &email), "digests", "排队中的摘要").await;
    assert_eq!(one_click(&app, &url).await, 200);
    let given_up = wait_until_settled(&app, waiting).await;
    assert_eq!(given_up.status, "dead");
    assert!(given_up.last_error.unwrap_or_default().contains("turned"));
    assert!(
        !app.smtp
            .to(&email)
            .iter()
            .any(|m| m.subject().contains("排队中的摘要")),
        "the waiting digest was sent"
    );
}
