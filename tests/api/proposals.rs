use std::time::Duration;

use futures_util::future::join_all;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::support::{TestApp, World, id, spawn_app};

async fn set_threshold(app: &TestApp, w: &World, threshold: i32) {
    let s = app
        .call(
            reqwest::Method::PUT,
            &format!("/communities/{}/settings", w.community_a),
            Some(&w.committee_a),
            Some(json!({ "cosign_threshold": threshold, "cosign_period_days": 14 })),
        )
        .await;
    assert_eq!(s.ok(200)["cosign_threshold"], threshold);
}

async fn propose(app: &TestApp, w: &World, token: &str, title: &str, submit: bool) -> Value {
    app.post("/proposals", Some(token), json!({
        "community_id": w.community_a, "title": title, "body": "小区东门的路灯坏了三个月。\n\n- 晚上很黑\n- 老人容易摔倒",
        "category": "safety", "submit": submit,
    }))
    .await
    .ok(201)
    .clone()
}

#[tokio::test]
async fn a_proposal_goes_from_draft_to_accepted_with_changes_in_between() {
    let app = spawn_app().await;
    let w = app.world().await;
    set_threshold(&app, &w, 3).await;
    let people = app.residents(&w.admin, &w.community_a, 3).await;
    let (proposer, proposer_email) = &people[0];

    let draft = propose(&app, &w, proposer, "修东门路灯", false).await;
    assert_eq!(draft["status"], "draft");
    let pid = id(&draft);
    // Drafts are the proposer's alone, and edits to a draft keep no history.
    app.get(&format!("/proposals/{pid}"), Some(&people[1].0))
        .await
        .problem(404, "proposal_not_found");
    app.patch(
        &format!("/proposals/{pid}"),
        Some(proposer),
        json!({ "title": "修好东门的路灯" }),
    )
    .await
    .ok(200);
    app.patch(
        &format!("/proposals/{pid}"),
        Some(&people[1].0),
        json!({ "title": "x" }),
    )
    .await
    .problem(404, "proposal_not_found");
    let submitted = app
        .post(
            &format!("/proposals/{pid}/submit"),
            Some(proposer),
            json!({}),
        )
        .await;
    assert_eq!(submitted.ok(200)["status"], "collecting");
    assert!(submitted.body["cosign_deadline"].is_string());
    app.patch(
        &format!("/proposals/{pid}"),
        Some(proposer),
        json!({ "title": "改不了" }),
    )
    .await
    .problem(409, "not_editable");

    // Two neighbours co-sign: with the proposer that is three supporters.
    app.post(
        &format!("/proposals/{pid}/cosign"),
        Some(proposer),
        json!({}),
    )
    .await
    .problem(409, "own_proposal");
    let one = app
        .post(
            &format!("/proposals/{pid}/cosign"),
            Some(&people[1].0),
            json!({}),
        )
        .await;
    assert_eq!(one.ok(200)["status"], "collecting");
    assert_eq!(one.body["cosigned_by_me"], true);
    app.post(
        &format!("/proposals/{pid}/cosign"),
        Some(&people[1].0),
        json!({}),
    )
    .await
    .problem(409, "already_cosigned");
    let two = app
        .post(
            &format!("/proposals/{pid}/cosign"),
            Some(&people[2].0),
            json!({}),
        )
        .await;
    assert_eq!(two.ok(200)["status"], "in_moderation");
    assert_eq!(two.body["cosign_count"], 2);
    let mails = app
        .smtp
        .wait_for(proposer_email, 2, Duration::from_secs(30))
        .await;
    assert!(
        mails[1].subject().contains("附议"),
        "{}",
        mails[1].subject()
    );

    // The committee's queue holds it; a decision other than accept needs a reason.
    let queue = app
        .get(
            &format!(
                "/proposals?community_id={}&status=in_moderation",
                w.community_a
            ),
            Some(&w.committee_a),
        )
        .await;
    assert_eq!(queue.ok(200)["total"], 1);
    let moderation = format!("/proposals/{pid}/moderation");
    let moderate = |body: Value| app.post(&moderation, Some(&w.committee_a), body);
    moderate(json!({ "action": "request_changes" }))
        .await
        .problem(422, "reason_required");
    moderate(json!({ "action": "request_changes", "reason": "   " }))
        .await
        .problem(422, "reason_required");
    app.post(
        &format!("/proposals/{pid}/moderation"),
        Some(proposer),
        json!({ "action": "accept" }),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/proposals/{pid}/moderation"),
        Some(&w.committee_b),
        json!({ "action": "accept" }),
    )
    .await
    .problem(403, "forbidden");
    let changes =
        moderate(json!({ "action": "request_changes", "reason": "请写明是哪几盏路灯" })).await;
    assert_eq!(changes.ok(200)["status"], "changes_requested");
    assert_eq!(changes.body["decision_reason"], "请写明是哪几盏路灯");
    let mails = app
        .smtp
        .wait_for(proposer_email, 3, Duration::from_secs(30))
        .await;
    assert!(mails[2].text().contains("请写明是哪几盏路灯"));
    moderate(json!({ "action": "accept" }))
        .await
        .problem(409, "invalid_transition");

    // The proposer edits (a new visible version) and resubmits.
    let edited = app
        .patch(
            &format!("/proposals/{pid}"),
            Some(proposer),
            json!({ "body": "东门内侧第 2、3、5 号路灯不亮。" }),
        )
        .await;
    assert_eq!(edited.ok(200)["version"], 2);
    let history = app
        .get(&format!("/proposals/{pid}/versions"), Some(&people[1].0))
        .await;
    let versions = history.ok(200).as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["title"], "修好东门的路灯");
    assert!(
        versions[1]["body"]
            .as_str()
            .unwrap()
            .contains("第 2、3、5 号")
    );
    let resubmitted = app
        .post(
            &format!("/proposals/{pid}/submit"),
            Some(proposer),
            json!({}),
        )
        .await;
    assert_eq!(resubmitted.ok(200)["status"], "in_moderation");

    let accepted = moderate(json!({ "action": "accept" })).await;
    assert_eq!(accepted.ok(200)["status"], "accepted");
    for (_, email) in &people[1..] {
        let got = app.smtp.wait_for(email, 2, Duration::from_secs(30)).await;
        assert!(
            got[1].text().contains("修好东门的路灯"),
            "co-signer told of acceptance"
        );
    }
    // Final: nothing more happens to it.
    moderate(json!({ "action": "reject", "reason": "too late" }))
        .await
        .problem(409, "invalid_transition");
    app.post(
        &format!("/proposals/{pid}/withdraw"),
        Some(proposer),
        json!({}),
    )
    .await
    .problem(409, "invalid_transition");
    app.delete(&format!("/proposals/{pid}/cosign"), Some(&people[1].0))
        .await
        .problem(409, "cosigning_closed");

    // The public reads it without personal data.
    let public = app.get(&format!("/proposals/{pid}"), None).await;
    assert_eq!(public.ok(200)["status"], "accepted");
    assert!(public.body["proposer"].is_null());
    let public_list = app
        .get(&format!("/proposals?community_id={}", w.community_a), None)
        .await;
    assert_eq!(public_list.ok(200)["total"], 1);
    assert!(public_list.body["items"][0]["proposer"].is_null());

    // Every transition is in the record.
    let record = app
        .get(
            &format!("/audit/entries?object_type=proposal&object_id={pid}&limit=100"),
            Some(&w.admin),
        )
        .await;
    let actions: Vec<&str> = record
        .ok(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "proposal.created",
        "proposal.submitted",
        "proposal.threshold_reached",
        "proposal.changes_requested",
        "proposal.resubmitted",
        "proposal.accepted",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
}

#[tokio::test]
async fn refusals_are_problems() {
    let app = spawn_app().await;
    let w = app.world().await;
    let p = propose(&app, &w, &w.resident_a, "垃圾分类点太远", true).await;
    let pid = id(&p);
    let body = |title: &str, text: String| json!({ "community_id": w.community_a, "title": title, "body": text, "category": "environment" });
    // Not a member of community A (a verified account, and a committee member elsewhere).
    app.post("/proposals", Some(&w.outsider), body("t", "b".into()))
        .await
        .problem(403, "forbidden");
    app.post("/proposals", Some(&w.committee_b), body("t", "b".into()))
        .await
        .problem(403, "forbidden");
    app.post(
        &format!("/proposals/{pid}/cosign"),
        Some(&w.outsider),
        json!({}),
    )
    .await
    .problem(404, "proposal_not_found");
    // Bad input.
    app.post(
        "/proposals",
        Some(&w.resident_a),
        body("t", "长".repeat(20001)),
    )
    .await
    .problem(400, "invalid_request");
    app.post("/proposals", Some(&w.resident_a), body("", "b".into()))
        .await
        .problem(422, "invalid_title");
    app.post(
        "/proposals",
        Some(&w.resident_a),
        json!({ "community_id": w.community_a, "title": "t", "body": "b", "category": "weather" }),
    )
    .await
    .problem(400, "invalid_request");
    app.post("/proposals", Some(&w.resident_a), json!({ "community_id": w.community_a, "title": "t", "body": "b", "category": "other", "status": "accepted" })).await.problem(400, "invalid_request");
    app.post("/proposals", Some(&w.resident_a), json!({ "community_id": w.community_a, "title": "t", "body": "b", "category": "other", "grid_id": w.grid_a })).await.ok(201);
    app.post("/proposals", Some(&w.resident_a), json!({ "community_id": w.community_a, "title": "t", "body": "b", "category": "other", "building_id": w.building_b })).await.problem(422, "invalid_building");
    app.post(
        "/proposals",
        Some(&w.resident_a),
        json!({ "community_id": w.community_b, "title": "t", "body": "b", "category": "other" }),
    )
    .await
    .problem(403, "forbidden");
    app.post("/proposals", Some(&w.resident_a), json!({ "community_id": uuid::Uuid::new_v4(), "title": "t", "body": "b", "category": "other" })).await.problem(404, "community_not_found");
    app.post(
        &format!("/proposals/{}/cosign", uuid::Uuid::new_v4()),
        Some(&w.resident_a),
        json!({}),
    )
    .await
    .problem(404, "proposal_not_found");
    app.get("/proposals?page_size=101", None)
        .await
        .problem(400, "invalid_request");
    app.get("/proposals?sort=random", None)
        .await
        .problem(400, "invalid_request");
    app.get("/proposals", Some("not-a-token"))
        .await
        .problem(401, "unauthenticated");

    // Once each: co-sign, withdraw, and no second co-signature.
    let neighbour = &app.residents(&w.admin, &w.community_a, 1).await[0].0;
    app.post(
        &format!("/proposals/{pid}/cosign"),
        Some(neighbour),
        json!({}),
    )
    .await
    .ok(200);
    let withdrawn = app
        .delete(&format!("/proposals/{pid}/cosign"), Some(neighbour))
        .await;
    assert_eq!(withdrawn.ok(200)["cosign_count"], 0);
    app.delete(&format!("/proposals/{pid}/cosign"), Some(neighbour))
        .await
        .problem(409, "not_cosigned");
    app.post(
        &format!("/proposals/{pid}/cosign"),
        Some(neighbour),
        json!({}),
    )
    .await
    .problem(409, "cosign_withdrawn");
    app.post(
        &format!("/proposals/{pid}/withdraw"),
        Some(neighbour),
        json!({}),
    )
    .await
    .problem(403, "forbidden");
    assert_eq!(
        app.post(
            &format!("/proposals/{pid}/withdraw"),
            Some(&w.resident_a),
            json!({})
        )
        .await
        .ok(200)["status"],
        "withdrawn"
    );
    app.post(
        &format!("/proposals/{pid}/moderation"),
        Some(&w.committee_a),
        json!({ "action": "accept" }),
    )
    .await
    .problem(409, "invalid_transition");

    // An unverified account cannot propose even with a resident role.
    app.register("unverified@example.org", "U").await;
    app.grant(
        &w.admin,
        &w.community_a,
        "unverified@example.org",
        "resident",
    )
    .await;
    let unverified = app
        .login("unverified@example.org", crate::support::PASSWORD)
        .await
        .ok(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    app.post("/proposals", Some(&unverified), body("t", "b".into()))
        .await
        .problem(403, "forbidden");
    // Settings: committee only, bounded.
    app.call(
        reqwest::Method::PUT,
        &format!("/communities/{}/settings", w.community_a),
        Some(&w.resident_a),
        Some(json!({ "cosign_threshold": 2, "cosign_period_days": 7 })),
    )
    .await
    .problem(403, "forbidden");
    app.call(
        reqwest::Method::PUT,
        &format!("/communities/{}/settings", w.community_a),
        Some(&w.committee_a),
        Some(json!({ "cosign_threshold": 0, "cosign_period_days": 7 })),
    )
    .await
    .problem(400, "invalid_request");
    assert_eq!(
        app.get(&format!("/communities/{}/settings", w.community_a), None)
            .await
            .ok(200)["cosign_threshold"],
        10
    );
}

#[tokio::test]
async fn merging_carries_co_signatures_without_duplicates() {
    let app = spawn_app().await;
    let w = app.world().await;
    set_threshold(&app, &w, 50).await;
    let people = app.residents(&w.admin, &w.community_a, 5).await;
    let target = id(&propose(&app, &w, &people[0].0, "增设快递柜", true).await);
    let source = id(&propose(&app, &w, &people[1].0, "小区需要快递柜", true).await);
    for who in [2, 3] {
        app.post(
            &format!("/proposals/{target}/cosign"),
            Some(&people[who].0),
            json!({}),
        )
        .await
        .ok(200);
    }
    for who in [0, 3, 4] {
        app.post(
            &format!("/proposals/{source}/cosign"),
            Some(&people[who].0),
            json!({}),
        )
        .await
        .ok(200);
    }
    let moderation = format!("/proposals/{source}/moderation");
    let merge = |body: Value| app.post(&moderation, Some(&w.committee_a), body);
    merge(json!({ "action": "merge", "merge_into": target }))
        .await
        .problem(422, "reason_required");
    merge(json!({ "action": "merge", "reason": "重复" }))
        .await
        .problem(422, "merge_target_required");
    merge(json!({ "action": "merge", "reason": "重复", "merge_into": source }))
        .await
        .problem(422, "invalid_merge_target");
    let merged = merge(
        json!({ "action": "merge", "reason": "与“增设快递柜”是同一件事", "merge_into": target }),
    )
    .await;
    assert_eq!(merged.ok(200)["status"], "merged");
    assert_eq!(merged.body["merged_into"], target.as_str());
    // Target had 2 and 3; the source brings its proposer 1 and co-signer 4 (0 proposed the
    // target, 3 is already there).
    let t = app
        .get(&format!("/proposals/{target}"), Some(&people[2].0))
        .await;
    assert_eq!(t.ok(200)["cosign_count"], 4);
    let rows = yishi::entities::proposal_cosign::Entity::find()
        .filter(
            yishi::entities::proposal_cosign::Column::ProposalId
                .eq(target.parse::<uuid::Uuid>().unwrap()),
        )
        .count(&app.db.conn)
        .await
        .unwrap();
    assert_eq!(rows, 4);
    let mails = app
        .smtp
        .wait_for(&people[1].1, 2, Duration::from_secs(30))
        .await;
    assert!(mails[1].text().contains("同一件事"));
}

#[tokio::test]
async fn reports_and_hidden_content() {
    let app = spawn_app().await;
    let w = app.world().await;
    let pid = id(&propose(&app, &w, &w.resident_a, "骂人的提案", true).await);
    let neighbour = &app.residents(&w.admin, &w.community_a, 1).await[0].0;
    app.post(
        &format!("/proposals/{pid}/reports"),
        Some(neighbour),
        json!({ "reason": "" }),
    )
    .await
    .problem(422, "reason_required");
    app.post(
        &format!("/proposals/{pid}/reports"),
        Some(neighbour),
        json!({ "reason": "人身攻击" }),
    )
    .await
    .ok(204);
    let reports = app
        .get(
            &format!("/communities/{}/reports", w.community_a),
            Some(&w.committee_a),
        )
        .await;
    assert_eq!(reports.ok(200).as_array().unwrap().len(), 1);
    app.get(
        &format!("/communities/{}/reports", w.community_a),
        Some(neighbour),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/proposals/{pid}/hide"),
        Some(neighbour),
        json!({ "reason": "x" }),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/proposals/{pid}/hide"),
        Some(&w.committee_a),
        json!({ "reason": "" }),
    )
    .await
    .problem(422, "reason_required");
    let hidden = app
        .post(
            &format!("/proposals/{pid}/hide"),
            Some(&w.committee_a),
            json!({ "reason": "含人身攻击" }),
        )
        .await;
    assert_eq!(hidden.ok(200)["hidden_reason"], "含人身攻击");
    app.get(&format!("/proposals/{pid}"), Some(neighbour))
        .await
        .problem(404, "content_hidden");
    app.get(&format!("/proposals/{pid}"), Some(&w.resident_a))
        .await
        .problem(404, "content_hidden");
    app.get(&format!("/proposals/{pid}"), None)
        .await
        .problem(404, "content_hidden");
    assert_eq!(
        app.get(&format!("/proposals/{pid}"), Some(&w.committee_a))
            .await
            .ok(200)["hidden"],
        true
    );
    let listed = app
        .get(
            &format!("/proposals?community_id={}", w.community_a),
            Some(neighbour),
        )
        .await;
    assert_eq!(listed.ok(200)["total"], 0);
    let for_committee = app
        .get(
            &format!("/proposals?community_id={}", w.community_a),
            Some(&w.committee_a),
        )
        .await;
    assert_eq!(for_committee.ok(200)["total"], 1);
    assert!(
        app.get(
            &format!("/communities/{}/reports", w.community_a),
            Some(&w.committee_a)
        )
        .await
        .ok(200)
        .as_array()
        .unwrap()
        .is_empty()
    );
}

#[tokio::test]
async fn threads_with_replies_official_answers_tombstones_and_hiding() {
    let app = spawn_app().await;
    let w = app.world().await;
    let pid = id(&propose(&app, &w, &w.resident_a, "电梯经常坏", true).await);
    let firm = id(app.post("/organisations", Some(&w.committee_a), json!({ "kind": "property_management_firm", "name": "锦绣物业", "place_id": w.community_a })).await.ok(201));
    let rep_email = format!("rep-{}@example.org", uuid::Uuid::new_v4().simple());
    let rep = app.verified_user(&rep_email, "陈经理").await;
    app.post(
        &format!("/organisations/{firm}/members"),
        Some(&w.committee_a),
        json!({ "email": rep_email, "role": "representative" }),
    )
    .await
    .ok(200);

    let first = app
        .post(
            &format!("/proposals/{pid}/comments"),
            Some(&w.resident_a),
            json!({ "body": "上周又停了两天" }),
        )
        .await;
    let first = id(first.ok(201));
    let answer = app.post(&format!("/proposals/{pid}/comments"), Some(&rep), json!({ "body": "已联系维保公司，本周更换主板", "parent_id": first, "organisation_id": firm })).await;
    assert_eq!(answer.ok(201)["organisation"]["name"], "锦绣物业");
    assert_eq!(answer.body["depth"], 1);
    // Speaking for an organisation one does not belong to is refused.
    app.post(
        &format!("/proposals/{pid}/comments"),
        Some(&w.resident_a),
        json!({ "body": "x", "organisation_id": firm }),
    )
    .await
    .problem(403, "forbidden");
    app.get(&format!("/proposals/{pid}/comments"), Some(&w.outsider))
        .await
        .problem(404, "proposal_not_found");
    app.post(
        &format!("/proposals/{pid}/comments"),
        Some(&w.resident_a),
        json!({ "body": "" }),
    )
    .await
    .problem(422, "invalid_body");
    app.post(
        &format!("/proposals/{pid}/comments"),
        Some(&w.resident_a),
        json!({ "body": "x".repeat(4001) }),
    )
    .await
    .problem(400, "invalid_request");
    app.post(
        &format!("/proposals/{pid}/comments"),
        Some(&w.resident_a),
        json!({ "body": "x", "parent_id": uuid::Uuid::new_v4() }),
    )
    .await
    .problem(404, "comment_not_found");

    // Depth is capped.
    let mut parent = id(answer.ok(201));
    for _ in 2..=4 {
        parent = id(app
            .post(
                &format!("/proposals/{pid}/comments"),
                Some(&w.resident_a),
                json!({ "body": "再回复", "parent_id": parent }),
            )
            .await
            .ok(201));
    }
    app.post(
        &format!("/proposals/{pid}/comments"),
        Some(&w.resident_a),
        json!({ "body": "太深了", "parent_id": parent }),
    )
    .await
    .problem(422, "thread_too_deep");

    // Edit within the window, only by the author; then the window closes.
    app.call(
        reqwest::Method::PATCH,
        &format!("/comments/{first}"),
        Some(&rep),
        Some(json!({ "body": "改" })),
    )
    .await
    .problem(403, "forbidden");
    let edited = app
        .call(
            reqwest::Method::PATCH,
            &format!("/comments/{first}"),
            Some(&w.resident_a),
            Some(json!({ "body": "上周又停了三天" })),
        )
        .await;
    assert!(edited.ok(200)["edited_at"].is_string());
    app.db
        .conn
        .execute_unprepared("UPDATE proposal_comments SET created_at = '2020-01-01 00:00:00+00:00'")
        .await
        .unwrap();
    app.call(
        reqwest::Method::PATCH,
        &format!("/comments/{first}"),
        Some(&w.resident_a),
        Some(json!({ "body": "再改" })),
    )
    .await
    .problem(409, "edit_window_closed");

    // Delete leaves a tombstone; hide keeps the text for the committee only.
    app.delete(&format!("/comments/{first}"), Some(&rep))
        .await
        .problem(403, "forbidden");
    app.delete(&format!("/comments/{first}"), Some(&w.resident_a))
        .await
        .ok(204);
    app.delete(&format!("/comments/{first}"), Some(&w.resident_a))
        .await
        .problem(409, "comment_removed");
    let answer_id = id(&answer.body);
    app.post(
        &format!("/comments/{answer_id}/hide"),
        Some(&w.resident_a),
        json!({ "reason": "x" }),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/comments/{answer_id}/hide"),
        Some(&w.committee_a),
        json!({ "reason": "广告" }),
    )
    .await
    .ok(200);
    let thread = app
        .get(&format!("/proposals/{pid}/comments"), Some(&w.resident_a))
        .await;
    let thread = thread.ok(200).as_array().unwrap().clone();
    let tomb = thread.iter().find(|c| c["id"] == first.as_str()).unwrap();
    assert_eq!(tomb["state"], "deleted");
    assert!(tomb["body"].is_null() && tomb["author"].is_null());
    let hidden = thread
        .iter()
        .find(|c| c["id"] == answer_id.as_str())
        .unwrap();
    assert_eq!(hidden["state"], "hidden");
    assert!(hidden["body"].is_null() && hidden["hidden_reason"].is_null());
    let for_committee = app
        .get(&format!("/proposals/{pid}/comments"), Some(&w.committee_a))
        .await;
    let hidden = for_committee
        .ok(200)
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == answer_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(hidden["hidden_reason"], "广告");
    assert_eq!(hidden["body"], "已联系维保公司，本周更换主板");
}

#[tokio::test]
async fn finding_proposals() {
    let app = spawn_app().await;
    let w = app.world().await;
    set_threshold(&app, &w, 2).await;
    let people = app.residents(&w.admin, &w.community_a, 3).await;
    let titles = [
        "停车位不够用",
        "垃圾桶满溢",
        "楼道灯不亮",
        "儿童游乐场破损",
        "广场舞噪音",
    ];
    let mut ids = Vec::new();
    for (i, t) in titles.iter().enumerate() {
        let p = app.post("/proposals", Some(&people[i % 3].0), json!({
            "community_id": w.community_a, "title": t, "body": format!("第{i}件事"),
            "category": if i == 0 { "parking_and_traffic" } else { "environment" }, "submit": true,
        })).await;
        ids.push(id(p.ok(201)));
    }
    // "停车位" gets a co-signature and moves to moderation.
    app.post(
        &format!("/proposals/{}/cosign", ids[0]),
        Some(&people[1].0),
        json!({}),
    )
    .await
    .ok(200);
    let base = format!("/proposals?community_id={}", w.community_a);
    let member = &people[2].0;
    let app_ref = &app;
    let base_ref = &base;
    let q = |query: String| {
        let path = format!("{base_ref}&{query}");
        async move { app_ref.get(&path, Some(member)).await }
    };

    let all = q("page_size=2".into()).await;
    assert_eq!(all.ok(200)["total"], 5);
    assert_eq!(all.body["items"].as_array().unwrap().len(), 2);
    let page3 = q("page_size=2&page=3".into()).await;
    assert_eq!(page3.ok(200)["items"].as_array().unwrap().len(), 1);
    let search = q(format!("q={}", urlencode("垃圾"))).await;
    assert_eq!(search.ok(200)["total"], 1);
    assert_eq!(search.body["items"][0]["title"], "垃圾桶满溢");
    let body_search = q(format!("q={}", urlencode("第3件"))).await;
    assert_eq!(body_search.ok(200)["items"][0]["title"], "儿童游乐场破损");
    let literal = q(format!("q={}", urlencode("%"))).await;
    assert_eq!(
        literal.ok(200)["total"],
        0,
        "wildcards are searched literally"
    );
    assert_eq!(
        q("category=parking_and_traffic".into()).await.ok(200)["total"],
        1
    );
    assert_eq!(q("status=in_moderation".into()).await.ok(200)["total"], 1);
    assert_eq!(q(format!("grid_id={}", w.grid_a)).await.ok(200)["total"], 0);
    let most = q("sort=most_cosigned".into()).await;
    assert_eq!(most.ok(200)["items"][0]["title"], "停车位不够用");
    let newest = q("sort=newest".into()).await;
    assert_eq!(newest.ok(200)["items"][0]["title"], "广场舞噪音");
    let deadline = q("sort=deadline".into()).await;
    assert_eq!(
        deadline.ok(200)["items"][0]["title"],
        "垃圾桶满溢",
        "earliest deadline among those collecting"
    );
    let mine = q(format!(
        "proposer_id={}",
        app.get("/accounts/me", Some(&people[0].0)).await.body["id"]
            .as_str()
            .unwrap()
    ))
    .await;
    assert_eq!(mine.ok(200)["total"], 2);
    // Visitors see only decided proposals, and cannot filter by person.
    assert_eq!(app.get(&base, None).await.ok(200)["total"], 0);
    app.get(
        &format!("{base}&proposer_id={}", uuid::Uuid::new_v4()),
        None,
    )
    .await
    .problem(403, "forbidden");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn proposals_that_miss_their_deadline_expire() {
    let app = spawn_app().await;
    let w = app.world().await;
    let people = app.residents(&w.admin, &w.community_a, 2).await;
    let pid = id(&propose(&app, &w, &people[0].0, "没人附议的提案", true).await);
    app.db
        .conn
        .execute_unprepared("UPDATE proposals SET cosign_deadline = created_at")
        .await
        .unwrap();
    // The scheduler expires it (or the next co-sign does, whichever comes first).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let p = app
            .get(&format!("/proposals/{pid}"), Some(&people[0].0))
            .await;
        if p.body["status"] == "expired" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never expired: {}",
            p.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.post(
        &format!("/proposals/{pid}/cosign"),
        Some(&people[1].0),
        json!({}),
    )
    .await
    .problem(409, "cosigning_closed");
    let mails = app
        .smtp
        .wait_for(&people[0].1, 2, Duration::from_secs(30))
        .await;
    assert!(mails[1].text().contains("没人附议的提案"));
}

#[tokio::test]
async fn a_hundred_concurrent_co_signs_count_exactly_once_each() {
    let app = spawn_app().await;
    let w = app.world().await;
    set_threshold(&app, &w, 50).await;
    let people = app.residents(&w.admin, &w.community_a, 101).await;
    let pid = id(&propose(&app, &w, &people[0].0, "加装电梯", true).await);
    let cosign = format!("/proposals/{pid}/cosign");
    let answers = join_all(
        people[1..]
            .iter()
            .map(|(token, _)| app.post(&cosign, Some(token), json!({}))),
    )
    .await;
    let failed: Vec<String> = answers
        .iter()
        .filter(|a| a.status != 200)
        .map(|a| format!("{} {}", a.status, a.body))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    // Double submissions from the same people all bounce.
    let again = join_all(
        people[1..11]
            .iter()
            .map(|(token, _)| app.post(&cosign, Some(token), json!({}))),
    )
    .await;
    assert!(again.iter().all(|a| a.status == 409));

    let p = app
        .get(&format!("/proposals/{pid}"), Some(&people[0].0))
        .await;
    assert_eq!(p.ok(200)["cosign_count"], 100);
    assert_eq!(p.body["status"], "in_moderation");
    use yishi::entities::{audit_entry, proposal_cosign};
    let rows = proposal_cosign::Entity::find()
        .count(&app.db.conn)
        .await
        .unwrap();
    assert_eq!(rows, 100);
    let transitions = audit_entry::Entity::find()
        .filter(audit_entry::Column::Action.eq("proposal.threshold_reached"))
        .count(&app.db.conn)
        .await
        .unwrap();
    assert_eq!(transitions, 1);
    let mails = app
        .smtp
        .wait_for(&people[0].1, 2, Duration::from_secs(30))
        .await;
    assert_eq!(
        mails.len(),
        2,
        "one verification mail and one threshold mail"
    );
}

#[tokio::test]
async fn rejection_carries_its_reason_to_the_proposer_and_the_public() {
    let app = spawn_app().await;
    let w = app.world().await;
    set_threshold(&app, &w, 1).await;
    let people = app.residents(&w.admin, &w.community_a, 1).await;
    let (proposer, email) = &people[0];
    // A threshold of one: the proposer's own support sends it straight to the committee.
    let p = propose(&app, &w, proposer, "取消物业费", true).await;
    assert_eq!(p["status"], "in_moderation");
    let pid = id(&p);
    app.post(
        &format!("/proposals/{pid}/moderation"),
        Some(&w.committee_a),
        json!({ "action": "reject" }),
    )
    .await
    .problem(422, "reason_required");
    app.post(
        &format!("/proposals/{pid}/moderation"),
        Some(&w.committee_a),
        json!({ "action": "close" }),
    )
    .await
    .problem(400, "invalid_request");
    let rejected = app
        .post(
            &format!("/proposals/{pid}/moderation"),
            Some(&w.secretary_a),
            json!({ "action": "reject", "reason": "物业费由业主大会决定" }),
        )
        .await;
    assert_eq!(rejected.ok(200)["status"], "rejected");
    let public = app.get(&format!("/proposals/{pid}"), None).await;
    assert_eq!(public.ok(200)["decision_reason"], "物业费由业主大会决定");
    let mails = app.smtp.wait_for(email, 3, Duration::from_secs(30)).await;
    assert!(
        mails
            .iter()
            .any(|m| m.text().contains("物业费由业主大会决定")),
        "the reason is mailed"
    );
}

/// The titles on the first page of a community's list as a viewer sees it, with whether they
/// co-signed each and the proposer's name as shown.
async fn listed(app: &TestApp, w: &World, token: &str) -> Vec<(String, bool, String)> {
    let page = app
        .get(
            &format!("/proposals?community_id={}&page_size=100", w.community_a),
            Some(token),
        )
        .await
        .ok(200)
        .clone();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["title"].as_str().unwrap().to_string(),
                p["cosigned_by_me"].as_bool().unwrap(),
                p["proposer"]["display_name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect()
}

/// Polls a list until it satisfies `ok` (another process hears of a change by notice).
async fn until_listed(
    app: &TestApp,
    w: &World,
    token: &str,
    what: &str,
    ok: impl Fn(&[(String, bool, String)]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if ok(&listed(app, w, token).await) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never listed: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn remembered_list_pages_follow_every_change_at_once() {
    // A memory long enough that only forgetting on change can make this pass.
    let options = || crate::support::Options {
        list_cache_ms: 3_600_000,
        ..crate::support::Options::default()
    };
    let first = crate::support::spawn_app_with(options()).await;
    // On PostgreSQL a second process shares the database and hears of changes by NOTIFY.
    let second = crate::support::second_process(&first, options()).await;
    let other = second.as_ref().unwrap_or(&first);
    let w = first.world().await;
    let people = first.residents(&w.admin, &w.community_a, 2).await;
    let (reader, writer) = (&people[0].0, &people[1].0);
    let p = propose(&first, &w, writer, "修东门路灯", true).await;
    let pid = id(&p);
    // Both processes remember the page, for two viewers at the member level.
    for app in [&first, other] {
        for token in [reader, writer] {
            assert_eq!(listed(app, &w, token).await.len(), 1);
        }
    }

    // A new proposal written through one process is listed by the other.
    propose(other, &w, writer, "西门加装护栏", true).await;
    until_listed(&first, &w, reader, "the new proposal", |l| l.len() == 2).await;

    // The reader's co-signature shows as theirs alone, at once where it was made.
    other
        .post(&format!("/proposals/{pid}/cosign"), Some(reader), json!({}))
        .await
        .ok(200);
    let mine = |l: &[(String, bool, String)]| l.iter().any(|(t, c, _)| t == "修东门路灯" && *c);
    assert!(mine(&listed(other, &w, reader).await));
    until_listed(&first, &w, reader, "the co-signature", mine).await;
    assert!(!listed(&first, &w, writer).await.iter().any(|(_, c, _)| *c));

    // A draft is listed for its writer only, though the page at their level is shared.
    propose(&first, &w, writer, "草稿：楼道照明", false).await;
    let drafted = |l: &[(String, bool, String)]| l.iter().any(|(t, _, _)| t == "草稿：楼道照明");
    assert!(drafted(&listed(&first, &w, writer).await));
    until_listed(other, &w, writer, "the writer's draft", drafted).await;
    for app in [&first, other] {
        assert!(!drafted(&listed(app, &w, reader).await));
    }

    // A proposer's new name is shown on their proposals.
    other
        .patch(
            "/accounts/me",
            Some(writer),
            json!({ "display_name": "新名字" }),
        )
        .await
        .ok(200);
    until_listed(&first, &w, reader, "the new name", |l| {
        l.iter().all(|(_, _, name)| name == "新名字")
    })
    .await;

    // Hidden by the committee: gone from residents' lists, still in the committee's.
    other
        .post(
            &format!("/proposals/{pid}/hide"),
            Some(&w.committee_a),
            json!({ "reason": "含有个人信息" }),
        )
        .await
        .ok(200);
    until_listed(&first, &w, reader, "the hiding", |l| l.len() == 1).await;
    assert_eq!(listed(&first, &w, &w.committee_a).await.len(), 2);
}

#[tokio::test]
async fn remembered_lists_hear_of_another_program_writing_on_postgresql() {
    let app = crate::support::spawn_app_with(crate::support::Options {
        list_cache_ms: 3_600_000,
        ..crate::support::Options::default()
    })
    .await;
    // On SQLite a process hears of no other's writes; it keeps a page `YISHI_LIST_CACHE_MS`.
    if !app.database_url.starts_with("postgres") {
        return;
    }
    let public_total = || async {
        app.get("/proposals?page_size=1", None).await.ok(200)["total"]
            .as_u64()
            .unwrap()
    };
    // Remembered: nothing proposed yet.
    assert_eq!(public_total().await, 0);
    let demo = crate::support::yishi(&app.database_url)
        .arg("demo")
        .output()
        .unwrap();
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while public_total().await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the demo's proposals never listed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
