//! The register's personal data leaving and being erased: the committee's export, which the
//! import reads back, and a person's erasure on their own request.

use serde_json::json;

use crate::register::{decide, household, import, join, own, owner, person, unit};
use crate::support::{id, resident_id, spawn_app};

#[tokio::test]
async fn the_committee_exports_the_register_and_a_person_is_erased_on_request() {
    let app = spawn_app().await;
    let w = app.world().await;
    let u = unit(&app, &w, "301", 8000, false).await;
    let h = household(&app, &w, &u).await;
    let doc = resident_id(901);
    let wang = person(
        &app,
        &w,
        json!({ "name": "王伟", "document_kind": "resident_id", "document_number": doc,
        "phone": "+8613800138000", "household_id": h }),
    )
    .await;
    person(
        &app,
        &w,
        json!({ "name": "=1+2", "birth_date": "2015-06-01", "household_id": h }),
    )
    .await;
    let o = owner(&app, &w, json!({ "person_ids": [wang] })).await;
    own(&app, &w, &u, &o).await;

    // ---- the export: the committee's alone, in the tamper-evident record.
    let path = format!("/communities/{}/register/export", w.community_a);
    app.get(&path, Some(&w.grid_worker_a))
        .await
        .problem(403, "forbidden");
    app.get(&path, Some(&w.resident_a))
        .await
        .problem(403, "forbidden");
    let file = app.get(&path, Some(&w.committee_a)).await;
    assert_eq!(file.status, 200);
    assert_eq!(file.content_type, "text/csv; charset=utf-8");
    let text = file.body.as_str().unwrap().to_string();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "name,document_kind,document_number,birth_date,adult,phone,status,building,number,owner,certificate,document,household"
        )
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("王伟"))
        .expect("王伟's row");
    assert!(
        row.contains(&format!("resident_id …{}", &doc[14..])),
        "{row}"
    );
    assert!(
        row.contains("'+8613800138000"),
        "a formula-looking cell is guarded: {row}"
    );
    assert!(row.contains(",1号楼,301,yes,"), "{row}");
    assert!(!text.contains(&doc), "no document number leaves");
    assert!(text.contains("'=1+2"), "{text}");
    let record = app
        .get(
            &format!(
                "/audit/entries?object_type=place&object_id={}",
                w.community_a
            ),
            Some(&w.committee_a),
        )
        .await;
    assert!(
        record
            .ok(200)
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "register.exported")
    );
    // Reading the export back changes nothing.
    let again = import(&app, &w.committee_a, &w.community_a, &text).await;
    let report = again.ok(200);
    // Only the person with neither a document nor a unit (resident-a, by role) cannot be
    // matched again, and the import says so rather than adding them twice.
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report}");
    let line = errors[0]["line"].as_u64().unwrap() as usize;
    assert!(
        text.lines()
            .nth(line - 1)
            .unwrap()
            .starts_with("resident-a,"),
        "{report}"
    );
    assert_eq!(report["persons_unchanged"], 2, "{report}");
    assert_eq!(report["persons_created"], 0, "{report}");
    assert_eq!(report["persons_updated"], 0, "{report}");

    // ---- erasure: 王伟 links an account and asks; a committee member confirms.
    let before = app
        .get(
            &format!("/communities/{}/register", w.community_a),
            Some(&w.committee_a),
        )
        .await;
    let seq_before = before.ok(200)["seq"].as_i64().unwrap();
    let (token, m) = join(&app, &w, "王伟", "301", json!({ "household": true })).await;
    decide(&app, &w, &m, json!({ "verdict": "verify", "household": true, "person_id": wang, "document_last4": &doc[14..] }))
        .await
        .ok(200);
    let mine = app.get("/accounts/me/register", Some(&token)).await;
    assert_eq!(mine.ok(200)[0]["name"], "王伟");
    assert_eq!(mine.body[0]["unit_label"], "1号楼-301");
    assert_eq!(mine.body[0]["erasure_pending"], false);
    let ask = "/accounts/me/register/erasure";
    app.post(
        ask,
        Some(&w.resident_a),
        json!({ "community_id": w.community_b }),
    )
    .await
    .problem(404, "person_not_found");
    app.post(
        ask,
        Some(&token),
        json!({ "community_id": uuid::Uuid::new_v4() }),
    )
    .await
    .problem(404, "community_not_found");
    let asked = app
        .post(
            ask,
            Some(&token),
            json!({ "community_id": w.community_a, "reason": "已搬走多年" }),
        )
        .await;
    assert_eq!(asked.ok(201)["kind"], "erasure");
    assert_eq!(asked.body["status"], "pending");
    let request = id(&asked.body);
    app.post(ask, Some(&token), json!({ "community_id": w.community_a }))
        .await
        .problem(409, "erasure_pending");
    app.post(
        &format!("/communities/{}/register/requests", w.community_a),
        Some(&w.grid_worker_a),
        json!({ "kind": "erasure", "person_id": wang, "reference": "x" }),
    )
    .await
    .problem(422, "invalid_request_kind");
    let electorate = format!(
        "/communities/{}/register/electorate?electorate=residents",
        w.community_a
    );
    let counted = app.get(&electorate, Some(&w.committee_a)).await.ok(200)["headcount"].clone();
    app.post(
        &format!("/register/requests/{request}/decision"),
        Some(&w.committee_a),
        json!({ "confirm": true }),
    )
    .await
    .ok(200);
    let erased = app
        .get(&format!("/register/persons/{wang}"), Some(&w.committee_a))
        .await;
    assert_eq!(erased.ok(200)["name"], "（已删除）");
    assert_eq!(erased.body["has_account"], false);
    assert!(erased.body["document_last4"].is_null() && erased.body["phone"].is_null());
    let after = app.get(&electorate, Some(&w.committee_a)).await;
    assert_eq!(
        after.ok(200)["headcount"],
        counted,
        "the community still counts the head"
    );
    // Every version kept is erased too: the register as it was holds no name either.
    let past = app
        .get(
            &format!("/communities/{}/register?seq={seq_before}", w.community_a),
            Some(&w.committee_a),
        )
        .await;
    let past_text = past.ok(200).to_string();
    // The last four characters are looked for where they are kept, not anywhere in the
    // text: four digits turn up inside ids by chance.
    let last4 = json!(&doc[14..]);
    assert!(
        !past_text.contains("王伟") && !past_text.contains(&format!("\"document_last4\":{last4}")),
        "{past_text}"
    );
    assert!(
        app.get("/accounts/me/register", Some(&token))
            .await
            .ok(200)
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn units_are_listed_with_their_grid_owner_and_households() {
    let app = spawn_app().await;
    let w = app.world().await;
    app.call(
        reqwest::Method::PUT,
        &format!("/buildings/{}/grid", w.building_a),
        Some(&w.committee_a),
        Some(json!({ "grid_id": w.grid_a })),
    )
    .await
    .ok(200);
    let u = unit(&app, &w, "301", 8765, false).await;
    let h = household(&app, &w, &u).await;
    let wang = person(&app, &w, json!({ "name": "王伟", "household_id": h })).await;
    person(
        &app,
        &w,
        json!({ "name": "王小伟", "birth_date": "2015-06-01", "household_id": h }),
    )
    .await;
    let o = owner(&app, &w, json!({ "person_ids": [wang] })).await;
    own(&app, &w, &u, &o).await;
    let b2 = id(app
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
        json!({ "building_id": b2, "number": "101", "area_centi": 5000, "developer_held": true }),
    )
    .await
    .ok(201);
    let path = format!("/communities/{}/register/units", w.community_a);
    let all = app.get(&path, Some(&w.committee_a)).await;
    let all = all.ok(200).as_array().unwrap().clone();
    let mine = all
        .iter()
        .find(|x| x["unit_id"] == u.as_str())
        .expect("the unit");
    assert_eq!(mine["label"], "1号楼-301");
    assert_eq!(mine["grid_id"], w.grid_a.as_str());
    assert_eq!(mine["area_centi"], 8765);
    assert_eq!(mine["owner_name"], "王伟");
    assert_eq!(mine["households"].as_array().unwrap().len(), 1);
    assert_eq!(mine["residents"], 2);
    let unsold = all
        .iter()
        .find(|x| x["label"] == "2号楼-101")
        .expect("2号楼-101");
    assert_eq!(unsold["developer_held"], true);
    assert!(unsold["grid_id"].is_null());
    // A grid worker reads their grid's units only; residents none.
    let theirs = app.get(&path, Some(&w.grid_worker_a)).await;
    let labels: Vec<&str> = theirs
        .ok(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["label"].as_str().unwrap())
        .collect();
    assert!(
        labels.contains(&"1号楼-301") && !labels.contains(&"2号楼-101"),
        "{labels:?}"
    );
    app.get(&path, Some(&w.resident_a))
        .await
        .problem(403, "forbidden");
}
