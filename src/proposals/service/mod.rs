use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Duration as ChronoDuration;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult,
    JoinType, Order, PaginatorTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::error::ProposalsError as E;
use super::model::*;
use super::states::{self, Event};
use crate::audit::{self, Change};
use crate::clock;
use crate::communities::model::PlaceKind;
use crate::communities::service::{authorize_at, load_community, load_place, scope_of};
use crate::entities::{
    building, community_setting, content_report, organisation, place, proposal, proposal_comment,
    proposal_cosign, proposal_version, user,
};
use crate::notifications::{self, templates};
use crate::policy::{Action, Actor, PlaceScope, allows, authorize};
use crate::state::AppState;

mod moderation;
mod settings;
mod threads;
mod views;
mod writing;

pub use moderation::*;
pub use settings::*;
pub use threads::*;
pub use views::*;
pub use writing::*;

type Result<T> = std::result::Result<T, E>;

pub const DEFAULT_THRESHOLD: i32 = 10;
pub const DEFAULT_PERIOD_DAYS: i32 = 30;
pub const MAX_PAGE_SIZE: u64 = 100;
pub const MAX_DEPTH: i32 = 4;
pub const MAX_COMMENTS: u64 = 2000;
pub const EDIT_WINDOW_MINUTES: i64 = 15;

/// What a viewer may see of a community's proposals.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Signed out, or not of this community: accepted and rejected proposals, no personal data.
    Public,
    Member,
    Committee,
}

const PUBLIC_STATUSES: [ProposalStatus; 2] = [ProposalStatus::Accepted, ProposalStatus::Rejected];

fn access(actor: Option<&Actor>, scope: &PlaceScope) -> Access {
    match actor {
        Some(a) if allows(a, Action::Moderate, Some(scope)) => Access::Committee,
        Some(a) if a.is_member_of(scope) => Access::Member,
        _ => Access::Public,
    }
}

pub(super) fn status_of(p: &proposal::Model) -> ProposalStatus {
    ProposalStatus::parse(&p.status).unwrap_or(ProposalStatus::Draft)
}

fn clean_text(code: &'static str, raw: &str, max: usize, what: &str) -> Result<String> {
    let text = raw.trim();
    let n = text.chars().count();
    if n == 0
        || n > max
        || text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(E::Invalid(
            code,
            format!("The {what} must have 1 to {max} characters."),
        ));
    }
    Ok(text.replace("\r\n", "\n"))
}

pub(super) fn link(state: &AppState, id: Uuid) -> String {
    state.link(&format!("/#/proposals/{id}"))
}
