//! Faults the platform must survive without losing what it acknowledged.
//! (The mail server that never answers is in `outbox.rs`; a restarted PostgreSQL and a full
//! disk, which need a private database cluster and a small file system, in `tests/faults`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::support::{id, serve, spawn_app};

/// What one voter's ballot request came to before the kill.
enum Sent {
    Acknowledged(String),
    Lost,
}

#[tokio::test]
async fn every_ballot_acknowledged_before_a_kill_9_is_counted_once_after_the_restart() {
    // The world and the poll are made through an in-process server; the ballots go to a
    // `yishi serve` process on the same database, which is killed with SIGKILL mid-burst.
    let app = spawn_app().await;
    let w = app.world().await;
    let people = app.residents(&w.admin, &w.community_a, 150).await;
    let poll = id(app
        .post(
            "/polls",
            Some(&w.committee_a),
            json!({ "community_id": w.community_a, "question": "是否同意更换小区大门？",
                    "kind": "yes_no", "electorate": "residents" }),
        )
        .await
        .ok(201));
    app.post(
        &format!("/polls/{poll}/open"),
        Some(&w.committee_a),
        json!({}),
    )
    .await
    .ok(200);

    let (mut server, base) = serve(&app.database_url).await;
    let client = reqwest::Client::new();
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    // Sixteen clients cast the ballots one after another, so that when the server is killed
    // some are in flight and many not yet sent, however fast the database is.
    let next = Arc::new(AtomicUsize::new(0));
    let people = Arc::new(people);
    let burst: Vec<_> = (0..16)
        .map(|_| {
            let (client, base, poll) = (client.clone(), base.clone(), poll.clone());
            let (acknowledged, enough) = (acknowledged.clone(), enough.clone());
            let (next, people) = (next.clone(), people.clone());
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((token, _)) = people.get(i) else {
                        break;
                    };
                    let choice = if i % 3 == 0 { "no" } else { "yes" };
                    let sent = client
                        .post(format!("{base}/api/v1/polls/{poll}/ballots"))
                        .bearer_auth(token)
                        .json(&json!({ "choices": [choice] }))
                        .send()
                        .await;
                    let receipt = match sent {
                        Ok(r) if r.status() == 201 => r
                            .json::<Value>()
                            .await
                            .ok()
                            .and_then(|b| b["receipt"].as_str().map(String::from)),
                        _ => None,
                    };
                    let outcome = match receipt {
                        Some(receipt) => {
                            if acknowledged.fetch_add(1, Ordering::SeqCst) + 1 == 40 {
                                enough.notify_one();
                            }
                            Sent::Acknowledged(receipt)
                        }
                        None => Sent::Lost,
                    };
                    outcomes.push((token.clone(), outcome));
                }
                outcomes
            })
        })
        .collect();
    // Killed once 40 ballots are acknowledged, with others in flight.
    enough.notified().await;
    server.kill().unwrap(); // SIGKILL: no shutdown, no flush
    server.wait().unwrap();
    let mut outcomes = Vec::new();
    for task in burst {
        outcomes.extend(task.await.unwrap());
    }
    let acked: Vec<&(String, Sent)> = outcomes
        .iter()
        .filter(|(_, s)| matches!(s, Sent::Acknowledged(_)))
        .collect();
    assert!(acked.len() >= 40);
    assert!(
        acked.len() < people.len(),
        "the kill came after every ballot was in; nothing was tested"
    );

    // Restarted on the same database.
    let (mut restarted, base) = serve(&app.database_url).await;
    let get = |path: String, token: String| {
        let client = client.clone();
        async move {
            let r = client.get(path).bearer_auth(token).send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let mut stored = 0;
    for (token, sent) in &outcomes {
        let (status, body) = get(format!("{base}/api/v1/polls/{poll}/ballot"), token.clone()).await;
        assert_eq!(status, 200, "{body}");
        let mine = &body[0];
        match sent {
            Sent::Acknowledged(receipt) => {
                assert_eq!(
                    mine["voted"], true,
                    "an acknowledged ballot is gone: {body}"
                );
                assert_eq!(mine["receipt"], receipt.as_str());
                stored += 1;
            }
            // Sent but not acknowledged: it may have been written just before the kill.
            Sent::Lost if mine["voted"] == true => stored += 1,
            Sent::Lost => {}
        }
    }
    let (status, view) = get(format!("{base}/api/v1/polls/{poll}"), w.committee_a.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(
        view["participation"]["headcount"], stored,
        "counted once each"
    );

    // Everyone sends again: the stored are refused as second ballots, the rest counted now.
    for (token, _) in &outcomes {
        let r = client
            .post(format!("{base}/api/v1/polls/{poll}/ballots"))
            .bearer_auth(token)
            .json(&json!({ "choices": ["yes"] }))
            .send()
            .await
            .unwrap();
        assert!(matches!(r.status().as_u16(), 201 | 409), "{}", r.status());
    }
    let (_, view) = get(format!("{base}/api/v1/polls/{poll}"), w.committee_a.clone()).await;
    assert_eq!(view["participation"]["headcount"], people.len());
    // The tamper-evident record survived the kill intact.
    let (status, report) = get(format!("{base}/api/v1/audit/verify"), w.admin.clone()).await;
    assert_eq!((status, &report["intact"]), (200, &json!(true)), "{report}");
    restarted.kill().unwrap();
    restarted.wait().unwrap();
}
