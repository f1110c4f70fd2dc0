use futures_util::future::join_all;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

use crate::support::{PASSWORD, spawn_app};

#[tokio::test]
async fn two_hundred_concurrent_registrations_all_succeed() {
    let app = spawn_app().await;
    let answers = join_all((0..200).map(|i| {
        let app = &app;
        async move {
            app.post("/accounts", None, json!({ "email": format!("c{i}@example.org"), "display_name": format!("并发{i}"), "password": PASSWORD })).await
        }
    }))
    .await;
    let failures: Vec<String> = answers
        .iter()
        .filter(|a| a.status.as_u16() != 202)
        .map(|a| format!("{} {}", a.status, a.body))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failed, e.g. {:?}",
        failures.len(),
        failures.first()
    );
    let users = yishi::entities::user::Entity::find()
        .count(&app.db.conn)
        .await
        .unwrap();
    assert_eq!(users, 200);
    let verify = app.admin().await;
    let report = app.get("/audit/verify", Some(&verify)).await;
    assert_eq!(report.ok(200)["intact"], true, "{}", report.body);
}

#[tokio::test]
async fn two_hundred_concurrent_joins_all_succeed() {
    let app = spawn_app().await;
    let w = app.world().await;
    let csv: String = std::iter::once("building,number,area_m2\n".to_string())
        .chain((0..200).map(|i| format!("5号楼,{i},80\n")))
        .collect();
    app.post(
        &format!("/communities/{}/units/import", w.community_a),
        Some(&w.committee_a),
        json!({ "csv": csv }),
    )
    .await
    .ok(200);
    // One verified person per unit; their sign-ins happen concurrently too.
    let tokens = join_all((0..200).map(|i| {
        let app = &app;
        async move {
            let email = format!("j{i}@example.org");
            app.register(&email, "J").await;
            email
        }
    }))
    .await;
    let mut bearers = Vec::new();
    for email in &tokens {
        let token = app.emailed_token(email, "verify", 1).await;
        app.post("/accounts/verification", None, json!({ "token": token }))
            .await
            .ok(204);
        bearers.push(
            app.login(email, PASSWORD).await.ok(201)["token"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let answers = join_all(bearers.iter().enumerate().map(|(i, bearer)| {
        let app = &app;
        let community = w.community_a.clone();
        async move {
            app.post(
                &format!("/communities/{community}/memberships"),
                Some(bearer),
                json!({ "building": "5号楼", "unit_number": i.to_string(), "household": true }),
            )
            .await
        }
    }))
    .await;
    let failures: Vec<String> = answers
        .iter()
        .filter(|a| a.status.as_u16() != 201)
        .map(|a| format!("{} {}", a.status, a.body))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failed, e.g. {:?}",
        failures.len(),
        failures.first()
    );
    let queue = app
        .get(
            &format!("/communities/{}/memberships?status=pending", w.community_a),
            Some(&w.committee_a),
        )
        .await;
    assert_eq!(queue.ok(200).as_array().unwrap().len(), 200);
}
