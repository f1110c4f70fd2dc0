use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::support::spawn_app;

#[tokio::test]
async fn the_chain_verifies_and_detects_an_edited_row() {
    let app = spawn_app().await;
    let w = app.world().await;
    let report = app.get("/audit/verify", Some(&w.admin)).await;
    let body = report.ok(200).clone();
    assert_eq!(body["intact"], true, "{body}");
    assert!(body["entries_checked"].as_u64().unwrap() > 20);
    assert_eq!(body["chains"], 16);

    // Find the entry that recorded community A's creation, and rewrite its summary in place.
    let entries = app
        .get(
            &format!(
                "/audit/entries?object_type=place&object_id={}",
                w.community_a
            ),
            Some(&w.committee_a),
        )
        .await;
    let created = entries
        .ok(200)
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "place.created")
        .unwrap()
        .clone();
    assert_eq!(created["summary"]["name"], "桂花社区");
    let entry_id = created["id"].as_str().unwrap().to_string();
    let literal = match app.db.backend() {
        sea_orm::DbBackend::Postgres => format!("'{entry_id}'"),
        _ => format!("X'{}'", entry_id.replace('-', "")),
    };
    app.db
        .conn
        .execute_unprepared(&format!(
            "UPDATE audit_entries SET summary = '{{\"name\":\"改过的\"}}' WHERE id = {literal}"
        ))
        .await
        .unwrap();

    let report = app.get("/audit/verify", Some(&w.officer)).await;
    let body = report.ok(200).clone();
    assert_eq!(body["intact"], false);
    assert_eq!(
        body["first_broken"]["entry_id"],
        entry_id.as_str(),
        "{body}"
    );
    assert_eq!(
        body["first_broken"]["reason"],
        "entry content does not match its hash"
    );

    // The command line says the same, and exits non-zero.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_yishi"))
        .args(["audit", "verify"])
        .env("YISHI_DATABASE_URL", &app.database_url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("BROKEN") && stderr.contains(&entry_id),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_deleted_tail_entry_is_detected() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.place(&admin, "district", "临江区", None).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_yishi"))
        .args(["audit", "verify"])
        .env("YISHI_DATABASE_URL", &app.database_url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.db
        .conn
        .execute_unprepared("DELETE FROM audit_entries WHERE action = 'place.created'")
        .await
        .unwrap();
    let report = app.get("/audit/verify", Some(&admin)).await;
    assert_eq!(report.ok(200)["intact"], false);
    assert!(
        report.body["first_broken"]["reason"]
            .as_str()
            .unwrap()
            .contains("missing"),
        "{}",
        report.body
    );
}

#[tokio::test]
async fn entries_are_listed_only_to_those_who_may_see_the_object() {
    let app = spawn_app().await;
    let w = app.world().await;
    let me = app.get("/accounts/me", Some(&w.resident_a)).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let own = app
        .get(
            &format!("/audit/entries?object_type=user&object_id={me}"),
            Some(&w.resident_a),
        )
        .await;
    let actions: Vec<&str> = own
        .ok(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"account.registered"), "{actions:?}");
    app.get(
        &format!("/audit/entries?object_type=user&object_id={me}"),
        Some(&w.outsider),
    )
    .await
    .problem(403, "forbidden");
    app.get(
        &format!(
            "/audit/entries?object_type=place&object_id={}",
            w.community_a
        ),
        Some(&w.committee_b),
    )
    .await
    .problem(403, "forbidden");
    app.get(
        &format!(
            "/audit/entries?object_type=place&object_id={}",
            w.community_a
        ),
        Some(&w.resident_a),
    )
    .await
    .problem(403, "forbidden");
    app.get(
        "/audit/entries?object_type=place&object_id=nope",
        Some(&w.admin),
    )
    .await
    .problem(404, "object_not_found");
    app.get("/audit/entries?object_type=place", Some(&w.admin))
        .await
        .problem(400, "invalid_request");
    app.get(
        &format!(
            "/audit/entries?object_type=place&object_id={}&limit=0",
            w.community_a
        ),
        Some(&w.admin),
    )
    .await
    .problem(400, "invalid_request");
    app.get("/audit/verify", Some(&w.resident_a))
        .await
        .problem(403, "forbidden");
    let _ = json!({});
}

/// The record's link formula (documented in `src/audit/service.rs`), as someone with write
/// access to the database would rebuild it after changing an entry.
fn link(e: &yishi::entities::audit_entry::Model) -> String {
    use sha2::Digest;
    let fields = [
        e.prev_hash.clone(),
        e.shard.to_string(),
        e.seq.to_string(),
        e.id.to_string(),
        e.actor_id.map(|a| a.to_string()).unwrap_or_default(),
        e.action.clone(),
        e.object_type.clone(),
        e.object_id.clone(),
        e.summary.clone(),
        e.created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    ];
    let mut h = sha2::Sha256::new();
    for field in fields {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Issue 32: a chain rewritten with every hash recomputed passes `verify`, but not
/// `verify --against` a head published before; the head is published once a day, on the
/// public board and to the officers.
#[tokio::test]
async fn a_recomputed_rewrite_is_caught_against_a_head_published_earlier() {
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
    use yishi::entities::{audit_entry, audit_head, outbox};
    let url = crate::support::fresh_database_url().await;
    let yishi = crate::support::yishi;
    let demo = yishi(&url).arg("demo").output().unwrap();
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let (server, base) = crate::support::serve(&url).await;
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let published = loop {
        let heads: serde_json::Value = client
            .get(format!("{base}/api/v1/audit/heads"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if heads.as_array().is_some_and(|h| !h.is_empty()) {
            break heads[0].clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no head published");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let head = published["head"].as_str().unwrap().to_string();
    assert!(head.starts_with(&format!(
        "yishi-audit-head/1 {} ",
        published["day"].as_str().unwrap()
    )));
    assert!(published["entries"].as_i64().unwrap() > 100, "{published}");
    // Once a day, whatever the passes: a bad limit is refused, the list holds one head.
    let bad = client
        .get(format!("{base}/api/v1/audit/heads?limit=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let settings = yishi::config::Settings {
        database_url: yishi::config::Secret::new(url.clone()),
        ..Default::default()
    };
    let db = yishi::db::Db::connect(&settings).await.unwrap();
    // The officers are told, in their language, and the head is in the mail.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let mail = loop {
        let sent = outbox::Entity::find()
            .filter(outbox::Column::ToAddress.eq("officer@demo.yishi.localhost"))
            .filter(outbox::Column::Status.eq("sent"))
            .all(&db.conn)
            .await
            .unwrap();
        if let Some(m) = sent
            .into_iter()
            .find(|m| m.subject.contains("操作记录指纹"))
        {
            break m;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the officer was not told"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(mail.body_text.contains(&head));
    crate::support::terminate(server).await;

    let against = yishi(&url)
        .args(["audit", "verify", "--against", &head])
        .output()
        .unwrap();
    assert!(
        against.status.success(),
        "{}",
        String::from_utf8_lossy(&against.stderr)
    );

    // Rewrite the first entry of the longest chain and recompute every hash after it.
    let heads = audit_head::Entity::find().all(&db.conn).await.unwrap();
    let longest = heads.iter().max_by_key(|h| h.seq).unwrap().shard;
    let chain = audit_entry::Entity::find()
        .filter(audit_entry::Column::Shard.eq(longest))
        .order_by_asc(audit_entry::Column::Seq)
        .all(&db.conn)
        .await
        .unwrap();
    let mut prev = chain[0].prev_hash.clone();
    for (i, mut e) in chain.into_iter().enumerate() {
        if i == 0 {
            e.summary = r#"{"rewritten":true}"#.into();
        }
        e.prev_hash = prev.clone();
        e.hash = link(&e);
        prev = e.hash.clone();
        let row: audit_entry::ActiveModel = e.into();
        let mut row = row.reset_all();
        row.id = sea_orm::ActiveValue::Unchanged(row.id.take().unwrap());
        row.update(&db.conn).await.unwrap();
    }
    audit_head::ActiveModel {
        shard: sea_orm::ActiveValue::Unchanged(longest),
        hash: Set(prev),
        ..Default::default()
    }
    .update(&db.conn)
    .await
    .unwrap();
    let plain = yishi(&url).args(["audit", "verify"]).output().unwrap();
    assert!(
        plain.status.success(),
        "a recomputed chain passes alone: {}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let caught = yishi(&url)
        .args(["audit", "verify", "--against", &head])
        .output()
        .unwrap();
    assert!(!caught.status.success());
    assert!(String::from_utf8_lossy(&caught.stderr).contains("record REWRITTEN"));
    let garbled = yishi(&url)
        .args(["audit", "verify", "--against", "not a head"])
        .output()
        .unwrap();
    assert!(!garbled.status.success());
    assert!(String::from_utf8_lossy(&garbled.stderr).contains("--against takes a head"));
}
