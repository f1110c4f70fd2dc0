use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use yishi::entities::outbox;

use crate::smtp::SmtpServer;
use crate::support::{Options, TestApp, spawn_app_at, spawn_app_on};

async fn wait_for_outbox(
    app: &TestApp,
    what: &str,
    check: impl Fn(&[outbox::Model]) -> bool,
) -> Vec<outbox::Model> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let rows = outbox::Entity::find().all(&app.db.conn).await.unwrap();
        if check(&rows) {
            return rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "outbox never reached: {what}; rows: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A server whose mail server is down (until the test resumes it).
async fn app_with_smtp_down() -> (Arc<SmtpServer>, TestApp) {
    let smtp = Arc::new(SmtpServer::start().await);
    smtp.stop();
    let app = spawn_app_on(
        Options {
            smtp_timeout_secs: 2,
            ..Options::default()
        },
        smtp.clone(),
    )
    .await;
    (smtp, app)
}

#[tokio::test]
async fn mail_waits_while_smtp_is_down_and_is_delivered_once_when_it_returns() {
    let (smtp, app) = app_with_smtp_down().await;
    app.register("patient@example.org", "耐心").await;
    // The request succeeded; the message is kept and retried.
    let rows = wait_for_outbox(&app, "a failed attempt", |rows| {
        rows.iter()
            .any(|r| r.attempts >= 1 && r.status == "pending" && r.last_error.is_some())
    })
    .await;
    assert_eq!(rows.len(), 1);
    smtp.resume().await;
    let mails = smtp
        .wait_for("patient@example.org", 1, Duration::from_secs(60))
        .await;
    assert!(mails[0].text().contains("/#/verify?token="));
    let rows = wait_for_outbox(&app, "sent", |rows| rows.iter().all(|r| r.status == "sent")).await;
    assert!(rows[0].attempts >= 2 && rows[0].sent_at.is_some());
    // Delivered exactly once, even after more worker passes.
    app.register("later@example.org", "后来").await;
    smtp.wait_for("later@example.org", 1, Duration::from_secs(60))
        .await;
    assert_eq!(smtp.to("patient@example.org").len(), 1);
}

#[tokio::test]
async fn a_mail_server_that_never_answers_holds_up_no_request_and_mail_goes_once_it_does() {
    let smtp = Arc::new(SmtpServer::start().await);
    smtp.hang().await;
    let app = spawn_app_on(
        Options {
            smtp_timeout_secs: 2,
            ..Options::default()
        },
        smtp.clone(),
    )
    .await;
    // The request is answered without waiting for the silent server: when it returns, the
    // message is queued and no attempt has ended yet (one takes the 2 s timeout to fail).
    app.register("silent@example.org", "沉默").await;
    let rows = outbox::Entity::find().all(&app.db.conn).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].last_error.is_none() && rows[0].sent_at.is_none());
    // The worker gives up on the attempt at its timeout and keeps the message for later.
    wait_for_outbox(&app, "a timed-out attempt", |rows| {
        rows.iter()
            .any(|r| r.attempts >= 1 && r.status == "pending" && r.last_error.is_some())
    })
    .await;
    // Other requests meanwhile are answered as usual.
    app.get("/places", None).await.ok(200);
    // When the server answers again, the message goes, once.
    smtp.stop();
    smtp.resume().await;
    smtp.wait_for("silent@example.org", 1, Duration::from_secs(60))
        .await;
    wait_for_outbox(&app, "sent", |rows| rows.iter().all(|r| r.status == "sent")).await;
    app.register("after@example.org", "之后").await;
    smtp.wait_for("after@example.org", 1, Duration::from_secs(60))
        .await;
    assert_eq!(smtp.to("silent@example.org").len(), 1);
}

#[tokio::test]
async fn permanent_failures_go_dead_without_blocking_others() {
    let app = crate::support::spawn_app().await;
    app.register("bounce@example.org", "退信").await;
    app.register("fine@example.org", "正常").await;
    app.smtp
        .wait_for("fine@example.org", 1, Duration::from_secs(30))
        .await;
    let rows = wait_for_outbox(&app, "dead", |rows| rows.iter().any(|r| r.status == "dead")).await;
    let dead = rows.iter().find(|r| r.status == "dead").unwrap();
    assert_eq!(dead.to_address, "bounce@example.org");
    assert_eq!(dead.attempts, 1, "a permanent refusal is not retried");
    assert!(
        dead.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("550")
    );
}

#[tokio::test]
async fn two_servers_on_one_database_deliver_each_message_once() {
    let smtp = Arc::new(SmtpServer::start().await);
    smtp.stop();
    let first = spawn_app_on(Options::default(), smtp.clone()).await;
    let second = spawn_app_at(Options::default(), smtp.clone(), first.database_url.clone()).await;
    for i in 0..20 {
        let app = if i % 2 == 0 { &first } else { &second };
        app.register(&format!("m{i}@example.org"), "M").await;
    }
    smtp.resume().await;
    for i in 0..20 {
        smtp.wait_for(&format!("m{i}@example.org"), 1, Duration::from_secs(90))
            .await;
    }
    wait_for_outbox(&first, "all sent", |rows| {
        rows.len() == 20 && rows.iter().all(|r| r.status == "sent")
    })
    .await;
    for i in 0..20 {
        assert_eq!(
            smtp.to(&format!("m{i}@example.org")).len(),
            1,
            "m{i} delivered once"
        );
    }
    let sent = outbox::Entity::find()
        .filter(outbox::Column::Status.eq("sent"))
        .all(&second.db.conn)
        .await
        .unwrap();
    assert_eq!(sent.len(), 20);
}

/// Issue 32: a database copy holds no usable one-time link. Queued, the message's bodies are
/// sealed under the master key outside the database; once sent, they are gone.
#[tokio::test]
async fn one_time_links_are_sealed_while_queued_and_removed_once_sent() {
    let (smtp, app) = app_with_smtp_down().await;
    app.register("sealed@example.org", "封存").await;
    let queued = wait_for_outbox(&app, "a queued verification", |rows| rows.len() == 1).await;
    assert!(
        queued[0].body_text.starts_with("sealed:"),
        "{:?}",
        queued[0]
    );
    assert!(queued[0].body_html.starts_with("sealed:"));
    assert!(!format!("{queued:?}").contains("token="));
    smtp.resume().await;
    let token = app.emailed_token("sealed@example.org", "verify", 1).await;
    let rows = wait_for_outbox(&app, "sent", |rows| rows.iter().all(|r| r.status == "sent")).await;
    let everything = format!("{rows:?}");
    assert!(!everything.contains(&token) && !everything.contains("sealed:"));
    assert!(rows[0].body_text.starts_with("(removed after delivery"));
    // The mail itself carries the link, and it works.
    app.post(
        "/accounts/verification",
        None,
        serde_json::json!({ "token": token }),
    )
    .await
    .ok(204);
    // A password reset likewise; a mail that is not a one-time link is kept as written.
    app.post(
        "/accounts/password-reset",
        None,
        serde_json::json!({ "email": "sealed@example.org" }),
    )
    .await
    .ok(202);
    let reset = app.emailed_token("sealed@example.org", "reset", 2).await;
    let rows = wait_for_outbox(&app, "both sent", |rows| {
        rows.len() == 2 && rows.iter().all(|r| r.status == "sent")
    })
    .await;
    assert!(!format!("{rows:?}").contains(&reset));
    app.register("sealed@example.org", "再次").await;
    let rows = wait_for_outbox(&app, "the notice sent", |rows| {
        rows.len() == 3 && rows.iter().all(|r| r.status == "sent")
    })
    .await;
    let notice = rows
        .iter()
        .find(|r| !r.body_text.starts_with("(removed"))
        .expect("the already-registered notice is kept");
    assert!(notice.body_text.contains("/#/signin"));
}
