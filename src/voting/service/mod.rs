//! Polls: creation, opening (freezing the electorate), ballots, proxies, assisted ballots and
//! closing (counting once, publishing, recording, mailing).

use crate::text::Text;
use std::collections::{HashMap, HashSet};

use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, SqlErr,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::answers::{seal, unseal};
use super::counting::{self, CountedBallot, yes_no_options};
use super::error::VotingError as E;
use super::model::*;
use super::writer::{Elector, Electors};
use crate::audit::{self, Change};
use crate::clock;
use crate::communities::model::PlaceKind;
use crate::communities::service::{load_community, scope_of};
use crate::entities::{
    agenda_item, assisted_ballot, ballot, ballot_request, organisation_member, place, poll,
    poll_proxy, poll_voter, poll_voter_person, proposal, session, session_attendance, user,
};
use crate::notifications::{self, templates};
use crate::policy::{Action, Actor, Role, allows};
use crate::register::history::At as RegisterAt;
use crate::register::model::RegisterElectorate;
use crate::register::service::electorate::{self as register_electorate, Head as RegisterHead};
use crate::sessions::events;
use crate::sessions::model::{InvitedGroups, SessionStatus};
use crate::state::AppState;

mod assisted;
mod ballots;
mod electorates;
mod lifecycle;
mod proxies;
mod reading;

pub use assisted::*;
pub use ballots::*;
use electorates::*;
pub use lifecycle::*;
pub use proxies::*;
pub use reading::*;

type Result<T> = std::result::Result<T, E>;

/// Electorate rows are written in chunks of this many.
const CHUNK: usize = 500;
/// People told of a vote's opening per transaction.
const NOTICE_CHUNK: usize = 100;

fn status_of(p: &poll::Model) -> PollStatus {
    PollStatus::parse(&p.status)
}

fn options_of(p: &poll::Model) -> Vec<PollOption> {
    serde_json::from_str(&p.options).unwrap_or_default()
}

/// The fewest voting entities a secret poll counted by floor area may have: each option's
/// published area, however rounded, must be reachable by many sets of owners (issue 32; see
/// docs/security.md, "Secret ballots counted by area").
pub const MIN_SECRET_AREA_ELECTORATE: u64 = 20;

/// Whether a poll's figures include floor area.
fn counts_area(rule: &Rule) -> bool {
    rule.measure != Measure::Headcount || rule.quorum_area.is_some()
}

/// Refuses a secret poll counted by area whose electorate is too small to hide a choice.
fn check_secret_electorate(p: &poll::Model, rule: &Rule, headcount: u64) -> Result<()> {
    if p.secret && counts_area(rule) && headcount < MIN_SECRET_AREA_ELECTORATE {
        return Err(E::Conflict(
            "secret_electorate_too_small",
            format!(
                "A secret vote counted by floor area needs at least {MIN_SECRET_AREA_ELECTORATE} owners in its electorate (this one has {headcount}): with fewer, the published areas would show how each owner voted. Hold an open vote, or count by headcount."
            ),
        ));
    }
    Ok(())
}

fn rule_of(p: &poll::Model) -> Rule {
    serde_json::from_str(&p.rule).unwrap_or_else(|_| Preset::SimpleMajority.rule())
}

fn spec_of(p: &poll::Model) -> ElectorateSpec {
    serde_json::from_str(&p.electorate).unwrap_or(ElectorateSpec {
        kind: ElectorateKind::Residents,
        grid_ids: Vec::new(),
    })
}

fn electorate_of(p: &poll::Model) -> ElectorateKind {
    spec_of(p).kind
}

fn choices_of(raw: &str) -> Vec<String> {
    serde_json::from_str(raw).unwrap_or_default()
}

fn text(code: &'static str, raw: &str, max: usize, what: &str) -> Result<String> {
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

/// A session that can still take polls and proxies.
async fn unended_session<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<session::Model> {
    let s = session::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(E::Missing("session"))?;
    if matches!(
        SessionStatus::parse(&s.status),
        SessionStatus::Closed | SessionStatus::Cancelled
    ) {
        return Err(E::Conflict(
            "session_ended",
            "This session has ended.".into(),
        ));
    }
    Ok(s)
}

async fn load<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<poll::Model> {
    poll::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(E::NotFound)
}

/// Those who run a poll: the community's convenors, and the chair of its session.
async fn runs<C: ConnectionTrait>(db: &C, actor: &Actor, p: &poll::Model) -> Result<bool> {
    let scope = scope_of(db, p.community_id).await?;
    if allows(actor, Action::Convene, Some(&scope)) {
        return Ok(true);
    }
    if let Some(sid) = p.session_id {
        let s = session::Entity::find_by_id(sid).one(db).await?;
        return Ok(s.is_some_and(|s| s.chair_id == actor.id()));
    }
    Ok(false)
}

async fn require_runner<C: ConnectionTrait>(db: &C, actor: &Actor, p: &poll::Model) -> Result<()> {
    if runs(db, actor, p).await? {
        Ok(())
    } else {
        Err(E::Forbidden(
            "Only the community's convenors and the session's chair run this poll.".into(),
        ))
    }
}

/// Polls are visible to members of the community and to their electorate; drafts only to
/// those who run them; closed polls to everyone (their published result).
async fn load_visible<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    id: Uuid,
) -> Result<(poll::Model, bool)> {
    let p = load(db, id).await?;
    let Some(actor) = actor else {
        return if status_of(&p) == PollStatus::Closed {
            Ok((p, false))
        } else {
            Err(E::NotFound)
        };
    };
    if runs(db, actor, &p).await? {
        return Ok((p, true));
    }
    if status_of(&p) == PollStatus::Draft {
        return Err(E::NotFound);
    }
    let scope = scope_of(db, p.community_id).await?;
    let elector = poll_voter_person::Entity::find()
        .filter(poll_voter_person::Column::PollId.eq(p.id))
        .filter(poll_voter_person::Column::UserId.eq(actor.id()))
        .one(db)
        .await?
        .is_some();
    if elector
        || actor.is_member_of(&scope)
        || allows(actor, Action::ViewRegister, Some(&scope))
        || status_of(&p) == PollStatus::Closed
    {
        Ok((p, false))
    } else {
        Err(E::NotFound)
    }
}

fn check_rule(rule: &Rule) -> Result<()> {
    let fractions = [
        Some(rule.threshold),
        rule.quorum_headcount,
        rule.quorum_area,
    ];
    if fractions.iter().flatten().any(|f| !f.is_valid()) {
        return Err(E::Invalid(
            "invalid_rule",
            "Fractions need a positive denominator and may not exceed 1.".into(),
        ));
    }
    Ok(())
}

pub async fn create(state: &AppState, actor: &Actor, req: CreatePollRequest) -> Result<PollView> {
    let question = text("invalid_question", &req.question, 200, "question")?;
    let options = match req.kind {
        PollKind::YesNo if !req.options.is_empty() => {
            return Err(E::Invalid(
                "invalid_options",
                "A yes/no poll has the options yes, no and abstain; give none.".into(),
            ));
        }
        PollKind::YesNo => yes_no_options(),
        _ => {
            if req.options.len() < 2 {
                return Err(E::Invalid(
                    "invalid_options",
                    "Give 2 to 20 options.".into(),
                ));
            }
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for (i, label) in req.options.iter().enumerate() {
                let label = text("invalid_options", label, 200, "option")?;
                if !seen.insert(label.clone()) {
                    return Err(E::Invalid(
                        "invalid_options",
                        format!("The option \"{label}\" is given twice."),
                    ));
                }
                out.push(PollOption {
                    id: format!("o{}", i + 1),
                    label,
                });
            }
            out
        }
    };
    let max_choices = match req.kind {
        PollKind::Multiple => {
            let k = req.max_choices.unwrap_or(options.len() as u32);
            if k == 0 || k as usize > options.len() {
                return Err(E::Invalid(
                    "invalid_max_choices",
                    "A ballot may choose 1 to all of the options.".into(),
                ));
            }
            k
        }
        PollKind::Ranked => options.len() as u32,
        _ => 1,
    };
    let rule = match (req.preset, req.rule) {
        (Some(_), Some(_)) => {
            return Err(E::Invalid(
                "invalid_rule",
                "Give a preset or a rule, not both.".into(),
            ));
        }
        (Some(p), None) => p.rule(),
        (None, Some(r)) => r,
        (None, None) => Preset::SimpleMajority.rule(),
    };
    check_rule(&rule)?;
    let by_area = counts_area(&rule);
    if by_area && req.electorate != ElectorateKind::Owners {
        return Err(E::Invalid(
            "invalid_rule",
            "Floor-area counts need the owners' electorate.".into(),
        ));
    }
    if req.secret && req.show_tally {
        return Err(E::Invalid(
            "invalid_tally",
            "A secret poll never shows its running tally.".into(),
        ));
    }
    if req.kind == PollKind::Ranked && by_area {
        return Err(E::Invalid(
            "invalid_rule",
            "Ranked polls are counted by headcount.".into(),
        ));
    }
    let now = clock::now();
    if let Some(c) = req.closes_at
        && (c <= now || req.opens_at.is_some_and(|o| o >= c))
    {
        return Err(E::Invalid(
            "invalid_times",
            "A poll closes in the future, after it opens.".into(),
        ));
    }
    let txn = state.db.write().await?;
    let community_id = match req.session_id {
        Some(sid) => {
            let s = unended_session(&*txn, sid).await?;
            if req.community_id.is_some_and(|c| c != s.community_id) {
                return Err(E::Invalid(
                    "invalid_community",
                    "The session belongs to another community.".into(),
                ));
            }
            if let Some(item) = req.agenda_item_id {
                let ok = agenda_item::Entity::find_by_id(item)
                    .one(&*txn)
                    .await?
                    .is_some_and(|a| a.session_id == s.id);
                if !ok {
                    return Err(E::Invalid(
                        "invalid_agenda_item",
                        "The agenda item is not on this session's agenda.".into(),
                    ));
                }
            }
            let scope = scope_of(&*txn, s.community_id).await?;
            if !(allows(actor, Action::Convene, Some(&scope)) || s.chair_id == actor.id()) {
                return Err(E::Forbidden(
                    "Only the community's convenors and the session's chair create its polls."
                        .into(),
                ));
            }
            s.community_id
        }
        None => {
            if req.agenda_item_id.is_some() {
                return Err(E::Invalid(
                    "invalid_agenda_item",
                    "An agenda item belongs to a session; give the session too.".into(),
                ));
            }
            if matches!(
                req.electorate,
                ElectorateKind::Organisations | ElectorateKind::Attendees
            ) {
                return Err(E::Invalid(
                    "invalid_electorate",
                    "Organisations and attendees are electorates of a session's poll.".into(),
                ));
            }
            let community_id = req.community_id.ok_or_else(|| {
                E::Invalid(
                    "invalid_community",
                    "Give the community (or the session) the poll belongs to.".into(),
                )
            })?;
            load_community(&*txn, community_id).await?;
            let scope = scope_of(&*txn, community_id).await?;
            if !allows(actor, Action::Convene, Some(&scope)) {
                return Err(E::Forbidden(
                    "Only the community's party secretary and committee create polls.".into(),
                ));
            }
            community_id
        }
    };
    if !req.grid_ids.is_empty() {
        if !matches!(
            req.electorate,
            ElectorateKind::Residents | ElectorateKind::Households
        ) {
            return Err(E::Invalid(
                "invalid_electorate",
                "Grids limit the residents' and households' electorates only.".into(),
            ));
        }
        for g in &req.grid_ids {
            let ok = place::Entity::find_by_id(*g)
                .one(&*txn)
                .await?
                .is_some_and(|p| {
                    p.kind == PlaceKind::Grid.as_str() && p.parent_id == Some(community_id)
                });
            if !ok {
                return Err(E::Invalid(
                    "invalid_grid",
                    "A grid of the electorate is not a grid of this community.".into(),
                ));
            }
        }
    }
    if let Some(pid) = req.proposal_id {
        let ok = proposal::Entity::find_by_id(pid)
            .one(&*txn)
            .await?
            .is_some_and(|p| p.community_id == community_id);
        if !ok {
            return Err(E::Invalid(
                "invalid_proposal",
                "The proposal is not one of this community's.".into(),
            ));
        }
    }
    let p = poll::ActiveModel {
        id: Set(Uuid::new_v4()),
        community_id: Set(community_id),
        session_id: Set(req.session_id),
        agenda_item_id: Set(req.agenda_item_id),
        proposal_id: Set(req.proposal_id),
        question: Set(question),
        description: Set(req.description.trim().to_string()),
        kind: Set(req.kind.as_str().into()),
        max_choices: Set(max_choices as i32),
        options: Set(serde_json::to_string(&options).unwrap_or_default()),
        secret: Set(req.secret),
        electorate: Set(serde_json::to_string(&ElectorateSpec {
            kind: req.electorate,
            grid_ids: req.grid_ids.clone(),
        })
        .unwrap_or_default()),
        rule: Set(serde_json::to_string(&rule).unwrap_or_default()),
        show_tally: Set(req.show_tally),
        status: Set(PollStatus::Draft.as_str().into()),
        opens_at: Set(req.opens_at),
        closes_at: Set(req.closes_at),
        opened_at: Set(None),
        closed_at: Set(None),
        electorate_headcount: Set(0),
        electorate_area: Set(0),
        result: Set(None),
        passed: Set(None),
        result_mailed_at: Set(None),
        open_mailed_at: Set(None),
        open_notice_after: Set(None),
        register_seq: Set(None),
        created_by: Set(actor.id()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*txn)
    .await?;
    if p.secret && by_area {
        // Refused now rather than at opening, when the committee has already announced it.
        let (_, entities) = build_electorate(&*txn, &p).await?;
        check_secret_electorate(&p, &rule, entities.len() as u64)?;
    }
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "poll.created",
        object_type: "poll",
        object_id: p.id.to_string(),
        summary: json!({ "community_id": p.community_id, "session_id": p.session_id, "question": p.question, "kind": p.kind, "secret": p.secret, "electorate": req.electorate, "rule": rule }),
    })
    .await?;
    txn.commit().await?;
    view(&state.db.conn, Some(actor), p).await
}
