//! The binary's own commands, run as a user would run them.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{fresh_database_url, serve, yishi};

#[tokio::test]
async fn openapi_command_prints_the_committed_spec() {
    let out = Command::new(env!("CARGO_BIN_EXE_yishi"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap(),
    )
    .unwrap();
    assert!(
        printed == committed,
        "regenerate with: cargo run --quiet -- openapi > openapi/openapi.json"
    );
}

#[tokio::test]
async fn migrate_demo_admin_and_audit_commands() {
    let url = fresh_database_url().await;
    let out = yishi(&url).arg("migrate").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let demo = yishi(&url).arg("demo").output().unwrap();
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let listing = String::from_utf8_lossy(&demo.stdout);
    for who in [
        "officer@demo",
        "secretary@guihua",
        "committee@fenglin",
        "grid@guihua",
        "property@demo",
        "care@demo",
        "shop@demo",
        "resident1@guihua",
    ] {
        assert!(listing.contains(who), "demo lists {who}: {listing}");
    }
    // Proposals in every state, with co-signatures and a thread.
    {
        use sea_orm::{EntityTrait, PaginatorTrait};
        let settings = yishi::config::Settings {
            database_url: yishi::config::Secret::new(url.clone()),
            ..Default::default()
        };
        let db = yishi::db::Db::connect(&settings).await.unwrap();
        let mut statuses: Vec<String> = yishi::entities::proposal::Entity::find()
            .all(&db.conn)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.status)
            .collect();
        statuses.sort();
        statuses.dedup();
        assert_eq!(statuses.len(), 9, "{statuses:?}");
        // Procurements in every state, the awarded one with its contract under way.
        let mut tenders: Vec<String> = yishi::entities::tender::Entity::find()
            .all(&db.conn)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.status)
            .collect();
        tenders.sort();
        assert_eq!(
            tenders,
            [
                "active",
                "awarded",
                "cancelled",
                "evaluation",
                "planned",
                "unsuccessful"
            ]
        );
        let milestones: Vec<String> = yishi::entities::contract_milestone::Entity::find()
            .all(&db.conn)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.status)
            .collect();
        assert!(
            milestones.contains(&"accepted".to_string())
                && milestones.contains(&"reported".to_string())
        );
        assert!(
            yishi::entities::proposal_cosign::Entity::find()
                .count(&db.conn)
                .await
                .unwrap()
                > 40
        );
        assert!(
            yishi::entities::proposal_comment::Entity::find()
                .count(&db.conn)
                .await
                .unwrap()
                >= 5
        );
    }
    let again = yishi(&url).arg("demo").output().unwrap();
    assert!(!again.status.success(), "the demo loads once");

    // Password from standard input when YISHI_ADMIN_PASSWORD is unset.
    let mut child = yishi(&url)
        .args(["admin", "create", "--email", "root@example.org"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a very long admin password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dup = yishi(&url)
        .args(["admin", "create", "--email", "ROOT@example.org"])
        .env("YISHI_ADMIN_PASSWORD", "a very long admin password")
        .output()
        .unwrap();
    assert!(!dup.status.success());
    let weak = yishi(&url)
        .args(["admin", "create", "--email", "other@example.org"])
        .env("YISHI_ADMIN_PASSWORD", "short")
        .output()
        .unwrap();
    assert!(!weak.status.success());

    let verify = yishi(&url).args(["audit", "verify"]).output().unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(String::from_utf8_lossy(&verify.stdout).contains("record intact"));
}

#[tokio::test]
async fn serve_stops_gracefully_on_sigterm_and_never_logs_secrets() {
    let url = fresh_database_url().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mail_dir = std::env::temp_dir().join(format!("yishi-mail-{}", uuid::Uuid::new_v4()));
    let child = yishi(&url)
        .arg("serve")
        .env("YISHI_BIND", format!("127.0.0.1:{port}"))
        .env("YISHI_SMTP_URL", "smtp://mailer:hunter2-secret@127.0.0.1:1")
        .env("YISHI_MAIL_DIR", &mail_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            && r.status() == 200
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A registration queues mail for the (unreachable) SMTP server; the request still succeeds.
    let r = client
        .post(format!("http://127.0.0.1:{port}/api/v1/accounts"))
        .json(&serde_json::json!({ "email": "s@example.org", "display_name": "S", "password": "a long password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let out = crate::support::terminate(child).await;
    assert!(out.status.success(), "exit after SIGTERM: {:?}", out.status);
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(
        logs.contains("shutdown signal received") && logs.contains("Yishi stopped"),
        "{logs}"
    );
    assert!(
        !logs.contains("hunter2-secret"),
        "the SMTP password leaked into the logs"
    );
    assert!(!logs.contains("a long password"));
}

#[tokio::test]
async fn without_smtp_mail_is_written_to_the_mail_folder() {
    let url = fresh_database_url().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mail_dir = std::env::temp_dir().join(format!("yishi-mail-{}", uuid::Uuid::new_v4()));
    let mut child = yishi(&url)
        .arg("serve")
        .env("YISHI_BIND", format!("127.0.0.1:{port}"))
        .env("YISHI_MAIL_DIR", &mail_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = client
        .post(format!("http://127.0.0.1:{port}/api/v1/accounts"))
        .json(&serde_json::json!({ "email": "files@example.org", "display_name": "F", "password": "a long password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let eml = loop {
        let found = std::fs::read_dir(&mail_dir).ok().and_then(|d| {
            d.flatten()
                .find(|e| e.path().extension().is_some_and(|x| x == "eml"))
        });
        if let Some(f) = found {
            break std::fs::read_to_string(f.path()).unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "no .eml written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        eml.contains("files@example.org") && eml.to_lowercase().contains("multipart/alternative")
    );
    let _ = child.kill();
    let _ = child.wait();
}

async fn sign_in(base: &str, email: &str, password: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/accounts/sessions"))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn backup_while_serving_and_restore_from_the_copy() {
    let url = fresh_database_url().await;
    let admin = |url: &str, email: &str| {
        let out = yishi(url)
            .args(["admin", "create", "--email", email])
            .env("YISHI_ADMIN_PASSWORD", "a very long admin password")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    admin(&url, "before@example.org");
    let scratch = std::env::temp_dir().join("yishi-tests");
    std::fs::create_dir_all(&scratch).unwrap();
    let copy = scratch.join(format!("backup-{}.db", uuid::Uuid::new_v4().simple()));
    if url.starts_with("postgres") {
        // PostgreSQL is backed up with pg_dump; the command says so and writes nothing.
        let out = yishi(&url).arg("backup").arg(&copy).output().unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
        assert!(!copy.exists());
        return;
    }
    // The copy is taken while the server runs on the database.
    let (mut running, base) = serve(&url).await;
    assert_eq!(
        sign_in(&base, "before@example.org", "a very long admin password").await,
        201
    );
    let out = yishi(&url).arg("backup").arg(&copy).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("backed up to"));
    // A second backup to the same file is refused rather than overwriting it.
    let again = yishi(&url).arg("backup").arg(&copy).output().unwrap();
    assert!(!again.status.success());
    // Later changes are not in the copy.
    admin(&url, "after@example.org");
    running.kill().unwrap();
    running.wait().unwrap();

    // Restore: serve from the copy.
    let restored = format!("sqlite://{}?mode=rwc", copy.display());
    let (mut server, base) = serve(&restored).await;
    assert_eq!(
        sign_in(&base, "before@example.org", "a very long admin password").await,
        201
    );
    assert_eq!(
        sign_in(&base, "after@example.org", "a very long admin password").await,
        401
    );
    let verify = yishi(&restored).args(["audit", "verify"]).output().unwrap();
    assert!(verify.status.success(), "{verify:?}");
    server.kill().unwrap();
    server.wait().unwrap();
    let _ = std::fs::remove_file(&copy);
}

/// `yishi keys rotate`: a new key on top of the file; every sealed bid and queued one-time link
/// is sealed again under it, so that the older key guards nothing stored any more.
#[tokio::test]
async fn keys_rotate_seals_bids_and_queued_links_again_under_the_new_key() {
    use sea_orm::{ActiveModelTrait, EntityTrait, Set};
    use yishi::sealing::SealingKey;
    let url = fresh_database_url().await;
    let key_file = std::env::temp_dir()
        .join("yishi-tests")
        .join(format!("rotate-{}.key", uuid::Uuid::new_v4().simple()));
    let demo = yishi(&url)
        .arg("demo")
        .env("YISHI_SEALING_KEY_FILE", &key_file)
        .output()
        .unwrap();
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let first = SealingKey::load_or_create(&key_file).unwrap();
    let settings = yishi::config::Settings {
        database_url: yishi::config::Secret::new(url.clone()),
        ..Default::default()
    };
    let db = yishi::db::Db::connect(&settings).await.unwrap();
    // A reset link waiting to be sent, sealed as the server seals it.
    let link = "https://example.org/#/reset?token=abc123";
    let queued = yishi::entities::outbox::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        to_address: Set("waiting@example.org".into()),
        subject: Set("reset".into()),
        body_text: Set(yishi::notifications::outbox::seal_body(
            &first,
            "waiting@example.org",
            link,
        )),
        body_html: Set(yishi::notifications::outbox::seal_body(
            &first,
            "waiting@example.org",
            link,
        )),
        status: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(chrono::Utc::now() + chrono::Duration::days(1)),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(chrono::Utc::now()),
        sent_at: Set(None),
        ics: Set(None),
        user_id: Set(None),
        category: Set(Some("security".into())),
        merge_key: Set(None),
    }
    .insert(&db.conn)
    .await
    .unwrap();
    let bids_before = yishi::entities::bid::Entity::find()
        .all(&db.conn)
        .await
        .unwrap();
    assert!(!bids_before.is_empty(), "the demo has a sealed bid");

    let out = yishi(&url)
        .args(["keys", "rotate"])
        .env("YISHI_SEALING_KEY_FILE", &key_file)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains(&format!("{} bids, 1 queued messages", bids_before.len())),
        "{said}"
    );
    let ring = SealingKey::load_or_create(&key_file).unwrap();
    assert_eq!(ring.len(), 2);
    // Only the new key is needed now: a ring of the first line alone opens everything, the
    // old key alone opens nothing.
    let lines = std::fs::read_to_string(&key_file).unwrap();
    let newest: [u8; 32] = hex::decode(lines.lines().next().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let newest = SealingKey::from_bytes(newest);
    for (before, after) in bids_before.iter().zip(
        yishi::entities::bid::Entity::find()
            .all(&db.conn)
            .await
            .unwrap(),
    ) {
        assert_eq!(before.id, after.id);
        assert_eq!(
            newest.open(after.tender_id, after.organisation_id, &after.sealed),
            first.open(before.tender_id, before.organisation_id, &before.sealed)
        );
        assert!(
            first
                .open(after.tender_id, after.organisation_id, &after.sealed)
                .is_none()
        );
    }
    let resealed = yishi::entities::outbox::Entity::find_by_id(queued.id)
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        yishi::notifications::outbox::open_body(
            &newest,
            "waiting@example.org",
            &resealed.body_text
        )
        .as_deref(),
        Some(link)
    );
    assert!(
        yishi::notifications::outbox::open_body(&first, "waiting@example.org", &resealed.body_html)
            .is_none()
    );
    // A second rotation finds the same number again (all under the newest key in turn).
    let again = yishi::rotation::rotate(&db.conn, &key_file).await.unwrap();
    assert_eq!(again.bids, bids_before.len());
    std::fs::remove_file(&key_file).unwrap();
}
