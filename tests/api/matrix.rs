//! The role × operation matrix (issue 32): every operation of the served spec, tried by every
//! role on the demo world's objects, must be let through or refused exactly as the table in
//! `matrix_table.rs` says. An operation missing from the table fails the test, so a new one
//! cannot land without its row.
//!
//! Columns: the platform administrator, a government officer over the subdistrict, Guihua's
//! party secretary, a Guihua committee member, a Guihua grid worker, a Guihua resident, a
//! resident of Fenglin (another community), the property firm's manager, and nobody signed in.
//! Cells: `+` let through (any answer but 401 and 403, and no 404 unless an earlier call of the
//! same operation removed the object), `x` refused (403, or 404 for what the role may not
//! see), `.` asked to sign in (401).
//!
//! Each operation is tried by the refused roles first (they change nothing), then by the
//! others; operations that end or remove things come last, and the ones that end the caller's
//! own sign-in or account run on sign-ins of their own.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::smtp::SmtpServer;
use crate::support::{Options, TestApp, fresh_database_url, spawn_app_at, yishi};

pub const ROLES: [&str; 9] = [
    "admin",
    "officer",
    "secretary",
    "committee",
    "grid_worker",
    "resident",
    "other_resident",
    "property",
    "anonymous",
];

const DEMO: &str = yishi::demo::DEMO_PASSWORD;
const ADMIN_EMAIL: &str = "matrix-admin@example.org";

fn demo_email(role: &str) -> Option<&'static str> {
    Some(match role {
        "officer" => "officer@demo.yishi.localhost",
        "secretary" => "secretary@guihua.demo.yishi.localhost",
        "committee" => "committee@guihua.demo.yishi.localhost",
        "grid_worker" => "grid@guihua.demo.yishi.localhost",
        "resident" => "resident1@guihua.demo.yishi.localhost",
        "other_resident" => "resident1@fenglin.demo.yishi.localhost",
        "property" => "property@demo.yishi.localhost",
        _ => return None,
    })
}

async fn sign_in(app: &TestApp, role: &str) -> Option<String> {
    let (email, password) = match role {
        "anonymous" => return None,
        "admin" => (ADMIN_EMAIL, crate::support::PASSWORD),
        other => (demo_email(other).unwrap(), DEMO),
    };
    let answer = app.login(email, password).await;
    Some(answer.ok(201)["token"].as_str().unwrap().to_string())
}

/// Operations that end or remove what others act on: tried after all the rest.
fn ends_something(op: &str) -> bool {
    [
        "delete",
        "remove",
        "revoke",
        "hide",
        "withdraw",
        "cancel",
        "close",
        "terminate",
        "reject",
        "clear",
        "unfollow",
        "adjourn",
    ]
    .iter()
    .any(|verb| op.starts_with(verb))
}

/// Operations on the caller's own sign-in or account: tried on a sign-in of their own, last.
const OWN_SIGN_IN: [&str; 4] = [
    "logout",
    "revokeSignIn",
    "changePassword",
    "deleteMyAccount",
];

/// The demo objects the operations are tried on, by path parameter.
async fn fixtures(app: &TestApp) -> HashMap<&'static str, String> {
    use yishi::entities::*;
    let db = &app.db.conn;
    let guihua = place::Entity::find()
        .filter(place::Column::Name.eq("桂花社区"))
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let mut f: HashMap<&'static str, String> = HashMap::new();
    let mut put = |k: &'static str, v: Option<Uuid>| {
        f.insert(k, v.unwrap_or_else(Uuid::new_v4).to_string());
    };
    put("community_id", Some(guihua));
    put("object_id", Some(guihua));
    let resident2 = user::Entity::find()
        .filter(user::Column::Email.eq("resident2@guihua.demo.yishi.localhost"))
        .one(db)
        .await
        .unwrap();
    put("user_id", resident2.as_ref().map(|u| u.id));
    put("place_id", Some(guihua));
    put(
        "building_id",
        building::Entity::find()
            .filter(building::Column::CommunityId.eq(guihua))
            .order_by_asc(building::Column::Name)
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    let unit = unit::Entity::find()
        .filter(unit::Column::CommunityId.eq(guihua))
        .order_by_asc(unit::Column::Number)
        .one(db)
        .await
        .unwrap();
    put("unit_id", unit.as_ref().map(|m| m.id));
    let unit_building = match &unit {
        Some(u) => building::Entity::find_by_id(u.building_id)
            .one(db)
            .await
            .unwrap()
            .map(|b| b.name),
        None => None,
    };
    let proposal = proposal::Entity::find()
        .filter(proposal::Column::CommunityId.eq(guihua))
        .filter(proposal::Column::Status.eq("collecting"))
        .order_by_asc(proposal::Column::CreatedAt)
        .one(db)
        .await
        .unwrap();
    put("proposal_id", proposal.as_ref().map(|p| p.id));
    put(
        "comment_id",
        proposal_comment::Entity::find()
            .order_by_asc(proposal_comment::Column::CreatedAt)
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    put(
        "act_id",
        assisted_act::Entity::find()
            .filter(assisted_act::Column::CommunityId.eq(guihua))
            .order_by_asc(assisted_act::Column::CreatedAt)
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    put(
        "assisted_id",
        assisted_ballot::Entity::find()
            .order_by_asc(assisted_ballot::Column::CreatedAt)
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    put(
        "session_id",
        session::Entity::find()
            .filter(session::Column::CommunityId.eq(guihua))
            .filter(session::Column::Status.eq("scheduled"))
            .order_by_asc(session::Column::CreatedAt)
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    put(
        "poll_id",
        poll::Entity::find()
            .filter(poll::Column::CommunityId.eq(guihua))
            .filter(poll::Column::Status.eq("open"))
            .order_by_asc(poll::Column::CreatedAt)
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    put(
        "proxy_id",
        poll_proxy::Entity::find()
            .filter(poll_proxy::Column::CommunityId.eq(guihua))
            .order_by_asc(poll_proxy::Column::CreatedAt)
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    let resolution = resolution::Entity::find()
        .filter(resolution::Column::CommunityId.eq(guihua))
        .filter(resolution::Column::Status.eq("in_progress"))
        .order_by_asc(resolution::Column::CreatedAt)
        .one(db)
        .await
        .unwrap();
    put("resolution_id", resolution.as_ref().map(|m| m.id));
    put(
        "objection_id",
        resolution_objection::Entity::find()
            .order_by_asc(resolution_objection::Column::CreatedAt)
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    put(
        "milestone_id",
        resolution_milestone::Entity::find()
            .filter(resolution_milestone::Column::ResolutionId.eq(resolution.map(|r| r.id)))
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    put(
        "evidence_id",
        evidence_file::Entity::find()
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    let tender = tender::Entity::find()
        .filter(tender::Column::Status.eq("active"))
        .order_by_asc(tender::Column::CreatedAt)
        .one(db)
        .await
        .unwrap();
    put("tender_id", tender.as_ref().map(|t| t.id));
    let ocid = ocds_release::Entity::find()
        .order_by_asc(ocds_release::Column::Date)
        .one(db)
        .await
        .unwrap()
        .map(|r| r.ocid)
        .unwrap_or_default();
    put(
        "complaint_id",
        complaint::Entity::find()
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    put(
        "enquiry_id",
        enquiry::Entity::find().one(db).await.unwrap().map(|m| m.id),
    );
    let contract = contract::Entity::find()
        .filter(contract::Column::Status.eq("active"))
        .one(db)
        .await
        .unwrap();
    put("contract_id", contract.as_ref().map(|m| m.id));
    put(
        "contract_milestone_id",
        contract_milestone::Entity::find()
            .filter(contract_milestone::Column::ContractId.eq(contract.map(|c| c.id)))
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    put(
        "file_id",
        procurement_file::Entity::find()
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    let property = organisation::Entity::find()
        .filter(organisation::Column::Name.eq("锦绣物业服务有限公司（桂花社区项目）"))
        .one(db)
        .await
        .unwrap();
    put("organisation_id", property.as_ref().map(|m| m.id));
    put(
        "qualification_id",
        qualification::Entity::find()
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    put(
        "membership_id",
        membership::Entity::find()
            .filter(membership::Column::CommunityId.eq(guihua))
            .order_by_asc(membership::Column::CreatedAt)
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    put(
        "person_id",
        register_person::Entity::find()
            .filter(register_person::Column::CommunityId.eq(guihua))
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    put(
        "household_id",
        register_household::Entity::find()
            .filter(register_household::Column::CommunityId.eq(guihua))
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    put(
        "owner_id",
        register_owner::Entity::find()
            .filter(register_owner::Column::CommunityId.eq(guihua))
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    put(
        "request_id",
        register_request::Entity::find()
            .filter(register_request::Column::CommunityId.eq(guihua))
            .one(db)
            .await
            .unwrap()
            .map(|m| m.id),
    );
    f.insert("ocid", ocid);
    // A claim to join the community names a real flat.
    f.insert("building", unit_building.unwrap_or_default());
    f.insert("unit_number", unit.map(|u| u.number).unwrap_or_default());
    f.insert("object_type", "place".into());
    f.insert("email", "resident2@guihua.demo.yishi.localhost".into());
    f
}

/// A value of `schema` good enough to pass the spec's own checks, with ids from `f`.
fn example(spec: &Value, schema: &Value, name: &str, f: &HashMap<&'static str, String>) -> Value {
    if let Some(r) = schema["$ref"].as_str() {
        let key = r.trim_start_matches("#/components/schemas/");
        return example(spec, &spec["components"]["schemas"][key], name, f);
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(first) = schema[key].as_array().and_then(|a| a.first()) {
            return example(spec, first, name, f);
        }
    }
    if let Some(first) = schema["enum"].as_array().and_then(|a| a.first()) {
        return first.clone();
    }
    match schema["type"].as_str().unwrap_or("object") {
        "object" => {
            let mut out = serde_json::Map::new();
            let required = schema["required"].as_array().into_iter().flatten();
            // Where it is optional, the community acted in is still named.
            let scoping = ["community_id", "place_id"]
                .into_iter()
                .filter(|k| schema["properties"].get(*k).is_some());
            for key in required.filter_map(Value::as_str).chain(scoping) {
                out.insert(
                    key.to_string(),
                    example(spec, &schema["properties"][key], key, f),
                );
            }
            Value::Object(out)
        }
        "array" => {
            let n = schema["minItems"].as_u64().unwrap_or(0).max(1);
            Value::Array(
                (0..n)
                    .map(|_| example(spec, &schema["items"], name, f))
                    .collect(),
            )
        }
        "integer" | "number" => json!(schema["minimum"].as_i64().unwrap_or(1).max(1)),
        "boolean" => json!(true),
        _ if f.contains_key(name) && schema["format"].as_str() != Some("uuid") => json!(f[name]),
        _ => match schema["format"].as_str() {
            Some("uuid") => json!(
                f.get(name)
                    .cloned()
                    .unwrap_or_else(|| Uuid::new_v4().to_string())
            ),
            Some("date-time") => {
                json!((chrono::Utc::now() + chrono::Duration::days(10)).to_rfc3339())
            }
            Some("date") => json!(
                (chrono::Utc::now() + chrono::Duration::days(10))
                    .date_naive()
                    .to_string()
            ),
            _ => {
                let n = schema["minLength"].as_u64().unwrap_or(1).max(2) as usize;
                json!("议".repeat(n))
            }
        },
    }
}

struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
    /// Sent as `multipart/form-data`: the fields of `body`, and a small CSV file.
    multipart: bool,
    /// Sent form-encoded: the fields of `body`.
    form: bool,
}

fn call_for(
    spec: &Value,
    path: &str,
    method: &str,
    op: &Value,
    f: &HashMap<&'static str, String>,
) -> Call {
    let mut url = path.to_string();
    let mut query = Vec::new();
    for p in op["parameters"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap();
        let key = if name == "milestone_id" && path.starts_with("/contracts") {
            "contract_milestone_id"
        } else {
            name
        };
        let value = match example(spec, &p["schema"], key, f) {
            Value::String(s) => s,
            other => other.to_string(),
        };
        match p["in"].as_str() {
            Some("path") => url = url.replace(&format!("{{{name}}}"), &value),
            // Where it is optional, the community asked about is still named.
            Some("query") if p["required"] == true || name == "community_id" => {
                query.push(format!("{name}={value}"))
            }
            _ => {}
        }
    }
    if !query.is_empty() {
        url = format!("{url}?{}", query.join("&"));
    }
    let content = op["requestBody"]["content"].as_object();
    let json = content.and_then(|c| c.iter().find(|(k, _)| k.contains("json")));
    let multipart = content.is_some_and(|c| c.contains_key("multipart/form-data"));
    let form = content.is_some_and(|c| c.contains_key("application/x-www-form-urlencoded"));
    let other = ["multipart/form-data", "application/x-www-form-urlencoded"]
        .into_iter()
        .find(|k| content.is_some_and(|c| c.contains_key(*k)));
    let body = json
        .map(|(_, c)| example(spec, &c["schema"], "", f))
        .or_else(|| {
            other.map(|k| example(spec, &op["requestBody"]["content"][k]["schema"], "", f))
        });
    Call {
        method: method.to_uppercase().parse().unwrap(),
        path: url,
        body,
        multipart,
        form,
    }
}

fn class(status: u16, removed_before: bool) -> char {
    match status {
        200..=299 => '+',
        401 => '.',
        403 => 'x',
        404 if removed_before => '~',
        404 => 'x',
        // The request itself did not reach the check: the table cannot say.
        400 | 415 => '?',
        400..=499 => '~',
        _ => '!',
    }
}

#[tokio::test]
async fn every_operation_in_the_spec_with_every_role() {
    let url = fresh_database_url().await;
    let evidence = std::env::temp_dir()
        .join("yishi-tests")
        .join(format!("evidence-{}", Uuid::new_v4().simple()));
    let demo = yishi(&url)
        .arg("demo")
        .env("YISHI_EVIDENCE_DIR", &evidence)
        .output()
        .unwrap();
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let app = spawn_app_at(
        Options {
            evidence_dir: Some(evidence),
            ..Options::default()
        },
        Arc::new(SmtpServer::start().await),
        url,
    )
    .await;
    yishi::admin::create_admin(&app.db, ADMIN_EMAIL, "Admin", crate::support::PASSWORD)
        .await
        .unwrap();
    let spec: Value = app
        .client
        .get(format!("{}/api/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let f = fixtures(&app).await;
    let mut tokens = HashMap::new();
    for role in ROLES {
        tokens.insert(role, sign_in(&app, role).await);
    }
    let table: BTreeMap<&str, &str> = crate::matrix_table::TABLE.iter().copied().collect();

    let mut ops = Vec::new();
    for (path, methods) in spec["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            let name = op["operationId"].as_str().unwrap().to_string();
            ops.push((name, call_for(&spec, path, method, op, &f)));
        }
    }
    ops.sort_by_key(|(name, _)| {
        let rank = if OWN_SIGN_IN.contains(&name.as_str()) {
            3
        } else if name.starts_with("hide") || name.starts_with("delete") {
            2
        } else {
            u8::from(ends_something(name))
        };
        (rank, name.clone())
    });
    let missing: Vec<&str> = ops
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| !table.contains_key(name))
        .collect();

    let mut observed = Vec::new();
    let mut failures = Vec::new();
    for (name, call) in &ops {
        let expected: Vec<char> = table
            .get(name.as_str())
            .map(|row| row.chars().filter(|c| !c.is_whitespace()).collect())
            .unwrap_or_default();
        let mut order: Vec<usize> = (0..ROLES.len()).collect();
        order.sort_by_key(|&i| matches!(expected.get(i), Some('+' | '~')));
        let mut row = vec!['?'; ROLES.len()];
        let mut statuses = vec![String::new(); ROLES.len()];
        let mut removed = false;
        for i in order {
            let role = ROLES[i];
            let token = if OWN_SIGN_IN.contains(&name.as_str()) {
                sign_in(&app, role).await
            } else {
                tokens[role].clone()
            };
            let path = if name == "revokeSignIn" {
                own_other_sign_in(&app, role, token.as_deref(), &call.path).await
            } else {
                call.path.clone()
            };
            let answer = if call.multipart {
                send_form(&app, call, &path, token.as_deref()).await
            } else if call.form {
                app.raw(
                    call.method.clone(),
                    &path,
                    token.as_deref(),
                    "application/x-www-form-urlencoded",
                    form_encoded(call.body.as_ref()).into_bytes(),
                )
                .await
            } else {
                app.call(
                    call.method.clone(),
                    &path,
                    token.as_deref(),
                    call.body.clone(),
                )
                .await
            };
            let status = answer.status.as_u16();
            row[i] = class(status, removed);
            statuses[i] = format!("{status}:{}", answer.body["code"].as_str().unwrap_or(""));
            removed |= (200..300).contains(&status) && call.method != Method::GET;
            if expected.get(i).is_some_and(|&e| e != row[i]) {
                failures.push(format!(
                    "{name} as {role}: expected {}, got {status} {}",
                    expected[i], answer.body
                ));
            }
        }
        observed.push(format!(
            "    (\"{name}\", \"{}\"), // {}",
            row.iter().collect::<String>(),
            statuses.join(" ")
        ));
    }
    assert!(
        missing.is_empty() && failures.is_empty(),
        "operations missing from the matrix: {missing:?}\n{} unexpected answers:\n{}\n\nobserved:\n{}",
        failures.len(),
        failures.join("\n"),
        observed.join("\n")
    );
}

/// For `revokeSignIn`: another sign-in of the caller's own, made for the purpose.
async fn own_other_sign_in(app: &TestApp, role: &str, token: Option<&str>, path: &str) -> String {
    let Some(token) = token else {
        return path.to_string();
    };
    sign_in(app, role).await.unwrap();
    let mine = app.get("/accounts/me/sessions", Some(token)).await;
    let id = mine.body["items"]
        .as_array()
        .or(mine.body.as_array())
        .and_then(|items| items.iter().find(|s| s["current"] != true))
        .and_then(|s| s["id"].as_str())
        .unwrap_or_default()
        .to_string();
    format!("/accounts/me/sessions/{id}")
}

async fn send_form(
    app: &TestApp,
    call: &Call,
    path: &str,
    token: Option<&str>,
) -> crate::support::Answer {
    let mut form = reqwest::multipart::Form::new();
    for (key, value) in call
        .body
        .as_ref()
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if key == "file" || key == "files" {
            continue;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        form = form.text(key.clone(), text);
    }
    let csv = "building,number\n1号楼,101\n".as_bytes().to_vec();
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(csv)
            .file_name("register.csv")
            .mime_str("text/csv")
            .unwrap(),
    );
    let mut req = app
        .client
        .request(call.method.clone(), app.url(path))
        .multipart(form);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    TestApp::answer(req.send().await.unwrap()).await
}

/// `key=value&…` of a body's fields (RFC 8058's `List-Unsubscribe=One-Click` for the one
/// operation that takes a form).
fn form_encoded(body: Option<&Value>) -> String {
    body.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let v = if k == "List-Unsubscribe" {
                "One-Click".to_string()
            } else {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            };
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}
