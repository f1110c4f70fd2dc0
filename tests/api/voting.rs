use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::support::{TestApp, World, id, resident_id, spawn_app};

/// A community poll of `electorate`, created by the committee; returns its id.
pub(crate) async fn poll(app: &TestApp, w: &World, body: Value) -> String {
    let mut b = json!({ "community_id": w.community_a, "question": "是否同意在东门加装路灯？" });
    b.as_object_mut()
        .unwrap()
        .extend(body.as_object().unwrap().clone());
    id(app.post("/polls", Some(&w.committee_a), b).await.ok(201))
}

pub(crate) async fn open(app: &TestApp, token: &str, poll: &str) -> Value {
    app.post(&format!("/polls/{poll}/open"), Some(token), json!({}))
        .await
        .ok(200)
        .clone()
}

pub(crate) async fn close(app: &TestApp, token: &str, poll: &str) -> Value {
    app.post(&format!("/polls/{poll}/close"), Some(token), json!({}))
        .await
        .ok(200)
        .clone()
}

pub(crate) async fn vote(app: &TestApp, token: &str, poll: &str, choices: Value) -> Value {
    app.post(
        &format!("/polls/{poll}/ballots"),
        Some(token),
        json!({ "choices": choices }),
    )
    .await
    .ok(201)
    .clone()
}

pub(crate) fn option<'a>(result: &'a Value, option_id: &str) -> &'a Value {
    result["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == option_id)
        .expect("the option in the result")
}

#[tokio::test]
async fn a_yes_no_poll_from_draft_to_published_result() {
    let app = spawn_app().await;
    let w = app.world().await;
    let people = app.residents(&w.admin, &w.community_a, 4).await;
    let p = poll(
        &app,
        &w,
        json!({ "kind": "yes_no", "electorate": "residents", "show_tally": true }),
    )
    .await;
    // Drafts are for those who run them; residents cannot vote yet.
    app.get(&format!("/polls/{p}"), Some(&people[0].0))
        .await
        .problem(404, "poll_not_found");
    app.post(
        &format!("/polls/{p}/ballots"),
        Some(&people[0].0),
        json!({ "choices": ["yes"] }),
    )
    .await
    .problem(404, "poll_not_found");
    app.post(&format!("/polls/{p}/open"), Some(&people[0].0), json!({}))
        .await
        .problem(403, "forbidden");
    let opened = open(&app, &w.committee_a, &p).await;
    // resident-a from the world plus the four residents.
    assert_eq!(opened["electorate_size"]["headcount"], 5);
    assert_eq!(opened["status"], "open");

    let r0 = vote(&app, &people[0].0, &p, json!(["yes"])).await;
    assert_eq!(r0["choices"], json!(["yes"]));
    let receipt0 = r0["receipt"].as_str().unwrap().to_string();
    assert_eq!(receipt0.len(), 32);
    vote(&app, &people[1].0, &p, json!(["yes"])).await;
    vote(&app, &people[2].0, &p, json!(["no"])).await;
    // Refusals: a second ballot, a wrong count, an unknown option, someone outside.
    app.post(
        &format!("/polls/{p}/ballots"),
        Some(&people[0].0),
        json!({ "choices": ["no"] }),
    )
    .await
    .problem(409, "already_voted");
    app.post(
        &format!("/polls/{p}/ballots"),
        Some(&people[3].0),
        json!({ "choices": ["yes", "no"] }),
    )
    .await
    .problem(422, "wrong_option_count");
    app.post(
        &format!("/polls/{p}/ballots"),
        Some(&people[3].0),
        json!({ "choices": ["maybe"] }),
    )
    .await
    .problem(422, "unknown_option");
    app.post(
        &format!("/polls/{p}/ballots"),
        Some(&w.outsider),
        json!({ "choices": ["yes"] }),
    )
    .await
    .problem(404, "poll_not_found");
    // A grid worker of the community sees its polls but is not, as such, in the electorate.
    app.post(
        &format!("/polls/{p}/ballots"),
        Some(&w.grid_worker_a),
        json!({ "choices": ["yes"] }),
    )
    .await
    .problem(403, "forbidden");
    // Changing an open ballot, and seeing one's own.
    let changed = app
        .call(
            reqwest::Method::PUT,
            &format!("/polls/{p}/ballot"),
            Some(&people[2].0),
            Some(json!({ "choices": ["abstain"] })),
        )
        .await;
    assert_eq!(changed.ok(200)["choices"], json!(["abstain"]));
    let mine = app
        .get(&format!("/polls/{p}/ballot"), Some(&people[0].0))
        .await;
    assert_eq!(mine.ok(200)[0]["choices"], json!(["yes"]));
    assert_eq!(mine.body[0]["receipt"], receipt0.as_str());
    // The running tally is shown while open.
    let live = app.get(&format!("/polls/{p}"), Some(&people[3].0)).await;
    let tally = &live.ok(200)["tally"];
    assert_eq!(option(&json!({ "options": tally }), "yes")["headcount"], 2);
    assert_eq!(live.body["participation"]["headcount"], 3);
    assert_eq!(live.body["my_voters"][0]["voted"], false);
    app.get(&format!("/polls/{p}/receipts"), None)
        .await
        .problem(409, "poll_not_closed");

    let closed = close(&app, &w.committee_a, &p).await;
    let result = &closed["result"];
    // Simple majority of ballots cast: 2 yes of 2 cast (the abstention left out).
    assert_eq!(result["participants"]["headcount"], 3);
    assert_eq!(result["cast"]["headcount"], 2);
    assert_eq!(option(result, "yes")["headcount"], 2);
    assert_eq!(option(result, "abstain")["headcount"], 1);
    assert_eq!(result["passed"], true);
    assert_eq!(closed["passed"], true);
    // After closing: no more ballots; the result and receipts are public.
    app.post(
        &format!("/polls/{p}/ballots"),
        Some(&people[3].0),
        json!({ "choices": ["yes"] }),
    )
    .await
    .problem(409, "poll_not_open");
    app.post(
        &format!("/polls/{p}/close"),
        Some(&w.committee_a),
        json!({}),
    )
    .await
    .problem(409, "invalid_transition");
    let public = app.get(&format!("/polls/{p}"), None).await;
    assert_eq!(public.ok(200)["result"], *result);
    assert!(public.body["my_voters"].as_array().unwrap().is_empty());
    let receipts = app.get(&format!("/polls/{p}/receipts"), None).await;
    let list = receipts.ok(200)["receipts"].as_array().unwrap().clone();
    assert_eq!(list.len(), 3);
    assert!(list.iter().any(|r| r == receipt0.as_str()));
    // An open ballot names its voters once closed, to members.
    let named = app
        .get(&format!("/polls/{p}/voters"), Some(&people[3].0))
        .await;
    let named = named.ok(200).as_array().unwrap().clone();
    assert_eq!(named.len(), 5);
    assert_eq!(named.iter().filter(|v| v["voted"] == true).count(), 3);
    // The electorate was told the vote opened, and is told the result.
    app.smtp
        .wait_matching(&people[3].1, 1, Duration::from_secs(10), |m| {
            m.subject().contains("表决开始")
        })
        .await;
    app.smtp
        .wait_matching(&people[3].1, 1, Duration::from_secs(10), |m| {
            m.subject().contains("表决结果")
        })
        .await;
    // The record holds the opening, each ballot and the result.
    let entries = app
        .get(
            &format!("/audit/entries?object_type=poll&object_id={p}"),
            Some(&w.admin),
        )
        .await;
    let actions: Vec<String> = entries.ok(200)["entries"]
        .as_array()
        .or_else(|| entries.body.as_array())
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert!(actions.contains(&"poll.opened".to_string()), "{actions:?}");
    assert!(actions.contains(&"poll.closed".to_string()), "{actions:?}");
}

/// Units with their owners on the register (one person per distinct name here, with an
/// identity document; the developer's units to the developer); each owner joins through one of
/// their units and the committee verifies them against the register. Returns their tokens.
pub(crate) async fn owners(
    app: &TestApp,
    w: &World,
    units: &[(&str, i64, &str, bool)],
) -> Vec<String> {
    let community = &w.community_a;
    let mut owner_of: std::collections::HashMap<&str, (String, String)> = Default::default();
    let mut developer: Option<String> = None;
    let mut tokens = Vec::new();
    for (number, area, owner, is_developer) in units {
        let unit = id(app
            .post(
                &format!("/communities/{community}/units"),
                Some(&w.committee_a),
                json!({ "building_id": w.building_a, "number": number, "area_centi": area,
                        "registered_owner": owner, "developer_held": is_developer }),
            )
            .await
            .ok(201));
        let owner_id = if *is_developer {
            match &developer {
                Some(d) => d.clone(),
                None => {
                    let d = id(app
                        .post(
                            &format!("/communities/{community}/register/owners"),
                            Some(&w.committee_a),
                            json!({ "kind": "developer", "name": owner }),
                        )
                        .await
                        .ok(201));
                    developer = Some(d.clone());
                    d
                }
            }
        } else if let Some((owner_id, _)) = owner_of.get(owner) {
            owner_id.clone()
        } else {
            // Distinct across calls (and tests, which share this counter).
            static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(700);
            let document = resident_id(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            let person = id(app
                .post(
                    &format!("/communities/{community}/register/persons"),
                    Some(&w.committee_a),
                    json!({ "name": owner, "document_kind": "resident_id",
                            "document_number": document, "status": "non_resident" }),
                )
                .await
                .ok(201));
            let owner_id = id(app
                .post(
                    &format!("/communities/{community}/register/owners"),
                    Some(&w.committee_a),
                    json!({ "person_ids": [person] }),
                )
                .await
                .ok(201));
            owner_of.insert(owner, (owner_id.clone(), person.clone()));
            let email = format!("owner-{}@example.org", uuid::Uuid::new_v4().simple());
            let token = app.verified_user(&email, owner).await;
            tokens.push((
                owner_id.clone(),
                person,
                document,
                number.to_string(),
                token,
            ));
            owner_id
        };
        app.call(
            reqwest::Method::PUT,
            &format!("/units/{unit}/owner"),
            Some(&w.committee_a),
            Some(json!({ "owner_id": owner_id, "reason": "产权登记" })),
        )
        .await
        .ok(200);
    }
    let mut out = Vec::new();
    for (_, person, document, number, token) in tokens {
        let m = app
            .post(
                &format!("/communities/{community}/memberships"),
                Some(&token),
                json!({ "building": "1号楼", "unit_number": number, "owner": true }),
            )
            .await;
        let m = id(m.ok(201));
        app.post(
            &format!("/memberships/{m}/decision"),
            Some(&w.committee_a),
            json!({ "verdict": "verify", "owner": true, "person_id": person,
                    "document_last4": &document[14..] }),
        )
        .await
        .ok(200);
        out.push(token);
    }
    out
}

#[tokio::test]
async fn owners_double_majority_by_headcount_and_floor_area() {
    let app = spawn_app().await;
    let w = app.world().await;
    // The world's units 101 and 102 (85.50 m² each) have no registered owner: each counts on
    // its own. Owner 王 holds two units (they count once, areas summed); the developer's two
    // unsold units count once together.
    let tokens = owners(
        &app,
        &w,
        &[
            ("201", 5000, "张", false),
            ("202", 5000, "李", false),
            ("203", 5000, "赵", false),
            ("301", 25000, "王", false),
            ("302", 25000, "王", false),
            ("401", 6000, "开发商", true),
            ("402", 6000, "开发商", true),
        ],
    )
    .await;
    assert_eq!(tokens.len(), 4);
    let p = poll(
        &app,
        &w,
        json!({ "kind": "yes_no", "electorate": "owners", "preset": "owners_ordinary" }),
    )
    .await;
    let opened = open(&app, &w.committee_a, &p).await;
    // 101, 102, 张, 李, 赵, 王, developer: 7 entities; 171 + 150 + 500 + 120 = 941 m².
    assert_eq!(opened["electorate_size"]["headcount"], 7);
    assert_eq!(opened["electorate_size"]["area_centi"], 94_100);
    let me = &app.get(&format!("/polls/{p}"), Some(&tokens[3])).await.body["my_voters"][0];
    assert_eq!(me["area_centi"], 50_000);
    // 张, 李, 赵 vote yes (150 m²); 王 votes no (500 m²).
    // Participation 4 of 7 < 2/3: no quorum, whatever the votes.
    for t in &tokens[..3] {
        vote(&app, t, &p, json!(["yes"])).await;
    }
    vote(&app, &tokens[3], &p, json!(["no"])).await;
    let r = close(&app, &w.committee_a, &p).await["result"].clone();
    assert_eq!(r["quorum"]["by_headcount"], false);
    assert_eq!(r["quorum"]["by_area"], true); // 650 of 941 m² ≥ 2/3
    let yes = option(&r, "yes");
    assert_eq!(yes["threshold"]["by_headcount"], true); // 3 of 4 > 1/2
    assert_eq!(yes["threshold"]["by_area"], false); // 150 of 650 m²
    assert_eq!(r["passed"], false);

    // A custom rule without quorum, to see each measure decide: headcount passes and area
    // fails; then the reverse.
    let no_quorum = json!({ "threshold": { "num": 1, "den": 2, "strict": true },
                            "base": "participants", "measure": "both" });
    let p2 = poll(
        &app,
        &w,
        json!({ "kind": "yes_no", "electorate": "owners", "rule": no_quorum }),
    )
    .await;
    open(&app, &w.committee_a, &p2).await;
    for t in &tokens[..3] {
        vote(&app, t, &p2, json!(["yes"])).await;
    }
    vote(&app, &tokens[3], &p2, json!(["no"])).await;
    let r = close(&app, &w.committee_a, &p2).await["result"].clone();
    assert_eq!(r["quorum"]["met"], true);
    assert_eq!(option(&r, "yes")["threshold"]["by_headcount"], true);
    assert_eq!(option(&r, "yes")["threshold"]["by_area"], false);
    assert_eq!(r["passed"], false);
    let p3 = poll(
        &app,
        &w,
        json!({ "kind": "yes_no", "electorate": "owners", "rule": no_quorum }),
    )
    .await;
    open(&app, &w.committee_a, &p3).await;
    vote(&app, &tokens[0], &p3, json!(["no"])).await;
    vote(&app, &tokens[1], &p3, json!(["no"])).await;
    vote(&app, &tokens[3], &p3, json!(["yes"])).await;
    let r = close(&app, &w.committee_a, &p3).await["result"].clone();
    assert_eq!(option(&r, "yes")["threshold"]["by_headcount"], false); // 1 of 3
    assert_eq!(option(&r, "yes")["threshold"]["by_area"], true); // 500 of 600 m²
    assert_eq!(r["passed"], false);
}

#[tokio::test]
async fn secret_ballots_never_link_a_voter_to_a_choice() {
    let app = spawn_app().await;
    let w = app.world().await;
    let people = app.residents(&w.admin, &w.community_a, 3).await;
    let p = poll(
        &app,
        &w,
        json!({ "kind": "single", "options": ["南门", "北门", "西门"], "secret": true,
                "electorate": "residents" }),
    )
    .await;
    open(&app, &w.committee_a, &p).await;
    // Only people[0] chooses o3 (西门): any answer naming them together with o3 would link.
    let r = vote(&app, &people[0].0, &p, json!(["o3"])).await;
    assert!(r["choices"].is_null());
    let receipt = r["receipt"].as_str().unwrap().to_string();
    vote(&app, &people[1].0, &p, json!(["o1"])).await;
    vote(&app, &people[2].0, &p, json!(["o1"])).await;
    let change = app
        .call(
            reqwest::Method::PUT,
            &format!("/polls/{p}/ballot"),
            Some(&people[0].0),
            Some(json!({ "choices": ["o1"] })),
        )
        .await;
    change.problem(409, "secret_ballot_final");
    app.post(
        &format!("/polls/{p}/ballots"),
        Some(&people[0].0),
        json!({ "choices": ["o1"] }),
    )
    .await
    .problem(409, "already_voted");
    let mine = app
        .get(&format!("/polls/{p}/ballot"), Some(&people[0].0))
        .await;
    assert_eq!(mine.ok(200)[0]["voted"], true);
    assert!(mine.body[0]["choices"].is_null() && mine.body[0]["receipt"].is_null());
    // The tally is never shown for a secret poll.
    assert!(app.get(&format!("/polls/{p}"), Some(&w.admin)).await.body["tally"].is_null());
    let voter_id = mine.body[0]["voter_id"].as_str().unwrap().to_string();
    close(&app, &w.committee_a, &p).await;
    app.get(&format!("/polls/{p}/voters"), Some(&w.committee_a))
        .await
        .problem(409, "secret_poll");
    let receipts = app.get(&format!("/polls/{p}/receipts"), None).await;
    assert!(
        receipts.ok(200)["receipts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == receipt.as_str())
    );

    // Walk every answer that could mention the voter, as the most privileged roles and as
    // the voter: none names them (id, voter id, email, name) together with the choice o3.
    let me = app
        .get("/accounts/me", Some(&people[0].0))
        .await
        .ok(200)
        .clone();
    let user_id = me["id"].as_str().unwrap().to_string();
    let markers = [user_id.clone(), voter_id.clone(), people[0].1.clone()];
    let answers = vec![
        app.get(&format!("/polls/{p}"), Some(&w.admin)).await.body,
        app.get(&format!("/polls/{p}"), Some(&people[0].0))
            .await
            .body,
        app.get(&format!("/polls/{p}/ballot"), Some(&people[0].0))
            .await
            .body,
        app.get(&format!("/polls/{p}/electors"), Some(&w.admin))
            .await
            .body,
        app.get(&format!("/polls/{p}/assisted-ballots"), Some(&w.admin))
            .await
            .body,
        app.get(
            &format!("/polls?community_id={}", w.community_a),
            Some(&w.admin),
        )
        .await
        .body,
        app.get(
            &format!("/audit/entries?object_type=poll_voter&object_id={voter_id}"),
            Some(&w.admin),
        )
        .await
        .body,
        app.get(
            &format!("/audit/entries?object_type=poll&object_id={p}"),
            Some(&w.admin),
        )
        .await
        .body,
        app.get("/accounts/me/export", Some(&people[0].0))
            .await
            .body,
    ];
    // The poll's own options and its published result are the same for everyone; what must
    // never appear beside the voter is a choice of theirs.
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "options" | "result"))
                    .map(|(k, v)| (k.clone(), strip(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    let mut saw_voter = 0;
    for a in &answers {
        let text = strip(a).to_string();
        if markers.iter().any(|m| text.contains(m.as_str())) {
            saw_voter += 1;
            assert!(
                !text.contains("\"o3\""),
                "an answer links the voter to o3: {text}"
            );
        }
    }
    assert!(saw_voter >= 3, "the walk reached answers about the voter");
    // The record holds the participation of each ballot but not the choice.
    let audit = app
        .get(
            &format!("/audit/entries?object_type=poll_voter&object_id={voter_id}"),
            Some(&w.admin),
        )
        .await;
    assert!(audit.body.to_string().contains("ballot.cast"));
    // In the database, a secret ballot has no voter and no time.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let stored = yishi::entities::ballot::Entity::find()
        .filter(yishi::entities::ballot::Column::PollId.eq(uuid::Uuid::parse_str(&p).unwrap()))
        .all(&app.db.conn)
        .await
        .unwrap();
    assert_eq!(stored.len(), 3);
    assert!(
        stored
            .iter()
            .all(|b| b.voter_id.is_none() && b.updated_at.is_none())
    );
    let voter =
        yishi::entities::poll_voter::Entity::find_by_id(uuid::Uuid::parse_str(&voter_id).unwrap())
            .one(&app.db.conn)
            .await
            .unwrap()
            .unwrap();
    assert!(voter.voted && voter.voted_at.is_none());
}

#[tokio::test]
async fn multiple_and_ranked_polls_through_the_api() {
    let app = spawn_app().await;
    let w = app.world().await;
    let people = app.residents(&w.admin, &w.community_a, 6).await;
    let multi = poll(
        &app,
        &w,
        json!({ "kind": "multiple", "options": ["健身器材", "儿童滑梯", "长椅", "凉亭"],
                "max_choices": 2, "electorate": "residents",
                "rule": { "threshold": { "num": 1, "den": 3, "strict": false },
                          "base": "participants", "measure": "headcount" } }),
    )
    .await;
    open(&app, &w.committee_a, &multi).await;
    app.post(
        &format!("/polls/{multi}/ballots"),
        Some(&people[0].0),
        json!({ "choices": ["o1", "o2", "o3"] }),
    )
    .await
    .problem(422, "wrong_option_count");
    app.post(
        &format!("/polls/{multi}/ballots"),
        Some(&people[0].0),
        json!({ "choices": ["o1", "o1"] }),
    )
    .await
    .problem(422, "duplicate_option");
    for (i, c) in [
        json!(["o1", "o2"]),
        json!(["o1", "o3"]),
        json!(["o1"]),
        json!(["o2"]),
        json!(["o4"]),
        json!([]),
    ]
    .into_iter()
    .enumerate()
    {
        vote(&app, &people[i].0, &multi, c).await;
    }
    let r = close(&app, &w.committee_a, &multi).await["result"].clone();
    // o1 3 and o2 2 of 6 participants reach 1/3; o3 and o4 with 1 do not.
    assert_eq!(r["winners"], json!(["o1", "o2"]));
    assert_eq!(r["participants"]["headcount"], 6);
    assert_eq!(r["cast"]["headcount"], 5);

    let ranked = poll(
        &app,
        &w,
        json!({ "kind": "ranked", "options": ["甲", "乙", "丙"], "electorate": "residents" }),
    )
    .await;
    open(&app, &w.committee_a, &ranked).await;
    // First preferences 甲 2, 乙 2, 丙 2: 丙 (listed last) goes; its ballots go to 乙.
    for (i, c) in [
        json!(["o1"]),
        json!(["o1", "o2"]),
        json!(["o2"]),
        json!(["o2", "o1"]),
        json!(["o3", "o2"]),
        json!(["o3", "o2", "o1"]),
    ]
    .into_iter()
    .enumerate()
    {
        vote(&app, &people[i].0, &ranked, c).await;
    }
    let r = close(&app, &w.committee_a, &ranked).await["result"].clone();
    assert_eq!(r["rounds"][0]["eliminated"], "o3");
    assert_eq!(r["rounds"].as_array().unwrap().len(), 2);
    assert_eq!(r["winners"], json!(["o2"]));
    assert_eq!(r["passed"], true);
}

#[tokio::test]
async fn concurrent_ballots_count_once_and_retries_return_the_first_answer() {
    let app = spawn_app().await;
    let w = app.world().await;
    let people = app.residents(&w.admin, &w.community_a, 125).await;
    let p = poll(
        &app,
        &w,
        json!({ "kind": "yes_no", "electorate": "residents" }),
    )
    .await;
    open(&app, &w.committee_a, &p).await;
    // 500 requests at once: each resident sends four ballots.
    let path = format!("/polls/{p}/ballots");
    let (app_ref, path_ref) = (&app, &path);
    let answers = futures_util::future::join_all(people.iter().flat_map(|(token, _)| {
        (0..4).map(move |i| {
            let choice = if i % 2 == 0 { "yes" } else { "no" };
            app_ref.post(path_ref, Some(token), json!({ "choices": [choice] }))
        })
    }))
    .await;
    let counted = answers.iter().filter(|a| a.status.as_u16() == 201).count();
    let refused = answers
        .iter()
        .filter(|a| a.status.as_u16() == 409 && a.body["code"] == "already_voted")
        .count();
    assert_eq!((counted, refused), (125, 375));
    let view = app.get(&format!("/polls/{p}"), Some(&w.committee_a)).await;
    assert_eq!(view.ok(200)["participation"]["headcount"], 125);
    // The 126 people of the electorate (resident-a too) were told of the opening once each,
    // in chunks of 100 while the ballots came in, with a second pass racing the first.
    let state = yishi::state::AppState::new(
        app.db.clone(),
        std::sync::Arc::new(yishi::config::Settings::default()),
    );
    yishi::voting::service::mail_due_openings(&state)
        .await
        .unwrap();
    let poll_id: uuid::Uuid = p.parse().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let notices = yishi::entities::notification::Entity::find()
            .filter(yishi::entities::notification::Column::ObjectId.eq(poll_id))
            .filter(yishi::entities::notification::Column::Kind.eq("poll_opened"))
            .all(&app.db.conn)
            .await
            .unwrap();
        let mut people: Vec<uuid::Uuid> = notices.iter().map(|n| n.user_id).collect();
        people.sort();
        people.dedup();
        assert_eq!(people.len(), notices.len(), "nobody is told twice");
        if notices.len() == 126 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of 126 told",
            notices.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Ballots written in shared transactions still form intact chains, one entry each.
    let report = app.get("/audit/verify", Some(&w.admin)).await;
    assert_eq!(report.ok(200)["intact"], true, "{}", report.body);
    let one = app
        .get(
            &format!("/audit/entries?object_type=poll&object_id={p}"),
            Some(&w.admin),
        )
        .await;
    assert!(
        one.ok(200)
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "poll.opened")
    );

    // The idempotent retry: a new voter sends the same request five times at once with one key.
    let late = app.residents(&w.admin, &w.community_a, 1).await;
    let p2 = poll(
        &app,
        &w,
        json!({ "kind": "yes_no", "electorate": "residents" }),
    )
    .await;
    open(&app, &w.committee_a, &p2).await;
    let key = uuid::Uuid::new_v4().to_string();
    let send = || {
        app.client
            .post(app.url(&format!("/polls/{p2}/ballots")))
            .bearer_auth(&late[0].0)
            .header("Idempotency-Key", &key)
            .json(&json!({ "choices": ["yes"] }))
            .send()
    };
    let replies = futures_util::future::join_all((0..5).map(|_| send())).await;
    let mut bodies = Vec::new();
    let mut created = 0;
    for r in replies {
        let a = TestApp::answer(r.unwrap()).await;
        assert!(matches!(a.status.as_u16(), 200 | 201), "{}", a.body);
        if a.status.as_u16() == 201 {
            created += 1;
        }
        bodies.push(a.body);
    }
    assert_eq!(created, 1);
    assert!(bodies.iter().all(|b| b["receipt"] == bodies[0]["receipt"]));
    let again = TestApp::answer(send().await.unwrap()).await;
    assert_eq!(again.ok(200)["receipt"], bodies[0]["receipt"]);
    // Another key is another request: refused as a second ballot.
    let other = app
        .client
        .post(app.url(&format!("/polls/{p2}/ballots")))
        .bearer_auth(&late[0].0)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&json!({ "choices": ["no"] }))
        .send()
        .await
        .unwrap();
    TestApp::answer(other).await.problem(409, "already_voted");
    let short = app
        .client
        .post(app.url(&format!("/polls/{p2}/ballots")))
        .bearer_auth(&late[0].0)
        .header("Idempotency-Key", "abc")
        .json(&json!({ "choices": ["no"] }))
        .send()
        .await
        .unwrap();
    TestApp::answer(short)
        .await
        .problem(422, "invalid_idempotency_key");
    let closed = close(&app, &w.committee_a, &p2).await;
    assert_eq!(closed["result"]["participants"]["headcount"], 1);
}

#[tokio::test]
async fn proxies_and_assisted_ballots_under_the_two_person_rule() {
    let app = spawn_app().await;
    let w = app.world().await;
    let people = app.residents(&w.admin, &w.community_a, 5).await;
    let p = poll(
        &app,
        &w,
        json!({ "kind": "yes_no", "electorate": "residents" }),
    )
    .await;
    open(&app, &w.committee_a, &p).await;
    let me = |t: &str| {
        let t = t.to_string();
        let app = &app;
        async move {
            app.get("/accounts/me", Some(&t)).await.body["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    // people[0] authorises people[1] in writing.
    let proxy = app
        .post(
            &format!("/polls/{p}/proxies"),
            Some(&people[0].0),
            json!({ "proxy_email": people[1].1, "reference": "委托书 2026-017" }),
        )
        .await;
    let proxy_id = id(proxy.ok(201));
    let view = app.get(&format!("/polls/{p}"), Some(&people[1].0)).await;
    let voters = view.ok(200)["my_voters"].as_array().unwrap().clone();
    assert_eq!(voters.len(), 2);
    let for_owner = voters.iter().find(|v| !v["proxy_for"].is_null()).unwrap();
    let owner_voter = for_owner["voter_id"].as_str().unwrap().to_string();
    let cast = app
        .post(
            &format!("/polls/{p}/ballots"),
            Some(&people[1].0),
            json!({ "choices": ["yes"], "voter_id": owner_voter }),
        )
        .await;
    assert_eq!(cast.ok(201)["via"], "proxy");
    // The proxy also votes for themself.
    vote(&app, &people[1].0, &p, json!(["no"])).await;
    app.smtp
        .wait_matching(&people[0].1, 1, Duration::from_secs(10), |m| {
            m.subject().contains("代您投票")
        })
        .await;
    app.post(
        &format!("/proxies/{proxy_id}/revoke"),
        Some(&people[0].0),
        json!({}),
    )
    .await
    .problem(409, "proxy_used");
    // A proxy revoked before use carries no ballot.
    let p2 = poll(
        &app,
        &w,
        json!({ "kind": "yes_no", "electorate": "residents" }),
    )
    .await;
    open(&app, &w.committee_a, &p2).await;
    let revoked = id(app
        .post(
            &format!("/polls/{p2}/proxies"),
            Some(&people[0].0),
            json!({ "proxy_email": people[1].1, "reference": "委托书 2026-018" }),
        )
        .await
        .ok(201));
    app.post(
        &format!("/proxies/{revoked}/revoke"),
        Some(&people[1].0),
        json!({}),
    )
    .await
    .problem(404, "proxy_not_found");
    app.post(
        &format!("/proxies/{revoked}/revoke"),
        Some(&people[0].0),
        json!({}),
    )
    .await
    .ok(200);
    let view = app.get(&format!("/polls/{p2}"), Some(&people[1].0)).await;
    assert_eq!(view.ok(200)["my_voters"].as_array().unwrap().len(), 1);

    // Assisted: the grid worker records people[2]'s paper ballot; it waits for a second person.
    let recorded = app
        .post(
            &format!("/polls/{p}/assisted-ballots"),
            Some(&w.grid_worker_a),
            json!({ "voter_email": people[2].1, "paper_reference": "纸质票 A-001", "choices": ["yes"] }),
        )
        .await;
    let a1 = id(recorded.ok(201));
    assert_eq!(recorded.body["status"], "pending");
    app.post(
        &format!("/polls/{p}/assisted-ballots"),
        Some(&people[3].0),
        json!({ "voter_email": people[4].1, "paper_reference": "X", "choices": ["yes"] }),
    )
    .await
    .problem(403, "forbidden");
    let queue = app
        .get(
            &format!("/polls/{p}/assisted-ballots"),
            Some(&w.committee_a),
        )
        .await;
    assert_eq!(queue.ok(200)[0]["status"], "pending");
    let view = app.get(&format!("/polls/{p}"), Some(&w.committee_a)).await;
    assert_eq!(
        view.body["participation"]["headcount"], 2,
        "not counted before confirmation"
    );
    app.post(
        &format!("/assisted-ballots/{a1}/confirm"),
        Some(&w.grid_worker_a),
        json!({}),
    )
    .await
    .problem(403, "forbidden");
    let confirmed = app
        .post(
            &format!("/assisted-ballots/{a1}/confirm"),
            Some(&w.committee_a),
            json!({}),
        )
        .await;
    assert_eq!(confirmed.ok(200)["status"], "counted");
    app.smtp
        .wait_matching(&people[2].1, 1, Duration::from_secs(10), |m| {
            m.subject().contains("纸质选票")
        })
        .await;
    // The voter cannot also vote online.
    app.post(
        &format!("/polls/{p}/ballots"),
        Some(&people[2].0),
        json!({ "choices": ["no"] }),
    )
    .await
    .problem(409, "already_voted");
    // people[3] voted online first: their paper ballot is kept, flagged, and not counted.
    vote(&app, &people[3].0, &p, json!(["no"])).await;
    let dup = app
        .post(
            &format!("/polls/{p}/assisted-ballots"),
            Some(&w.grid_worker_a),
            json!({ "voter_email": people[3].1, "paper_reference": "纸质票 A-002", "choices": ["yes"] }),
        )
        .await;
    assert_eq!(dup.ok(201)["status"], "duplicate");
    assert_eq!(dup.body["flag"], "already_voted");
    // people[4]'s paper ballot is recorded, then they vote online before anyone confirms:
    // the online ballot counts and the paper one is superseded.
    let a3 = id(app
        .post(
            &format!("/polls/{p}/assisted-ballots"),
            Some(&w.grid_worker_a),
            json!({ "voter_email": people[4].1, "paper_reference": "纸质票 A-003", "choices": ["yes"] }),
        )
        .await
        .ok(201));
    vote(&app, &people[4].0, &p, json!(["no"])).await;
    let late = app
        .post(
            &format!("/assisted-ballots/{a3}/confirm"),
            Some(&w.committee_a),
            json!({}),
        )
        .await;
    assert_eq!(late.ok(200)["status"], "superseded");
    assert_eq!(late.body["flag"], "voted_online_before_confirmation");
    app.post(
        &format!("/assisted-ballots/{a3}/confirm"),
        Some(&w.secretary_a),
        json!({}),
    )
    .await
    .problem(409, "assisted_decided");
    let r = close(&app, &w.committee_a, &p).await["result"].clone();
    // people[0] yes (proxy), [1] no, [2] yes (paper), [3] no, [4] no.
    assert_eq!(option(&r, "yes")["headcount"], 2);
    assert_eq!(option(&r, "no")["headcount"], 3);
    let _ = me;
}

#[tokio::test]
async fn bad_poll_definitions_are_refused() {
    let app = spawn_app().await;
    let w = app.world().await;
    let post = |body: Value| {
        let mut b = json!({ "community_id": w.community_a, "question": "问题" });
        b.as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        app.post("/polls", Some(&w.committee_a), b)
    };
    post(json!({ "kind": "yes_no", "electorate": "residents", "options": ["a", "b"] }))
        .await
        .problem(422, "invalid_options");
    post(json!({ "kind": "single", "electorate": "residents", "options": ["a"] }))
        .await
        .problem(422, "invalid_options");
    post(json!({ "kind": "single", "electorate": "residents", "options": ["a", "a"] }))
        .await
        .problem(422, "invalid_options");
    post(json!({ "kind": "multiple", "electorate": "residents", "options": ["a", "b"], "max_choices": 3 })).await.problem(422, "invalid_max_choices");
    post(json!({ "kind": "yes_no", "electorate": "residents", "preset": "owners_major" }))
        .await
        .problem(422, "invalid_rule");
    post(json!({ "kind": "yes_no", "electorate": "owners", "preset": "owners_major",
                 "rule": { "threshold": { "num": 1, "den": 2, "strict": true }, "base": "cast", "measure": "headcount" } })).await.problem(422, "invalid_rule");
    post(json!({ "kind": "yes_no", "electorate": "residents",
                 "rule": { "threshold": { "num": 1, "den": 0, "strict": true }, "base": "cast", "measure": "headcount" } })).await.problem(422, "invalid_rule");
    post(json!({ "kind": "yes_no", "electorate": "residents",
                 "rule": { "threshold": { "num": 3, "den": 2, "strict": false }, "base": "cast", "measure": "headcount" } })).await.problem(422, "invalid_rule");
    post(
        json!({ "kind": "yes_no", "electorate": "residents", "secret": true, "show_tally": true }),
    )
    .await
    .problem(422, "invalid_tally");
    post(json!({ "kind": "yes_no", "electorate": "attendees" }))
        .await
        .problem(422, "invalid_electorate");
    post(
        json!({ "kind": "yes_no", "electorate": "residents", "closes_at": "2020-01-01T00:00:00Z" }),
    )
    .await
    .problem(422, "invalid_times");
    post(json!({ "kind": "yes_no", "electorate": "everyone" }))
        .await
        .problem(400, "invalid_request");
    post(json!({ "kind": "yes_no", "electorate": "residents", "question": "" }))
        .await
        .problem(422, "invalid_question");
    app.post("/polls", Some(&w.resident_a), json!({ "community_id": w.community_a, "question": "q", "kind": "yes_no", "electorate": "residents" }))
        .await
        .problem(403, "forbidden");
    app.post("/polls", Some(&w.committee_b), json!({ "community_id": w.community_a, "question": "q", "kind": "yes_no", "electorate": "residents" }))
        .await
        .problem(403, "forbidden");
    // Nobody in the electorate: the poll cannot open.
    let owners_poll = id(
        post(json!({ "kind": "yes_no", "electorate": "households" }))
            .await
            .ok(201),
    );
    let empty = id(app
        .post("/polls", Some(&w.committee_b), json!({ "community_id": w.community_b, "question": "q", "kind": "yes_no", "electorate": "residents" }))
        .await
        .ok(201));
    app.post(
        &format!("/polls/{empty}/open"),
        Some(&w.committee_b),
        json!({}),
    )
    .await
    .problem(409, "empty_electorate");
    // The failed opening left the poll a draft.
    let still = app
        .get(&format!("/polls/{empty}"), Some(&w.committee_b))
        .await;
    assert_eq!(still.ok(200)["status"], "draft");
    app.post(
        &format!("/polls/{owners_poll}/cancel"),
        Some(&w.committee_a),
        json!({ "reason": " " }),
    )
    .await
    .problem(422, "reason_required");
    let cancelled = app
        .post(
            &format!("/polls/{owners_poll}/cancel"),
            Some(&w.committee_a),
            json!({ "reason": "议题撤回" }),
        )
        .await;
    assert_eq!(cancelled.ok(200)["status"], "cancelled");
    app.post(
        &format!("/polls/{owners_poll}/open"),
        Some(&w.committee_a),
        json!({}),
    )
    .await
    .problem(409, "invalid_transition");
}

/// Waits until the session's room holds an event of `kind` about `poll`; returns it.
async fn room_event(app: &TestApp, token: &str, sid: &str, kind: &str, poll: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let events = app
            .get(&format!("/sessions/{sid}/events?limit=1000"), Some(token))
            .await;
        if let Some(e) = events
            .ok(200)
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == kind && e["payload"]["poll_id"] == poll)
        {
            return e.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {kind} event for {poll} in the room"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn session_polls_of_attendees_and_invited_organisations_in_the_live_room() {
    let app = spawn_app().await;
    let w = app.world().await;
    let people = app.residents(&w.admin, &w.community_a, 3).await;
    let firm = id(app
        .post("/organisations", Some(&w.committee_a), json!({ "kind": "property_management_firm", "name": "锦绣物业", "place_id": w.community_a }))
        .await
        .ok(201));
    let rep_email = format!("rep-{}@example.org", uuid::Uuid::new_v4().simple());
    let rep = app.verified_user(&rep_email, "陈经理").await;
    app.post(
        &format!("/organisations/{firm}/members"),
        Some(&w.committee_a),
        json!({ "email": rep_email, "role": "representative" }),
    )
    .await
    .ok(200);
    let session = crate::sessions::convene(
        &app,
        &w,
        json!({ "all_residents": true, "organisation_ids": [firm] }),
    )
    .await;
    let sid = id(&session);
    let item = session["agenda"][0]["id"].as_str().unwrap().to_string();
    let attendees = id(app
        .post(
            "/polls",
            Some(&w.secretary_a),
            json!({
            "session_id": sid, "agenda_item_id": item, "question": "同意物业的路灯维修方案吗？",
            "kind": "yes_no", "electorate": "attendees", "preset": "residents_meeting",
            "show_tally": true }),
        )
        .await
        .ok(201));
    // Polls of a session open while it is open.
    app.post(
        &format!("/polls/{attendees}/open"),
        Some(&w.secretary_a),
        json!({}),
    )
    .await
    .problem(409, "session_not_open");
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
    for p in &people[..2] {
        app.post(
            &format!("/sessions/{sid}/attendance"),
            Some(&w.grid_worker_a),
            json!({ "email": p.1 }),
        )
        .await
        .ok(200);
    }
    let opened = open(&app, &w.secretary_a, &attendees).await;
    assert_eq!(opened["electorate_size"]["headcount"], 2);
    let announced = room_event(&app, &people[0].0, &sid, "poll.opened", &attendees).await;
    assert_eq!(announced["payload"]["agenda_item_id"], item.as_str());
    // Absent people are not in the attendees' electorate.
    app.post(
        &format!("/polls/{attendees}/ballots"),
        Some(&people[2].0),
        json!({ "choices": ["yes"] }),
    )
    .await
    .problem(403, "forbidden");
    vote(&app, &people[0].0, &attendees, json!(["yes"])).await;
    // The room gets the running tally, coalesced.
    let tally = room_event(&app, &people[0].0, &sid, "poll.tally", &attendees).await;
    assert_eq!(tally["payload"]["participants"]["headcount"], 1);
    vote(&app, &people[1].0, &attendees, json!(["yes"])).await;

    // The invited organisation has one ballot, cast by its representative.
    let orgs = id(app
        .post(
            "/polls",
            Some(&w.secretary_a),
            json!({
            "session_id": sid, "question": "物业是否承诺一个月内完工？", "kind": "yes_no",
            "electorate": "organisations" }),
        )
        .await
        .ok(201));
    let opened = open(&app, &w.secretary_a, &orgs).await;
    assert_eq!(opened["electorate_size"]["headcount"], 1);
    let mine = app.get(&format!("/polls/{orgs}"), Some(&rep)).await;
    assert_eq!(mine.ok(200)["my_voters"][0]["label"], "锦绣物业");
    vote(&app, &rep, &orgs, json!(["yes"])).await;

    close(&app, &w.secretary_a, &attendees).await;
    close(&app, &w.secretary_a, &orgs).await;
    let closed = room_event(&app, &people[1].0, &sid, "poll.closed", &attendees).await;
    assert_eq!(closed["payload"]["result"]["passed"], true);
    // The minutes record both votes.
    app.post(
        &format!("/sessions/{sid}/close"),
        Some(&w.secretary_a),
        json!({}),
    )
    .await
    .ok(200);
    let minutes = app.get(&format!("/sessions/{sid}/minutes"), None).await;
    let votes = minutes.ok(200)["votes"].as_array().unwrap().clone();
    assert_eq!(votes.len(), 2);
    assert_eq!(votes[0]["passed"], true);
    assert_eq!(votes[0]["participants"], 2);
    // A closed session takes no new polls.
    app.post(
        "/polls",
        Some(&w.secretary_a),
        json!({ "session_id": sid, "question": "q", "kind": "yes_no", "electorate": "attendees" }),
    )
    .await
    .problem(409, "session_ended");
}

#[tokio::test]
async fn the_residents_of_a_grid_as_an_electorate() {
    let app = spawn_app().await;
    let w = app.world().await;
    let building_b2 = id(app
        .post(
            &format!("/communities/{}/buildings", w.community_a),
            Some(&w.committee_a),
            json!({ "name": "2号楼" }),
        )
        .await
        .ok(201));
    app.post(
        &format!("/communities/{}/units", w.community_a),
        Some(&w.committee_a),
        json!({ "building_id": building_b2, "number": "101", "area_centi": 7000 }),
    )
    .await
    .ok(201);
    // Two households in 1号楼 and one in 2号楼 join and are verified.
    let mut tokens = Vec::new();
    for (building, number) in [("1号楼", "101"), ("1号楼", "102"), ("2号楼", "101")] {
        let email = format!("home-{}@example.org", uuid::Uuid::new_v4().simple());
        let token = app.verified_user(&email, "住户").await;
        let m = id(app
            .post(
                &format!("/communities/{}/memberships", w.community_a),
                Some(&token),
                json!({ "building": building, "unit_number": number, "household": true }),
            )
            .await
            .ok(201));
        app.post(
            &format!("/memberships/{m}/decision"),
            Some(&w.committee_a),
            json!({ "verdict": "verify", "household": true }),
        )
        .await
        .ok(200);
        tokens.push(token);
    }
    // 1号楼 belongs to the first grid.
    app.call(
        reqwest::Method::PUT,
        &format!("/buildings/{}/grid", w.building_a),
        Some(&w.resident_a),
        Some(json!({ "grid_id": w.grid_a })),
    )
    .await
    .problem(403, "forbidden");
    app.call(
        reqwest::Method::PUT,
        &format!("/buildings/{}/grid", w.building_a),
        Some(&w.committee_a),
        Some(json!({ "grid_id": w.community_b })),
    )
    .await
    .problem(422, "invalid_grid");
    let assigned = app
        .call(
            reqwest::Method::PUT,
            &format!("/buildings/{}/grid", w.building_a),
            Some(&w.committee_a),
            Some(json!({ "grid_id": w.grid_a })),
        )
        .await;
    assert_eq!(assigned.ok(200)["grid_id"], w.grid_a.as_str());
    app.post("/polls", Some(&w.committee_a), json!({ "community_id": w.community_a, "question": "q", "kind": "yes_no", "electorate": "owners", "grid_ids": [w.grid_a] }))
        .await
        .problem(422, "invalid_electorate");
    let p = poll(
        &app,
        &w,
        json!({ "kind": "yes_no", "electorate": "residents", "grid_ids": [w.grid_a] }),
    )
    .await;
    let opened = open(&app, &w.committee_a, &p).await;
    assert_eq!(opened["electorate_size"]["headcount"], 2);
    assert_eq!(opened["grid_ids"], json!([w.grid_a]));
    vote(&app, &tokens[0], &p, json!(["yes"])).await;
    app.post(
        &format!("/polls/{p}/ballots"),
        Some(&tokens[2]),
        json!({ "choices": ["yes"] }),
    )
    .await
    .problem(403, "forbidden");
    // The whole community's households: the three units with verified residents. Resident-a
    // holds the role without a unit: on the register in no household, which the preview lists
    // for the committee instead of counting them as a household of their own.
    let preview = app
        .get(
            &format!(
                "/communities/{}/register/electorate?electorate=households",
                w.community_a
            ),
            Some(&w.committee_a),
        )
        .await;
    assert_eq!(preview.ok(200)["headcount"], 3);
    let homeless = preview.body["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "person_without_household")
        .expect("resident-a is listed");
    assert!(homeless["subject"].as_str().unwrap().contains("resident-a"));
    let all = poll(
        &app,
        &w,
        json!({ "kind": "yes_no", "electorate": "households" }),
    )
    .await;
    assert_eq!(
        open(&app, &w.committee_a, &all).await["electorate_size"]["headcount"],
        3
    );
}

#[tokio::test]
async fn a_ballot_read_as_open_but_written_after_the_close_is_refused_not_lost() {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let app = spawn_app().await;
    let w = app.world().await;
    let people = app.residents(&w.admin, &w.community_a, 2).await;
    let p = poll(
        &app,
        &w,
        json!({ "kind": "yes_no", "electorate": "residents" }),
    )
    .await;
    open(&app, &w.committee_a, &p).await;
    let poll_id: uuid::Uuid = p.parse().unwrap();
    let me = app
        .get("/accounts/me", Some(&people[0].0))
        .await
        .ok(200)
        .clone();
    let user_id: uuid::Uuid = me["id"].as_str().unwrap().parse().unwrap();
    let link = yishi::entities::poll_voter_person::Entity::find()
        .filter(yishi::entities::poll_voter_person::Column::PollId.eq(poll_id))
        .filter(yishi::entities::poll_voter_person::Column::UserId.eq(user_id))
        .one(&app.db.conn)
        .await
        .unwrap()
        .expect("the resident is in the electorate");
    // The ballot was read while the poll was open; the close commits before it is written.
    close(&app, &w.committee_a, &p).await;
    let state = yishi::state::AppState::new(
        app.db.clone(),
        std::sync::Arc::new(yishi::config::Settings::default()),
    );
    let written = state
        .ballots
        .submit(
            &state,
            yishi::voting::writer::Job {
                poll_id,
                secret: false,
                voter_id: link.voter_id,
                area_centi: 0,
                choices: vec!["yes".into()],
                cast_by: user_id,
                receipt: "late-receipt".into(),
                request: None,
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(written, yishi::voting::writer::Written::Closed),
        "{written:?}"
    );
    let stored = yishi::entities::ballot::Entity::find()
        .filter(yishi::entities::ballot::Column::PollId.eq(poll_id))
        .count(&app.db.conn)
        .await
        .unwrap();
    assert_eq!(stored, 0, "nothing is stored after the close");
    let view = app.get(&format!("/polls/{p}"), Some(&w.committee_a)).await;
    assert_eq!(view.ok(200)["participation"]["headcount"], 0);
    // Through the API, a ballot after the close is refused.
    app.post(
        &format!("/polls/{p}/ballots"),
        Some(&people[1].0),
        json!({ "choices": ["yes"] }),
    )
    .await
    .problem(409, "poll_not_open");
}
