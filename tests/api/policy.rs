//! Walks every guarded operation with every role, including roles held in another community,
//! and checks which are allowed and which refused.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{World, id, spawn_app};

struct Op {
    name: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
}

const ROLES: [&str; 9] = [
    "admin",
    "officer",
    "secretary_a",
    "committee_a",
    "committee_b",
    "grid_worker_a",
    "resident_a",
    "outsider",
    "anonymous",
];

fn token<'a>(w: &'a World, role: &str) -> Option<&'a str> {
    Some(match role {
        "admin" => &w.admin,
        "officer" => &w.officer,
        "secretary_a" => &w.secretary_a,
        "committee_a" => &w.committee_a,
        "committee_b" => &w.committee_b,
        "grid_worker_a" => &w.grid_worker_a,
        "resident_a" => &w.resident_a,
        "outsider" => &w.outsider,
        _ => return None,
    })
}

#[tokio::test]
async fn every_operation_with_every_role() {
    let app = spawn_app().await;
    let w = app.world().await;
    let a = &w.community_a;
    let org = id(app
        .post(
            "/organisations",
            Some(&w.admin),
            json!({ "kind": "enterprise", "name": "邻里便利店", "place_id": a }),
        )
        .await
        .ok(201));
    let unit = app
        .get(&format!("/communities/{a}/units"), Some(&w.committee_a))
        .await
        .body[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A pending membership in community A for the decision operation.
    let joiner_email = format!("joiner-{}@example.org", uuid::Uuid::new_v4().simple());
    let joiner = app.verified_user(&joiner_email, "Joiner").await;
    let membership = id(app
        .post(
            &format!("/communities/{a}/memberships"),
            Some(&joiner),
            json!({ "building": "1号楼", "unit_number": "101", "household": true }),
        )
        .await
        .ok(201));
    let member_email = format!("member-{}@example.org", uuid::Uuid::new_v4().simple());
    app.verified_user(&member_email, "Member").await;

    let ops = |role: &str| {
        vec![
            Op {
                name: "createPlace",
                method: Method::POST,
                path: "/places".into(),
                body: Some(
                    json!({ "kind": "grid", "name": format!("网格-{role}"), "parent_id": a }),
                ),
            },
            Op {
                name: "grantRole",
                method: Method::POST,
                path: format!("/places/{a}/roles"),
                body: Some(json!({ "email": member_email, "role": "committee_member" })),
            },
            Op {
                name: "listRoles",
                method: Method::GET,
                path: format!("/places/{a}/roles"),
                body: None,
            },
            Op {
                name: "createOrganisation",
                method: Method::POST,
                path: "/organisations".into(),
                body: Some(
                    json!({ "kind": "social_organisation", "name": format!("组织-{role}"), "place_id": a }),
                ),
            },
            Op {
                name: "addOrganisationMember",
                method: Method::POST,
                path: format!("/organisations/{org}/members"),
                body: Some(json!({ "email": member_email, "role": "member" })),
            },
            Op {
                name: "listOrganisationMembers",
                method: Method::GET,
                path: format!("/organisations/{org}/members"),
                body: None,
            },
            Op {
                name: "createBuilding",
                method: Method::POST,
                path: format!("/communities/{a}/buildings"),
                body: Some(json!({ "name": format!("楼-{role}") })),
            },
            Op {
                name: "createUnit",
                method: Method::POST,
                path: format!("/communities/{a}/units"),
                body: Some(
                    json!({ "building_id": w.building_a, "number": format!("9-{role}"), "area_centi": 7000 }),
                ),
            },
            Op {
                name: "updateUnit",
                method: Method::PATCH,
                path: format!("/units/{unit}"),
                body: Some(json!({ "area_centi": 8551 })),
            },
            Op {
                name: "listUnits",
                method: Method::GET,
                path: format!("/communities/{a}/units"),
                body: None,
            },
            Op {
                name: "importUnits",
                method: Method::POST,
                path: format!("/communities/{a}/units/import"),
                body: Some(
                    json!({ "csv": format!("building,number,area_m2\n2号楼,{role},60.5\n") }),
                ),
            },
            Op {
                name: "listMemberships",
                method: Method::GET,
                path: format!("/communities/{a}/memberships"),
                body: None,
            },
            Op {
                name: "decideMembership",
                method: Method::POST,
                path: format!("/memberships/{membership}/decision"),
                body: Some(json!({ "verdict": "verify", "household": true })),
            },
            Op {
                name: "listAuditEntries",
                method: Method::GET,
                path: format!("/audit/entries?object_type=place&object_id={a}"),
                body: None,
            },
            Op {
                name: "verifyAudit",
                method: Method::GET,
                path: "/audit/verify".into(),
                body: None,
            },
        ]
    };

    // Which roles may do each operation on community A's objects.
    let allowed = |op: &str, role: &str| -> bool {
        if role == "admin" {
            return true;
        }
        let committee = matches!(role, "secretary_a" | "committee_a");
        match op {
            "createPlace" => role == "officer",
            "grantRole" => matches!(role, "officer" | "secretary_a"),
            "listRoles" | "listUnits" | "listAuditEntries" => committee || role == "officer",
            "createOrganisation" | "addOrganisationMember" | "listOrganisationMembers" => {
                committee || role == "officer"
            }
            "createBuilding" | "createUnit" | "updateUnit" | "importUnits" | "listMemberships"
            | "decideMembership" => committee,
            "verifyAudit" => role == "officer",
            other => panic!("no rule for {other}"),
        }
    };

    let mut failures = Vec::new();
    for role in ROLES {
        for op in ops(role) {
            let answer = app
                .call(
                    op.method.clone(),
                    &op.path,
                    token(&w, role),
                    op.body.clone(),
                )
                .await;
            let status = answer.status.as_u16();
            let ok = if role == "anonymous" {
                status == 401 && answer.body["code"] == "unauthenticated"
            } else if allowed(op.name, role) {
                // Allowed: success, or a state conflict from an earlier allowed call.
                (200..300).contains(&status) || status == 409
            } else {
                status == 403 && answer.body["code"] == "forbidden"
            };
            if !ok {
                failures.push(format!("{role} {}: {status} {}", op.name, answer.body));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "unexpected answers:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn objects_of_unknown_ids_are_not_found() {
    let app = spawn_app().await;
    let w = app.world().await;
    let nobody = uuid::Uuid::new_v4();
    let cases = [
        (
            Method::GET,
            format!("/places/{nobody}"),
            None,
            "place_not_found",
        ),
        (
            Method::POST,
            format!("/places/{nobody}/roles"),
            Some(json!({ "email": "x@example.org", "role": "resident" })),
            "place_not_found",
        ),
        (
            Method::GET,
            format!("/organisations/{nobody}"),
            None,
            "organisation_not_found",
        ),
        (
            Method::POST,
            format!("/organisations/{nobody}/members"),
            Some(json!({ "email": "x@example.org", "role": "member" })),
            "organisation_not_found",
        ),
        (
            Method::GET,
            format!("/communities/{nobody}/buildings"),
            None,
            "community_not_found",
        ),
        (
            Method::GET,
            format!("/communities/{nobody}/units"),
            None,
            "community_not_found",
        ),
        (
            Method::PATCH,
            format!("/units/{nobody}"),
            Some(json!({ "area_centi": 100 })),
            "unit_not_found",
        ),
        (
            Method::POST,
            format!("/memberships/{nobody}/decision"),
            Some(json!({ "verdict": "verify", "household": true })),
            "membership_not_found",
        ),
        (
            Method::DELETE,
            format!("/roles/{nobody}"),
            None,
            "grant_not_found",
        ),
        (
            Method::GET,
            format!("/audit/entries?object_type=place&object_id={nobody}"),
            None,
            "object_not_found",
        ),
        // A community id that is really a subdistrict is not a community.
        (
            Method::GET,
            format!("/communities/{}/buildings", w.subdistrict),
            None,
            "community_not_found",
        ),
    ];
    for (method, path, body, code) in cases {
        app.call(method, &path, Some(&w.admin), body)
            .await
            .problem(404, code);
    }
}
