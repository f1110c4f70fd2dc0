//! Acting for people of the register who have no account: a grid worker checks them in,
//! answers for them, co-signs (confirmed by a second person), rates and objects for them.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::resolutions::{create, day, end_disclosure, firm, passed_poll, wait_status};
use crate::support::{TestApp, World, id, resident_id, spawn_app};

/// A person of community A's register living at a new unit of 1号楼 (in the first grid).
async fn neighbour(app: &TestApp, w: &World, name: &str, number: &str, doc: u32) -> String {
    let unit = id(app
        .post(
            &format!("/communities/{}/units", w.community_a),
            Some(&w.committee_a),
            json!({ "building_id": w.building_a, "number": number, "area_centi": 6000 }),
        )
        .await
        .ok(201));
    let household = id(app
        .post(
            &format!("/communities/{}/register/households", w.community_a),
            Some(&w.committee_a),
            json!({ "unit_id": unit }),
        )
        .await
        .ok(201));
    id(app
        .post(
            &format!("/communities/{}/register/persons", w.community_a),
            Some(&w.committee_a),
            json!({ "name": name, "document_kind": "resident_id",
                    "document_number": resident_id(doc), "household_id": household }),
        )
        .await
        .ok(201))
}

fn kinds(acts: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = acts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_string(),
                a["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_grid_worker_acts_for_people_without_accounts_at_every_step() {
    let app = spawn_app().await;
    let w = app.world().await;
    // A resolution in its disclosure period, decided before the neighbours were registered.
    let people = app.residents(&w.admin, &w.community_a, 2).await;
    let poll = passed_poll(&app, &w, &people).await;
    let (org, _, _) = firm(&app, &w).await;
    let rid = id(create(&app, &w.committee_a, json!({
        "poll_id": poll, "title": "快递柜选址", "body": "快递柜设在 3 号楼旁。", "responsible_org_id": org, "deadline": day(20),
    }))
    .await
    .ok(201));
    app.post(
        &format!("/resolutions/{rid}/take-effect"),
        Some(&w.committee_a),
        json!({}),
    )
    .await
    .ok(200);

    app.call(
        reqwest::Method::PUT,
        &format!("/buildings/{}/grid", w.building_a),
        Some(&w.committee_a),
        Some(json!({ "grid_id": w.grid_a })),
    )
    .await
    .ok(200);
    let zhang = neighbour(&app, &w, "张大爷", "801", 801).await;
    let li = neighbour(&app, &w, "李奶奶", "802", 802).await;
    let gw = &w.grid_worker_a;

    // ---- co-signing: pending until a second person confirms.
    app.call(
        reqwest::Method::PUT,
        &format!("/communities/{}/settings", w.community_a),
        Some(&w.committee_a),
        Some(json!({ "cosign_threshold": 3, "cosign_period_days": 14 })),
    )
    .await
    .ok(200);
    let proposal = id(app.post("/proposals", Some(&w.resident_a), json!({
        "community_id": w.community_a, "title": "东门加装扶手", "body": "老人上下台阶不便。",
        "category": "safety", "submit": true,
    }))
    .await
    .ok(201));
    let cosigns = format!("/proposals/{proposal}/assisted-cosigns");
    app.post(
        &cosigns,
        Some(&w.resident_a),
        json!({ "person_id": zhang, "reference": "附议签名表 1" }),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &cosigns,
        Some(gw),
        json!({ "person_id": zhang, "reference": "  " }),
    )
    .await
    .problem(422, "reference_required");
    app.post(
        &cosigns,
        Some(gw),
        json!({ "person_id": uuid::Uuid::new_v4(), "reference": "表 1" }),
    )
    .await
    .problem(404, "person_not_found");
    app.post(&cosigns, Some(gw), json!({ "person_id": zhang }))
        .await
        .problem(400, "invalid_request");
    let act = app
        .post(
            &cosigns,
            Some(gw),
            json!({ "person_id": zhang, "reference": "附议签名表 第1页第3行" }),
        )
        .await;
    assert_eq!(act.ok(201)["status"], "pending");
    assert_eq!(act.body["person_name"], "张大爷");
    assert_eq!(act.body["acted_by_name"], "grid-a");
    let zhang_cosign = id(&act.body);
    app.post(
        &cosigns,
        Some(gw),
        json!({ "person_id": zhang, "reference": "又一张" }),
    )
    .await
    .problem(409, "already_assisted");
    let seen = app
        .get(&format!("/proposals/{proposal}"), Some(&w.committee_a))
        .await;
    assert_eq!(seen.ok(200)["cosign_count"], 0);
    let queue = format!(
        "/communities/{}/assisted-acts?status=pending",
        w.community_a
    );
    assert_eq!(
        app.get(&queue, Some(gw))
            .await
            .ok(200)
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.get(&queue, Some(&w.resident_a))
        .await
        .problem(403, "forbidden");
    let confirm = |act: &str| format!("/proposals/{proposal}/assisted-cosigns/{act}/confirmation");
    app.post(&confirm(&zhang_cosign), Some(gw), json!({}))
        .await
        .problem(403, "forbidden");
    let counted = app
        .post(&confirm(&zhang_cosign), Some(&w.committee_a), json!({}))
        .await;
    assert_eq!(counted.ok(200)["cosign_count"], 1);
    assert_eq!(counted.body["status"], "collecting");
    app.post(&confirm(&zhang_cosign), Some(&w.committee_a), json!({}))
        .await
        .problem(409, "assisted_decided");
    // The second person finds 李奶奶's line does not match the sheet; then a right one counts.
    let wrong = id(app
        .post(
            &cosigns,
            Some(gw),
            json!({ "person_id": li, "reference": "附议签名表 第1页第4行" }),
        )
        .await
        .ok(201));
    app.post(
        &format!("/assisted-acts/{wrong}/rejection"),
        Some(&w.committee_a),
        json!({ "reason": "" }),
    )
    .await
    .problem(422, "reason_required");
    let rejected = app
        .post(
            &format!("/assisted-acts/{wrong}/rejection"),
            Some(&w.committee_a),
            json!({ "reason": "签名与登记不符" }),
        )
        .await;
    assert_eq!(rejected.ok(200)["status"], "rejected");
    app.post(&confirm(&wrong), Some(&w.committee_a), json!({}))
        .await
        .problem(409, "assisted_decided");
    let right = id(app
        .post(
            &cosigns,
            Some(gw),
            json!({ "person_id": li, "reference": "附议签名表 第2页第1行" }),
        )
        .await
        .ok(201));
    let reached = app
        .post(&confirm(&right), Some(&w.committee_a), json!({}))
        .await;
    assert_eq!(reached.ok(200)["cosign_count"], 2);
    assert_eq!(reached.body["status"], "in_moderation");

    // ---- a session: answers by phone, check-in at the door, and the attendees' poll.
    let session = crate::sessions::convene(&app, &w, json!({ "all_residents": true })).await;
    let sid = id(&session);
    app.post(
        &format!("/sessions/{sid}/schedule"),
        Some(&w.secretary_a),
        json!({}),
    )
    .await
    .ok(200);
    let rsvp = format!("/sessions/{sid}/assisted-rsvps");
    app.post(
        &rsvp,
        Some(gw),
        json!({ "person_id": zhang, "response": "confirmed", "reference": "电话 本人答复" }),
    )
    .await
    .ok(200);
    let changed = app
        .post(
            &rsvp,
            Some(gw),
            json!({ "person_id": zhang, "response": "declined", "reference": "电话 改为不来" }),
        )
        .await;
    let before = changed.ok(200)["attendance"].clone();
    assert_eq!(before["register_persons"], 1, "{before}");
    app.post(
        &rsvp,
        Some(gw),
        json!({ "person_id": li, "response": "maybe", "reference": "x" }),
    )
    .await
    .problem(400, "invalid_request");
    let check_in = format!("/sessions/{sid}/assisted-check-ins");
    app.post(
        &check_in,
        Some(gw),
        json!({ "person_id": zhang, "reference": "签到表 1" }),
    )
    .await
    .problem(409, "session_not_open");
    app.post(
        &format!("/sessions/{sid}/open"),
        Some(&w.secretary_a),
        json!({}),
    )
    .await
    .ok(200);
    let present = app
        .post(
            &check_in,
            Some(gw),
            json!({ "person_id": zhang, "reference": "签到表 第1行" }),
        )
        .await;
    let attendance = &present.ok(200)["attendance"];
    assert_eq!(
        attendance["present_assisted"],
        before["present_assisted"].as_u64().unwrap() + 1
    );
    assert_eq!(attendance["declined"], before["declined"]);
    app.post(
        &check_in,
        Some(gw),
        json!({ "person_id": zhang, "reference": "签到表 第1行" }),
    )
    .await
    .problem(409, "already_present");
    let item = session["agenda"][0]["id"].as_str().unwrap();
    let attendees_poll = id(app
        .post(
            "/polls",
            Some(&w.secretary_a),
            json!({
            "session_id": sid, "agenda_item_id": item, "question": "同意加装扶手吗？",
            "kind": "yes_no", "electorate": "attendees" }),
        )
        .await
        .ok(201));
    app.post(
        &format!("/polls/{attendees_poll}/open"),
        Some(&w.secretary_a),
        json!({}),
    )
    .await
    .ok(200);
    let electors = app
        .get(&format!("/polls/{attendees_poll}/electors"), Some(gw))
        .await;
    let labels: Vec<&str> = electors
        .ok(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, vec!["张大爷"], "{}", electors.body);

    // ---- the resolution: an objection now, a rating once it is completed.
    let objection = format!("/resolutions/{rid}/assisted-objections");
    app.post(
        &objection,
        Some(&w.resident_a),
        json!({ "person_id": zhang, "reasons": "太吵", "reference": "书面意见" }),
    )
    .await
    .problem(403, "forbidden");
    let lodged = app
        .post(&objection, Some(gw), json!({ "person_id": zhang, "reasons": "快递柜离窗户太近。", "reference": "张大爷书面意见 12月7日" }))
        .await;
    let mine = &lodged.ok(200)["objections"][0];
    assert_eq!(mine["assisted"], true);
    assert_eq!(
        mine["mine"], true,
        "the grid worker who lodged it follows it"
    );
    app.post(
        &objection,
        Some(gw),
        json!({ "person_id": zhang, "reasons": "再说一次", "reference": "书面意见 2" }),
    )
    .await
    .problem(409, "objection_pending");
    let rating = format!("/resolutions/{rid}/assisted-ratings");
    app.post(
        &rating,
        Some(gw),
        json!({ "person_id": zhang, "score": 4, "reference": "满意度回访表" }),
    )
    .await
    .problem(409, "rating_closed");
    let oid = mine["id"].as_str().unwrap().to_string();
    let committee_view = app
        .get(&format!("/resolutions/{rid}"), Some(&w.committee_a))
        .await;
    assert_eq!(
        committee_view.ok(200)["objections"][0]["reasons"],
        "快递柜离窗户太近。"
    );
    app.post(
        &format!("/objections/{oid}/answer"),
        Some(&w.committee_a),
        json!({ "decision": "dismiss", "answer": "选址已避开住宅窗户五米以上。" }),
    )
    .await
    .ok(200);
    end_disclosure(&app, &rid).await;
    wait_status(&app, Some(&w.committee_a), &rid, "in_progress").await;
    app.post(
        &format!("/resolutions/{rid}/complete"),
        Some(&w.committee_a),
        json!({}),
    )
    .await
    .ok(200);
    app.post(
        &rating,
        Some(gw),
        json!({ "person_id": zhang, "score": 9, "reference": "回访表" }),
    )
    .await
    .problem(400, "invalid_request");
    let rated = app
        .post(&rating, Some(gw), json!({ "person_id": zhang, "score": 4, "comment": "装得不错", "reference": "满意度回访表 第5份" }))
        .await;
    let ratings = &rated.ok(200)["ratings"];
    assert_eq!(ratings["count"], 1);
    assert_eq!(ratings["mean"], 4.0);
    assert_eq!(ratings["comments"], json!(["装得不错"]));
    app.post(
        &rating,
        Some(gw),
        json!({ "person_id": zhang, "score": 5, "reference": "回访表" }),
    )
    .await
    .problem(409, "already_rated");

    // ---- every act is in the tamper-evident record of the person.
    let record = app
        .get(
            &format!("/audit/entries?object_type=register_person&object_id={zhang}"),
            Some(&w.admin),
        )
        .await;
    let actions: HashSet<&str> = record
        .ok(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "assisted.cosign",
        "assisted.confirmed",
        "assisted.rsvp",
        "assisted.check_in",
        "assisted.objection",
        "assisted.rating",
    ] {
        assert!(actions.contains(a), "{a} missing from {actions:?}");
    }

    // ---- 张大爷 links an account: he sees what was done for him, and cannot do it twice.
    let token = app.verified_user("zhang-daye@example.org", "张大爷").await;
    let m = id(app
        .post(
            &format!("/communities/{}/memberships", w.community_a),
            Some(&token),
            json!({ "building": "1号楼", "unit_number": "801", "household": true }),
        )
        .await
        .ok(201));
    app.post(&format!("/memberships/{m}/decision"), Some(&w.committee_a), json!({
        "verdict": "verify", "household": true, "person_id": zhang, "document_last4": &resident_id(801)[14..],
    }))
    .await
    .ok(200);
    let his = app.get("/accounts/me/assisted-acts", Some(&token)).await;
    assert_eq!(
        kinds(his.ok(200)),
        vec![
            ("check_in".into(), "counted".into()),
            ("cosign".into(), "counted".into()),
            ("objection".into(), "counted".into()),
            ("rating".into(), "counted".into()),
            ("rsvp".into(), "counted".into()),
            ("rsvp".into(), "replaced".into()),
        ]
    );
    assert!(
        his.body
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["acted_by_name"] == "grid-a")
    );
    app.post(
        &format!("/proposals/{proposal}/cosign"),
        Some(&token),
        json!({}),
    )
    .await
    .problem(409, "already_cosigned");
    app.post(
        &format!("/resolutions/{rid}/ratings"),
        Some(&token),
        json!({ "score": 1 }),
    )
    .await
    .problem(409, "already_rated");
    // Others see nothing of his.
    let theirs = app
        .get("/accounts/me/assisted-acts", Some(&w.resident_a))
        .await;
    assert!(theirs.ok(200).as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_merged_proposal_brings_the_co_signatures_given_for_people() {
    let app = spawn_app().await;
    let w = app.world().await;
    app.call(
        reqwest::Method::PUT,
        &format!("/communities/{}/settings", w.community_a),
        Some(&w.committee_a),
        Some(json!({ "cosign_threshold": 50, "cosign_period_days": 14 })),
    )
    .await
    .ok(200);
    app.call(
        reqwest::Method::PUT,
        &format!("/buildings/{}/grid", w.building_a),
        Some(&w.committee_a),
        Some(json!({ "grid_id": w.grid_a })),
    )
    .await
    .ok(200);
    let people = app.residents(&w.admin, &w.community_a, 2).await;
    let propose = |token: String, title: &'static str| {
        let app = &app;
        let community = w.community_a.clone();
        async move {
            id(app
                .post("/proposals", Some(&token), json!({
                    "community_id": community, "title": title, "body": "快递柜。", "category": "other", "submit": true,
                }))
                .await
                .ok(201))
        }
    };
    let target = propose(people[0].0.clone(), "增设快递柜").await;
    let source = propose(people[1].0.clone(), "小区需要快递柜").await;
    let zhang = neighbour(&app, &w, "张大爷", "801", 801).await;
    let li = neighbour(&app, &w, "李奶奶", "802", 802).await;
    let cosign = |proposal: String, person: String| {
        let app = &app;
        let (gw, committee) = (w.grid_worker_a.clone(), w.committee_a.clone());
        async move {
            let act = id(app
                .post(
                    &format!("/proposals/{proposal}/assisted-cosigns"),
                    Some(&gw),
                    json!({ "person_id": person, "reference": "附议签名表" }),
                )
                .await
                .ok(201));
            app.post(
                &format!("/proposals/{proposal}/assisted-cosigns/{act}/confirmation"),
                Some(&committee),
                json!({}),
            )
            .await
            .ok(200);
        }
    };
    cosign(target.clone(), li.clone()).await;
    cosign(source.clone(), li.clone()).await;
    cosign(source.clone(), zhang.clone()).await;
    let merged = app
        .post(
            &format!("/proposals/{source}/moderation"),
            Some(&w.committee_a),
            json!({ "action": "merge", "reason": "同一件事", "merge_into": target }),
        )
        .await;
    assert_eq!(merged.ok(200)["status"], "merged");
    // 李奶奶 counted once; 张大爷 and the source's proposer come along.
    let t = app
        .get(&format!("/proposals/{target}"), Some(&w.committee_a))
        .await;
    assert_eq!(t.ok(200)["cosign_count"], 3, "{}", t.body);
    let acts = app
        .get(
            &format!(
                "/communities/{}/assisted-acts?status=counted",
                w.community_a
            ),
            Some(&w.committee_a),
        )
        .await;
    let on_target: Vec<&str> = acts
        .ok(200)
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["object_id"] == target.as_str())
        .map(|a| a["person_name"].as_str().unwrap())
        .collect();
    assert_eq!(on_target.len(), 2, "{on_target:?}");
    assert!(on_target.contains(&"张大爷") && on_target.contains(&"李奶奶"));
}
