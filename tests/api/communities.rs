use std::time::Duration;

use serde_json::json;

use crate::support::{PASSWORD, id, spawn_app};

#[tokio::test]
async fn places_form_a_checked_tree() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let district = app.place(&admin, "district", "临江区", None).await;
    let sub = app
        .place(&admin, "subdistrict", "望湖街道", Some(&district))
        .await;
    app.post(
        "/places",
        Some(&admin),
        json!({ "kind": "community", "name": "桂花社区", "parent_id": district }),
    )
    .await
    .problem(422, "invalid_hierarchy");
    app.post(
        "/places",
        Some(&admin),
        json!({ "kind": "community", "name": "桂花社区" }),
    )
    .await
    .problem(422, "invalid_hierarchy");
    app.post(
        "/places",
        Some(&admin),
        json!({ "kind": "district", "name": "x", "parent_id": district }),
    )
    .await
    .problem(422, "invalid_hierarchy");
    app.post(
        "/places",
        Some(&admin),
        json!({ "kind": "county", "name": "x" }),
    )
    .await
    .problem(400, "invalid_request");
    app.post(
        "/places",
        Some(&admin),
        json!({ "kind": "district", "name": "" }),
    )
    .await
    .problem(422, "invalid_name");
    app.post(
        "/places",
        Some(&admin),
        json!({ "kind": "grid", "name": "x", "parent_id": uuid::Uuid::new_v4() }),
    )
    .await
    .problem(404, "place_not_found");
    let community = app.place(&admin, "community", "桂花社区", Some(&sub)).await;
    let listed = app.get(&format!("/places?parent_id={sub}"), None).await;
    assert_eq!(listed.ok(200).as_array().unwrap().len(), 1);
    assert_eq!(listed.body[0]["id"], community.as_str());
    let communities = app.get("/places?kind=community", None).await;
    assert_eq!(communities.ok(200).as_array().unwrap().len(), 1);
    app.get("/places?kind=planet", None)
        .await
        .problem(400, "invalid_request");
    assert_eq!(
        app.get(&format!("/places/{community}"), None).await.ok(200)["parent_id"],
        sub.as_str()
    );
}

#[tokio::test]
async fn organisations_and_members() {
    let app = spawn_app().await;
    let w = app.world().await;
    let firm = app
        .post("/organisations", Some(&w.committee_a), json!({ "kind": "property_management_firm", "name": "锦绣物业", "place_id": w.community_a, "credit_code": "91350100m000100y43" }))
        .await;
    assert_eq!(firm.ok(201)["credit_code"], "91350100M000100Y43");
    let firm = id(&firm.body);
    app.post("/organisations", Some(&w.committee_a), json!({ "kind": "enterprise", "name": "x", "place_id": w.community_a, "credit_code": "91350100M000100Y44" })).await.problem(422, "invalid_credit_code");
    app.post(
        "/organisations",
        Some(&w.committee_a),
        json!({ "kind": "bank", "name": "x", "place_id": w.community_a }),
    )
    .await
    .problem(400, "invalid_request");

    let rep_email = format!("rep-{}@example.org", uuid::Uuid::new_v4().simple());
    let rep = app.verified_user(&rep_email, "陈经理").await;
    app.post(
        &format!("/organisations/{firm}/members"),
        Some(&w.committee_a),
        json!({ "email": rep_email, "role": "representative" }),
    )
    .await
    .ok(200);
    app.post(
        &format!("/organisations/{firm}/members"),
        Some(&w.committee_a),
        json!({ "email": "ghost@example.org", "role": "member" }),
    )
    .await
    .problem(404, "person_not_found");
    // The representative now manages members themselves.
    let staff_email = format!("staff-{}@example.org", uuid::Uuid::new_v4().simple());
    let staff = app.verified_user(&staff_email, "员工").await;
    app.post(
        &format!("/organisations/{firm}/members"),
        Some(&rep),
        json!({ "email": staff_email, "role": "member" }),
    )
    .await
    .ok(200);
    let members = app
        .get(&format!("/organisations/{firm}/members"), Some(&staff))
        .await;
    assert_eq!(members.ok(200).as_array().unwrap().len(), 2);
    // A plain member may not manage members.
    let staff_id = members
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "member")
        .unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    app.delete(
        &format!("/organisations/{firm}/members/{staff_id}"),
        Some(&staff),
    )
    .await
    .problem(403, "forbidden");
    app.delete(
        &format!("/organisations/{firm}/members/{staff_id}"),
        Some(&rep),
    )
    .await
    .ok(204);
    app.get(&format!("/organisations/{firm}/members"), Some(&staff))
        .await
        .problem(403, "forbidden");
    let listed = app
        .get(&format!("/organisations?place_id={}", w.community_a), None)
        .await;
    assert!(
        listed
            .ok(200)
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == "锦绣物业")
    );
}

#[tokio::test]
async fn roles_are_granted_at_fitting_places_only() {
    let app = spawn_app().await;
    let w = app.world().await;
    let email = format!("p-{}@example.org", uuid::Uuid::new_v4().simple());
    let person = app.verified_user(&email, "P").await;
    app.post(
        &format!("/places/{}/roles", w.district),
        Some(&w.admin),
        json!({ "email": email, "role": "committee_member" }),
    )
    .await
    .problem(422, "invalid_hierarchy");
    app.post(
        &format!("/places/{}/roles", w.community_a),
        Some(&w.admin),
        json!({ "email": email, "role": "platform_admin" }),
    )
    .await
    .problem(403, "forbidden");
    let grant = app
        .post(
            &format!("/places/{}/roles", w.community_a),
            Some(&w.secretary_a),
            json!({ "email": email, "role": "committee_member" }),
        )
        .await;
    let grant_id = id(grant.ok(201));
    app.post(
        &format!("/places/{}/roles", w.community_a),
        Some(&w.secretary_a),
        json!({ "email": email, "role": "committee_member" }),
    )
    .await
    .problem(409, "role_exists");
    // The party secretary may not make government officers.
    app.post(
        &format!("/places/{}/roles", w.subdistrict),
        Some(&w.secretary_a),
        json!({ "email": email, "role": "government_officer" }),
    )
    .await
    .problem(403, "forbidden");
    let me = app.get("/accounts/me", Some(&person)).await;
    assert_eq!(me.ok(200)["roles"][0]["role"], "committee_member");
    assert_eq!(me.body["roles"][0]["place_name"], "桂花社区");
    app.get(
        &format!("/communities/{}/units", w.community_a),
        Some(&person),
    )
    .await
    .ok(200);
    app.delete(&format!("/roles/{grant_id}"), Some(&w.committee_b))
        .await
        .problem(403, "forbidden");
    app.delete(&format!("/roles/{grant_id}"), Some(&w.secretary_a))
        .await
        .ok(204);
    app.get(
        &format!("/communities/{}/units", w.community_a),
        Some(&person),
    )
    .await
    .problem(403, "forbidden");
}

#[tokio::test]
async fn unit_register_and_csv_import() {
    let app = spawn_app().await;
    let w = app.world().await;
    let a = &w.community_a;
    let csv = "building,number,area_m2,registered_owner,developer_held\n\
               1号楼,101,90.25,张三,no\n\
               2号楼,201,70.5,李四,\n\
               2号楼,202,abc,王五,no\n\
               2号楼,,80,赵六,no\n\
               3号楼,301,100,,yes\n\
               2号楼,201,71,李四,no\n";
    let report = app
        .post(
            &format!("/communities/{a}/units/import"),
            Some(&w.committee_a),
            json!({ "csv": csv }),
        )
        .await;
    let body = report.ok(200);
    assert_eq!(body["created"], 2, "{body}");
    assert_eq!(body["updated"], 1, "101 existed already: {body}");
    let lines: Vec<u64> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![4, 5, 7]);
    let units = app
        .get(&format!("/communities/{a}/units"), Some(&w.committee_a))
        .await;
    let units = units.ok(200).as_array().unwrap().clone();
    let u101 = units
        .iter()
        .find(|u| u["building"] == "1号楼" && u["number"] == "101")
        .unwrap();
    assert_eq!(u101["area_centi"], 9025);
    assert_eq!(u101["registered_owner"], "张三");
    let u301 = units.iter().find(|u| u["number"] == "301").unwrap();
    assert_eq!(u301["developer_held"], true);
    let buildings = app.get(&format!("/communities/{a}/buildings"), None).await;
    assert_eq!(buildings.ok(200).as_array().unwrap().len(), 3);

    // Manual edits and their bad inputs.
    let unit = u101["id"].as_str().unwrap();
    assert_eq!(
        app.patch(
            &format!("/units/{unit}"),
            Some(&w.committee_a),
            json!({ "area_centi": 9100 })
        )
        .await
        .ok(200)["area_centi"],
        9100
    );
    app.patch(
        &format!("/units/{unit}"),
        Some(&w.committee_a),
        json!({ "area_centi": 0 }),
    )
    .await
    .problem(400, "invalid_request");
    app.patch(
        &format!("/units/{unit}"),
        Some(&w.committee_a),
        json!({ "area_centi": "big" }),
    )
    .await
    .problem(400, "invalid_request");
    app.patch(
        &format!("/units/{unit}"),
        Some(&w.committee_b),
        json!({ "area_centi": 9200 }),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/communities/{a}/units"),
        Some(&w.committee_a),
        json!({ "building_id": w.building_a, "number": "101", "area_centi": 5000 }),
    )
    .await
    .problem(409, "unit_exists");
    app.post(
        &format!("/communities/{a}/units"),
        Some(&w.committee_a),
        json!({ "building_id": w.building_b, "number": "909", "area_centi": 5000 }),
    )
    .await
    .problem(404, "building_not_found");
    app.post(
        &format!("/communities/{a}/buildings"),
        Some(&w.committee_a),
        json!({ "name": "1号楼" }),
    )
    .await
    .problem(409, "building_exists");
    app.post(
        &format!("/communities/{a}/units/import"),
        Some(&w.committee_a),
        json!({ "csv": "a,b\n1,2\n" }),
    )
    .await
    .ok(200);
}

#[tokio::test]
async fn joining_and_verification() {
    let app = spawn_app().await;
    let w = app.world().await;
    let a = &w.community_a;
    // An unverified account may not join.
    app.register("new@example.org", "新人").await;
    let unverified = app.login("new@example.org", PASSWORD).await.ok(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &format!("/communities/{a}/memberships"),
        Some(&unverified),
        json!({ "building": "1号楼", "unit_number": "101", "household": true }),
    )
    .await
    .problem(403, "email_unverified");

    let email = format!("j-{}@example.org", uuid::Uuid::new_v4().simple());
    let joiner = app.verified_user(&email, "王芳").await;
    app.post(
        &format!("/communities/{a}/memberships"),
        Some(&joiner),
        json!({ "building": "1号楼", "unit_number": "999", "household": true }),
    )
    .await
    .problem(404, "unit_not_found");
    app.post(
        &format!("/communities/{a}/memberships"),
        Some(&joiner),
        json!({ "building": "9号楼", "unit_number": "101", "household": true }),
    )
    .await
    .problem(404, "building_not_found");
    app.post(
        &format!("/communities/{a}/memberships"),
        Some(&joiner),
        json!({ "building": "1号楼", "unit_number": "101" }),
    )
    .await
    .problem(422, "invalid_claim");
    let m = app.post(&format!("/communities/{a}/memberships"), Some(&joiner), json!({ "building": "1号楼", "unit_number": "101", "household": true, "owner": true, "note": "我是业主" })).await;
    assert_eq!(m.ok(201)["status"], "pending");
    assert_eq!(m.body["unit_label"], "1号楼 101");
    let membership = id(&m.body);
    app.post(
        &format!("/communities/{a}/memberships"),
        Some(&joiner),
        json!({ "building": "1号楼", "unit_number": "101", "household": true }),
    )
    .await
    .problem(409, "membership_exists");

    let queue = app
        .get(
            &format!("/communities/{a}/memberships?status=pending"),
            Some(&w.committee_a),
        )
        .await;
    assert_eq!(queue.ok(200).as_array().unwrap().len(), 1);
    app.get(
        &format!("/communities/{a}/memberships"),
        Some(&w.committee_b),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/memberships/{membership}/decision"),
        Some(&w.committee_b),
        json!({ "verdict": "verify", "household": true }),
    )
    .await
    .problem(403, "forbidden");
    app.post(
        &format!("/memberships/{membership}/decision"),
        Some(&w.committee_a),
        json!({ "verdict": "reject" }),
    )
    .await
    .problem(422, "reason_required");
    app.post(
        &format!("/memberships/{membership}/decision"),
        Some(&w.committee_a),
        json!({ "verdict": "maybe" }),
    )
    .await
    .problem(400, "invalid_request");
    // Verified as household member only: the ownership claim was not proven.
    let decided = app
        .post(
            &format!("/memberships/{membership}/decision"),
            Some(&w.committee_a),
            json!({ "verdict": "verify", "household": true, "owner": false }),
        )
        .await;
    assert_eq!(decided.ok(200)["status"], "verified");
    assert_eq!(decided.body["owner"], false);
    app.post(
        &format!("/memberships/{membership}/decision"),
        Some(&w.committee_a),
        json!({ "verdict": "reject", "reason": "late" }),
    )
    .await
    .problem(409, "membership_decided");

    let me = app.get("/accounts/me", Some(&joiner)).await;
    let roles: Vec<&str> = me.ok(200)["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, vec!["resident"]);
    let mine = app.get("/accounts/me/memberships", Some(&joiner)).await;
    assert_eq!(mine.ok(200)[0]["status"], "verified");
    let mails = app.smtp.wait_for(&email, 2, Duration::from_secs(30)).await;
    assert!(mails[1].text().contains("桂花社区"), "{}", mails[1].text());

    // A rejection carries its reason to the person.
    let email2 = format!("k-{}@example.org", uuid::Uuid::new_v4().simple());
    let other = app.verified_user(&email2, "李静").await;
    let m2 = id(app
        .post(
            &format!("/communities/{a}/memberships"),
            Some(&other),
            json!({ "building": "1号楼", "unit_number": "102", "owner": true }),
        )
        .await
        .ok(201));
    let rejected = app
        .post(
            &format!("/memberships/{m2}/decision"),
            Some(&w.secretary_a),
            json!({ "verdict": "reject", "reason": "产权登记上没有此人" }),
        )
        .await;
    assert_eq!(rejected.ok(200)["decision_reason"], "产权登记上没有此人");
    let mails = app.smtp.wait_for(&email2, 2, Duration::from_secs(30)).await;
    assert!(mails[1].text().contains("产权登记上没有此人"));
}
