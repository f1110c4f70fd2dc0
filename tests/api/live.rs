//! The live room over a real websocket (tokio-tungstenite as the client).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::{TestApp, World, id, spawn_app};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_session(app: &TestApp, w: &World) -> String {
    let s = crate::sessions::convene(app, w, json!({ "all_residents": true })).await;
    let sid = id(&s);
    app.post(
        &format!("/sessions/{sid}/schedule"),
        Some(&w.secretary_a),
        json!({}),
    )
    .await
    .ok(200);
    app.post(
        &format!("/sessions/{sid}/open"),
        Some(&w.secretary_a),
        json!({}),
    )
    .await
    .ok(200);
    sid
}

async fn ticket(app: &TestApp, token: &str, sid: &str) -> String {
    app.post(&format!("/sessions/{sid}/tickets"), Some(token), json!({}))
        .await
        .ok(201)["ticket"]
        .as_str()
        .unwrap()
        .to_string()
}

fn ws_url(app: &TestApp, sid: &str, query: &str) -> String {
    format!(
        "{}/api/v1/sessions/{sid}/live?{query}",
        app.base.replace("http://", "ws://")
    )
}

async fn join(app: &TestApp, token: &str, sid: &str, last_seq: Option<i64>) -> Socket {
    let t = ticket(app, token, sid).await;
    let query = match last_seq {
        Some(n) => format!("ticket={t}&last_seq={n}"),
        None => format!("ticket={t}"),
    };
    let (socket, _) = tokio_tungstenite::connect_async(ws_url(app, sid, &query))
        .await
        .expect("websocket opens");
    socket
}

/// Reads frames until one matches, failing after a timeout; returns it and the frames before.
async fn until(
    socket: &mut Socket,
    what: &str,
    matches: impl Fn(&Value) -> bool,
) -> (Value, Vec<Value>) {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let next = tokio::time::timeout_at(deadline, socket.next()).await;
        let frame = match next {
            Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str::<Value>(&t).unwrap(),
            Ok(Some(Ok(Message::Close(c)))) => {
                panic!("closed while waiting for {what}: {c:?}; saw {seen:?}")
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("no {what}: {other:?}; saw {seen:?}"),
        };
        if matches(&frame) {
            return (frame, seen);
        }
        seen.push(frame);
    }
}

/// A presence batch that includes this change (`joined` or `left`) for this person.
fn presence(op: &'static str, user: String) -> impl Fn(&Value) -> bool {
    move |f: &Value| {
        f["kind"] == "presence.changed"
            && f["payload"]["changes"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["op"] == op && c["user_id"] == user.as_str())
            })
    }
}

/// A presence batch that includes this person's arrival.
fn arrival_of(user: String) -> impl Fn(&Value) -> bool {
    presence("joined", user)
}

/// A presence batch that includes this person's departure.
fn departure_of(user: String) -> impl Fn(&Value) -> bool {
    presence("left", user)
}

fn event(kind: &'static str) -> impl Fn(&Value) -> bool {
    move |f: &Value| f["type"] == "event" && f["kind"] == kind
}

async fn send(socket: &mut Socket, v: Value) {
    socket
        .send(Message::Text(v.to_string().into()))
        .await
        .unwrap();
}

async fn close_code(socket: &mut Socket) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Ok(Some(Ok(Message::Close(c)))) => return c.map(|c| u16::from(c.code)),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_))) | Ok(None) => return None,
            Err(_) => panic!("socket never closed"),
        }
    }
}

#[tokio::test]
async fn the_upgrade_needs_a_fresh_ticket_and_an_allowed_origin() {
    let app = spawn_app().await;
    let w = app.world().await;
    let sid = open_session(&app, &w).await;
    let refused = |r: Result<_, tokio_tungstenite::tungstenite::Error>| match r {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {:?}", other.map(|_| ())),
    };
    assert_eq!(
        refused(tokio_tungstenite::connect_async(ws_url(&app, &sid, "")).await),
        401
    );
    // A plain request to the room's address is told it is a websocket.
    let t = ticket(&app, &w.resident_a, &sid).await;
    app.get(&format!("/sessions/{sid}/live?ticket={t}"), None)
        .await
        .problem(400, "websocket_expected");
    assert_eq!(
        refused(tokio_tungstenite::connect_async(ws_url(&app, &sid, "ticket=forged")).await),
        401
    );
    let t = ticket(&app, &w.resident_a, &sid).await;
    let (ok, _) = tokio_tungstenite::connect_async(ws_url(&app, &sid, &format!("ticket={t}")))
        .await
        .unwrap();
    drop(ok);
    assert_eq!(
        refused(tokio_tungstenite::connect_async(ws_url(&app, &sid, &format!("ticket={t}"))).await),
        401,
        "a ticket works once"
    );
    let t = ticket(&app, &w.resident_a, &sid).await;
    let mut req = ws_url(&app, &sid, &format!("ticket={t}"))
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    assert_eq!(refused(tokio_tungstenite::connect_async(req).await), 403);
    // A ticket opens only the room it was given for: not another session's, not the feed's.
    let other = open_session(&app, &w).await;
    let elsewhere = ticket(&app, &w.resident_a, &other).await;
    assert_eq!(
        refused(
            tokio_tungstenite::connect_async(ws_url(&app, &sid, &format!("ticket={elsewhere}")))
                .await
        ),
        401,
        "another session's ticket"
    );
    let feed = app
        .post("/accounts/me/tickets", Some(&w.resident_a), json!({}))
        .await
        .ok(201)["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        refused(
            tokio_tungstenite::connect_async(ws_url(&app, &sid, &format!("ticket={feed}"))).await
        ),
        401,
        "the feed's ticket"
    );
    // A ticket dies with the sign-in that asked for it.
    let email = app.get("/accounts/me", Some(&w.resident_a)).await.ok(200)["email"]
        .as_str()
        .unwrap()
        .to_string();
    let second = app.login(&email, crate::support::PASSWORD).await.ok(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let t = ticket(&app, &second, &sid).await;
    app.delete("/accounts/sessions/current", Some(&second))
        .await
        .ok(204);
    assert_eq!(
        refused(tokio_tungstenite::connect_async(ws_url(&app, &sid, &format!("ticket={t}"))).await),
        401,
        "a ticket of a sign-in since ended"
    );
    // A ticket for another session, or from someone not of the community, is refused.
    app.post(
        &format!("/sessions/{sid}/tickets"),
        Some(&w.outsider),
        json!({}),
    )
    .await
    .problem(404, "session_not_found");
    app.post(&format!("/sessions/{sid}/tickets"), None, json!({}))
        .await
        .problem(401, "unauthenticated");
}

#[tokio::test]
async fn presence_chat_and_the_speaker_queue() {
    let app = spawn_app().await;
    let w = app.world().await;
    let sid = open_session(&app, &w).await;
    let mut chair = join(&app, &w.secretary_a, &sid, None).await;
    let (welcome, _) = until(&mut chair, "welcome", |f| f["type"] == "welcome").await;
    assert_eq!(welcome["chair"], true);
    let mut resident = join(&app, &w.resident_a, &sid, None).await;
    let (welcome, _) = until(&mut resident, "welcome", |f| f["type"] == "welcome").await;
    assert_eq!(welcome["chair"], false);
    let resident_id = welcome["you"].as_str().unwrap().to_string();
    until(
        &mut chair,
        "the resident's arrival",
        arrival_of(resident_id.clone()),
    )
    .await;

    // Chat from one reaches the other.
    send(
        &mut resident,
        json!({ "type": "chat", "text": "路灯的事能快点吗？" }),
    )
    .await;
    let (chat, _) = until(&mut chair, "chat", event("chat.posted")).await;
    assert_eq!(chat["payload"]["text"], "路灯的事能快点吗？");
    assert!(
        chat["payload"]["item_id"].is_string(),
        "chat belongs to the current agenda item"
    );

    // The speaker queue: raise a hand; only the chair gives the floor; both see the timer.
    send(&mut resident, json!({ "type": "raise_hand" })).await;
    until(&mut chair, "raised hand", event("hand.raised")).await;
    send(
        &mut resident,
        json!({ "type": "give_floor", "user_id": resident_id, "seconds": 60 }),
    )
    .await;
    let (err, _) = until(&mut resident, "refusal", |f| f["type"] == "error").await;
    assert_eq!(err["code"], "forbidden");
    send(
        &mut chair,
        json!({ "type": "give_floor", "user_id": resident_id, "seconds": 60 }),
    )
    .await;
    let (given, _) = until(&mut resident, "the floor", event("floor.given")).await;
    assert_eq!(given["payload"]["seconds"], 60);
    let until_at: chrono::DateTime<chrono::Utc> =
        given["payload"]["until"].as_str().unwrap().parse().unwrap();
    assert!(until_at > chrono::Utc::now() + chrono::Duration::seconds(50));
    until(&mut chair, "the floor", event("floor.given")).await;
    send(&mut chair, json!({ "type": "take_floor" })).await;
    until(&mut resident, "floor back", event("floor.ended")).await;
    send(&mut chair, json!({ "type": "next_item" })).await;
    let (item, _) = until(&mut resident, "next item", event("item.changed")).await;
    assert!(item["payload"]["item_id"].is_string());

    // Bad messages get error frames and leave the socket open.
    send(&mut resident, json!({ "type": "shout" })).await;
    assert_eq!(
        until(&mut resident, "error", |f| f["type"] == "error")
            .await
            .0["code"],
        "invalid_message"
    );
    send(&mut resident, json!({ "type": "chat", "text": "" })).await;
    assert_eq!(
        until(&mut resident, "error", |f| f["type"] == "error")
            .await
            .0["code"],
        "invalid_text"
    );
    send(&mut resident, json!({ "type": "react", "emoji": "💩" })).await;
    assert_eq!(
        until(&mut resident, "error", |f| f["type"] == "error")
            .await
            .0["code"],
        "invalid_reaction"
    );
    send(&mut resident, json!({ "type": "ping" })).await;
    until(&mut resident, "pong", |f| f["type"] == "pong").await;

    // Muted people cannot chat.
    send(
        &mut chair,
        json!({ "type": "mute", "user_id": resident_id, "seconds": 60 }),
    )
    .await;
    until(&mut resident, "muted", event("participant.muted")).await;
    send(
        &mut resident,
        json!({ "type": "chat", "text": "还能说话吗" }),
    )
    .await;
    assert_eq!(
        until(&mut resident, "error", |f| f["type"] == "error")
            .await
            .0["code"],
        "muted"
    );

    // Online presence counts as attendance.
    let s = app
        .get(&format!("/sessions/{sid}"), Some(&w.secretary_a))
        .await;
    assert_eq!(s.ok(200)["attendance"]["present_online"], 2);
}

#[tokio::test]
async fn a_reload_is_not_a_departure_but_leaving_is() {
    let app = crate::support::spawn_app_with(crate::support::Options {
        presence_grace_secs: 1,
        ..Default::default()
    })
    .await;
    let w = app.world().await;
    let sid = open_session(&app, &w).await;
    let mut chair = join(&app, &w.secretary_a, &sid, None).await;
    until(&mut chair, "welcome", |f| f["type"] == "welcome").await;
    let mut a = join(&app, &w.resident_a, &sid, None).await;
    let (welcome, _) = until(&mut a, "welcome", |f| f["type"] == "welcome").await;
    let a_id = welcome["you"].as_str().unwrap().to_string();
    until(&mut chair, "a's arrival", arrival_of(a_id.clone())).await;
    let neighbour = app.residents(&w.admin, &w.community_a, 1).await.remove(0).0;
    let mut b = join(&app, &neighbour, &sid, None).await;
    let (welcome, _) = until(&mut b, "welcome", |f| f["type"] == "welcome").await;
    let b_id = welcome["you"].as_str().unwrap().to_string();
    until(&mut chair, "b's arrival", arrival_of(b_id.clone())).await;

    // A reloads: the socket closes and a new one opens at once.
    a.close(None).await.unwrap();
    while let Some(Ok(_)) = a.next().await {}
    let mut a = join(&app, &w.resident_a, &sid, None).await;
    until(&mut a, "welcome", |f| f["type"] == "welcome").await;
    // B leaves for good, after A's drop: B's departure is announced after A's grace is over.
    b.close(None).await.unwrap();
    while let Some(Ok(_)) = b.next().await {}
    let (_, before) = until(&mut chair, "b's departure", departure_of(b_id.clone())).await;
    let about_a = |f: &Value| {
        f["kind"] == "presence.changed" && f["payload"].to_string().contains(a_id.as_str())
    };
    assert!(
        !before.iter().any(about_a),
        "A's reload was not shown as leaving and arriving: {before:?}"
    );
    // The room shows A present and B gone.
    let mut second = join(&app, &w.secretary_a, &sid, None).await;
    let (snapshot, _) = until(&mut second, "snapshot", |f| f["type"] == "snapshot").await;
    let present = snapshot["state"]["present"].as_object().unwrap();
    assert!(present.contains_key(&a_id) && !present.contains_key(&b_id));
}

#[tokio::test]
async fn a_crowd_gets_presence_as_counts_and_the_chair_can_still_give_the_floor() {
    let app = crate::support::spawn_app_with(crate::support::Options {
        live_crowd: 2,
        ..Default::default()
    })
    .await;
    let w = app.world().await;
    let sid = open_session(&app, &w).await;
    let mut chair = join(&app, &w.secretary_a, &sid, None).await;
    until(&mut chair, "welcome", |f| f["type"] == "welcome").await;
    let mut a = join(&app, &w.resident_a, &sid, None).await;
    let (welcome, _) = until(&mut a, "welcome", |f| f["type"] == "welcome").await;
    let a_id = welcome["you"].as_str().unwrap().to_string();
    // Two present: still a list with names.
    let (snapshot, _) = until(&mut a, "snapshot", |f| f["type"] == "snapshot").await;
    assert_eq!(snapshot["state"]["crowd"], false);
    until(&mut chair, "a's arrival", arrival_of(a_id.clone())).await;
    // A third makes a crowd: the chair hears a count, not a name.
    let neighbour = app.residents(&w.admin, &w.community_a, 1).await.remove(0).0;
    let mut b = join(&app, &neighbour, &sid, None).await;
    let (welcome, _) = until(&mut b, "welcome", |f| f["type"] == "welcome").await;
    let b_id = welcome["you"].as_str().unwrap().to_string();
    until(&mut b, "snapshot", |f| f["type"] == "snapshot").await;
    let (counted, _) = until(&mut chair, "a counted arrival", |f| {
        f["kind"] == "presence.changed" && f["payload"]["crowd"] == true
    })
    .await;
    assert_eq!(counted["payload"]["present_count"], 3);
    assert_eq!(counted["payload"]["joined"], 1);
    assert!(!counted.to_string().contains(&b_id), "no name in a crowd");
    // A newcomer's snapshot has the count; the list is not sent.
    let mut again = join(&app, &w.committee_a, &sid, None).await;
    let (late, _) = until(&mut again, "snapshot", |f| f["type"] == "snapshot").await;
    assert_eq!(late["state"]["crowd"], true);
    assert!(late["state"]["present_count"].as_u64().unwrap() >= 3);
    assert_eq!(late["state"]["present"], json!({}));
    // Who is here is still known to the room: the chair gives the floor to B, present but
    // with no hand raised.
    send(
        &mut chair,
        json!({ "type": "give_floor", "user_id": b_id, "seconds": 60 }),
    )
    .await;
    let (given, _) = until(&mut a, "the floor", event("floor.given")).await;
    assert_eq!(given["payload"]["user_id"], b_id.as_str());
}

#[tokio::test]
async fn reconnecting_replays_exactly_the_missed_events() {
    let app = spawn_app().await;
    let w = app.world().await;
    let sid = open_session(&app, &w).await;
    let mut chair = join(&app, &w.secretary_a, &sid, None).await;
    until(&mut chair, "welcome", |f| f["type"] == "welcome").await;
    let mut resident = join(&app, &w.resident_a, &sid, None).await;
    let (welcome, _) = until(&mut resident, "welcome", |f| f["type"] == "welcome").await;
    let mut last = welcome["last_seq"].as_i64().unwrap();
    // A client that does not say where it was starts from the room's state at that point.
    assert_eq!(welcome["resumed"], false);
    let (snapshot, skipped) = until(&mut resident, "snapshot", |f| f["type"] == "snapshot").await;
    assert!(
        skipped.is_empty(),
        "the snapshot comes right after the welcome"
    );
    assert_eq!(snapshot["state"]["last_seq"], last);
    assert_eq!(snapshot["state"]["status"], "open");
    send(&mut chair, json!({ "type": "chat", "text": "第一条" })).await;
    let (first, _) = until(&mut resident, "first chat", event("chat.posted")).await;
    last = last.max(first["seq"].as_i64().unwrap());
    resident.close(None).await.unwrap();
    drop(resident);

    for text in ["第二条", "第三条", "第四条"] {
        app.post(
            &format!("/sessions/{sid}/room"),
            Some(&w.secretary_a),
            json!({ "type": "chat", "text": text }),
        )
        .await
        .ok(200);
    }
    let mut back = join(&app, &w.resident_a, &sid, Some(last)).await;
    let (welcome, _) = until(&mut back, "welcome", |f| f["type"] == "welcome").await;
    assert_eq!(welcome["resumed"], true);
    let now = welcome["last_seq"].as_i64().unwrap();
    let mut replayed = Vec::new();
    while replayed.len() < (now - last) as usize {
        let (f, _) = until(&mut back, "replay", |f| f["type"] == "event").await;
        replayed.push(f);
    }
    let seqs: Vec<i64> = replayed
        .iter()
        .map(|f| f["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        ((last + 1)..=now).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );
    let texts: Vec<&str> = replayed
        .iter()
        .filter(|f| f["kind"] == "chat.posted")
        .map(|f| f["payload"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["第二条", "第三条", "第四条"]);
    // And live events continue after the replay without repeating it.
    send(&mut chair, json!({ "type": "chat", "text": "第五条" })).await;
    let (fifth, skipped) = until(&mut back, "fifth", event("chat.posted")).await;
    assert_eq!(fifth["payload"]["text"], "第五条");
    assert!(
        skipped
            .iter()
            .all(|f| f["seq"].as_i64().unwrap_or(i64::MAX) > now),
        "{skipped:?}"
    );
    // The same events are readable over HTTP.
    let polled = app
        .get(
            &format!("/sessions/{sid}/events?after={last}"),
            Some(&w.resident_a),
        )
        .await;
    assert!(polled.ok(200).as_array().unwrap().len() >= 4);
}

/// The chat messages among these events: their numbers and texts.
fn chats_in(events: &[Value]) -> Vec<(i64, String)> {
    events
        .iter()
        .filter(|f| f["kind"] == "chat.posted")
        .map(|f| {
            let text = f["payload"]["text"].as_str().unwrap().to_string();
            (f["seq"].as_i64().unwrap(), text)
        })
        .collect()
}

#[tokio::test]
async fn chat_sent_at_once_by_many_is_numbered_without_gaps_and_seen_alike_by_all() {
    let app = spawn_app().await;
    let w = app.world().await;
    let sid = open_session(&app, &w).await;
    let mut watchers = Vec::new();
    for token in [&w.resident_a, &w.committee_a] {
        let mut socket = join(&app, token, &sid, None).await;
        let (welcome, _) = until(&mut socket, "welcome", |f| f["type"] == "welcome").await;
        watchers.push((socket, welcome["last_seq"].as_i64().unwrap()));
    }
    // Three people send five messages each, all at once (their room writes share commits).
    let senders = [&w.secretary_a, &w.committee_a, &w.resident_a];
    let posts = senders.iter().enumerate().flat_map(|(who, token)| {
        let (app, sid) = (&app, &sid);
        (0..5).map(move |n| async move {
            let answer = app
                .post(
                    &format!("/sessions/{sid}/room"),
                    Some(token),
                    json!({ "type": "chat", "text": format!("{who}-{n}") }),
                )
                .await;
            answer.ok(200)["seq"].as_i64().unwrap()
        })
    });
    let mut seqs = futures_util::future::join_all(posts).await;
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 15, "every message has a number of its own");
    let newest = *seqs.last().unwrap();
    let mut seen_by = Vec::new();
    for (socket, from) in &mut watchers {
        // Every event after the welcome, in order: presence batches may come between chats.
        let mut events = Vec::new();
        while events
            .last()
            .is_none_or(|f: &Value| f["seq"].as_i64() < Some(newest))
        {
            let (f, _) = until(socket, "the burst", |f| f["type"] == "event").await;
            events.push(f);
        }
        let numbers: Vec<i64> = events.iter().map(|f| f["seq"].as_i64().unwrap()).collect();
        let first = numbers[0];
        assert!(
            first <= *from + 1,
            "nothing skipped after the welcome: {numbers:?}"
        );
        assert_eq!(
            numbers,
            (first..=newest).collect::<Vec<_>>(),
            "consecutive, each once, in order"
        );
        let chats = chats_in(&events);
        let chat_seqs: Vec<i64> = chats.iter().map(|(s, _)| *s).collect();
        assert_eq!(chat_seqs, seqs, "the numbers the senders were given");
        seen_by.push(chats);
    }
    assert_eq!(
        seen_by[0], seen_by[1],
        "both saw the same messages in the same order"
    );
    // The stored record says the same as the sockets did.
    let stored = app
        .get(
            &format!("/sessions/{sid}/events?after={}", seqs[0] - 1),
            Some(&w.resident_a),
        )
        .await;
    assert_eq!(chats_in(stored.ok(200).as_array().unwrap()), seen_by[0]);
    // The writer's transactions are in the metrics: 15 chats in at most 15 commits.
    let metrics = app.metrics().await;
    let series = |name: &str| {
        crate::serving::sample(&metrics, &format!("{name}{{writer=\"room event\"}}")).unwrap()
    };
    let (jobs, commits) = (
        series("yishi_group_commit_jobs_total"),
        series("yishi_group_commit_seconds_count"),
    );
    assert!(jobs >= 15.0 && (1.0..=jobs).contains(&commits), "{metrics}");
}

#[tokio::test]
async fn oversize_and_binary_frames_close_the_socket_and_others_carry_on() {
    let app = spawn_app().await;
    let w = app.world().await;
    let sid = open_session(&app, &w).await;
    let mut chair = join(&app, &w.secretary_a, &sid, None).await;
    until(&mut chair, "welcome", |f| f["type"] == "welcome").await;
    let mut big = join(&app, &w.resident_a, &sid, None).await;
    until(&mut big, "welcome", |f| f["type"] == "welcome").await;
    big.send(Message::Text("x".repeat(20 * 1024).into()))
        .await
        .unwrap();
    assert_eq!(close_code(&mut big).await, Some(u16::from(CloseCode::Size)));
    // Far over the limit, the frame is refused before it is read whole.
    let mut huge = join(&app, &w.resident_a, &sid, None).await;
    until(&mut huge, "welcome", |f| f["type"] == "welcome").await;
    let _ = huge
        .send(Message::Text("x".repeat(1024 * 1024).into()))
        .await;
    assert_eq!(
        close_code(&mut huge).await,
        Some(u16::from(CloseCode::Size))
    );
    let mut binary = join(&app, &w.resident_a, &sid, None).await;
    until(&mut binary, "welcome", |f| f["type"] == "welcome").await;
    binary
        .send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(
        close_code(&mut binary).await,
        Some(u16::from(CloseCode::Unsupported))
    );
    // A text frame that is not UTF-8 closes with 1007.
    let mut garbled = join(&app, &w.resident_a, &sid, None).await;
    until(&mut garbled, "welcome", |f| f["type"] == "welcome").await;
    use tokio_tungstenite::tungstenite::protocol::frame::{
        Frame,
        coding::{Data, OpCode},
    };
    garbled
        .send(Message::Frame(Frame::message(
            vec![0xff, 0xfe, b'{'],
            OpCode::Data(Data::Text),
            true,
        )))
        .await
        .unwrap();
    assert_eq!(
        close_code(&mut garbled).await,
        Some(u16::from(CloseCode::Invalid))
    );
    // The chair's socket is unaffected.
    send(&mut chair, json!({ "type": "chat", "text": "还在吗" })).await;
    until(&mut chair, "own chat", event("chat.posted")).await;
}

#[tokio::test]
async fn closing_the_session_closes_the_room() {
    let app = spawn_app().await;
    let w = app.world().await;
    let sid = open_session(&app, &w).await;
    let mut resident = join(&app, &w.resident_a, &sid, None).await;
    until(&mut resident, "welcome", |f| f["type"] == "welcome").await;
    app.post(
        &format!("/sessions/{sid}/room"),
        Some(&w.resident_a),
        json!({ "type": "close" }),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/sessions/{sid}/room"),
        Some(&w.secretary_a),
        json!({ "type": "chat" }),
    )
    .await
    .problem(422, "field_required");
    let closed = app
        .post(
            &format!("/sessions/{sid}/room"),
            Some(&w.secretary_a),
            json!({ "type": "close" }),
        )
        .await;
    assert_eq!(closed.ok(200)["kind"], "session.closed");
    until(&mut resident, "close event", event("session.closed")).await;
    assert_eq!(close_code(&mut resident).await, Some(4010));
    assert_eq!(
        app.get(&format!("/sessions/{sid}"), Some(&w.resident_a))
            .await
            .ok(200)["status"],
        "closed"
    );
    app.post(
        &format!("/sessions/{sid}/tickets"),
        Some(&w.resident_a),
        json!({}),
    )
    .await
    .ok(201);
    let t = ticket(&app, &w.resident_a, &sid).await;
    match tokio_tungstenite::connect_async(ws_url(&app, &sid, &format!("ticket={t}"))).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 409)
        }
        other => panic!(
            "a closed session's room stays shut: {:?}",
            other.map(|_| ())
        ),
    }
}

#[tokio::test]
async fn two_servers_on_one_database_share_the_room() {
    let app = spawn_app().await;
    let w = app.world().await;
    let sid = open_session(&app, &w).await;
    let other = crate::support::spawn_app_at(
        crate::support::Options::default(),
        app.smtp.clone(),
        app.database_url.clone(),
    )
    .await;
    let mut on_first = join(&app, &w.secretary_a, &sid, None).await;
    until(&mut on_first, "welcome", |f| f["type"] == "welcome").await;
    let mut on_second = join(&other, &w.resident_a, &sid, None).await;
    until(&mut on_second, "welcome", |f| f["type"] == "welcome").await;
    // Presence crosses over, and so does chat, both ways, in sequence order.
    let resident = app.get("/accounts/me", Some(&w.resident_a)).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    until(
        &mut on_first,
        "arrival via the other server",
        arrival_of(resident),
    )
    .await;
    send(
        &mut on_first,
        json!({ "type": "chat", "text": "一号服务器" }),
    )
    .await;
    let (a, _) = until(
        &mut on_second,
        "chat from the first server",
        event("chat.posted"),
    )
    .await;
    assert_eq!(a["payload"]["text"], "一号服务器");
    send(
        &mut on_second,
        json!({ "type": "chat", "text": "二号服务器" }),
    )
    .await;
    let (b, _) = until(&mut on_first, "chat from the second server", |f| {
        f["kind"] == "chat.posted" && f["payload"]["text"] == "二号服务器"
    })
    .await;
    assert!(b["seq"].as_i64() > a["seq"].as_i64());
}

#[tokio::test]
async fn closing_produces_minutes_public_without_names_and_mailed_to_attendees() {
    let app = spawn_app().await;
    let w = app.world().await;
    let sid = open_session(&app, &w).await;
    app.get(&format!("/sessions/{sid}/minutes"), None)
        .await
        .problem(409, "minutes_not_ready");
    let mut chair = join(&app, &w.secretary_a, &sid, None).await;
    until(&mut chair, "welcome", |f| f["type"] == "welcome").await;
    let mut resident = join(&app, &w.resident_a, &sid, None).await;
    let (welcome, _) = until(&mut resident, "welcome", |f| f["type"] == "welcome").await;
    let me = welcome["you"].as_str().unwrap().to_string();
    until(&mut chair, "the resident's arrival", arrival_of(me.clone())).await;
    send(&mut resident, json!({ "type": "raise_hand" })).await;
    until(&mut chair, "hand", event("hand.raised")).await;
    send(
        &mut chair,
        json!({ "type": "give_floor", "user_id": me, "seconds": 120 }),
    )
    .await;
    until(&mut chair, "floor", event("floor.given")).await;
    send(
        &mut resident,
        json!({ "type": "chat", "text": "建议本月内修好路灯" }),
    )
    .await;
    let (chat, _) = until(&mut chair, "chat", event("chat.posted")).await;
    send(
        &mut chair,
        json!({ "type": "mark_message", "seq": chat["seq"] }),
    )
    .await;
    until(&mut chair, "marked", event("chat.marked")).await;
    send(&mut chair, json!({ "type": "take_floor" })).await;
    until(&mut chair, "floor back", event("floor.ended")).await;
    send(&mut chair, json!({ "type": "close" })).await;
    until(&mut chair, "closed", event("session.closed")).await;

    let public = app.get(&format!("/sessions/{sid}/minutes"), None).await;
    let body = public.ok(200).clone();
    let first = &body["items"][0];
    assert_eq!(first["speeches"].as_array().unwrap().len(), 1);
    assert!(
        first["speeches"][0]["speaker"].is_null(),
        "no names in public"
    );
    assert!(body["chair"].is_null());
    assert_eq!(first["marked_chat"][0], "建议本月内修好路灯");
    assert_eq!(body["attendance"]["present_online"], 2);
    let member = app
        .get(&format!("/sessions/{sid}/minutes"), Some(&w.resident_a))
        .await;
    assert_eq!(
        member.ok(200)["items"][0]["speeches"][0]["speaker"],
        "resident-a"
    );
    let doc = app
        .client
        .get(app.url(&format!("/sessions/{sid}/minutes.md")))
        .send()
        .await
        .unwrap();
    assert!(
        doc.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    let doc = doc.text().await.unwrap();
    assert!(
        doc.contains("# 三月协商议事会 会议纪要") && doc.contains("发言人 1"),
        "{doc}"
    );
    // Attendees get the minutes by email.
    let email = app.get("/accounts/me", Some(&w.resident_a)).await.body["email"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if app
            .smtp
            .to(&email)
            .iter()
            .any(|m| m.subject().contains("会议纪要"))
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no minutes mail");
        app.smtp
            .wait_for(
                &email,
                app.smtp.to(&email).len() + 1,
                Duration::from_secs(30),
            )
            .await;
    }
}

#[tokio::test]
async fn a_client_that_does_not_read_is_told_to_resync_and_others_keep_receiving() {
    let app = crate::support::spawn_app_with(crate::support::Options {
        live_send_queue: 16,
        chat_per_10s: 100_000,
        ..Default::default()
    })
    .await;
    let w = app.world().await;
    let sid = open_session(&app, &w).await;
    // The slow client: a tiny receive window, and it never reads.
    let t = ticket(&app, &w.resident_a, &sid).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(2048).unwrap();
    let stream = tcp.connect(addr.parse().unwrap()).await.unwrap();
    let (mut slow, _) = tokio_tungstenite::client_async(
        ws_url(&app, &sid, &format!("ticket={t}")),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .unwrap();
    let neighbour = app.residents(&w.admin, &w.community_a, 1).await.remove(0).0;
    let mut healthy = join(&app, &neighbour, &sid, None).await;
    until(&mut healthy, "welcome", |f| f["type"] == "welcome").await;
    // The healthy client reads as the messages come.
    let reader = tokio::spawn(async move {
        let mut highest = 0i64;
        let mut chats = 0u64;
        while let Ok(Some(Ok(m))) =
            tokio::time::timeout(Duration::from_secs(20), healthy.next()).await
        {
            match m {
                Message::Text(t) => {
                    let f: Value = serde_json::from_str(&t).unwrap();
                    if f["kind"] == "chat.posted" {
                        chats += 1;
                        highest = highest.max(f["seq"].as_i64().unwrap_or(0));
                    }
                    if chats == 4000 {
                        break;
                    }
                }
                Message::Close(c) => {
                    panic!("the healthy client was closed: {c:?} after {chats} chats")
                }
                _ => {}
            }
        }
        (chats, highest)
    });
    // A burst of long messages, well past what the slow client's queue and the kernel's socket
    // buffers (up to 4 MiB each way) hold: about 12 MiB.
    let text = "议".repeat(1000);
    let room = format!("/sessions/{sid}/room");
    let sent = futures_util::future::join_all((0..4).map(|_| async {
        let mut last = 0;
        for _ in 0..1000 {
            let e = app
                .post(
                    &room,
                    Some(&w.secretary_a),
                    json!({ "type": "chat", "text": text }),
                )
                .await;
            assert_eq!(e.status, 200, "{}", e.body["code"]);
            last = last.max(e.body["seq"].as_i64().unwrap());
        }
        last
    }))
    .await;
    let last = sent.into_iter().max().unwrap();
    // The healthy client got every one of them.
    let (chats, highest) = reader.await.unwrap();
    assert_eq!((chats, highest), (4000, last));
    // The slow one, when it finally reads, finds its socket closed with "resync".
    let mut count = 0;
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(20), slow.next()).await {
            Ok(Some(Ok(Message::Close(c)))) => break c.map(|c| u16::from(c.code)),
            Ok(Some(Ok(_))) => count += 1,
            other => panic!("after {count} frames: {other:?}"),
        }
    };
    assert!(
        count < 4000,
        "it was cut off before the end ({count} frames)"
    );
    assert_eq!(code, Some(4008));
}

#[tokio::test]
async fn ending_a_sign_in_or_revoking_a_role_closes_the_open_socket() {
    let app = spawn_app().await;
    let w = app.world().await;
    let sid = open_session(&app, &w).await;
    // Signing out ends the socket opened with that sign-in's ticket; others stay.
    let mut chair = join(&app, &w.secretary_a, &sid, None).await;
    until(&mut chair, "welcome", |f| f["type"] == "welcome").await;
    let mut resident = join(&app, &w.resident_a, &sid, None).await;
    until(&mut resident, "welcome", |f| f["type"] == "welcome").await;
    app.delete("/accounts/sessions/current", Some(&w.resident_a))
        .await
        .ok(204);
    assert_eq!(
        close_code(&mut resident).await,
        Some(u16::from(CloseCode::Policy))
    );
    // A member who was not invited loses the room with their role.
    let email = format!("late-{}@example.org", uuid::Uuid::new_v4().simple());
    let late = app.verified_user(&email, "Late").await;
    app.grant(&w.admin, &w.community_a, &email, "resident")
        .await;
    let mut socket = join(&app, &late, &sid, None).await;
    until(&mut socket, "welcome", |f| f["type"] == "welcome").await;
    let roles = app
        .get(&format!("/places/{}/roles", w.community_a), Some(&w.admin))
        .await;
    let grant = roles
        .ok(200)
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["display_name"] == "Late")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.delete(&format!("/roles/{grant}"), Some(&w.admin))
        .await
        .ok(204);
    assert_eq!(
        close_code(&mut socket).await,
        Some(u16::from(CloseCode::Policy))
    );
    // The chair's socket carries on.
    send(&mut chair, json!({ "type": "chat", "text": "继续" })).await;
    until(&mut chair, "own chat", event("chat.posted")).await;
}

/// Frames a careless or hostile client might send: broken JSON, unknown types, wrong field
/// types, values out of range, deep nesting, long strings. Made from a fixed seed, so a
/// failure can be replayed.
fn hostile_frames(seed: u64, n: usize, someone: &str) -> Vec<String> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let numbers = [
        json!(0),
        json!(-1),
        json!(i64::MIN),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(1e300),
        json!(-0.5),
        json!("12"),
        json!(null),
        json!([]),
        json!({}),
    ];
    let strings = [
        json!(""),
        json!(" "),
        json!("\u{0000}"),
        json!("议".repeat(1001)),
        json!("😂".repeat(300)),
        json!(12),
        json!(null),
        json!(["a"]),
        json!(someone),
        json!("00000000-0000-0000-0000-000000000000"),
    ];
    let types = [
        "chat",
        "react",
        "raise_hand",
        "lower_hand",
        "give_floor",
        "take_floor",
        "next_item",
        "remove_message",
        "mark_message",
        "mute",
        "ping",
        "Chat",
        "",
        "drop_table",
    ];
    let fields = [
        "text", "emoji", "user_id", "seconds", "seq", "reason", "item_id", "extra",
    ];
    (0..n)
        .map(|_| match rng.gen_range(0..10) {
            // Not JSON, or not an object.
            0 => [
                "{",
                "}",
                "null",
                "[1,2]",
                "\"chat\"",
                "{\"type\":",
                "🙂",
                "{\"type\":\"chat\",}",
            ][rng.gen_range(0..8)]
            .to_string(),
            // Nested far deeper than any message.
            1 => format!(
                "{}{}",
                "[".repeat(rng.gen_range(100..3000)),
                "]".repeat(rng.gen_range(0..100))
            ),
            // Well-formed messages with values at and past their limits.
            2..=4 => {
                let seq = [i64::MIN, -1, 0, 1, 2, i64::MAX][rng.gen_range(0..6)];
                let seconds =
                    [0u64, 9, 29, 30, 900, 901, 3600, 3601, u32::MAX as u64][rng.gen_range(0..9)];
                let text = ["", " ", "好", "x"][rng.gen_range(0..4)].repeat(rng.gen_range(0..1200));
                let user = if rng.gen_bool(0.5) {
                    someone.to_string()
                } else {
                    uuid::Uuid::new_v4().to_string()
                };
                match rng.gen_range(0..7) {
                    0 => json!({ "type": "chat", "text": text, "item_id": uuid::Uuid::new_v4() }),
                    1 => json!({ "type": "react", "emoji": text }),
                    2 => json!({ "type": "give_floor", "user_id": user, "seconds": seconds }),
                    3 => json!({ "type": "mute", "user_id": user, "seconds": seconds }),
                    4 => json!({ "type": "remove_message", "seq": seq, "reason": text }),
                    5 => json!({ "type": "mark_message", "seq": seq }),
                    _ => json!({ "type": "lower_hand" }),
                }
                .to_string()
            }
            // A known or unknown type with random fields of random kinds.
            _ => {
                let mut m = serde_json::Map::new();
                if rng.gen_bool(0.9) {
                    m.insert("type".into(), json!(types[rng.gen_range(0..types.len())]));
                }
                for _ in 0..rng.gen_range(0..4) {
                    let f = fields[rng.gen_range(0..fields.len())];
                    let v = if rng.gen_bool(0.5) {
                        numbers[rng.gen_range(0..numbers.len())].clone()
                    } else {
                        strings[rng.gen_range(0..strings.len())].clone()
                    };
                    m.insert(f.into(), v);
                }
                Value::Object(m).to_string()
            }
        })
        .collect()
}

#[tokio::test]
async fn hostile_frames_get_errors_not_crashes_and_others_carry_on() {
    let app = crate::support::spawn_app_with(crate::support::Options {
        chat_per_10s: 100_000,
        live_frames_per_sec: 100_000,
        ..Default::default()
    })
    .await;
    let w = app.world().await;
    let sid = open_session(&app, &w).await;
    let mut bystander = join(&app, &w.committee_a, &sid, None).await;
    until(&mut bystander, "welcome", |f| f["type"] == "welcome").await;
    let mut resident = join(&app, &w.resident_a, &sid, None).await;
    let (welcome, _) = until(&mut resident, "welcome", |f| f["type"] == "welcome").await;
    let someone = welcome["you"].as_str().unwrap().to_string();
    let mut chair = join(&app, &w.secretary_a, &sid, None).await;
    until(&mut chair, "welcome", |f| f["type"] == "welcome").await;
    // The chair's powers are fuzzed too, except those that end the meeting.
    for (who, socket, seed) in [("resident", &mut resident, 7), ("chair", &mut chair, 11)] {
        for frame in hostile_frames(seed, 400, &someone) {
            socket
                .send(Message::Text(frame.clone().into()))
                .await
                .unwrap();
            // Each frame gets an answer (an error, or the event it caused) and the socket stays
            // open; a ping after it proves the server read past it.
            send(socket, json!({ "type": "ping" })).await;
            let (_, before) = until(socket, "pong", |f| f["type"] == "pong").await;
            for f in before {
                assert!(
                    f["type"] == "error" || f["type"] == "event" || f["type"] == "snapshot",
                    "{who} sent {frame:.200} and got {f}"
                );
                if f["type"] == "error" {
                    assert!(f["code"].as_str().is_some_and(|c| !c.is_empty()));
                }
            }
        }
    }
    // The server is up and the room works for everyone.
    app.get("/sessions", Some(&w.resident_a)).await;
    let health = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!(health.status(), 200);
    // (The fuzzed chair may have muted the resident; the bystander speaks.)
    send(&mut bystander, json!({ "type": "chat", "text": "大家好" })).await;
    until(&mut resident, "the chat", |f| {
        f["kind"] == "chat.posted" && f["payload"]["text"] == "大家好"
    })
    .await;
    // A chat filed under an item of another session, or none, is refused.
    send(
        &mut bystander,
        json!({ "type": "chat", "text": "哪个议题？", "item_id": uuid::Uuid::new_v4() }),
    )
    .await;
    let (refused, _) = until(&mut bystander, "the refusal", |f| f["type"] == "error").await;
    assert_eq!(refused["code"], "item_not_found");
}

#[tokio::test]
async fn a_flood_of_frames_closes_that_socket_only() {
    let app = spawn_app().await;
    let w = app.world().await;
    let sid = open_session(&app, &w).await;
    let mut calm = join(&app, &w.secretary_a, &sid, None).await;
    until(&mut calm, "welcome", |f| f["type"] == "welcome").await;
    let mut flooder = join(&app, &w.resident_a, &sid, None).await;
    until(&mut flooder, "welcome", |f| f["type"] == "welcome").await;
    // Far past the burst of a hundred frames, as fast as the socket takes them.
    let (mut sink, mut stream) = flooder.split();
    let pings = tokio::spawn(async move {
        for _ in 0..2000 {
            if sink
                .send(Message::Text(json!({ "type": "ping" }).to_string().into()))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(20), stream.next()).await {
            Ok(Some(Ok(Message::Close(c)))) => break c.map(|c| u16::from(c.code)),
            Ok(Some(Ok(_))) => {}
            other => panic!("no close: {other:?}"),
        }
    };
    assert_eq!(code, Some(u16::from(CloseCode::Policy)));
    pings.abort();
    // The others carry on.
    send(&mut calm, json!({ "type": "ping" })).await;
    until(&mut calm, "pong", |f| f["type"] == "pong").await;
}
