//! Resolutions: from a passed poll (or a session's consensus) to a commitment with a
//! responsible party and a deadline; legal review for major matters; public disclosure with
//! objections; progress with evidence; overdue marking; satisfaction and evaluation.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, SqlErr,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::error::ResolutionsError as E;
use super::evidence::{MAX_FILE_BYTES, MAX_FILES, sniff};
use super::model::*;
use super::states::{Event, next};
use crate::audit::{self, Change};
use crate::clock;
use crate::communities::service::{load_community, scope_of};
use crate::entities::{
    agenda_item, audit_entry, evidence_file, organisation, organisation_member, poll, proposal,
    resolution, resolution_evaluation, resolution_follower, resolution_milestone,
    resolution_objection, resolution_rating, resolution_review, resolution_setting,
    resolution_update, role_grant, session, user,
};
use crate::notifications::{self, templates};
use crate::policy::{Action, Actor, PlaceScope, Role, allows};
use crate::sessions::model::SessionStatus;
use crate::state::AppState;

mod access;
mod drafting;
mod objections;
mod rating;
mod reading;
mod review;
mod scheduled;
mod settings;
mod tracking;

use access::*;
pub use drafting::*;
pub use objections::*;
pub use rating::*;
pub use reading::*;
pub use review::*;
pub use scheduled::*;
pub use settings::*;
pub use tracking::*;

pub type Result<T> = std::result::Result<T, E>;

const DEFAULT_DISCLOSURE_DAYS: i32 = 7;
/// 100,000 CNY.
const DEFAULT_REVIEW_BUDGET_FEN: i64 = 10_000_000;
const DEFAULT_RATING_DAYS: i32 = 30;

pub(super) fn status_of(r: &resolution::Model) -> ResolutionStatus {
    ResolutionStatus::parse(&r.status).unwrap_or(ResolutionStatus::Draft)
}

fn origin_of(r: &resolution::Model) -> ResolutionOrigin {
    ResolutionOrigin::parse(&r.origin).unwrap_or(ResolutionOrigin::Poll)
}

/// The day a date ends in Asia/Shanghai (UTC+8, no daylight saving), as an instant.
pub fn end_of_day(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(16, 0, 0).expect("valid time"))
}

/// Today's date in Asia/Shanghai.
pub fn today() -> NaiveDate {
    (clock::now() + Duration::hours(8)).date_naive()
}

fn parse_date(s: &Option<String>) -> Option<NaiveDate> {
    s.as_deref().and_then(|d| d.parse().ok())
}

pub(super) fn clean(code: &'static str, raw: &str, max: usize, what: &str) -> Result<String> {
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

fn transition(r: &resolution::Model, event: Event) -> Result<ResolutionStatus> {
    next(status_of(r), event).ok_or_else(|| E::InvalidTransition {
        from: r.status.clone(),
        to: event.as_str(),
    })
}

/// Moves the resolution from the state it was read in; refused if someone moved it first.
async fn move_to<C: ConnectionTrait>(
    txn: &C,
    r: &resolution::Model,
    event: Event,
    mut set: Vec<(resolution::Column, sea_orm::Value)>,
) -> Result<ResolutionStatus> {
    let to = transition(r, event)?;
    let mut update = resolution::Entity::update_many()
        .col_expr(resolution::Column::Status, Expr::value(to.as_str()))
        .col_expr(resolution::Column::UpdatedAt, Expr::value(clock::now()));
    for (col, value) in set.drain(..) {
        update = update.col_expr(col, Expr::value(value));
    }
    let done = update
        .filter(resolution::Column::Id.eq(r.id))
        .filter(resolution::Column::Status.eq(r.status.clone()))
        .exec(txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::InvalidTransition {
            from: r.status.clone(),
            to: event.as_str(),
        });
    }
    Ok(to)
}

pub(super) async fn record<C: ConnectionTrait>(
    txn: &C,
    actor: Option<Uuid>,
    action: &str,
    id: Uuid,
    summary: serde_json::Value,
) -> Result<()> {
    audit::record(
        txn,
        Change {
            actor,
            action,
            object_type: "resolution",
            object_id: id.to_string(),
            summary,
        },
    )
    .await?;
    Ok(())
}

pub(super) async fn load<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<resolution::Model> {
    resolution::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(E::NotFound)
}
