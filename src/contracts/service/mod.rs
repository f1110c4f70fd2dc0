//! Government purchase of services: bidder profiles, tenders, enquiries, sealed bids, the
//! evaluation panel, the award with its publicity period and complaints. Contracts and their
//! milestones are in `delivery`; the public OCDS releases in `ocds`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    SqlErr,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::error::ContractsError as E;
use super::files::{self, SealedDocument};
use super::model::*;
use super::ocds;
use super::scoring::{self, Ratio};
use crate::audit::{self, Change};
use crate::clock;
use crate::communities::service::{load_place, scope_of};
use crate::entities::{
    bid, bid_score, bidder_profile, complaint, contract, enquiry, organisation,
    organisation_member, panel_member, place, procurement_file, qualification, resolution, tender,
    tender_criterion, tender_resolution, user,
};
use crate::notifications::{self, templates};
use crate::policy::{Actor, PlaceScope};
use crate::state::AppState;

mod award;
mod bids;
mod enquiries;
mod evaluation;
mod profiles;
mod reading;
mod tenders;

pub use award::*;
pub use bids::*;
pub use enquiries::*;
pub use evaluation::*;
pub use profiles::*;
pub use reading::*;
pub use tenders::*;

pub type Result<T> = std::result::Result<T, E>;

const MAX_BUDGET_FEN: i64 = 1_000_000_000_000;
const MAX_TENDER_DOCUMENTS: usize = 20;

pub fn clean(code: &'static str, raw: &str, max: usize, what: &str) -> Result<String> {
    let t = raw.trim();
    let n = t.chars().count();
    if n == 0 || n > max {
        return Err(E::Invalid(
            code,
            format!("The {what} must have 1 to {max} characters."),
        ));
    }
    Ok(t.to_string())
}

pub fn status_of(t: &tender::Model) -> TenderStatus {
    TenderStatus::parse(&t.status).unwrap_or(TenderStatus::Planned)
}

pub fn category_of(t: &tender::Model) -> ServiceCategory {
    ServiceCategory::parse(&t.category).unwrap_or(ServiceCategory::Other)
}

pub async fn record<C: ConnectionTrait>(
    txn: &C,
    actor: Option<Uuid>,
    action: &str,
    object_type: &'static str,
    id: Uuid,
    summary: serde_json::Value,
) -> Result<()> {
    audit::record(
        txn,
        Change {
            actor,
            action,
            object_type,
            object_id: id.to_string(),
            summary,
        },
    )
    .await?;
    Ok(())
}

pub async fn load_tender<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<tender::Model> {
    tender::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(E::Missing("tender"))
}

async fn load_org<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<organisation::Model> {
    organisation::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(E::Missing("organisation"))
}

/// The officer responsible: a government officer at the buying place or above it.
pub fn is_officer(actor: &Actor, scope: &PlaceScope) -> bool {
    crate::policy::allows(actor, crate::policy::Action::Procure, Some(scope))
}

async fn require_officer<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    t: &tender::Model,
) -> Result<PlaceScope> {
    let scope = scope_of(db, t.place_id).await?;
    if !is_officer(actor, &scope) {
        return Err(E::Forbidden(
            "Only a government officer of the buying subdistrict or district may do this.".into(),
        ));
    }
    Ok(scope)
}

/// A representative of the organisation speaks for it in procurement.
pub async fn represents<C: ConnectionTrait>(db: &C, actor: &Actor, org: Uuid) -> Result<bool> {
    Ok(organisation_member::Entity::find()
        .filter(organisation_member::Column::OrganisationId.eq(org))
        .filter(organisation_member::Column::UserId.eq(actor.id()))
        .filter(organisation_member::Column::Role.eq("representative"))
        .one(db)
        .await?
        .is_some())
}

async fn require_representative<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    org: Uuid,
) -> Result<()> {
    if !represents(db, actor, org).await? {
        return Err(E::Forbidden(
            "Only the organisation's representatives act for it in procurement.".into(),
        ));
    }
    Ok(())
}

fn is_member(actor: &Actor, org: Uuid) -> bool {
    actor.affiliations.iter().any(|a| a.organisation_id == org)
}

/// Members of an organisation who have not deleted their account, for mail.
pub async fn members_of<C: ConnectionTrait>(db: &C, org: Uuid) -> Result<Vec<user::Model>> {
    let ids: Vec<Uuid> = organisation_member::Entity::find()
        .filter(organisation_member::Column::OrganisationId.eq(org))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .filter(user::Column::DeletedAt.is_null())
        .all(db)
        .await?)
}

/// Notifies every member of an organisation, each with the mail `mail` writes for them.
pub async fn notify_members<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    org: Uuid,
    kind: notifications::Kind,
    object: Uuid,
    mail: impl Fn(&user::Model) -> notifications::Mail,
) -> Result<()> {
    let recipients = members_of(txn, org)
        .await?
        .into_iter()
        .map(|u| notifications::Recipient {
            user_id: u.id,
            email: u.email.clone(),
            mail: mail(&u),
        })
        .collect();
    notifications::notify_many(state, txn, kind, Some(object), recipients).await?;
    Ok(())
}

pub fn tender_link(state: &AppState, id: Uuid) -> String {
    state.link(&format!("/#/tenders/{id}"))
}
