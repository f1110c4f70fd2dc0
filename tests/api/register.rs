//! The community register: persons, households and owners decide, not accounts.

use serde_json::{Value, json};

use crate::support::{TestApp, World, id, resident_id, spawn_app};

pub(crate) async fn unit(
    app: &TestApp,
    w: &World,
    number: &str,
    area: i64,
    developer: bool,
) -> String {
    id(app
        .post(
            &format!("/communities/{}/units", w.community_a),
            Some(&w.committee_a),
            json!({ "building_id": w.building_a, "number": number, "area_centi": area,
                    "developer_held": developer }),
        )
        .await
        .ok(201))
}

pub(crate) async fn person(app: &TestApp, w: &World, body: Value) -> String {
    id(app
        .post(
            &format!("/communities/{}/register/persons", w.community_a),
            Some(&w.committee_a),
            body,
        )
        .await
        .ok(201))
}

pub(crate) async fn owner(app: &TestApp, w: &World, body: Value) -> String {
    id(app
        .post(
            &format!("/communities/{}/register/owners", w.community_a),
            Some(&w.committee_a),
            body,
        )
        .await
        .ok(201))
}

pub(crate) async fn own(app: &TestApp, w: &World, unit: &str, owner: &str) {
    app.call(
        reqwest::Method::PUT,
        &format!("/units/{unit}/owner"),
        Some(&w.committee_a),
        Some(json!({ "owner_id": owner, "reason": "不动产权登记" })),
    )
    .await
    .ok(200);
}

pub(crate) async fn household(app: &TestApp, w: &World, unit: &str) -> String {
    id(app
        .post(
            &format!("/communities/{}/register/households", w.community_a),
            Some(&w.committee_a),
            json!({ "unit_id": unit }),
        )
        .await
        .ok(201))
}

/// A new account that asks to join at `number` (as owner and/or household); its token and the
/// membership request.
pub(crate) async fn join(
    app: &TestApp,
    w: &World,
    name: &str,
    number: &str,
    claim: Value,
) -> (String, String) {
    let email = format!("p-{}@example.org", uuid::Uuid::new_v4().simple());
    let token = app.verified_user(&email, name).await;
    let mut body = json!({ "building": "1号楼", "unit_number": number });
    body.as_object_mut()
        .unwrap()
        .extend(claim.as_object().unwrap().clone());
    let m = id(app
        .post(
            &format!("/communities/{}/memberships", w.community_a),
            Some(&token),
            body,
        )
        .await
        .ok(201));
    (token, m)
}

pub(crate) async fn decide(
    app: &TestApp,
    w: &World,
    membership: &str,
    body: Value,
) -> crate::support::Answer {
    app.post(
        &format!("/memberships/{membership}/decision"),
        Some(&w.committee_a),
        body,
    )
    .await
}

async fn poll(app: &TestApp, w: &World, body: Value) -> String {
    let mut b = json!({ "community_id": w.community_a, "question": "是否同意更换小区大门？" });
    b.as_object_mut()
        .unwrap()
        .extend(body.as_object().unwrap().clone());
    let p = id(app.post("/polls", Some(&w.committee_a), b).await.ok(201));
    app.post(&format!("/polls/{p}/open"), Some(&w.committee_a), json!({}))
        .await
        .ok(200);
    p
}

async fn vote(app: &TestApp, token: &str, poll: &str, choice: &str) -> crate::support::Answer {
    app.post(
        &format!("/polls/{poll}/ballots"),
        Some(token),
        json!({ "choices": [choice] }),
    )
    .await
}

fn option<'a>(result: &'a Value, option_id: &str) -> &'a Value {
    result["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == option_id)
        .expect("the option in the result")
}

#[tokio::test]
async fn owners_are_told_apart_by_who_they_are_not_by_their_names() {
    let app = spawn_app().await;
    let w = app.world().await;
    let u201 = unit(&app, &w, "201", 5000, false).await;
    let u202 = unit(&app, &w, "202", 6000, false).await;
    let u203 = unit(&app, &w, "203", 7000, false).await;
    let u204 = unit(&app, &w, "204", 3000, false).await;
    let u205 = unit(&app, &w, "205", 8000, false).await;
    unit(&app, &w, "206", 4000, false).await;
    unit(&app, &w, "207", 4500, false).await;
    let u301 = unit(&app, &w, "301", 9000, true).await;
    let u302 = unit(&app, &w, "302", 9500, true).await;

    // Two different owners called 王伟, told apart by their documents.
    let (doc_a, doc_b) = (resident_id(1), resident_id(2));
    let wang_a = person(
        &app,
        &w,
        json!({ "name": "王伟", "document_kind": "resident_id", "document_number": doc_a }),
    )
    .await;
    let wang_b = person(
        &app,
        &w,
        json!({ "name": "王伟", "document_kind": "resident_id", "document_number": doc_b }),
    )
    .await;
    let owner_a = owner(&app, &w, json!({ "person_ids": [wang_a] })).await;
    let owner_b = owner(&app, &w, json!({ "person_ids": [wang_b] })).await;
    own(&app, &w, &u201, &owner_a).await;
    own(&app, &w, &u202, &owner_b).await;
    // One owner, 张三, of two units; written "张 三" in full width with the same document, they
    // are the same person, and the register says so.
    let doc_z = resident_id(3);
    let zhang = person(
        &app,
        &w,
        json!({ "name": "张三", "document_kind": "resident_id", "document_number": doc_z }),
    )
    .await;
    let spaced: String = doc_z
        .chars()
        .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
        .collect();
    app.post(
        &format!("/communities/{}/register/persons", w.community_a),
        Some(&w.committee_a),
        json!({ "name": "张 三", "document_kind": "resident_id", "document_number": spaced }),
    )
    .await
    .problem(409, "person_exists");
    let owner_z = owner(&app, &w, json!({ "person_ids": [zhang] })).await;
    own(&app, &w, &u203, &owner_z).await;
    own(&app, &w, &u204, &owner_z).await;
    // The same person twice is the same owner.
    app.post(
        &format!("/communities/{}/register/owners", w.community_a),
        Some(&w.committee_a),
        json!({ "person_ids": [zhang] }),
    )
    .await
    .problem(409, "owner_exists");
    // Co-owners of 205: one head; 李 votes for both.
    let li = person(&app, &w, json!({ "name": "李娜", "document_kind": "resident_id", "document_number": resident_id(4) })).await;
    let zhao = person(&app, &w, json!({ "name": "赵强", "document_kind": "resident_id", "document_number": resident_id(5) })).await;
    let co = owner(
        &app,
        &w,
        json!({ "person_ids": [li, zhao], "representative_id": li }),
    )
    .await;
    own(&app, &w, &u205, &co).await;
    // The developer's unsold units: one head.
    let dev = owner(&app, &w, json!({ "kind": "developer", "name": "望湖置业" })).await;
    own(&app, &w, &u301, &dev).await;
    own(&app, &w, &u302, &dev).await;

    // The accounts: verified against the register.
    let (t_b, m_b) = join(&app, &w, "王伟", "202", json!({ "owner": true })).await;
    decide(&app, &w, &m_b, json!({ "verdict": "verify", "owner": true, "person_id": wang_a, "document_last4": &doc_b[14..] }))
        .await
        .problem(422, "evidence_mismatch");
    decide(&app, &w, &m_b, json!({ "verdict": "verify", "owner": true, "person_id": wang_a, "document_last4": &doc_a[14..] }))
        .await
        .problem(409, "owner_mismatch");
    decide(&app, &w, &m_b, json!({ "verdict": "verify", "owner": true, "person_id": wang_b, "document_last4": &doc_b[14..] }))
        .await
        .ok(200);
    let (t_a, m_a) = join(&app, &w, "王伟", "201", json!({ "owner": true })).await;
    decide(&app, &w, &m_a, json!({ "verdict": "verify", "owner": true, "person_id": wang_a, "document_last4": doc_a[14..].to_lowercase() }))
        .await
        .ok(200);
    // A third account cannot take a person who already has one.
    let (_, m_x) = join(&app, &w, "王伟", "201", json!({ "owner": true })).await;
    decide(&app, &w, &m_x, json!({ "verdict": "verify", "owner": true, "person_id": wang_a, "document_last4": &doc_a[14..] }))
        .await
        .problem(409, "person_has_account");
    let (t_li, m_li) = join(&app, &w, "李娜", "205", json!({ "owner": true })).await;
    decide(&app, &w, &m_li, json!({ "verdict": "verify", "owner": true, "person_id": li, "document_last4": &resident_id(4)[14..] }))
        .await
        .ok(200);
    let (t_zhao, m_zhao) = join(&app, &w, "赵强", "205", json!({ "owner": true })).await;
    decide(&app, &w, &m_zhao, json!({ "verdict": "verify", "owner": true, "person_id": zhao, "document_last4": &resident_id(5)[14..] }))
        .await
        .ok(200);
    // 钱 is verified as owner of two units no owner was recorded for: both count with them.
    let (t_qian, m_q1) = join(&app, &w, "钱敏", "206", json!({ "owner": true })).await;
    decide(
        &app,
        &w,
        &m_q1,
        json!({ "verdict": "verify", "owner": true }),
    )
    .await
    .ok(200);
    let m_q2 = id(app
        .post(
            &format!("/communities/{}/memberships", w.community_a),
            Some(&t_qian),
            json!({ "building": "1号楼", "unit_number": "207", "owner": true }),
        )
        .await
        .ok(201));
    decide(
        &app,
        &w,
        &m_q2,
        json!({ "verdict": "verify", "owner": true }),
    )
    .await
    .ok(200);
    let owners = app
        .get(
            &format!("/communities/{}/register/owners", w.community_a),
            Some(&w.committee_a),
        )
        .await;
    let qian = owners
        .ok(200)
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "钱敏")
        .unwrap()
        .clone();
    assert_eq!(qian["area_centi"], 8500);
    assert_eq!(qian["units"].as_array().unwrap().len(), 2);

    // 101 and 102 (no owner recorded), 王伟 ×2, 张三 (203 + 204), 李娜+赵强, 钱敏 (206 + 207),
    // the developer (301 + 302).
    let preview = app
        .get(
            &format!(
                "/communities/{}/register/electorate?electorate=owners",
                w.community_a
            ),
            Some(&w.committee_a),
        )
        .await;
    assert_eq!(preview.ok(200)["headcount"], 8);
    assert_eq!(preview.body["area_centi"], 17_100 + 56_000);
    assert_eq!(preview.body["heads_with_account"], 4);
    assert!(
        preview.body["anomalies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "unit_without_owner")
    );
    let p = poll(
        &app,
        &w,
        json!({ "kind": "yes_no", "electorate": "owners",
                "rule": { "threshold": { "num": 1, "den": 2, "strict": true }, "base": "participants", "measure": "both" } }),
    )
    .await;
    let opened = app.get(&format!("/polls/{p}"), Some(&t_a)).await;
    assert_eq!(opened.ok(200)["electorate_size"]["headcount"], 8);
    assert_eq!(opened.body["electorate_size"]["area_centi"], 73_100);
    assert_eq!(opened.body["my_voters"][0]["area_centi"], 5000);

    // Each 王伟 votes for themself; neither reads or changes the other's ballot.
    vote(&app, &t_a, &p, "yes").await.ok(201);
    vote(&app, &t_b, &p, "no").await.ok(201);
    app.call(
        reqwest::Method::PUT,
        &format!("/polls/{p}/ballot"),
        Some(&t_b),
        Some(json!({ "choices": ["abstain"] })),
    )
    .await
    .ok(200);
    let mine_a = app.get(&format!("/polls/{p}/ballot"), Some(&t_a)).await;
    assert_eq!(mine_a.ok(200)[0]["choices"], json!(["yes"]));
    let mine_b = app.get(&format!("/polls/{p}/ballot"), Some(&t_b)).await;
    assert_eq!(mine_b.ok(200)[0]["choices"], json!(["abstain"]));
    // Co-owners: the representative votes; the other co-owner is not the one who casts.
    vote(&app, &t_zhao, &p, "yes")
        .await
        .problem(403, "forbidden");
    vote(&app, &t_li, &p, "yes").await.ok(201);
    vote(&app, &t_qian, &p, "no").await.ok(201);
    let closed = app
        .post(
            &format!("/polls/{p}/close"),
            Some(&w.committee_a),
            json!({}),
        )
        .await;
    let r = closed.ok(200)["result"].clone();
    assert_eq!(option(&r, "yes")["headcount"], 2);
    assert_eq!(option(&r, "yes")["area_centi"], 13_000);
    assert_eq!(option(&r, "no")["headcount"], 1);
    assert_eq!(r["participants"]["headcount"], 4);
}

#[tokio::test]
async fn a_household_vote_counts_the_register_not_the_accounts() {
    let app = spawn_app().await;
    let w = app.world().await;
    // Ten households, one person each (and a child in the first); four have accounts.
    let mut tokens = Vec::new();
    for i in 0..10 {
        let number = format!("5{i:02}");
        let u = unit(&app, &w, &number, 7000, false).await;
        let h = household(&app, &w, &u).await;
        let doc = resident_id(100 + i);
        let p = person(
            &app,
            &w,
            json!({ "name": format!("住户{i}"), "document_kind": "resident_id",
                                         "document_number": doc, "household_id": h }),
        )
        .await;
        if i == 0 {
            person(
                &app,
                &w,
                json!({ "name": "小明", "birth_date": "2016-05-01", "household_id": h }),
            )
            .await;
        }
        if i < 4 {
            let (t, m) = join(
                &app,
                &w,
                &format!("住户{i}"),
                &number,
                json!({ "household": true }),
            )
            .await;
            decide(&app, &w, &m, json!({ "verdict": "verify", "household": true, "person_id": p, "document_last4": &doc[14..] }))
                .await
                .ok(200);
            tokens.push(t);
        }
    }
    let preview = app
        .get(
            &format!(
                "/communities/{}/register/electorate?electorate=households",
                w.community_a
            ),
            Some(&w.grid_worker_a),
        )
        .await;
    assert_eq!(preview.ok(200)["headcount"], 10);
    assert_eq!(preview.body["heads_with_account"], 4);
    // The residents: ten adults here and resident-a (by role, in no household); not the child.
    let residents = app
        .get(
            &format!(
                "/communities/{}/register/electorate?electorate=residents",
                w.community_a
            ),
            Some(&w.committee_a),
        )
        .await;
    assert_eq!(residents.ok(200)["headcount"], 11);

    // A residents' meeting by household: more than half of the 10 must take part.
    for (assisted, quorum) in [(2, true), (1, false)] {
        let p = poll(
            &app,
            &w,
            json!({ "kind": "yes_no", "electorate": "households", "preset": "residents_meeting" }),
        )
        .await;
        for t in &tokens {
            vote(&app, t, &p, "yes").await.ok(201);
        }
        let electors = app
            .get(&format!("/polls/{p}/electors"), Some(&w.grid_worker_a))
            .await;
        let offline: Vec<String> = electors
            .ok(200)
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["voted"] == false)
            .map(|e| e["voter_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(offline.len(), 6);
        for (k, voter) in offline.iter().take(assisted).enumerate() {
            let a = app
                .post(
                    &format!("/polls/{p}/assisted-ballots"),
                    Some(&w.grid_worker_a),
                    json!({ "voter_id": voter, "paper_reference": format!("纸质票-{k}"), "choices": ["no"] }),
                )
                .await;
            let a = id(a.ok(201));
            app.post(
                &format!("/assisted-ballots/{a}/confirm"),
                Some(&w.committee_a),
                json!({}),
            )
            .await
            .ok(200);
        }
        let r = app
            .post(
                &format!("/polls/{p}/close"),
                Some(&w.committee_a),
                json!({}),
            )
            .await
            .ok(200)["result"]
            .clone();
        assert_eq!(r["electorate"]["headcount"], 10);
        assert_eq!(r["participants"]["headcount"], 4 + assisted as u64);
        assert_eq!(r["quorum"]["met"], quorum, "{assisted} assisted: {r}");
        assert_eq!(r["passed"], quorum);
    }
}

#[tokio::test]
async fn the_register_reads_back_as_it_was_and_a_frozen_electorate_stays() {
    let app = spawn_app().await;
    let w = app.world().await;
    let mut people = Vec::new();
    for i in 0..3 {
        let u = unit(&app, &w, &format!("6{i:02}"), 6000, false).await;
        let h = household(&app, &w, &u).await;
        people.push(
            person(
                &app,
                &w,
                json!({ "name": format!("居民{i}"), "household_id": h }),
            )
            .await,
        );
    }
    let path = format!("/communities/{}/register", w.community_a);
    let before = app.get(&path, Some(&w.committee_a)).await.ok(200).clone();
    let moment = chrono::Utc::now();
    // resident-a and the three above.
    let p = poll(
        &app,
        &w,
        json!({ "kind": "yes_no", "electorate": "residents" }),
    )
    .await;
    let opened = app
        .get(&format!("/polls/{p}"), Some(&w.committee_a))
        .await
        .ok(200)
        .clone();
    assert_eq!(opened["electorate_size"]["headcount"], 4);
    assert_eq!(opened["register_seq"], before["seq"]);

    // 居民0 moves out, 居民1 dies, 居民3 moves in.
    app.call(
        reqwest::Method::PATCH,
        &format!("/register/persons/{}", people[0]),
        Some(&w.committee_a),
        Some(json!({ "status": "moved_out", "household_id": null, "reason": "搬离本社区" })),
    )
    .await
    .ok(200);
    app.call(
        reqwest::Method::PATCH,
        &format!("/register/persons/{}", people[1]),
        Some(&w.committee_a),
        Some(json!({ "status": "deceased", "reason": "死亡登记" })),
    )
    .await
    .ok(200);
    person(&app, &w, json!({ "name": "居民3" })).await;
    let after = app.get(&path, Some(&w.committee_a)).await.ok(200).clone();
    assert_ne!(after, before);

    // The register at the earlier version and at the earlier moment: exactly as it was.
    let at_seq = app
        .get(
            &format!("{path}?seq={}", before["seq"]),
            Some(&w.committee_a),
        )
        .await;
    assert_eq!(at_seq.ok(200), &before);
    let as_of = app
        .get(
            &format!("{path}?as_of={}", urlencode(&moment.to_rfc3339())),
            Some(&w.committee_a),
        )
        .await;
    assert_eq!(as_of.ok(200), &before);
    // The open poll's electorate is what it was at opening.
    let still = app.get(&format!("/polls/{p}"), Some(&w.committee_a)).await;
    assert_eq!(still.ok(200)["electorate_size"]["headcount"], 4);
    let electors = app
        .get(&format!("/polls/{p}/electors"), Some(&w.committee_a))
        .await;
    assert!(
        electors
            .ok(200)
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["label"].as_str().unwrap().starts_with("居民0"))
    );
    // A poll opened now counts the register now: resident-a, 居民2 and 居民3.
    let now = poll(
        &app,
        &w,
        json!({ "kind": "yes_no", "electorate": "residents" }),
    )
    .await;
    let now = app
        .get(&format!("/polls/{now}"), Some(&w.committee_a))
        .await;
    assert_eq!(now.ok(200)["electorate_size"]["headcount"], 3);
    // Every change says who made it and why.
    let changes = app
        .get(
            &format!(
                "/communities/{}/register/changes?after={}",
                w.community_a, before["seq"]
            ),
            Some(&w.committee_a),
        )
        .await;
    let reasons: Vec<&str> = changes
        .ok(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["搬离本社区", "死亡登记", "added to the register"]);
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn bad_register_input_and_who_may_read_it() {
    let app = spawn_app().await;
    let w = app.world().await;
    let persons = format!("/communities/{}/register/persons", w.community_a);
    let bad = [
        (
            json!({ "name": "甲", "document_kind": "resident_id", "document_number": "110105194912310021" }),
            422,
            "invalid_document",
        ),
        (
            json!({ "name": "甲", "document_kind": "resident_id" }),
            422,
            "invalid_document",
        ),
        (
            json!({ "name": "甲", "document_number": "E12345678" }),
            422,
            "invalid_document",
        ),
        (json!({ "name": "  " }), 422, "invalid_name"),
        (
            json!({ "name": "甲", "phone": "call me" }),
            422,
            "invalid_phone",
        ),
        (
            json!({ "name": "甲", "birth_date": "2999-01-01" }),
            422,
            "invalid_birth_date",
        ),
        (
            json!({ "name": "甲", "household_id": uuid::Uuid::new_v4() }),
            404,
            "household_not_found",
        ),
        (
            json!({ "name": "甲", "status": "emigrated" }),
            400,
            "invalid_request",
        ),
        (json!({ "name": 5 }), 400, "invalid_request"),
    ];
    for (body, status, code) in bad {
        app.post(&persons, Some(&w.committee_a), body.clone())
            .await
            .problem(status, code);
    }
    // Only those who keep the register write it; residents and outsiders do not read it.
    for token in [&w.resident_a, &w.outsider, &w.grid_worker_a] {
        app.post(&persons, Some(token), json!({ "name": "甲" }))
            .await
            .problem(403, "forbidden");
    }
    for token in [&w.resident_a, &w.outsider, &w.committee_b] {
        app.get(&persons, Some(token))
            .await
            .problem(403, "forbidden");
    }
    app.get(&persons, None)
        .await
        .problem(401, "unauthenticated");
    // A change needs its reason.
    let p = person(&app, &w, json!({ "name": "乙" })).await;
    app.call(
        reqwest::Method::PATCH,
        &format!("/register/persons/{p}"),
        Some(&w.committee_a),
        Some(json!({ "status": "moved_out", "reason": " " })),
    )
    .await
    .problem(422, "reason_required");
    // A household with someone living in it is not dissolved under them.
    let u = unit(&app, &w, "701", 5000, false).await;
    let h = household(&app, &w, &u).await;
    person(&app, &w, json!({ "name": "丙", "household_id": h })).await;
    app.call(
        reqwest::Method::PATCH,
        &format!("/register/households/{h}"),
        Some(&w.committee_a),
        Some(json!({ "status": "dissolved", "reason": "搬走" })),
    )
    .await
    .problem(409, "household_has_members");
    // Owners: shapes, other communities, certificates.
    let owners = format!("/communities/{}/register/owners", w.community_a);
    app.post(&owners, Some(&w.committee_a), json!({ "person_ids": [] }))
        .await
        .problem(422, "invalid_owner_persons");
    app.post(
        &owners,
        Some(&w.committee_a),
        json!({ "person_ids": [uuid::Uuid::new_v4()] }),
    )
    .await
    .problem(422, "invalid_owner_persons");
    app.post(
        &owners,
        Some(&w.committee_a),
        json!({ "kind": "name_only", "name": "某人" }),
    )
    .await
    .problem(422, "invalid_owner_kind");
    app.post(
        &owners,
        Some(&w.committee_a),
        json!({ "person_ids": [p], "representative_id": uuid::Uuid::new_v4() }),
    )
    .await
    .problem(422, "invalid_representative");
    let o = owner(&app, &w, json!({ "person_ids": [p] })).await;
    let u2 = unit(&app, &w, "702", 5000, false).await;
    let cert = json!({ "owner_id": o, "certificate": "临(2021)望湖不动产权第0000001号", "reason": "登记" });
    app.call(
        reqwest::Method::PUT,
        &format!("/units/{u}/owner"),
        Some(&w.committee_a),
        Some(cert.clone()),
    )
    .await
    .ok(200);
    app.call(
        reqwest::Method::PUT,
        &format!("/units/{u2}/owner"),
        Some(&w.committee_a),
        Some(cert),
    )
    .await
    .problem(409, "certificate_in_use");
    let other = app
        .post(
            &format!("/communities/{}/register/persons", w.community_b),
            Some(&w.committee_b),
            json!({ "name": "丁" }),
        )
        .await;
    let other_owner = app
        .post(
            &format!("/communities/{}/register/owners", w.community_b),
            Some(&w.committee_b),
            json!({ "person_ids": [id(other.ok(201))] }),
        )
        .await;
    app.call(
        reqwest::Method::PUT,
        &format!("/units/{u2}/owner"),
        Some(&w.committee_a),
        Some(json!({ "owner_id": id(other_owner.ok(201)), "reason": "登记" })),
    )
    .await
    .problem(404, "owner_not_found");
    app.call(
        reqwest::Method::PUT,
        &format!("/units/{u2}/owner"),
        Some(&w.committee_b),
        Some(json!({ "owner_id": o, "reason": "登记" })),
    )
    .await
    .problem(403, "forbidden");
    app.get(
        &format!(
            "/communities/{}/register?seq=1&as_of=2026-01-01T00:00:00Z",
            w.community_a
        ),
        Some(&w.committee_a),
    )
    .await
    .problem(422, "invalid_version");

    // A grid worker reads the persons of their grid, and no one else's.
    let b2 = id(app
        .post(
            &format!("/communities/{}/buildings", w.community_a),
            Some(&w.committee_a),
            json!({ "name": "2号楼" }),
        )
        .await
        .ok(201));
    app.call(
        reqwest::Method::PUT,
        &format!("/buildings/{}/grid", w.building_a),
        Some(&w.committee_a),
        Some(json!({ "grid_id": w.grid_a })),
    )
    .await
    .ok(200);
    let u3 = id(app
        .post(
            &format!("/communities/{}/units", w.community_a),
            Some(&w.committee_a),
            json!({ "building_id": b2, "number": "101", "area_centi": 5000 }),
        )
        .await
        .ok(201));
    let h3 = household(&app, &w, &u3).await;
    let elsewhere = person(&app, &w, json!({ "name": "戊", "household_id": h3 })).await;
    let seen = app
        .get(&format!("{persons}?q=丙"), Some(&w.grid_worker_a))
        .await;
    assert_eq!(seen.ok(200).as_array().unwrap().len(), 1);
    let seen = app.get(&persons, Some(&w.grid_worker_a)).await;
    assert!(
        seen.ok(200)
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["name"] != "戊")
    );
    app.get(
        &format!("/register/persons/{elsewhere}"),
        Some(&w.grid_worker_a),
    )
    .await
    .problem(404, "person_not_found");
    // The whole register and its history are the committee's.
    app.get(
        &format!("/communities/{}/register", w.community_a),
        Some(&w.grid_worker_a),
    )
    .await
    .problem(403, "forbidden");
}

#[tokio::test]
async fn a_database_from_before_the_register_migrates_without_merging_anyone() {
    use migrations::MigratorTrait;
    use sea_orm::{ActiveModelTrait, Database, Set};
    use yishi::entities::{building, membership, place, role_grant, unit, user};

    let url = crate::support::fresh_database_url().await;
    let db = Database::connect(&url).await.unwrap();
    // Today's schema before the register: every migration up to the procurement one.
    migrations::Migrator::up(&db, Some(11)).await.unwrap();
    let now = chrono::Utc::now();
    let community = uuid::Uuid::new_v4();
    place::ActiveModel {
        id: Set(community),
        parent_id: Set(None),
        kind: Set("community".into()),
        name: Set("老社区".into()),
        created_at: Set(now),
    }
    .insert(&db)
    .await
    .unwrap();
    let b = uuid::Uuid::new_v4();
    building::ActiveModel {
        id: Set(b),
        community_id: Set(community),
        name: Set("1号楼".into()),
        grid_id: Set(None),
        created_at: Set(now),
    }
    .insert(&db)
    .await
    .unwrap();
    let mut units = std::collections::HashMap::new();
    for (number, owner, developer) in [
        ("101", Some("王伟"), false),
        ("102", Some("王伟"), false),
        ("103", Some("张三"), false),
        ("104", Some("张 三"), false),
        ("105", None, false),
        ("106", None, false),
        ("107", None, false),
        ("108", None, true),
    ] {
        let id = uuid::Uuid::new_v4();
        unit::ActiveModel {
            id: Set(id),
            building_id: Set(b),
            community_id: Set(community),
            number: Set(number.into()),
            area_centi: Set(10_000),
            registered_owner: Set(owner.map(str::to_string)),
            developer_held: Set(developer),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&db)
        .await
        .unwrap();
        units.insert(number, id);
    }
    let mut accounts = Vec::new();
    for name in ["钱敏", "孙丽"] {
        let id = uuid::Uuid::new_v4();
        user::ActiveModel {
            id: Set(id),
            email: Set(format!("{}@example.org", uuid::Uuid::new_v4().simple())),
            display_name: Set(name.into()),
            password_hash: Set("x".into()),
            language: Set("zh-CN".into()),
            email_verified_at: Set(Some(now)),
            deleted_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&db)
        .await
        .unwrap();
        accounts.push(id);
    }
    // 钱敏: verified owner of 105 and 106 (no owner name), living in 105. 孙丽: resident by role.
    for (number, household) in [("105", true), ("106", false)] {
        membership::ActiveModel {
            id: Set(uuid::Uuid::new_v4()),
            user_id: Set(accounts[0]),
            community_id: Set(community),
            unit_id: Set(Some(units[number])),
            household: Set(household),
            owner: Set(true),
            status: Set("verified".into()),
            note: Set(None),
            decided_by: Set(None),
            decided_at: Set(Some(now)),
            decision_reason: Set(None),
            created_at: Set(now),
        }
        .insert(&db)
        .await
        .unwrap();
    }
    role_grant::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        user_id: Set(accounts[1]),
        place_id: Set(Some(community)),
        role: Set("resident".into()),
        granted_by: Set(None),
        created_at: Set(now),
    }
    .insert(&db)
    .await
    .unwrap();
    drop(db);

    // The server migrates on start.
    let smtp = std::sync::Arc::new(crate::smtp::SmtpServer::start().await);
    let app = crate::support::spawn_app_at(Default::default(), smtp, url).await;
    let admin = app.admin().await;
    let owners = app
        .get(
            &format!("/communities/{community}/register/owners"),
            Some(&admin),
        )
        .await;
    let owners = owners.ok(200).as_array().unwrap().clone();
    let names: Vec<(&str, &str, usize)> = owners
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap(),
                o["kind"].as_str().unwrap(),
                o["units"].as_array().unwrap().len(),
            )
        })
        .collect();
    // One name is one (unconfirmed) owner, as before; "张三" and "张 三" are not merged; 钱敏's
    // unnamed units are 钱敏's; the developer's unit is the developer's.
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            ("开发建设单位", "developer", 1),
            ("张 三", "name_only", 1),
            ("张三", "name_only", 1),
            ("王伟", "name_only", 2),
            ("钱敏", "persons", 2),
        ]
    );
    let anomalies = app
        .get(
            &format!("/communities/{community}/register/anomalies"),
            Some(&admin),
        )
        .await;
    let kinds: Vec<(String, String)> = anomalies
        .ok(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().into(),
                a["subject"].as_str().unwrap().into(),
            )
        })
        .collect();
    let has = |kind: &str, part: &str| kinds.iter().any(|(k, s)| k == kind && s.contains(part));
    assert!(has("unit_without_owner", "1号楼-107"), "{kinds:?}");
    assert!(
        has("unconfirmed_owner", "王伟: 1号楼-101, 1号楼-102"),
        "{kinds:?}"
    );
    assert!(has("similar_owner_names", "张 三"), "{kinds:?}");
    assert!(has("person_without_household", "孙丽"), "{kinds:?}");
    // The persons: both accounts linked; 钱敏 lives in 105.
    let persons = app
        .get(
            &format!("/communities/{community}/register/persons"),
            Some(&admin),
        )
        .await;
    let persons = persons.ok(200).as_array().unwrap().clone();
    assert_eq!(persons.len(), 2);
    assert!(persons.iter().all(|p| p["has_account"] == true));
    let qian = persons.iter().find(|p| p["name"] == "钱敏").unwrap();
    assert_eq!(qian["unit_label"], "1号楼-105");
    // The owners' electorate: 王伟, 张三, 张 三, 钱敏, 107 alone, the developer.
    let preview = app
        .get(
            &format!("/communities/{community}/register/electorate?electorate=owners"),
            Some(&admin),
        )
        .await;
    assert_eq!(preview.ok(200)["headcount"], 6);
    // Every migrated object is a version of the register.
    let changes = app
        .get(
            &format!("/communities/{community}/register/changes?limit=1000"),
            Some(&admin),
        )
        .await;
    assert!(changes.ok(200).as_array().unwrap().len() >= 2 + 1 + 5 + 6);
}

pub(crate) async fn import(
    app: &TestApp,
    token: &str,
    community: &str,
    csv: &str,
) -> crate::support::Answer {
    use reqwest::multipart::{Form, Part};
    let form = Form::new().part(
        "file",
        Part::bytes(csv.as_bytes().to_vec()).file_name("register.csv"),
    );
    let resp = app
        .client
        .post(app.url(&format!("/communities/{community}/register/import")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    TestApp::answer(resp).await
}

#[tokio::test]
async fn a_register_file_imports_once_and_reports_each_bad_row() {
    let app = spawn_app().await;
    let w = app.world().await;
    for n in ["801", "802", "803"] {
        unit(&app, &w, n, 9000, false).await;
    }
    let (d1, d2, d3) = (resident_id(301), resident_id(302), resident_id(303));
    let csv = format!(
        "name,document_kind,document_number,birth_date,adult,phone,status,building,number,owner,certificate\n\
         王伟,居民身份证,{d1},1950-01-01,,,常住,1号楼,801,是,临(2021)第801号\n\
         李娜,,,,,13800138000,常住,1号楼,801,是,\n\
         王伟,resident_id,{d2},,,,非常住,1号楼,802,yes,临(2021)第802号\n\
         张三,resident_id,{d3},,,,living,1号楼,803,是,\n\
         赵强,resident_id,110105194912310021,,,,,,,,\n\
         钱敏,,,,,,,9号楼,101,,\n\
         张三,resident_id,{d3},,,,living,1号楼,803,是,\n\
         孙丽,,,,,,,,,,\n"
    );
    let first = import(&app, &w.committee_a, &w.community_a, &csv).await;
    let r = first.ok(200).clone();
    assert_eq!(r["persons_created"], 4, "{r}");
    assert_eq!(r["households_created"], 2);
    assert_eq!(r["owners_created"], 3); // 王伟 with 李娜 (co-owners of 801), the other 王伟, 张三
    assert_eq!(r["units_owned"], 3);
    let lines: Vec<u64> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [6, 7, 8, 9]);
    // The same file again changes nothing.
    let again = import(&app, &w.committee_a, &w.community_a, &csv).await;
    let r2 = again.ok(200).clone();
    assert_eq!(r2["persons_created"], 0, "{r2}");
    assert_eq!(r2["persons_updated"], 0);
    assert_eq!(r2["persons_unchanged"], 4);
    assert_eq!(r2["households_created"], 0);
    assert_eq!(r2["owners_created"], 0);
    assert_eq!(r2["units_owned"], 0);
    assert_eq!(r2["register_seq"], r["register_seq"]);
    assert_eq!(r2["errors"], r["errors"]);
    // The owners' electorate: 101 and 102 on their own, and the three owners.
    let preview = app
        .get(
            &format!(
                "/communities/{}/register/electorate?electorate=owners",
                w.community_a
            ),
            Some(&w.committee_a),
        )
        .await;
    assert_eq!(preview.ok(200)["headcount"], 5);
    // A changed row is one change: 张三 moves out.
    let moved = csv.replace(
        &format!("张三,resident_id,{d3},,,,living"),
        &format!("张三,resident_id,{d3},,,,moved_out"),
    );
    let r3 = import(&app, &w.committee_a, &w.community_a, &moved).await;
    assert_eq!(r3.ok(200)["persons_updated"], 1);
    assert_eq!(
        r3.body["register_seq"],
        r["register_seq"].as_i64().unwrap() + 1
    );
    // Only the committee imports; a file that is not UTF-8 is refused.
    import(&app, &w.grid_worker_a, &w.community_a, &csv)
        .await
        .problem(403, "forbidden");
    use reqwest::multipart::{Form, Part};
    let resp = app
        .client
        .post(app.url(&format!("/communities/{}/register/import", w.community_a)))
        .bearer_auth(&w.committee_a)
        .multipart(Form::new().part(
            "file",
            Part::bytes(vec![0xff, 0xfe, 0x41]).file_name("r.csv"),
        ))
        .send()
        .await
        .unwrap();
    TestApp::answer(resp).await.problem(422, "invalid_encoding");
}

#[tokio::test]
async fn a_person_reads_their_register_entry_and_stays_counted_after_deleting_their_account() {
    let app = spawn_app().await;
    let w = app.world().await;
    let u = unit(&app, &w, "901", 8000, false).await;
    let h = household(&app, &w, &u).await;
    let doc = resident_id(901);
    let p = person(
        &app,
        &w,
        json!({ "name": "周杰", "document_kind": "resident_id",
                                     "document_number": doc, "household_id": h }),
    )
    .await;
    let (token, m) = join(&app, &w, "周杰", "901", json!({ "household": true })).await;
    decide(&app, &w, &m, json!({ "verdict": "verify", "household": true, "person_id": p, "document_last4": &doc[14..] }))
        .await
        .ok(200);
    // Their export holds what the register keeps about them, and why it changed; never the
    // document number.
    let export = app.get("/accounts/me/export", Some(&token)).await;
    let entry = &export.ok(200)["register"][0];
    assert_eq!(entry["person_id"], p.as_str());
    assert_eq!(entry["document_last4"], &doc[14..]);
    let reasons: Vec<&str> = entry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["added to the register", "membership verified"]);
    assert!(!export.body.to_string().contains(&doc));
    // Deleting the account unlinks it; the person is still on the register and still counts.
    app.post(
        "/accounts/me/delete",
        Some(&token),
        json!({ "password": crate::support::PASSWORD }),
    )
    .await
    .ok(204);
    let after = app
        .get(&format!("/register/persons/{p}"), Some(&w.committee_a))
        .await;
    assert_eq!(after.ok(200)["has_account"], false);
    assert_eq!(after.body["status"], "living");
    let preview = app
        .get(
            &format!(
                "/communities/{}/register/electorate?electorate=households",
                w.community_a
            ),
            Some(&w.committee_a),
        )
        .await;
    assert_eq!(preview.ok(200)["headcount"], 1);
    assert_eq!(preview.body["heads_with_account"], 0);
}

#[tokio::test]
async fn grid_workers_ask_for_changes_and_a_committee_member_confirms_them() {
    let app = spawn_app().await;
    let w = app.world().await;
    // 1号楼 is the first grid's; 2号楼 is in no grid.
    app.call(
        reqwest::Method::PUT,
        &format!("/buildings/{}/grid", w.building_a),
        Some(&w.committee_a),
        Some(json!({ "grid_id": w.grid_a })),
    )
    .await
    .ok(200);
    let u = unit(&app, &w, "111", 8000, false).await;
    let h = household(&app, &w, &u).await;
    let old = person(&app, &w, json!({ "name": "吴老伯", "household_id": h })).await;
    let b2 = id(app
        .post(
            &format!("/communities/{}/buildings", w.community_a),
            Some(&w.committee_a),
            json!({ "name": "2号楼" }),
        )
        .await
        .ok(201));
    let far = id(app
        .post(
            &format!("/communities/{}/units", w.community_a),
            Some(&w.committee_a),
            json!({ "building_id": b2, "number": "101", "area_centi": 5000 }),
        )
        .await
        .ok(201));
    let requests = format!("/communities/{}/register/requests", w.community_a);
    // Outside their grid, a grid worker may not ask; residents never.
    app.post(
        &requests,
        Some(&w.grid_worker_a),
        json!({ "kind": "moved_in", "unit_id": far, "name": "新人", "reference": "户口簿" }),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &requests,
        Some(&w.resident_a),
        json!({ "kind": "died", "person_id": old, "reference": "死亡证明" }),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &requests,
        Some(&w.grid_worker_a),
        json!({ "kind": "died", "reference": "死亡证明" }),
    )
    .await
    .problem(422, "invalid_request_kind");
    let died = app
        .post(
            &requests,
            Some(&w.grid_worker_a),
            json!({ "kind": "died", "person_id": old, "reference": "死亡医学证明 No.123" }),
        )
        .await;
    let died = id(died.ok(201));
    let doc = resident_id(777);
    let moved_in = id(app
        .post(
            &requests,
            Some(&w.grid_worker_a),
            json!({ "kind": "moved_in", "unit_id": u, "name": "吴小妹", "document_kind": "resident_id",
                    "document_number": doc, "reference": "租赁合同及本人同意书" }),
        )
        .await
        .ok(201));
    // The grid worker sees their requests; the register has not changed yet.
    let mine = app.get(&requests, Some(&w.grid_worker_a)).await;
    assert_eq!(mine.ok(200).as_array().unwrap().len(), 2);
    assert_eq!(mine.body[0]["status"], "pending");
    let before = app
        .get(&format!("/register/persons/{old}"), Some(&w.committee_a))
        .await;
    assert_eq!(before.ok(200)["status"], "living");

    // Refusing needs a reason; the grid worker cannot decide; the committee confirms.
    let decide = |r: &str| format!("/register/requests/{r}/decision");
    app.post(
        &decide(&died),
        Some(&w.committee_a),
        json!({ "confirm": false }),
    )
    .await
    .problem(422, "reason_required");
    app.post(
        &decide(&died),
        Some(&w.grid_worker_a),
        json!({ "confirm": true }),
    )
    .await
    .problem(403, "forbidden");
    let confirmed = app
        .post(
            &decide(&died),
            Some(&w.committee_a),
            json!({ "confirm": true }),
        )
        .await;
    assert_eq!(confirmed.ok(200)["status"], "confirmed");
    app.post(
        &decide(&died),
        Some(&w.secretary_a),
        json!({ "confirm": true }),
    )
    .await
    .problem(409, "request_decided");
    let after = app
        .get(&format!("/register/persons/{old}"), Some(&w.committee_a))
        .await;
    assert_eq!(after.ok(200)["status"], "deceased");
    app.post(
        &decide(&moved_in),
        Some(&w.secretary_a),
        json!({ "confirm": true }),
    )
    .await
    .ok(200);
    let found = app
        .get(
            &format!(
                "/communities/{}/register/persons?q={}",
                w.community_a,
                &doc[14..]
            ),
            Some(&w.committee_a),
        )
        .await;
    assert_eq!(found.ok(200)[0]["name"], "吴小妹");
    assert_eq!(found.body[0]["unit_label"], "1号楼-111");
    // The change names the paper and that it was confirmed.
    let changes = app
        .get(
            &format!("/communities/{}/register/changes?limit=1000", w.community_a),
            Some(&w.committee_a),
        )
        .await;
    assert!(
        changes
            .ok(200)
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["reason"] == "died (死亡医学证明 No.123), confirmed")
    );
    // A change the committee member asked for is confirmed by someone else.
    let own = id(app
        .post(
            &requests,
            Some(&w.committee_a),
            json!({ "kind": "moved_out", "person_id": old, "reference": "迁出证明" }),
        )
        .await
        .ok(201));
    app.post(
        &decide(&own),
        Some(&w.committee_a),
        json!({ "confirm": true }),
    )
    .await
    .problem(409, "second_person_required");
    let refused = app
        .post(
            &decide(&own),
            Some(&w.secretary_a),
            json!({ "confirm": false, "reason": "已故，不是迁出" }),
        )
        .await;
    assert_eq!(refused.ok(200)["status"], "rejected");
    assert_eq!(refused.body["decision_reason"], "已故，不是迁出");
}
