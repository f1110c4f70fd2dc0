//! Open Contracting Data Standard 1.1: one release per public change of a procurement, written
//! in the transaction that makes the change, with the tag that names it. A release is the
//! whole public state of the procurement at that moment, with no empty field; the record's
//! compiled release is the merge of its releases (`ocds_merge`). Bid contents never appear
//! (only their number after the opening); no personal data ever: parties are the buying place
//! and organisations. A milestone's payment is published under Yishi's own extension
//! (`web/ocds/milestone_value/`), declared in every package.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::delivery::{amendments_of, milestones_of};
use super::error::ContractsError as E;
use super::files;
use super::model::TenderStatus;
use super::ocds_merge::{compile, prune, rebase};
use super::service::{Result, category_of, criteria_of, load_tender, ocid, status_of};
use crate::clock;
use crate::entities::{bid, contract, enquiry, ocds_release, organisation, place};
use crate::state::AppState;

fn money(fen: i64) -> Value {
    // Yuan with two decimals; fen are integers, so the division is exact in decimal.
    let text = format!("{}.{:02}", fen / 100, fen % 100);
    json!({ "amount": text.parse::<f64>().unwrap_or(0.0), "currency": "CNY" })
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A calendar date in Asia/Shanghai, as the start of that day.
fn day(d: &str) -> Option<String> {
    let d: NaiveDate = d.parse().ok()?;
    let start = Utc.from_utc_datetime(&(d.and_hms_opt(0, 0, 0)? - chrono::Duration::hours(8)));
    Some(stamp(start))
}

fn tender_status(s: TenderStatus) -> &'static str {
    match s {
        TenderStatus::Planned => "planned",
        TenderStatus::Active | TenderStatus::Evaluation => "active",
        TenderStatus::Awarded => "complete",
        TenderStatus::Unsuccessful => "unsuccessful",
        TenderStatus::Cancelled => "cancelled",
    }
}

fn org_party(o: &organisation::Model, roles: &[&str]) -> Value {
    let mut p = json!({
        "id": format!("org-{}", o.id),
        "name": o.name,
        "roles": roles,
    });
    if let Some(code) = &o.credit_code {
        p["identifier"] = json!({ "scheme": "CN-USCC", "id": code, "legalName": o.name });
    }
    p
}

/// The procurement's public state now, as a release (without id, date and tag).
async fn snapshot<C: ConnectionTrait>(db: &C, state: &AppState, id: Uuid) -> Result<Value> {
    let t = load_tender(db, id).await?;
    let status = status_of(&t);
    let buyer_place = place::Entity::find_by_id(t.place_id)
        .one(db)
        .await?
        .ok_or(E::Missing("place"))?;
    let buyer = json!({ "id": format!("place-{}", buyer_place.id), "name": buyer_place.name });
    let mut parties = vec![json!({
        "id": buyer["id"],
        "name": buyer["name"],
        "roles": ["buyer", "procuringEntity", "payer"],
    })];
    let criteria = criteria_of(db, id).await?;
    let details = criteria
        .iter()
        .map(|c| format!("{} {}%", c.name, c.weight))
        .collect::<Vec<_>>()
        .join("; ");
    let documents: Vec<Value> = files::of_owner(db, state, id)
        .await?
        .into_iter()
        .map(|d| {
            json!({
                "id": d.id.to_string(),
                "documentType": "biddingDocuments",
                "title": d.name,
                // A path: readers get it on the current public address (`ocds_merge::rebase`).
                "url": format!("/api/v1/procurement-files/{}", d.id),
                "format": d.content_type,
            })
        })
        .collect();
    let has_enquiries = enquiry::Entity::find()
        .filter(enquiry::Column::TenderId.eq(id))
        .one(db)
        .await?
        .is_some();
    let mut tender_json = json!({
        "id": t.id.to_string(),
        "title": t.title,
        "description": t.description,
        "status": tender_status(status),
        "procuringEntity": buyer,
        "value": money(t.budget_fen),
        "procurementMethod": "open",
        "procurementMethodDetails": "政府购买服务 · open tender with sealed bids",
        "mainProcurementCategory": "services",
        "awardCriteria": "ratedCriteria",
        "awardCriteriaDetails": details,
        "submissionMethod": ["electronicSubmission"],
        "eligibilityCriteria": t.eligibility,
        "hasEnquiries": has_enquiries,
        "documents": documents,
    });
    tender_json["procurementMethodRationale"] =
        json!(format!("Service category: {}", category_of(&t).as_str()));
    if let Some(p) = t.published_at {
        tender_json["tenderPeriod"] =
            json!({ "startDate": stamp(p), "endDate": stamp(t.tender_ends_at) });
        tender_json["enquiryPeriod"] =
            json!({ "startDate": stamp(p), "endDate": stamp(t.enquiry_ends_at) });
    }
    if let Some(opened) = t.opened_at {
        tender_json["numberOfTenderers"] = json!(t.bid_count.unwrap_or(0));
        let mut period = json!({ "startDate": stamp(opened) });
        if let Some(a) = t.awarded_at {
            period["endDate"] = json!(stamp(a));
        }
        tender_json["awardPeriod"] = period;
    }
    let mut awards = Vec::new();
    let mut contracts = Vec::new();
    if let (Some(bid_id), Some(proposed)) = (t.award_bid_id, t.award_proposed_at) {
        let b = bid::Entity::find_by_id(bid_id)
            .one(db)
            .await?
            .ok_or(E::Missing("bid"))?;
        let supplier = organisation::Entity::find_by_id(b.organisation_id)
            .one(db)
            .await?
            .ok_or(E::Missing("organisation"))?;
        let award_status = if t.awarded_at.is_some() {
            "active"
        } else {
            "pending"
        };
        let award_id = format!("award-{bid_id}");
        awards.push(json!({
            "id": award_id,
            "title": t.title,
            "status": award_status,
            "date": stamp(t.awarded_at.unwrap_or(proposed)),
            "value": money(b.price_fen.unwrap_or(0)),
            "suppliers": [{ "id": format!("org-{}", supplier.id), "name": supplier.name }],
        }));
        let supplier_roles: &[&str] = if t.awarded_at.is_some() {
            &["supplier", "tenderer", "payee"]
        } else {
            &["tenderer"]
        };
        parties.push(org_party(&supplier, supplier_roles));
        if t.awarded_at.is_some() {
            // After the award the other tenderers are named too (never their bids).
            let others = bid::Entity::find()
                .filter(bid::Column::TenderId.eq(id))
                .filter(bid::Column::PriceFen.is_not_null())
                .filter(bid::Column::Id.ne(bid_id))
                .all(db)
                .await?;
            let mut tenderers =
                vec![json!({ "id": format!("org-{}", supplier.id), "name": supplier.name })];
            for o in others {
                if let Some(org) = organisation::Entity::find_by_id(o.organisation_id)
                    .one(db)
                    .await?
                {
                    tenderers.push(json!({ "id": format!("org-{}", org.id), "name": org.name }));
                    parties.push(org_party(&org, &["tenderer"]));
                }
            }
            tender_json["tenderers"] = Value::Array(tenderers);
        }
        if let Some(c) = contract::Entity::find()
            .filter(contract::Column::TenderId.eq(id))
            .one(db)
            .await?
        {
            let ms = milestones_of(db, c.id).await?;
            let milestones: Vec<Value> = ms
                .iter()
                .map(|m| {
                    let mut v = json!({
                        "id": m.id.to_string(),
                        "title": m.title,
                        "description": m.deliverable,
                        "type": "delivery",
                        "status": match m.status.as_str() {
                            "accepted" => "met",
                            _ if c.status == "terminated" => "notMet",
                            _ => "scheduled",
                        },
                        "value": money(m.amount_fen),
                    });
                    if let Some(d) = day(&m.due_date) {
                        v["dueDate"] = json!(d);
                    }
                    if m.status == "accepted"
                        && let Some(at) = m.decided_at
                    {
                        v["dateMet"] = json!(stamp(at));
                    }
                    v
                })
                .collect();
            let transactions: Vec<Value> = ms
                .iter()
                .filter_map(|m| {
                    Some(json!({
                        "id": format!("payment-{}", m.id),
                        "source": format!("/#/contracts/{}", c.id),
                        "date": stamp(m.paid_at?),
                        "value": money(m.paid_fen?),
                        "payer": { "id": format!("place-{}", buyer_place.id), "name": buyer_place.name },
                        "payee": { "id": format!("org-{}", supplier.id), "name": supplier.name },
                    }))
                })
                .collect();
            let amendments: Vec<Value> = amendments_of(db, c.id)
                .await?
                .into_iter()
                .map(|a| {
                    json!({
                        "id": format!("amendment-{}", a.version),
                        "date": stamp(a.created_at),
                        "rationale": a.reason,
                        "description": a.changes,
                    })
                })
                .collect();
            let mut period = json!({});
            if let Some(s) = day(&c.period_start) {
                period["startDate"] = json!(s);
            }
            if let Some(e) = day(&c.period_end) {
                period["endDate"] = json!(e);
            }
            let mut cj = json!({
                "id": c.id.to_string(),
                "awardID": award_id,
                "title": c.title,
                "status": if c.status == "active" { "active" } else { "terminated" },
                "period": period,
                "value": money(c.value_fen),
                "milestones": milestones,
                "amendments": amendments,
                "implementation": { "transactions": transactions, "milestones": [] },
            });
            // Signed on the award's own day: not dated before the award's moment.
            if let Some(d) = day(&c.signed_on) {
                let awarded = t.awarded_at.map(stamp).unwrap_or_default();
                cj["dateSigned"] = json!(d.max(awarded));
            }
            if let Some(reason) = &c.end_reason {
                cj["description"] = json!(format!("Terminated: {reason}"));
            }
            contracts.push(cj);
        }
    }
    // An award withdrawn after an upheld complaint stays in the record, cancelled.
    let withdrawn = bid::Entity::find()
        .filter(bid::Column::TenderId.eq(id))
        .filter(bid::Column::Status.eq("disqualified"))
        .all(db)
        .await?;
    for b in withdrawn {
        if let Some(org) = organisation::Entity::find_by_id(b.organisation_id)
            .one(db)
            .await?
        {
            awards.push(json!({
                "id": format!("award-{}", b.id),
                "title": t.title,
                "status": "cancelled",
                "value": money(b.price_fen.unwrap_or(0)),
                "suppliers": [{ "id": format!("org-{}", org.id), "name": org.name }],
            }));
        }
    }
    let mut release = json!({
        "ocid": ocid(state, id),
        "initiationType": "tender",
        "language": "zh",
        "parties": parties,
        "buyer": { "id": format!("place-{}", buyer_place.id), "name": buyer_place.name },
        "planning": {
            "rationale": "Carries out resolutions adopted in community consultation.",
            "budget": { "amount": money(t.budget_fen), "description": "Budget ceiling" },
        },
        "tender": tender_json,
    });
    if !awards.is_empty() {
        release["awards"] = Value::Array(awards);
    }
    if !contracts.is_empty() {
        release["contracts"] = Value::Array(contracts);
    }
    prune(&mut release);
    Ok(release)
}

/// Writes a release for a change that just happened, in the same transaction.
pub async fn release<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    tender_id: Uuid,
    tags: &[&str],
) -> Result<()> {
    let mut r = snapshot(txn, state, tender_id).await?;
    let now = clock::now();
    let release_id = format!("{}-{}", ocid(state, tender_id), Uuid::new_v4().simple());
    r["id"] = json!(release_id);
    r["date"] = json!(stamp(now));
    r["tag"] = json!(tags);
    ocds_release::ActiveModel {
        id: Set(Uuid::new_v4()),
        tender_id: Set(tender_id),
        ocid: Set(ocid(state, tender_id)),
        release_id: Set(release_id),
        tag: Set(serde_json::to_string(tags).unwrap_or_default()),
        date: Set(now),
        data: Set(r.to_string()),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Stored releases as readers get them: links on the current public address.
fn stored(state: &AppState, rows: &[ocds_release::Model]) -> Vec<Value> {
    rows.iter()
        .filter_map(|r| serde_json::from_str(&r.data).ok())
        .map(|mut r: Value| {
            rebase(&mut r, &state.settings.public_url);
            r
        })
        .collect()
}

/// The extensions a package's releases use: Yishi's milestone value, served with the web client.
fn extensions(state: &AppState) -> Value {
    json!([state.link("/ocds/milestone_value/extension.json")])
}

fn publisher(state: &AppState) -> Value {
    json!({ "name": state.settings.ocds_publisher.clone(), "uri": state.settings.public_url.clone() })
}

/// Every release, oldest first, optionally within [since, until].
pub async fn releases(
    state: &AppState,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Value> {
    let mut q = ocds_release::Entity::find()
        .order_by_asc(ocds_release::Column::Date)
        .order_by_asc(ocds_release::Column::Id);
    if let Some(s) = since {
        q = q.filter(ocds_release::Column::Date.gte(s));
    }
    if let Some(u) = until {
        q = q.filter(ocds_release::Column::Date.lte(u));
    }
    let rows = q.all(&state.db.conn).await?;
    let releases = stored(state, &rows);
    Ok(json!({
        "uri": state.link("/api/v1/ocds/releases"),
        "extensions": extensions(state),
        "version": "1.1",
        "publishedDate": stamp(clock::now()),
        "publisher": publisher(state),
        "license": "https://opendatacommons.org/licenses/pddl/1.0/",
        "publicationPolicy": state.link("/#/board"),
        "releases": releases,
    }))
}

/// The record of one procurement: its releases and the compiled (latest) state.
pub async fn record(state: &AppState, ocid_text: &str) -> Result<Value> {
    let rows = ocds_release::Entity::find()
        .filter(ocds_release::Column::Ocid.eq(ocid_text.to_string()))
        .order_by_asc(ocds_release::Column::Date)
        .order_by_asc(ocds_release::Column::Id)
        .all(&state.db.conn)
        .await?;
    if rows.is_empty() {
        return Err(E::Missing("procurement"));
    }
    let releases = stored(state, &rows);
    let compiled = compile(&releases);
    Ok(json!({
        "uri": state.link(&format!("/api/v1/ocds/records/{ocid_text}")),
        "extensions": extensions(state),
        "version": "1.1",
        "publishedDate": stamp(clock::now()),
        "publisher": publisher(state),
        "license": "https://opendatacommons.org/licenses/pddl/1.0/",
        "publicationPolicy": state.link("/#/board"),
        "records": [{
            "ocid": ocid_text,
            "releases": releases,
            "compiledRelease": compiled,
        }],
    }))
}
