use std::time::Duration;

use chrono::{Duration as ChronoDuration, Utc};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::support::{TestApp, World, id, spawn_app};

fn at(hours: i64) -> String {
    (Utc::now() + ChronoDuration::hours(hours)).to_rfc3339()
}

pub async fn convene(app: &TestApp, w: &World, invited: Value) -> Value {
    app.post("/sessions", Some(&w.secretary_a), json!({
        "community_id": w.community_a,
        "title": "三月协商议事会",
        "purpose": "讨论东门路灯和快递柜",
        "starts_at": at(72), "ends_at": at(74),
        "address": "社区活动中心二楼", "online": true,
        "agenda": [{ "title": "东门路灯", "description": "物业报告维修方案" }, { "title": "快递柜选址" }],
        "invited": invited,
    }))
    .await
    .ok(201)
    .clone()
}

fn ics_of(mail: &crate::smtp::Received) -> String {
    let parsed = mailparse::parse_mail(&mail.raw).unwrap();
    fn find(p: &mailparse::ParsedMail) -> Option<String> {
        if p.ctype.mimetype == "text/calendar" {
            return p.get_body().ok();
        }
        p.subparts.iter().find_map(find)
    }
    find(&parsed).expect("an iCalendar attachment")
}

fn parse_ics(text: &str) -> ical::parser::ical::component::IcalCalendar {
    let mut parser = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()));
    parser
        .next()
        .expect("one calendar")
        .expect("valid iCalendar")
}

fn prop(cal: &ical::parser::ical::component::IcalCalendar, name: &str) -> String {
    cal.events[0]
        .properties
        .iter()
        .find(|p| p.name == name)
        .and_then(|p| p.value.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn convening_scheduling_with_ics_rsvp_and_lifecycle() {
    let app = spawn_app().await;
    let w = app.world().await;
    let people = app.residents(&w.admin, &w.community_a, 3).await;
    let s = convene(&app, &w, json!({ "all_residents": true })).await;
    assert_eq!(s["status"], "draft");
    assert_eq!(s["agenda"].as_array().unwrap().len(), 2);
    let sid = id(&s);
    // Drafts are the convenors' alone.
    app.get(&format!("/sessions/{sid}"), Some(&people[0].0))
        .await
        .problem(404, "session_not_found");

    let scheduled = app
        .post(
            &format!("/sessions/{sid}/schedule"),
            Some(&w.secretary_a),
            json!({}),
        )
        .await;
    assert_eq!(scheduled.ok(200)["status"], "scheduled");
    // The chair and the four residents (three new, one from the world).
    assert_eq!(scheduled.body["attendance"]["invited"], 5);
    let mails = app
        .smtp
        .wait_for(&people[0].1, 2, Duration::from_secs(30))
        .await;
    let cal = parse_ics(&ics_of(&mails[1]));
    assert_eq!(prop(&cal, "SUMMARY"), "三月协商议事会");
    assert_eq!(prop(&cal, "UID"), format!("{sid}@yishi"));
    assert_eq!(prop(&cal, "SEQUENCE"), "0");
    assert!(
        cal.properties
            .iter()
            .any(|p| p.name == "METHOD" && p.value.as_deref() == Some("REQUEST"))
    );
    app.post(
        &format!("/sessions/{sid}/schedule"),
        Some(&w.secretary_a),
        json!({}),
    )
    .await
    .problem(409, "invalid_transition");

    // Answers.
    let answered = app
        .post(
            &format!("/sessions/{sid}/rsvp"),
            Some(&people[0].0),
            json!({ "response": "confirmed" }),
        )
        .await;
    assert_eq!(answered.ok(200)["my_response"], "confirmed");
    assert_eq!(answered.body["attendance"]["confirmed"], 1);
    app.post(
        &format!("/sessions/{sid}/rsvp"),
        Some(&people[1].0),
        json!({ "response": "declined" }),
    )
    .await
    .ok(200);
    app.post(
        &format!("/sessions/{sid}/rsvp"),
        Some(&w.outsider),
        json!({ "response": "confirmed" }),
    )
    .await
    .problem(404, "session_not_found");
    app.post(
        &format!("/sessions/{sid}/rsvp"),
        Some(&people[0].0),
        json!({ "response": "maybe" }),
    )
    .await
    .problem(400, "invalid_request");

    // Rescheduling sends an update with a higher SEQUENCE (not to those who declined).
    let moved = app
        .patch(
            &format!("/sessions/{sid}"),
            Some(&w.secretary_a),
            json!({ "starts_at": at(96), "ends_at": at(98) }),
        )
        .await;
    moved.ok(200);
    let mails = app
        .smtp
        .wait_for(&people[0].1, 3, Duration::from_secs(30))
        .await;
    assert_eq!(prop(&parse_ics(&ics_of(&mails[2])), "SEQUENCE"), "1");
    app.patch(
        &format!("/sessions/{sid}"),
        Some(&w.secretary_a),
        json!({ "starts_at": at(99), "ends_at": at(98) }),
    )
    .await
    .problem(422, "invalid_times");
    app.patch(
        &format!("/sessions/{sid}"),
        Some(&people[0].0),
        json!({ "starts_at": at(90) }),
    )
    .await
    .problem(403, "forbidden");

    // Open, adjourn, resume, close; check-in while open.
    app.post(
        &format!("/sessions/{sid}/attendance"),
        Some(&w.grid_worker_a),
        json!({ "email": people[2].1 }),
    )
    .await
    .problem(409, "session_not_open");
    let open = app
        .post(
            &format!("/sessions/{sid}/open"),
            Some(&w.secretary_a),
            json!({}),
        )
        .await;
    assert_eq!(open.ok(200)["status"], "open");
    assert_eq!(open.body["current_item_id"], open.body["agenda"][0]["id"]);
    let checked = app
        .post(
            &format!("/sessions/{sid}/attendance"),
            Some(&w.grid_worker_a),
            json!({ "email": people[2].1 }),
        )
        .await;
    assert_eq!(checked.ok(200)["attendance"]["present_assisted"], 1);
    let residents = checked.body["attendance"]["by_group"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == "resident")
        .unwrap()
        .clone();
    assert_eq!(residents["present"], 1);
    app.post(
        &format!("/sessions/{sid}/attendance"),
        Some(&w.grid_worker_a),
        json!({ "email": people[2].1 }),
    )
    .await
    .problem(409, "already_present");
    app.post(
        &format!("/sessions/{sid}/attendance"),
        Some(&people[0].0),
        json!({ "email": people[1].1 }),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/sessions/{sid}/attendance"),
        Some(&w.grid_worker_a),
        json!({ "email": "nobody@example.org" }),
    )
    .await
    .problem(422, "person_not_found");
    assert_eq!(
        app.post(
            &format!("/sessions/{sid}/adjourn"),
            Some(&w.secretary_a),
            json!({})
        )
        .await
        .ok(200)["status"],
        "adjourned"
    );
    assert_eq!(
        app.post(
            &format!("/sessions/{sid}/resume"),
            Some(&w.secretary_a),
            json!({})
        )
        .await
        .ok(200)["status"],
        "open"
    );
    app.post(
        &format!("/sessions/{sid}/cancel"),
        Some(&w.secretary_a),
        json!({ "reason": "x" }),
    )
    .await
    .problem(409, "invalid_transition");
    assert_eq!(
        app.post(
            &format!("/sessions/{sid}/close"),
            Some(&w.secretary_a),
            json!({})
        )
        .await
        .ok(200)["status"],
        "closed"
    );
    app.post(
        &format!("/sessions/{sid}/open"),
        Some(&w.secretary_a),
        json!({}),
    )
    .await
    .problem(409, "invalid_transition");

    let listed = app
        .get(
            &format!("/sessions?community_id={}", w.community_a),
            Some(&people[0].0),
        )
        .await;
    assert_eq!(listed.ok(200).as_array().unwrap().len(), 1);
    app.get(
        &format!("/sessions?community_id={}", w.community_a),
        Some(&w.outsider),
    )
    .await
    .problem(403, "forbidden");
}

#[tokio::test]
async fn cancelling_tells_the_invited_and_refusals_are_problems() {
    let app = spawn_app().await;
    let w = app.world().await;
    let people = app.residents(&w.admin, &w.community_a, 1).await;
    // Only convenors convene.
    let body = json!({ "community_id": w.community_a, "title": "t", "purpose": "p", "starts_at": at(5), "ends_at": at(6), "online": true });
    app.post("/sessions", Some(&people[0].0), body.clone())
        .await
        .problem(403, "forbidden");
    app.post("/sessions", Some(&w.committee_b), body.clone())
        .await
        .problem(403, "forbidden");
    app.post("/sessions", Some(&w.committee_a), body.clone())
        .await
        .ok(201);
    let mut bad = body.clone();
    bad["ends_at"] = json!(at(4));
    app.post("/sessions", Some(&w.committee_a), bad)
        .await
        .problem(422, "invalid_times");
    let mut offline = body.clone();
    offline["online"] = json!(false);
    app.post("/sessions", Some(&w.committee_a), offline)
        .await
        .problem(422, "invalid_place");
    let mut chair = body.clone();
    chair["chair_email"] = json!(people[0].1);
    app.post("/sessions", Some(&w.committee_a), chair)
        .await
        .problem(422, "invalid_chair");
    let mut agenda = body.clone();
    agenda["agenda"] = json!([{ "proposal_id": uuid::Uuid::new_v4() }]);
    app.post("/sessions", Some(&w.committee_a), agenda)
        .await
        .problem(422, "invalid_agenda_item");
    let mut grid = body.clone();
    grid["invited"] = json!({ "grid_ids": [uuid::Uuid::new_v4()] });
    app.post("/sessions", Some(&w.committee_a), grid)
        .await
        .problem(422, "invalid_invitation");
    app.post(
        "/sessions",
        Some(&w.committee_a),
        json!({ "community_id": w.community_a, "title": "t" }),
    )
    .await
    .problem(400, "invalid_request");

    let s = convene(&app, &w, json!({ "people": [people[0].1] })).await;
    let sid = id(&s);
    app.post(
        &format!("/sessions/{sid}/schedule"),
        Some(&w.secretary_a),
        json!({}),
    )
    .await
    .ok(200);
    app.post(
        &format!("/sessions/{sid}/cancel"),
        Some(&w.secretary_a),
        json!({ "reason": "" }),
    )
    .await
    .problem(422, "reason_required");
    app.post(
        &format!("/sessions/{sid}/cancel"),
        Some(&people[0].0),
        json!({ "reason": "x" }),
    )
    .await
    .problem(403, "forbidden");
    let cancelled = app
        .post(
            &format!("/sessions/{sid}/cancel"),
            Some(&w.secretary_a),
            json!({ "reason": "场地漏水" }),
        )
        .await;
    assert_eq!(cancelled.ok(200)["status"], "cancelled");
    let mails = app
        .smtp
        .wait_for(&people[0].1, 3, Duration::from_secs(30))
        .await;
    assert!(mails[2].text().contains("场地漏水"));
    let cal = parse_ics(&ics_of(&mails[2]));
    assert!(
        cal.properties
            .iter()
            .any(|p| p.name == "METHOD" && p.value.as_deref() == Some("CANCEL"))
    );
    assert_eq!(prop(&cal, "STATUS"), "CANCELLED");
}

#[tokio::test]
async fn a_reminder_goes_out_once_the_day_before() {
    let app = spawn_app().await;
    let w = app.world().await;
    let people = app.residents(&w.admin, &w.community_a, 1).await;
    let s = app.post("/sessions", Some(&w.secretary_a), json!({
        "community_id": w.community_a, "title": "明天的会", "purpose": "p", "starts_at": at(20), "ends_at": at(21), "online": true,
        "invited": { "people": [people[0].1] },
    })).await;
    let sid = id(s.ok(201));
    app.post(
        &format!("/sessions/{sid}/schedule"),
        Some(&w.secretary_a),
        json!({}),
    )
    .await
    .ok(200);
    // Invitation, then the reminder from the scheduler (it runs every second in tests).
    let mails = app
        .smtp
        .wait_for(&people[0].1, 3, Duration::from_secs(30))
        .await;
    assert!(
        mails[2].subject().contains("明天开会提醒"),
        "{}",
        mails[2].subject()
    );
    // Another pass (as a second process would run it) finds nothing left to remind.
    let state = yishi::state::AppState::new(
        app.db.clone(),
        std::sync::Arc::new(yishi::config::Settings::default()),
    );
    assert_eq!(
        yishi::sessions::service::send_reminders(&state)
            .await
            .unwrap(),
        0
    );
    let outbox = yishi::entities::outbox::Entity::find()
        .all(&app.db.conn)
        .await
        .unwrap();
    let reminders = outbox
        .iter()
        .filter(|m| m.to_address == people[0].1 && m.subject.contains("明天开会提醒"))
        .count();
    assert_eq!(reminders, 1);
}

/// The calendar part of a mail: its MIME `method` parameter and its body.
fn calendar_part(mail: &crate::smtp::Received) -> (String, String) {
    let parsed = mailparse::parse_mail(&mail.raw).unwrap();
    fn find(p: &mailparse::ParsedMail) -> Option<(String, String)> {
        if p.ctype.mimetype == "text/calendar" {
            let method = p.ctype.params.get("method").cloned().unwrap_or_default();
            return Some((method, p.get_body().ok()?));
        }
        p.subparts.iter().find_map(find)
    }
    find(&parsed).expect("an iCalendar attachment")
}

/// Issue 35: a reschedule and then a cancel within the merge window reach the calendar as a
/// cancel; every copy names its attendee, its MIME method matches its METHOD, and the text
/// gives the time as the community reads it.
#[tokio::test]
async fn a_merged_cancellation_carries_the_cancel_and_each_copy_its_attendee() {
    let app = crate::support::spawn_app_with(crate::support::Options {
        mail_merge_secs: 3,
        ..crate::support::Options::default()
    })
    .await;
    let w = app.world().await;
    let people = app.residents(&w.admin, &w.community_a, 1).await;
    let (_, email) = &people[0];
    let sid = id(&convene(&app, &w, json!({ "all_residents": true })).await);
    app.post(
        &format!("/sessions/{sid}/schedule"),
        Some(&w.secretary_a),
        json!({}),
    )
    .await
    .ok(200);
    let invited = app
        .smtp
        .wait_matching(email, 1, Duration::from_secs(30), |m| {
            m.subject().contains("邀请")
        })
        .await;
    let (method, body) = calendar_part(&invited[0]);
    assert_eq!(method, "REQUEST");
    let cal = parse_ics(&body);
    let attendee = cal.events[0]
        .properties
        .iter()
        .find(|p| p.name == "ATTENDEE")
        .and_then(|p| p.value.clone())
        .expect("an attendee");
    assert_eq!(attendee, format!("mailto:{email}"));
    // 72 hours from now, in Beijing time.
    let starts = (Utc::now() + ChronoDuration::hours(72 + 8))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        invited[0].text().contains(&starts) && invited[0].text().contains("北京时间"),
        "{}",
        invited[0].text()
    );
    // Moved (sent at once), moved again and cancelled within the window (held, merged).
    for hours in [96, 120] {
        app.patch(
            &format!("/sessions/{sid}"),
            Some(&w.secretary_a),
            json!({ "starts_at": at(hours), "ends_at": at(hours + 2) }),
        )
        .await
        .ok(200);
    }
    app.post(
        &format!("/sessions/{sid}/cancel"),
        Some(&w.secretary_a),
        json!({ "reason": "场地漏水" }),
    )
    .await
    .ok(200);
    let merged = app
        .smtp
        .wait_matching(email, 1, Duration::from_secs(30), |m| {
            m.text().contains("场地漏水")
        })
        .await;
    let (method, body) = calendar_part(&merged[0]);
    assert_eq!(method, "CANCEL");
    let cal = parse_ics(&body);
    assert!(
        cal.properties
            .iter()
            .any(|p| p.name == "METHOD" && p.value.as_deref() == Some("CANCEL"))
    );
    assert_eq!(prop(&cal, "STATUS"), "CANCELLED");
    // The cancel is the newest version of the event: its SEQUENCE is above every other one the
    // person received (the invitation and the first move; the second move never went alone).
    let sequence = |m: &crate::smtp::Received| -> i64 {
        prop(&parse_ics(&calendar_part(m).1), "SEQUENCE")
            .parse()
            .unwrap()
    };
    let cancel_sequence = sequence(&merged[0]);
    let others: Vec<i64> = app
        .smtp
        .to(email)
        .iter()
        .filter(|m| {
            !m.text().contains("场地漏水")
                && String::from_utf8_lossy(&m.raw).contains("text/calendar")
        })
        .map(sequence)
        .collect();
    assert_eq!(
        others.len(),
        2,
        "the invitation and the first move: {others:?}"
    );
    assert!(
        others.iter().all(|s| *s < cancel_sequence),
        "{others:?} vs {cancel_sequence}"
    );
}
