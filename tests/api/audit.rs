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
