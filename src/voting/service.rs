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
use crate::realtime::events;
use crate::register::history::At as RegisterAt;
use crate::register::model::RegisterElectorate;
use crate::register::service::electorate::{self as register_electorate, Head as RegisterHead};
use crate::sessions::model::{InvitedGroups, SessionStatus};
use crate::state::AppState;

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

// ---------------------------------------------------------------- reading

async fn participation<C: ConnectionTrait>(db: &C, poll_id: Uuid) -> Result<Weight> {
    let row: Option<(i64, i64)> = poll_voter::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(area_centi), 0) AS BIGINT)"),
            "area",
        )
        .filter(poll_voter::Column::PollId.eq(poll_id))
        .filter(poll_voter::Column::Voted.eq(true))
        .into_tuple()
        .one(db)
        .await?;
    let (n, area) = row.unwrap_or_default();
    Ok(Weight {
        headcount: n.max(0) as u64,
        area_centi: area.max(0) as u64,
    })
}

async fn counted_ballots<C: ConnectionTrait>(
    db: &C,
    p: &poll::Model,
) -> Result<Vec<CountedBallot>> {
    if p.secret {
        return Ok(super::totals::counted(db, p.id, choices_of).await?);
    }
    let poll_id = p.id;
    let rows: Vec<(String, i64)> = ballot::Entity::find()
        .select_only()
        .column(ballot::Column::Choice)
        .column(ballot::Column::AreaCenti)
        .filter(ballot::Column::PollId.eq(poll_id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(choice, area)| CountedBallot {
            choices: choices_of(&choice),
            area_centi: area.max(0) as u64,
        })
        .collect())
}

fn electorate_weight(p: &poll::Model) -> Weight {
    Weight {
        headcount: p.electorate_headcount.max(0) as u64,
        area_centi: p.electorate_area.max(0) as u64,
    }
}

/// Counts the ballots stored so far under the poll's rule.
pub async fn tally<C: ConnectionTrait>(db: &C, p: &poll::Model) -> Result<Outcome> {
    let ballots = counted_ballots(db, p).await?;
    Ok(counting::count(
        PollKind::parse(&p.kind),
        p.max_choices.max(1) as usize,
        &options_of(p),
        &rule_of(p),
        electorate_weight(p),
        &ballots,
    ))
}

/// The entities a person may vote for: their own, and those of owners who gave them a proxy
/// for this poll or its session.
async fn my_voters<C: ConnectionTrait>(
    db: &C,
    p: &poll::Model,
    user_id: Uuid,
) -> Result<Vec<(poll_voter::Model, Option<poll_proxy::Model>)>> {
    let mut out = Vec::new();
    if let Some(own) = poll_voter_person::Entity::find()
        .filter(poll_voter_person::Column::PollId.eq(p.id))
        .filter(poll_voter_person::Column::UserId.eq(user_id))
        .one(db)
        .await?
        && let Some(v) = poll_voter::Entity::find_by_id(own.voter_id).one(db).await?
    {
        out.push((v, None));
    }
    for proxy in active_proxies_for(db, p, user_id).await? {
        if let Some(link) = poll_voter_person::Entity::find()
            .filter(poll_voter_person::Column::PollId.eq(p.id))
            .filter(poll_voter_person::Column::UserId.eq(proxy.grantor_id))
            .one(db)
            .await?
            && let Some(v) = poll_voter::Entity::find_by_id(link.voter_id)
                .one(db)
                .await?
            && !out.iter().any(|(o, _)| o.id == v.id)
        {
            out.push((v, Some(proxy)));
        }
    }
    Ok(out)
}

async fn active_proxies_for<C: ConnectionTrait>(
    db: &C,
    p: &poll::Model,
    proxy_user: Uuid,
) -> Result<Vec<poll_proxy::Model>> {
    let mut scope = sea_orm::Condition::any().add(poll_proxy::Column::PollId.eq(p.id));
    if let Some(sid) = p.session_id {
        scope = scope.add(poll_proxy::Column::SessionId.eq(sid));
    }
    Ok(poll_proxy::Entity::find()
        .filter(poll_proxy::Column::ProxyId.eq(proxy_user))
        .filter(poll_proxy::Column::Status.ne("revoked"))
        .filter(scope)
        .all(db)
        .await?)
}

pub async fn view<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    p: poll::Model,
) -> Result<PollView> {
    let status = status_of(&p);
    let opened = matches!(status, PollStatus::Open | PollStatus::Closed);
    let participation = if opened {
        Some(participation(db, p.id).await?)
    } else {
        None
    };
    let tally = if status == PollStatus::Open && p.show_tally && !p.secret {
        Some(tally(db, &p).await?.options)
    } else {
        None
    };
    let result = super::disclosure::published_result(&p);
    let participation = participation.map(|w| super::disclosure::published_weight(&p, w));
    let mut mine = Vec::new();
    if let Some(a) = actor
        && opened
    {
        for (v, proxy) in my_voters(db, &p, a.id()).await? {
            let proxy_for = match proxy {
                Some(px) => user::Entity::find_by_id(px.grantor_id)
                    .one(db)
                    .await?
                    .map(|u| u.display_name),
                None => None,
            };
            mine.push(MyVoter {
                voter_id: v.id,
                label: v.label,
                area_centi: v.area_centi,
                proxy_for,
                voted: v.voted,
            });
        }
    }
    Ok(PollView {
        id: p.id,
        community_id: p.community_id,
        session_id: p.session_id,
        agenda_item_id: p.agenda_item_id,
        proposal_id: p.proposal_id,
        question: p.question.clone(),
        description: p.description.clone(),
        kind: PollKind::parse(&p.kind),
        options: options_of(&p),
        max_choices: p.max_choices.max(1) as u32,
        secret: p.secret,
        electorate: electorate_of(&p),
        grid_ids: spec_of(&p).grid_ids,
        rule: rule_of(&p),
        show_tally: p.show_tally,
        status,
        opens_at: p.opens_at,
        closes_at: p.closes_at,
        opened_at: p.opened_at,
        closed_at: p.closed_at,
        electorate_size: opened.then(|| electorate_weight(&p)),
        register_seq: p.register_seq,
        participation,
        tally,
        result,
        passed: p.passed,
        my_voters: mine,
    })
}

pub async fn get(state: &AppState, actor: Option<&Actor>, id: Uuid) -> Result<PollView> {
    let db = &state.db.conn;
    let (p, _) = load_visible(db, actor, id).await?;
    view(db, actor, p).await
}

pub async fn list(
    state: &AppState,
    actor: &Actor,
    community_id: Option<Uuid>,
    session_id: Option<Uuid>,
) -> Result<Vec<PollView>> {
    let db = &state.db.conn;
    let community_id = match (community_id, session_id) {
        (_, Some(sid)) => {
            crate::sessions::service::load_visible(db, actor, sid)
                .await?
                .0
                .community_id
        }
        (Some(c), None) => {
            load_community(db, c).await?;
            c
        }
        (None, None) => {
            return Err(E::Invalid(
                "invalid_query",
                "Give a community or a session.".into(),
            ));
        }
    };
    let scope = scope_of(db, community_id).await?;
    let convenor = allows(actor, Action::Convene, Some(&scope));
    if !convenor
        && !actor.is_member_of(&scope)
        && !allows(actor, Action::ViewRegister, Some(&scope))
        && session_id.is_none()
    {
        return Err(E::Forbidden(
            "Polls are listed for members of the community.".into(),
        ));
    }
    let mut q = poll::Entity::find().filter(poll::Column::CommunityId.eq(community_id));
    if let Some(sid) = session_id {
        q = q.filter(poll::Column::SessionId.eq(sid));
    }
    let mut out = Vec::new();
    for p in q
        .order_by_desc(poll::Column::CreatedAt)
        .limit(200)
        .all(db)
        .await?
    {
        // Drafts are listed to those who run them; the check queries, so only for drafts.
        if status_of(&p) == PollStatus::Draft && !(convenor || runs(db, actor, &p).await?) {
            continue;
        }
        out.push(view(db, Some(actor), p).await?);
    }
    Ok(out)
}

// ---------------------------------------------------------------- electorates

struct Entity {
    key: String,
    label: String,
    area: i64,
    people: Vec<Uuid>,
}

async fn names<C: ConnectionTrait>(db: &C, ids: &[Uuid]) -> Result<HashMap<Uuid, String>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        out.extend(
            user::Entity::find()
                .select_only()
                .column(user::Column::Id)
                .column(user::Column::DisplayName)
                .filter(user::Column::Id.is_in(chunk.to_vec()))
                .into_tuple::<(Uuid, String)>()
                .all(db)
                .await?,
        );
    }
    Ok(out)
}

async fn person_entities<C: ConnectionTrait>(db: &C, people: Vec<Uuid>) -> Result<Vec<Entity>> {
    let mut seen = HashSet::new();
    let people: Vec<Uuid> = people.into_iter().filter(|u| seen.insert(*u)).collect();
    let named = names(db, &people).await?;
    Ok(people
        .into_iter()
        .map(|u| Entity {
            key: format!("user:{u}"),
            label: named.get(&u).cloned().unwrap_or_default(),
            area: 0,
            people: vec![u],
        })
        .collect())
}

/// The register's heads as voting entities: each cast by the accounts linked to its persons.
fn register_entities(heads: Vec<RegisterHead>) -> Vec<Entity> {
    heads
        .into_iter()
        .map(|h| Entity {
            key: h.key,
            label: h.label,
            area: h.area_centi,
            people: h.accounts,
        })
        .collect()
}

/// Builds the voting entities of a poll's electorate, as the counting rules in DOMAIN.md say,
/// and the register version they were drawn from (for electorates the register decides).
async fn build_electorate<C: ConnectionTrait>(
    db: &C,
    p: &poll::Model,
) -> Result<(Option<i64>, Vec<Entity>)> {
    let session = match p.session_id {
        Some(sid) => session::Entity::find_by_id(sid).one(db).await?,
        None => None,
    };
    let from_register = |kind| async move {
        let (seq, heads) = register_electorate::heads(
            db,
            p.community_id,
            kind,
            &spec_of(p).grid_ids,
            RegisterAt::Now,
        )
        .await?;
        Ok::<_, E>((Some(seq), register_entities(heads)))
    };
    match electorate_of(p) {
        ElectorateKind::Residents => from_register(RegisterElectorate::Residents).await,
        ElectorateKind::Households => from_register(RegisterElectorate::Households).await,
        ElectorateKind::Owners => from_register(RegisterElectorate::Owners).await,
        ElectorateKind::Attendees => {
            let people = session_attendance::Entity::find()
                .filter(session_attendance::Column::SessionId.eq(p.session_id))
                .order_by_asc(session_attendance::Column::CreatedAt)
                .all(db)
                .await?
                .into_iter()
                .map(|a| a.user_id)
                .collect::<Vec<Uuid>>();
            let present: HashSet<Uuid> = people.iter().copied().collect();
            let mut entities = person_entities(db, people).await?;
            // People a grid worker checked in, with or without an account of their own.
            if let Some(sid) = p.session_id {
                for (_, person) in
                    crate::sessions::assisted::present_persons(db, sid, &present).await?
                {
                    entities.push(Entity {
                        key: format!("person:{}", person.id),
                        label: person.name,
                        area: 0,
                        people: person.user_id.into_iter().collect(),
                    });
                }
            }
            Ok((None, entities))
        }
        ElectorateKind::Organisations => {
            let groups: InvitedGroups = session
                .as_ref()
                .and_then(|s| serde_json::from_str(&s.invited).ok())
                .unwrap_or_default();
            let mut out = Vec::new();
            for org in crate::entities::organisation::Entity::find()
                .filter(crate::entities::organisation::Column::Id.is_in(groups.organisation_ids))
                .order_by_asc(crate::entities::organisation::Column::Name)
                .all(db)
                .await?
            {
                let people = organisation_member::Entity::find()
                    .filter(organisation_member::Column::OrganisationId.eq(org.id))
                    .filter(organisation_member::Column::Role.eq("representative"))
                    .all(db)
                    .await?
                    .into_iter()
                    .map(|m| m.user_id)
                    .collect();
                out.push(Entity {
                    key: format!("org:{}", org.id),
                    label: org.name,
                    area: 0,
                    people,
                });
            }
            Ok((None, out))
        }
    }
}

/// Writes the frozen electorate. A person who could vote for several entities (say, a
/// household member who also represents an organisation) is linked to the first only; the
/// others vote through their other members. Returns the electorate's weight and, by person,
/// what `read_electorate` would read back (so the process that opens a poll has it in memory
/// before the first ballot).
async fn freeze_electorate<C: ConnectionTrait>(
    db: &C,
    p: &poll::Model,
) -> Result<(Weight, Electors, Option<i64>)> {
    let (register_seq, entities) = build_electorate(db, p).await?;
    let mut weight = Weight::default();
    let mut linked = Electors::new();
    let mut voters = Vec::new();
    let mut people = Vec::new();
    for e in entities {
        let id = Uuid::new_v4();
        weight.headcount += 1;
        weight.area_centi += e.area.max(0) as u64;
        for u in e.people {
            if linked
                .insert(
                    u,
                    Elector {
                        voter_id: id,
                        area_centi: e.area,
                    },
                )
                .is_none()
            {
                people.push(poll_voter_person::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    poll_id: Set(p.id),
                    voter_id: Set(id),
                    user_id: Set(u),
                });
            }
        }
        voters.push(poll_voter::ActiveModel {
            id: Set(id),
            poll_id: Set(p.id),
            entity_key: Set(e.key),
            label: Set(e.label),
            area_centi: Set(e.area),
            voted: Set(false),
            voted_via: Set(None),
            cast_by: Set(None),
            voted_at: Set(None),
        });
    }
    let mut voters = voters.into_iter().peekable();
    while voters.peek().is_some() {
        let chunk: Vec<_> = voters.by_ref().take(CHUNK).collect();
        poll_voter::Entity::insert_many(chunk).exec(db).await?;
    }
    let mut people = people.into_iter().peekable();
    while people.peek().is_some() {
        let chunk: Vec<_> = people.by_ref().take(CHUNK).collect();
        poll_voter_person::Entity::insert_many(chunk)
            .exec(db)
            .await?;
    }
    Ok((weight, linked, register_seq))
}

// ---------------------------------------------------------------- lifecycle

/// Appends a room event for a session's poll; published after the commit.
async fn room_event<C: ConnectionTrait>(
    db: &C,
    p: &poll::Model,
    kind: &str,
    actor: Option<Uuid>,
    payload: serde_json::Value,
) -> Result<()> {
    if let Some(sid) = p.session_id {
        events::append(db, sid, kind, actor, payload).await?;
    }
    Ok(())
}

async fn publish(state: &AppState, p: &poll::Model) {
    if let Some(sid) = p.session_id {
        state.rooms.catch_up(state, sid).await;
    }
}

async fn open_poll(state: &AppState, id: Uuid, by: Option<Uuid>) -> Result<poll::Model> {
    let txn = state.db.write().await?;
    let p = load(&*txn, id).await?;
    let now = clock::now();
    if status_of(&p) != PollStatus::Draft {
        return Err(E::InvalidTransition {
            from: p.status,
            to: "opened",
        });
    }
    if p.closes_at.is_some_and(|c| c <= now) {
        return Err(E::Conflict(
            "closing_time_passed",
            "The poll's closing time has passed; create a new poll.".into(),
        ));
    }
    let claimed = poll::Entity::update_many()
        .col_expr(poll::Column::Status, Expr::value(PollStatus::Open.as_str()))
        .col_expr(poll::Column::OpenedAt, Expr::value(Some(now)))
        .col_expr(poll::Column::UpdatedAt, Expr::value(now))
        .filter(poll::Column::Id.eq(id))
        .filter(poll::Column::Status.eq(PollStatus::Draft.as_str()))
        .exec(&*txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(E::InvalidTransition {
            from: p.status,
            to: "opened",
        });
    }
    let (weight, electors, register_seq) = freeze_electorate(&*txn, &p).await?;
    if weight.headcount == 0 {
        return Err(E::Conflict(
            "empty_electorate",
            "Nobody is in this poll's electorate yet.".into(),
        ));
    }
    check_secret_electorate(&p, &rule_of(&p), weight.headcount)?;
    poll::Entity::update_many()
        .col_expr(
            poll::Column::ElectorateHeadcount,
            Expr::value(weight.headcount as i64),
        )
        .col_expr(
            poll::Column::ElectorateArea,
            Expr::value(weight.area_centi as i64),
        )
        .col_expr(poll::Column::RegisterSeq, Expr::value(register_seq))
        .filter(poll::Column::Id.eq(id))
        .exec(&*txn)
        .await?;
    audit::record(
        &*txn,
        Change {
            actor: by,
            action: "poll.opened",
            object_type: "poll",
            object_id: p.id.to_string(),
            summary: json!({ "electorate": weight, "register_seq": register_seq }),
        },
    )
    .await?;
    let p = load(&*txn, id).await?;
    room_event(
        &*txn,
        &p,
        "poll.opened",
        by,
        json!({ "poll_id": p.id, "question": p.question, "kind": p.kind, "secret": p.secret, "options": options_of(&p), "max_choices": p.max_choices, "electorate": weight, "agenda_item_id": p.agenda_item_id }),
    )
    .await?;
    txn.commit().await?;
    // Ballots come as soon as a poll opens. Before anyone hears of it, this process has the
    // poll, its electorate (as just written, not read back: reading 20,000 rows made the first
    // ballots of a burst wait 150 ms) and the ballot writer ready.
    state.open_polls.put(p.clone());
    remember_electorate(state, id, electors).await;
    state.ballots.start(state);
    publish(state, &p).await;
    // The electorate is told in a transaction of its own, right after; the scheduler finishes
    // the job if this process stops first.
    let background = state.clone();
    tokio::spawn(async move {
        if let Err(e) = mail_due_openings(&background).await {
            tracing::warn!(error = %e, "opening notices failed; the scheduler will retry");
        }
    });
    Ok(p)
}

pub async fn open(state: &AppState, actor: &Actor, id: Uuid) -> Result<PollView> {
    let p = load(&state.db.conn, id).await?;
    require_runner(&state.db.conn, actor, &p).await?;
    if let Some(sid) = p.session_id {
        let s = session::Entity::find_by_id(sid).one(&state.db.conn).await?;
        if !s.is_some_and(|s| SessionStatus::parse(&s.status) == SessionStatus::Open) {
            return Err(E::Conflict(
                "session_not_open",
                "A session's poll opens while the session is open.".into(),
            ));
        }
    }
    let p = open_poll(state, id, Some(actor.id())).await?;
    view(&state.db.conn, Some(actor), p).await
}

/// Counts once, stores and publishes the result, records it and mails the electorate.
async fn close_poll(state: &AppState, id: Uuid, by: Option<Uuid>) -> Result<poll::Model> {
    let txn = state.db.write().await?;
    // Waits for ballot batches being written, and makes later ones see the close.
    super::writer::poll_lock(&*txn, id, true).await?;
    let p = load(&*txn, id).await?;
    if status_of(&p) != PollStatus::Open {
        return Err(E::InvalidTransition {
            from: p.status,
            to: "closed",
        });
    }
    let now = clock::now();
    let claimed = poll::Entity::update_many()
        .col_expr(
            poll::Column::Status,
            Expr::value(PollStatus::Closed.as_str()),
        )
        .col_expr(poll::Column::ClosedAt, Expr::value(Some(now)))
        .col_expr(poll::Column::UpdatedAt, Expr::value(now))
        .filter(poll::Column::Id.eq(id))
        .filter(poll::Column::Status.eq(PollStatus::Open.as_str()))
        .exec(&*txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(E::InvalidTransition {
            from: p.status,
            to: "closed",
        });
    }
    // Paper ballots nobody confirmed in time are not counted.
    assisted_ballot::Entity::update_many()
        .col_expr(assisted_ballot::Column::Status, Expr::value("rejected"))
        .col_expr(
            assisted_ballot::Column::Flag,
            Expr::value(Some("not_confirmed_before_close")),
        )
        .col_expr(
            assisted_ballot::Column::Choice,
            Expr::value(Option::<String>::None),
        )
        .filter(assisted_ballot::Column::PollId.eq(id))
        .filter(assisted_ballot::Column::Status.eq("pending"))
        .exec(&*txn)
        .await?;
    if p.secret {
        super::mixing::release(&*txn, state.sealing.stored_key()?, p.id).await?;
    }
    let outcome = tally(&*txn, &p).await?;
    let result = serde_json::to_string(&outcome).unwrap_or_default();
    poll::Entity::update_many()
        .col_expr(poll::Column::Result, Expr::value(Some(result.clone())))
        .col_expr(poll::Column::Passed, Expr::value(Some(outcome.passed)))
        .filter(poll::Column::Id.eq(id))
        .exec(&*txn)
        .await?;
    audit::record(&*txn, Change {
        actor: by,
        action: "poll.closed",
        object_type: "poll",
        object_id: p.id.to_string(),
        summary: json!({ "result_sha256": hex::encode(Sha256::digest(result.as_bytes())), "passed": outcome.passed, "participants": super::disclosure::published_weight(&p, outcome.participants), "electorate": outcome.electorate, "winners": outcome.winners }),
    })
    .await?;
    let p = load(&*txn, id).await?;
    room_event(
        &*txn,
        &p,
        "poll.closed",
        by,
        json!({ "poll_id": p.id, "question": p.question, "result": super::disclosure::published(&p, &outcome) }),
    )
    .await?;
    txn.commit().await?;
    state.open_polls.forget(p.id);
    publish(state, &p).await;
    // The electorate is mailed in a transaction of its own, right after; the scheduler
    // finishes the job if this process stops first.
    let background = state.clone();
    tokio::spawn(async move {
        if let Err(e) = mail_due_results(&background).await {
            tracing::warn!(error = %e, "result mail failed; the scheduler will retry");
        }
    });
    Ok(p)
}

/// Tells the electorate of every open poll that has not been announced yet, a chunk of people
/// per transaction (so ballots are not held up behind one long write). Each chunk moves a
/// cursor with a compare-and-set, so several processes never tell anyone twice.
pub async fn mail_due_openings(state: &AppState) -> Result<usize> {
    let due: Vec<Uuid> = poll::Entity::find()
        .select_only()
        .column(poll::Column::Id)
        .filter(poll::Column::Status.eq(PollStatus::Open.as_str()))
        .filter(poll::Column::OpenMailedAt.is_null())
        .limit(20)
        .into_tuple()
        .all(&state.db.conn)
        .await?;
    let mut told = 0;
    for id in due {
        let mut any = false;
        loop {
            // The people who got the notice vote at once: their ballots go first.
            state.when_quiet().await;
            let Some(more) = announce_chunk(state, id).await? else {
                break;
            };
            any = true;
            state.mail_wake.notify_one();
            if !more {
                break;
            }
        }
        if any {
            told += 1;
        }
    }
    Ok(told)
}

/// Tells the next chunk of a poll's electorate. `None` when there was nothing to do (done, or
/// another process took this chunk); otherwise whether people remain.
async fn announce_chunk(state: &AppState, id: Uuid) -> Result<Option<bool>> {
    let txn = state.db.write().await?;
    let p = load(&*txn, id).await?;
    if p.open_mailed_at.is_some() || status_of(&p) != PollStatus::Open {
        return Ok(None);
    }
    let mut q = poll_voter_person::Entity::find()
        .select_only()
        .column(poll_voter_person::Column::UserId)
        .filter(poll_voter_person::Column::PollId.eq(p.id))
        .order_by_asc(poll_voter_person::Column::UserId)
        .limit(NOTICE_CHUNK as u64);
    if let Some(after) = p.open_notice_after {
        q = q.filter(poll_voter_person::Column::UserId.gt(after));
    }
    let mut people: Vec<Uuid> = q.into_tuple().all(&*txn).await?;
    let finished = people.len() < NOTICE_CHUNK;
    let cursor = people.last().copied().or(p.open_notice_after);
    people.dedup();
    let mut claim = poll::Entity::update_many()
        .col_expr(poll::Column::OpenNoticeAfter, Expr::value(cursor))
        .filter(poll::Column::Id.eq(p.id))
        .filter(poll::Column::OpenMailedAt.is_null());
    claim = match p.open_notice_after {
        Some(after) => claim.filter(poll::Column::OpenNoticeAfter.eq(after)),
        None => claim.filter(poll::Column::OpenNoticeAfter.is_null()),
    };
    if finished {
        claim = claim.col_expr(poll::Column::OpenMailedAt, Expr::value(Some(clock::now())));
    }
    if claim.exec(&*txn).await?.rows_affected != 1 {
        return Ok(None);
    }
    let url = state.link(&format!("/#/polls/{}", p.id));
    let closes = p.closes_at.map(|c| {
        (c + chrono::Duration::hours(8))
            .format("%Y-%m-%d %H:%M")
            .to_string()
    });
    let rows = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Email)
        .column(user::Column::Language)
        .column(user::Column::DisplayName)
        .filter(user::Column::Id.is_in(people))
        .filter(user::Column::DeletedAt.is_null())
        .into_tuple::<(Uuid, String, String, String)>()
        .all(&*txn)
        .await?
        .into_iter()
        .map(|(id, email, language, name)| notifications::Recipient {
            user_id: id,
            email,
            mail: templates::poll_opened(&language, &name, &p.question, closes.as_deref(), &url),
        })
        .collect();
    notifications::notify_many(
        state,
        &*txn,
        notifications::Kind::PollOpened,
        Some(p.id),
        rows,
    )
    .await?;
    txn.commit().await?;
    Ok(Some(!finished))
}

/// Mails the result of every closed poll whose electorate has not been told yet. The claim
/// and the mail are one transaction, so each result is mailed once, by one process.
pub async fn mail_due_results(state: &AppState) -> Result<usize> {
    let due = poll::Entity::find()
        .filter(poll::Column::Status.eq(PollStatus::Closed.as_str()))
        .filter(poll::Column::ResultMailedAt.is_null())
        .limit(20)
        .all(&state.db.conn)
        .await?;
    let mut mailed = 0;
    for p in due {
        let txn = state.db.write().await?;
        let claimed = poll::Entity::update_many()
            .col_expr(
                poll::Column::ResultMailedAt,
                Expr::value(Some(clock::now())),
            )
            .filter(poll::Column::Id.eq(p.id))
            .filter(poll::Column::ResultMailedAt.is_null())
            .exec(&*txn)
            .await?;
        if claimed.rows_affected != 1 {
            continue;
        }
        if let Some(outcome) = super::disclosure::published_result(&p) {
            mail_result(state, &*txn, &p, &outcome).await?;
        }
        txn.commit().await?;
        mailed += 1;
    }
    if mailed > 0 {
        state.mail_wake.notify_one();
    }
    Ok(mailed)
}

async fn mail_result<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    p: &poll::Model,
    outcome: &Outcome,
) -> Result<()> {
    let people: Vec<Uuid> = poll_voter_person::Entity::find()
        .select_only()
        .column(poll_voter_person::Column::UserId)
        .filter(poll_voter_person::Column::PollId.eq(p.id))
        .into_tuple()
        .all(txn)
        .await?;
    let url = state.link(&format!("/#/polls/{}", p.id));
    let summary = summarise(outcome, &options_of(p));
    let mut rows = Vec::new();
    for chunk in people.chunks(CHUNK) {
        for (id, email, language, name) in user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .column(user::Column::Email)
            .column(user::Column::Language)
            .column(user::Column::DisplayName)
            .filter(user::Column::Id.is_in(chunk.to_vec()))
            .filter(user::Column::DeletedAt.is_null())
            .into_tuple::<(Uuid, String, String, String)>()
            .all(txn)
            .await?
        {
            rows.push(notifications::Recipient {
                user_id: id,
                email,
                mail: templates::poll_result(
                    &language,
                    &name,
                    &p.question,
                    outcome.passed,
                    &summary,
                    &url,
                ),
            });
        }
    }
    notifications::notify_many(
        state,
        txn,
        notifications::Kind::PollResult,
        Some(p.id),
        rows,
    )
    .await?;
    Ok(())
}

/// One line per option and the turnout, in figures both languages read.
fn summarise(outcome: &Outcome, options: &[PollOption]) -> String {
    let area = |centi: u64| format!("{}.{:02} m²", centi / 100, centi % 100);
    let mut lines: Vec<String> = outcome
        .options
        .iter()
        .map(|o| {
            let label = options
                .iter()
                .find(|x| x.id == o.id)
                .map(|x| x.label.as_str())
                .unwrap_or(&o.id);
            if outcome.electorate.area_centi > 0 {
                format!("{label}: {} ({})", o.headcount, area(o.area_centi))
            } else {
                format!("{label}: {}", o.headcount)
            }
        })
        .collect();
    lines.push(format!(
        "{} / {}",
        outcome.participants.headcount, outcome.electorate.headcount
    ));
    lines.join("\n")
}

pub async fn close(state: &AppState, actor: &Actor, id: Uuid) -> Result<PollView> {
    let p = load(&state.db.conn, id).await?;
    require_runner(&state.db.conn, actor, &p).await?;
    let p = close_poll(state, id, Some(actor.id())).await?;
    view(&state.db.conn, Some(actor), p).await
}

pub async fn cancel(state: &AppState, actor: &Actor, id: Uuid, reason: &str) -> Result<PollView> {
    let reason = text("reason_required", reason, 2000, "reason")?;
    let txn = state.db.write().await?;
    let p = load(&*txn, id).await?;
    require_runner(&*txn, actor, &p).await?;
    if status_of(&p) != PollStatus::Draft {
        return Err(E::InvalidTransition {
            from: p.status,
            to: "cancelled",
        });
    }
    let changed = poll::Entity::update_many()
        .col_expr(
            poll::Column::Status,
            Expr::value(PollStatus::Cancelled.as_str()),
        )
        .col_expr(poll::Column::UpdatedAt, Expr::value(clock::now()))
        .filter(poll::Column::Id.eq(id))
        .filter(poll::Column::Status.eq(PollStatus::Draft.as_str()))
        .exec(&*txn)
        .await?;
    if changed.rows_affected != 1 {
        return Err(E::InvalidTransition {
            from: p.status,
            to: "cancelled",
        });
    }
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "poll.cancelled",
            object_type: "poll",
            object_id: p.id.to_string(),
            summary: json!({ "reason": reason }),
        },
    )
    .await?;
    // A cancelled vote is never counted: its held secret ballots go unopened.
    super::mixing::discard(&*txn, p.id).await?;
    let p = load(&*txn, id).await?;
    txn.commit().await?;
    view(&state.db.conn, Some(actor), p).await
}

/// Opens polls whose opening time has come and closes those whose closing time has passed.
/// Each transition is conditional, so several processes may run this at once.
pub async fn run_due(state: &AppState) -> Result<usize> {
    let now = clock::now();
    let mut done = 0;
    let to_open = poll::Entity::find()
        .filter(poll::Column::Status.eq(PollStatus::Draft.as_str()))
        .filter(poll::Column::OpensAt.lte(now))
        .limit(50)
        .all(&state.db.conn)
        .await?;
    for p in to_open {
        match open_poll(state, p.id, None).await {
            Ok(_) => done += 1,
            Err(E::InvalidTransition { .. }) => {}
            Err(e @ E::Conflict(..)) => {
                // Nobody to vote, or too late: the poll cannot open; say why and stop trying.
                tracing::warn!(poll = %p.id, error = %e, "scheduled poll could not open");
                poll::Entity::update_many()
                    .col_expr(
                        poll::Column::OpensAt,
                        Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
                    )
                    .filter(poll::Column::Id.eq(p.id))
                    .exec(&state.db.conn)
                    .await?;
            }
            Err(e) => return Err(e),
        }
    }
    done += mail_due_openings(state).await?;
    done += mail_due_results(state).await?;
    let to_close = poll::Entity::find()
        .filter(poll::Column::Status.eq(PollStatus::Open.as_str()))
        .filter(poll::Column::ClosesAt.lte(now))
        .limit(50)
        .all(&state.db.conn)
        .await?;
    for p in to_close {
        match close_poll(state, p.id, None).await {
            Ok(_) => done += 1,
            Err(E::InvalidTransition { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

// ---------------------------------------------------------------- ballots

fn validate_choices(p: &poll::Model, choices: &[Text]) -> Result<Vec<String>> {
    let options = options_of(p);
    let known: HashSet<&str> = options.iter().map(|o| o.id.as_str()).collect();
    let mut seen = HashSet::new();
    for c in choices {
        if !known.contains(c.as_str()) {
            return Err(E::Invalid(
                "unknown_option",
                format!("\"{c}\" is not an option of this poll."),
            ));
        }
        if !seen.insert(c.as_str()) {
            return Err(E::Invalid(
                "duplicate_option",
                "Each option may be chosen once.".into(),
            ));
        }
    }
    let n = choices.len();
    let ok = match PollKind::parse(&p.kind) {
        PollKind::YesNo => n == 1,
        PollKind::Single => n <= 1,
        PollKind::Multiple => n <= p.max_choices.max(1) as usize,
        PollKind::Ranked => true,
    };
    if !ok {
        let msg = match PollKind::parse(&p.kind) {
            PollKind::YesNo => "Choose one of yes, no and abstain.".to_string(),
            PollKind::Single => "Choose one option, or none to abstain.".to_string(),
            _ => format!("Choose at most {} options.", p.max_choices),
        };
        return Err(E::Invalid("wrong_option_count", msg));
    }
    Ok(choices.iter().map(|c| c.to_string()).collect())
}

fn new_receipt(poll_id: Uuid) -> String {
    let mut nonce = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut nonce);
    let mut h = Sha256::new();
    h.update(b"yishi-ballot-receipt");
    h.update(poll_id.as_bytes());
    h.update(nonce);
    hex::encode(&h.finalize()[..16])
}

fn key_hash(poll_id: Uuid, user: Uuid, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"yishi-ballot-request\0");
    h.update(poll_id.as_bytes());
    h.update(user.as_bytes());
    h.update(key.as_bytes());
    hex::encode(h.finalize())
}

async fn replayed<C: ConnectionTrait>(
    db: &C,
    poll_id: Uuid,
    user: Uuid,
    key: &str,
) -> Result<Option<BallotReceipt>> {
    Ok(ballot_request::Entity::find()
        .filter(ballot_request::Column::KeyHash.eq(key_hash(poll_id, user, key)))
        .one(db)
        .await?
        .and_then(|r| unseal(poll_id, user, key, &r.sealed)))
}

fn check_key(key: Option<&str>) -> Result<Option<&str>> {
    match key.map(str::trim) {
        None => Ok(None),
        Some(k) if (16..=200).contains(&k.len()) && k.is_ascii() => Ok(Some(k)),
        Some(_) => Err(E::Invalid(
            "invalid_idempotency_key",
            "An Idempotency-Key has 16 to 200 ASCII characters (a UUID is a good choice).".into(),
        )),
    }
}

fn ensure_open(p: &poll::Model) -> Result<()> {
    let now = clock::now();
    if status_of(p) != PollStatus::Open || p.closes_at.is_some_and(|c| c <= now) {
        return Err(E::Conflict(
            "poll_not_open",
            "This poll is not open for ballots.".into(),
        ));
    }
    Ok(())
}

/// Stores a counted ballot for `voter`, taking its one participation slot. The slot is a
/// conditional update, so under any concurrency exactly one ballot per voter is counted.
#[allow(clippy::too_many_arguments)]
async fn store_ballot<C: ConnectionTrait>(
    txn: &C,
    key: &crate::sealing::SealingKey,
    p: &poll::Model,
    voter: &poll_voter::Model,
    choices: &[String],
    via: BallotVia,
    cast_by: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<String>> {
    let taken = poll_voter::Entity::update_many()
        .col_expr(poll_voter::Column::Voted, Expr::value(true))
        .col_expr(
            poll_voter::Column::VotedVia,
            Expr::value(Some(via.as_str())),
        )
        .col_expr(poll_voter::Column::CastBy, Expr::value(Some(cast_by)))
        .col_expr(
            poll_voter::Column::VotedAt,
            Expr::value((!p.secret).then_some(now)),
        )
        .filter(poll_voter::Column::Id.eq(voter.id))
        .filter(poll_voter::Column::Voted.eq(false))
        .exec(txn)
        .await?;
    if taken.rows_affected != 1 {
        return Ok(None);
    }
    let receipt = new_receipt(p.id);
    if p.secret {
        // Held sealed until the close, which writes every ballot of the poll at once.
        super::mixing::hold(
            txn,
            key,
            vec![super::mixing::Hold {
                poll_id: p.id,
                choice: serde_json::to_string(choices).unwrap_or_default(),
                area_centi: voter.area_centi,
                receipt: receipt.clone(),
            }],
        )
        .await?;
    } else {
        ballot::ActiveModel {
            id: Set(Uuid::new_v4()),
            poll_id: Set(p.id),
            voter_id: Set(Some(voter.id)),
            choice: Set(serde_json::to_string(choices).unwrap_or_default()),
            area_centi: Set(voter.area_centi),
            receipt: Set(receipt.clone()),
            updated_at: Set(Some(now)),
        }
        .insert(txn)
        .await?;
    }
    // The record holds participation; for a secret poll, never the choice. Keyed by the
    // voter, so ballots spread over the record's chains instead of queueing on one.
    let summary = if p.secret {
        json!({ "poll_id": p.id, "via": via.as_str(), "cast_by": cast_by })
    } else {
        json!({ "poll_id": p.id, "via": via.as_str(), "cast_by": cast_by, "choices": choices })
    };
    audit::record(
        txn,
        Change {
            actor: Some(cast_by),
            action: "ballot.cast",
            object_type: "poll_voter",
            object_id: voter.id.to_string(),
            summary,
        },
    )
    .await?;
    Ok(Some(receipt))
}

/// The person's own voting entity in an open poll, if they are in its electorate: from the
/// electorate this process remembers, read whole on the poll's first ballot here.
async fn own_elector(state: &AppState, p: &poll::Model, user_id: Uuid) -> Result<Option<Elector>> {
    Ok(electorate(state, p.id).await?.get(&user_id).copied())
}

/// An open poll's electorate, from this process's memory or read into it.
async fn electorate(state: &AppState, poll_id: Uuid) -> Result<std::sync::Arc<Electors>> {
    state
        .open_polls
        .electorates
        .get_or_fill(&poll_id.to_string(), || {
            read_electorate(&state.db.conn, poll_id)
        })
        .await
}

/// Puts an electorate just frozen into this process's memory of them.
async fn remember_electorate(state: &AppState, poll_id: Uuid, electors: Electors) {
    let _ = state
        .open_polls
        .electorates
        .get_or_fill(&poll_id.to_string(), || async {
            Ok::<_, std::convert::Infallible>(electors)
        })
        .await;
}

/// An open poll's frozen electorate, by person.
async fn read_electorate<C: ConnectionTrait>(db: &C, poll_id: Uuid) -> Result<Electors> {
    let areas: HashMap<Uuid, i64> = poll_voter::Entity::find()
        .select_only()
        .column(poll_voter::Column::Id)
        .column(poll_voter::Column::AreaCenti)
        .filter(poll_voter::Column::PollId.eq(poll_id))
        .into_tuple::<(Uuid, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(poll_voter_person::Entity::find()
        .select_only()
        .column(poll_voter_person::Column::UserId)
        .column(poll_voter_person::Column::VoterId)
        .filter(poll_voter_person::Column::PollId.eq(poll_id))
        .into_tuple::<(Uuid, Uuid)>()
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(user, voter_id)| {
            let area_centi = *areas.get(&voter_id)?;
            Some((
                user,
                Elector {
                    voter_id,
                    area_centi,
                },
            ))
        })
        .collect())
}

/// Casts a ballot. Returns the receipt and whether it is a replay of an earlier request.
///
/// A person's own ballot goes through the group-committing writer; a proxy's ballot (rare,
/// and with an email to the owner) through its own transaction.
pub async fn cast(
    state: &AppState,
    actor: &Actor,
    poll_id: Uuid,
    req: CastBallotRequest,
    key: Option<&str>,
) -> Result<(BallotReceipt, bool)> {
    let key = check_key(key)?;
    let db = &state.db.conn;
    let p = match state.open_polls.get(poll_id) {
        Some(p) => p,
        None => {
            let p = load(db, poll_id).await?;
            if status_of(&p) == PollStatus::Open {
                state.open_polls.put(p.clone());
            }
            p
        }
    };
    if let Err(e) = ensure_open(&p) {
        // A retry is answered by the writer while the poll is open; once it is not, a retry
        // still gets its first answer rather than a refusal.
        if let Some(k) = key
            && let Some(first) = replayed(db, poll_id, actor.id(), k).await?
        {
            return Ok((first, true));
        }
        load_visible(db, Some(actor), poll_id).await?;
        return Err(e);
    }
    let own = own_elector(state, &p, actor.id()).await?;
    let by_proxy = req.voter_id.is_some() && req.voter_id != own.map(|v| v.voter_id);
    if status_of(&p) != PollStatus::Open || (own.is_none() && !by_proxy) {
        // The slow path decides between "no such poll" and "not yours to vote in".
        load_visible(db, Some(actor), poll_id).await?;
    }
    ensure_open(&p)?;
    let choices = validate_choices(&p, &req.choices)?;
    if !actor.email_verified() {
        return Err(E::Forbidden(
            "Verify your email address before voting.".into(),
        ));
    }
    let not_elector =
        || E::Forbidden("You are not in this poll's electorate (and hold no proxy for it).".into());
    if by_proxy {
        let (voter, proxy) = my_voters(db, &p, actor.id())
            .await?
            .into_iter()
            .find(|(m, px)| Some(m.id) == req.voter_id && px.is_some())
            .ok_or_else(not_elector)?;
        return cast_by_proxy(state, actor, &p, voter, proxy, choices, key).await;
    }
    let voter = own.ok_or_else(not_elector)?;
    let answer = BallotReceipt {
        poll_id,
        voter_id: voter.voter_id,
        receipt: new_receipt(p.id),
        via: BallotVia::Online.as_str().into(),
        choices: (!p.secret).then(|| choices.clone()),
    };
    let job = super::writer::Job {
        poll_id,
        secret: p.secret,
        voter_id: voter.voter_id,
        area_centi: voter.area_centi,
        choices,
        cast_by: actor.id(),
        receipt: answer.receipt.clone(),
        request: key.map(|k| {
            (
                key_hash(poll_id, actor.id(), k),
                seal(poll_id, actor.id(), k, &answer),
            )
        }),
    };
    match state.ballots.submit(state, job).await? {
        super::writer::Written::Stored => {
            if p.show_tally && !p.secret {
                state.tallies.touch(p.id);
            }
            Ok((answer, false))
        }
        super::writer::Written::Replayed(sealed) => {
            let k = key.unwrap_or_default();
            unseal(poll_id, actor.id(), k, &sealed)
                .map(|first| (first, true))
                .ok_or_else(|| E::Conflict("already_voted", "This ballot has been cast.".into()))
        }
        super::writer::Written::Closed => Err(E::Conflict(
            "poll_not_open",
            "This poll closed before the ballot could be counted; nothing was stored.".into(),
        )),
        super::writer::Written::AlreadyVoted => {
            // Another process may have answered this key between our reads.
            if let Some(k) = key
                && let Some(first) = replayed(db, poll_id, actor.id(), k).await?
            {
                return Ok((first, true));
            }
            Err(already_voted(&p))
        }
    }
}

fn already_voted(p: &poll::Model) -> E {
    let msg = if p.secret {
        "This ballot has been cast; a secret ballot is final."
    } else {
        "This ballot has been cast; change it instead."
    };
    E::Conflict("already_voted", msg.into())
}

/// A proxy casts an owner's ballot: marked as used, and the owner is emailed.
async fn cast_by_proxy(
    state: &AppState,
    actor: &Actor,
    p: &poll::Model,
    voter: poll_voter::Model,
    proxy: Option<poll_proxy::Model>,
    choices: Vec<String>,
    key: Option<&str>,
) -> Result<(BallotReceipt, bool)> {
    let db = &state.db.conn;
    let poll_id = p.id;
    let now = clock::now();
    let txn = state.db.write().await?;
    if let Some(k) = key
        && let Some(first) = replayed(&*txn, poll_id, actor.id(), k).await?
    {
        return Ok((first, true));
    }
    let Some(receipt) = store_ballot(
        &*txn,
        state.sealing.stored_key()?,
        p,
        &voter,
        &choices,
        BallotVia::Proxy,
        actor.id(),
        now,
    )
    .await?
    else {
        drop(txn);
        if let Some(k) = key
            && let Some(first) = replayed(db, poll_id, actor.id(), k).await?
        {
            return Ok((first, true));
        }
        return Err(already_voted(p));
    };
    let answer = BallotReceipt {
        poll_id,
        voter_id: voter.id,
        receipt,
        via: BallotVia::Proxy.as_str().into(),
        choices: (!p.secret).then(|| choices.clone()),
    };
    if let Some(px) = &proxy {
        poll_proxy::Entity::update_many()
            .col_expr(poll_proxy::Column::UsedAt, Expr::value(Some(now)))
            .col_expr(
                poll_proxy::Column::Status,
                Expr::value(if px.poll_id.is_some() {
                    "used"
                } else {
                    "active"
                }),
            )
            .filter(poll_proxy::Column::Id.eq(px.id))
            .exec(&*txn)
            .await?;
        if let Some(owner) = user::Entity::find_by_id(px.grantor_id).one(&*txn).await? {
            notifications::notify(
                state,
                &*txn,
                notifications::Kind::ProxyUsed,
                Some(p.id),
                owner.id,
                &owner.email,
                templates::proxy_used(
                    &owner.language,
                    &owner.display_name,
                    &actor.user.display_name,
                    &p.question,
                    &state.link(&format!("/#/polls/{}", p.id)),
                ),
            )
            .await?;
        }
    }
    if let Some(k) = key {
        let inserted = ballot_request::ActiveModel {
            id: Set(Uuid::now_v7()),
            poll_id: Set(poll_id),
            key_hash: Set(key_hash(poll_id, actor.id(), k)),
            sealed: Set(seal(poll_id, actor.id(), k, &answer)),
            created_at: Set(now),
        }
        .insert(&*txn)
        .await;
        if let Err(e) = inserted {
            if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
                drop(txn);
                if let Some(first) = replayed(db, poll_id, actor.id(), k).await? {
                    return Ok((first, true));
                }
            }
            return Err(e.into());
        }
    }
    txn.commit().await?;
    state.mail_wake.notify_one();
    if p.show_tally && !p.secret {
        state.tallies.touch(p.id);
    }
    Ok((answer, false))
}

/// Changes an open (named) ballot while the poll is open. Secret ballots are final.
pub async fn change(
    state: &AppState,
    actor: &Actor,
    poll_id: Uuid,
    req: CastBallotRequest,
) -> Result<BallotReceipt> {
    let db = &state.db.conn;
    let (p, _) = load_visible(db, Some(actor), poll_id).await?;
    if p.secret {
        return Err(E::Conflict(
            "secret_ballot_final",
            "A secret ballot cannot be changed once cast.".into(),
        ));
    }
    ensure_open(&p)?;
    let choices = validate_choices(&p, &req.choices)?;
    let mine = my_voters(db, &p, actor.id()).await?;
    let (voter, proxy) = match req.voter_id {
        Some(v) => mine.into_iter().find(|(m, _)| m.id == v),
        None => mine.into_iter().find(|(_, proxy)| proxy.is_none()),
    }
    .ok_or_else(|| E::Forbidden("You are not in this poll's electorate.".into()))?;
    let txn = state.db.write().await?;
    let current = poll_voter::Entity::find_by_id(voter.id)
        .one(&*txn)
        .await?
        .ok_or(E::Missing("ballot"))?;
    if current.voted_via.as_deref() == Some("assisted") {
        return Err(E::Conflict(
            "paper_ballot_final",
            "This voter's paper ballot was counted; it is not changed online.".into(),
        ));
    }
    let now = clock::now();
    let updated = ballot::Entity::update_many()
        .col_expr(
            ballot::Column::Choice,
            Expr::value(serde_json::to_string(&choices).unwrap_or_default()),
        )
        .col_expr(ballot::Column::UpdatedAt, Expr::value(Some(now)))
        .filter(ballot::Column::PollId.eq(p.id))
        .filter(ballot::Column::VoterId.eq(voter.id))
        .exec(&*txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(E::Conflict(
            "not_voted",
            "There is no ballot to change yet; cast one.".into(),
        ));
    }
    let b = ballot::Entity::find()
        .filter(ballot::Column::PollId.eq(p.id))
        .filter(ballot::Column::VoterId.eq(voter.id))
        .one(&*txn)
        .await?
        .ok_or(E::Missing("ballot"))?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "ballot.changed",
            object_type: "poll_voter",
            object_id: voter.id.to_string(),
            summary: json!({ "poll_id": p.id, "choices": choices }),
        },
    )
    .await?;
    txn.commit().await?;
    if p.show_tally {
        state.tallies.touch(p.id);
    }
    Ok(BallotReceipt {
        poll_id,
        voter_id: voter.id,
        receipt: b.receipt,
        via: if proxy.is_some() { "proxy" } else { "online" }.into(),
        choices: Some(choices),
    })
}

/// The person's own ballots in this poll (their own and any cast as a proxy).
pub async fn my_ballot(state: &AppState, actor: &Actor, poll_id: Uuid) -> Result<Vec<MyBallot>> {
    let db = &state.db.conn;
    let (p, _) = load_visible(db, Some(actor), poll_id).await?;
    let mut out = Vec::new();
    for (v, _) in my_voters(db, &p, actor.id()).await? {
        let b = if p.secret {
            None
        } else {
            ballot::Entity::find()
                .filter(ballot::Column::PollId.eq(p.id))
                .filter(ballot::Column::VoterId.eq(v.id))
                .one(db)
                .await?
        };
        out.push(MyBallot {
            voter_id: v.id,
            voted: v.voted,
            via: v.voted_via.as_deref().map(BallotVia::parse),
            choices: b.as_ref().map(|b| choices_of(&b.choice)),
            receipt: b.map(|b| b.receipt),
        });
    }
    if out.is_empty() {
        return Err(E::Forbidden(
            "You are not in this poll's electorate.".into(),
        ));
    }
    Ok(out)
}

/// After closing, every counted ballot's receipt, in sorted order (public).
pub async fn receipts(state: &AppState, poll_id: Uuid) -> Result<ReceiptList> {
    let db = &state.db.conn;
    let p = load(db, poll_id).await?;
    if status_of(&p) != PollStatus::Closed {
        return Err(E::Conflict(
            "poll_not_closed",
            "Receipts are published when the poll closes.".into(),
        ));
    }
    let receipts: Vec<String> = ballot::Entity::find()
        .select_only()
        .column(ballot::Column::Receipt)
        .filter(ballot::Column::PollId.eq(poll_id))
        .order_by_asc(ballot::Column::Receipt)
        .into_tuple()
        .all(db)
        .await?;
    Ok(ReceiptList { poll_id, receipts })
}

/// The electorate of a closed open-ballot poll with how each entity voted, for members of
/// the community. Secret polls publish counts only.
pub async fn voters(state: &AppState, actor: &Actor, poll_id: Uuid) -> Result<Vec<VoterRecord>> {
    let db = &state.db.conn;
    let (p, _) = load_visible(db, Some(actor), poll_id).await?;
    let scope = scope_of(db, p.community_id).await?;
    if !actor.is_member_of(&scope) && !allows(actor, Action::ViewRegister, Some(&scope)) {
        return Err(E::Forbidden(
            "The named record is for members of the community.".into(),
        ));
    }
    if p.secret {
        return Err(E::Conflict(
            "secret_poll",
            "A secret poll publishes counts, never who voted how.".into(),
        ));
    }
    if status_of(&p) != PollStatus::Closed {
        return Err(E::Conflict(
            "poll_not_closed",
            "The named record is published when the poll closes.".into(),
        ));
    }
    let ballots: HashMap<Uuid, Vec<String>> = ballot::Entity::find()
        .filter(ballot::Column::PollId.eq(p.id))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|b| b.voter_id.map(|v| (v, choices_of(&b.choice))))
        .collect();
    Ok(poll_voter::Entity::find()
        .filter(poll_voter::Column::PollId.eq(p.id))
        .order_by_asc(poll_voter::Column::Label)
        .all(db)
        .await?
        .into_iter()
        .map(|v| VoterRecord {
            choices: ballots.get(&v.id).cloned(),
            label: v.label,
            area_centi: v.area_centi,
            voted: v.voted,
            via: v.voted_via.as_deref().map(BallotVia::parse),
        })
        .collect())
}

// ---------------------------------------------------------------- proxies

async fn user_by_email<C: ConnectionTrait>(db: &C, email: &str) -> Result<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email.trim().to_lowercase()))
        .filter(user::Column::DeletedAt.is_null())
        .one(db)
        .await?)
}

fn proxy_view(px: poll_proxy::Model, names: &HashMap<Uuid, String>) -> ProxyView {
    ProxyView {
        id: px.id,
        poll_id: px.poll_id,
        session_id: px.session_id,
        grantor_name: names.get(&px.grantor_id).cloned().unwrap_or_default(),
        proxy_name: names.get(&px.proxy_id).cloned().unwrap_or_default(),
        reference: px.reference,
        status: px.status,
        created_at: px.created_at,
        used_at: px.used_at,
    }
}

/// An owner (or any elector) registers a written proxy for one poll or one session.
pub async fn create_proxy(
    state: &AppState,
    actor: &Actor,
    poll_id: Option<Uuid>,
    session_id: Option<Uuid>,
    req: CreateProxyRequest,
) -> Result<ProxyView> {
    let reference = text("invalid_reference", &req.reference, 120, "reference")?;
    let txn = state.db.write().await?;
    let community_id = match (poll_id, session_id) {
        (Some(pid), _) => {
            let p = load(&*txn, pid).await?;
            if matches!(status_of(&p), PollStatus::Closed | PollStatus::Cancelled) {
                return Err(E::Conflict(
                    "poll_not_open",
                    "This poll takes no more proxies.".into(),
                ));
            }
            if status_of(&p) == PollStatus::Open {
                let voter = my_voters(&*txn, &p, actor.id())
                    .await?
                    .into_iter()
                    .find(|(_, px)| px.is_none())
                    .ok_or_else(|| E::Forbidden("You are not in this poll's electorate.".into()))?;
                if voter.0.voted {
                    return Err(E::Conflict(
                        "already_voted",
                        "You have already voted in this poll.".into(),
                    ));
                }
            }
            p.community_id
        }
        (None, Some(sid)) => {
            let s = unended_session(&*txn, sid).await?;
            s.community_id
        }
        (None, None) => return Err(E::NotFound),
    };
    let scope = scope_of(&*txn, community_id).await?;
    if !(actor.holds_at(Role::Owner, community_id) || actor.holds_at(Role::Resident, community_id))
    {
        return Err(E::Forbidden(
            "Proxies are given by the community's owners and residents.".into(),
        ));
    }
    let _ = scope;
    let proxy = user_by_email(&*txn, &req.proxy_email)
        .await?
        .ok_or_else(|| E::Invalid("proxy_not_found", "No account with that email.".into()))?;
    if proxy.id == actor.id() {
        return Err(E::Invalid(
            "invalid_proxy",
            "A proxy is someone else.".into(),
        ));
    }
    let mut existing = poll_proxy::Entity::find()
        .filter(poll_proxy::Column::GrantorId.eq(actor.id()))
        .filter(poll_proxy::Column::Status.ne("revoked"));
    existing = match poll_id {
        Some(pid) => existing.filter(poll_proxy::Column::PollId.eq(pid)),
        None => existing.filter(poll_proxy::Column::SessionId.eq(session_id)),
    };
    if existing.one(&*txn).await?.is_some() {
        return Err(E::Conflict(
            "proxy_exists",
            "You already gave a proxy here; revoke it first.".into(),
        ));
    }
    let px = poll_proxy::ActiveModel {
        id: Set(Uuid::new_v4()),
        community_id: Set(community_id),
        poll_id: Set(poll_id),
        session_id: Set(if poll_id.is_some() { None } else { session_id }),
        grantor_id: Set(actor.id()),
        proxy_id: Set(proxy.id),
        reference: Set(reference),
        status: Set("active".into()),
        created_at: Set(clock::now()),
        revoked_at: Set(None),
        used_at: Set(None),
    }
    .insert(&*txn)
    .await?;
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "proxy.registered",
        object_type: "poll_proxy",
        object_id: px.id.to_string(),
        summary: json!({ "poll_id": poll_id, "session_id": session_id, "proxy_id": proxy.id, "reference": px.reference }),
    })
    .await?;
    txn.commit().await?;
    let names = HashMap::from([
        (actor.id(), actor.user.display_name.clone()),
        (proxy.id, proxy.display_name),
    ]);
    Ok(proxy_view(px, &names))
}

/// The grantor revokes a proxy that has not been used.
pub async fn revoke_proxy(state: &AppState, actor: &Actor, id: Uuid) -> Result<ProxyView> {
    let txn = state.db.write().await?;
    poll_proxy::Entity::find_by_id(id)
        .one(&*txn)
        .await?
        .filter(|px| px.grantor_id == actor.id())
        .ok_or(E::Missing("proxy"))?;
    let changed = poll_proxy::Entity::update_many()
        .col_expr(poll_proxy::Column::Status, Expr::value("revoked"))
        .col_expr(
            poll_proxy::Column::RevokedAt,
            Expr::value(Some(clock::now())),
        )
        .filter(poll_proxy::Column::Id.eq(id))
        .filter(poll_proxy::Column::Status.eq("active"))
        .filter(poll_proxy::Column::UsedAt.is_null())
        .exec(&*txn)
        .await?;
    if changed.rows_affected != 1 {
        return Err(E::Conflict(
            "proxy_used",
            "A proxy that has been used (or revoked) cannot be revoked.".into(),
        ));
    }
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "proxy.revoked",
            object_type: "poll_proxy",
            object_id: id.to_string(),
            summary: json!({}),
        },
    )
    .await?;
    let px = poll_proxy::Entity::find_by_id(id)
        .one(&*txn)
        .await?
        .ok_or(E::Missing("proxy"))?;
    txn.commit().await?;
    let named = names(&state.db.conn, &[px.grantor_id, px.proxy_id]).await?;
    Ok(proxy_view(px, &named))
}

/// Proxies the person gave or holds.
pub async fn my_proxies(state: &AppState, actor: &Actor) -> Result<Vec<ProxyView>> {
    let db = &state.db.conn;
    let list = poll_proxy::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(poll_proxy::Column::GrantorId.eq(actor.id()))
                .add(poll_proxy::Column::ProxyId.eq(actor.id())),
        )
        .order_by_desc(poll_proxy::Column::CreatedAt)
        .limit(200)
        .all(db)
        .await?;
    let ids: Vec<Uuid> = list
        .iter()
        .flat_map(|p| [p.grantor_id, p.proxy_id])
        .collect();
    let named = names(db, &ids).await?;
    Ok(list.into_iter().map(|p| proxy_view(p, &named)).collect())
}

// ---------------------------------------------------------------- assisted ballots

/// Grid workers of the community (or one of its grids) record paper ballots; they, the
/// committee and the party secretary confirm them.
async fn may_assist<C: ConnectionTrait>(db: &C, actor: &Actor, p: &poll::Model) -> Result<bool> {
    if actor.holds_at(Role::GridWorker, p.community_id) {
        return Ok(true);
    }
    let grids: Vec<Uuid> = place::Entity::find()
        .select_only()
        .column(place::Column::Id)
        .filter(place::Column::ParentId.eq(p.community_id))
        .filter(place::Column::Kind.eq(PlaceKind::Grid.as_str()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(grids.iter().any(|g| actor.holds_at(Role::GridWorker, *g)))
}

async fn may_confirm<C: ConnectionTrait>(db: &C, actor: &Actor, p: &poll::Model) -> Result<bool> {
    let scope = scope_of(db, p.community_id).await?;
    Ok(may_assist(db, actor, p).await?
        || actor.holds_over(Role::CommitteeMember, &scope)
        || actor.holds_over(Role::PartySecretary, &scope))
}

async fn assisted_view<C: ConnectionTrait>(
    db: &C,
    a: assisted_ballot::Model,
) -> Result<AssistedBallotView> {
    let label = poll_voter::Entity::find_by_id(a.voter_id)
        .one(db)
        .await?
        .map(|v| v.label)
        .unwrap_or_default();
    Ok(AssistedBallotView {
        id: a.id,
        poll_id: a.poll_id,
        voter_id: a.voter_id,
        voter_label: label,
        paper_reference: a.paper_reference,
        choices: a.choice.as_deref().map(choices_of),
        status: a.status,
        flag: a.flag,
        recorded_by: a.recorded_by,
        confirmed_by: a.confirmed_by,
        created_at: a.created_at,
    })
}

/// A grid worker records a paper or in-person ballot. It counts once a second person
/// confirms it. A voter who has already voted keeps that ballot: the paper one is kept,
/// flagged, and not counted.
pub async fn record_assisted(
    state: &AppState,
    actor: &Actor,
    poll_id: Uuid,
    req: RecordAssistedBallotRequest,
) -> Result<AssistedBallotView> {
    let reference = text(
        "invalid_reference",
        &req.paper_reference,
        120,
        "paper reference",
    )?;
    let db = &state.db.conn;
    let p = load(db, poll_id).await?;
    if !may_assist(db, actor, &p).await? {
        return Err(E::Forbidden(
            "Paper ballots are recorded by the community's grid workers.".into(),
        ));
    }
    ensure_open(&p)?;
    let choices = validate_choices(&p, &req.choices)?;
    let voter = match (req.voter_id, req.voter_email.as_deref()) {
        (Some(v), None) => poll_voter::Entity::find_by_id(v)
            .one(db)
            .await?
            .filter(|v| v.poll_id == p.id),
        (None, Some(email)) => match user_by_email(db, email).await? {
            Some(u) => match poll_voter_person::Entity::find()
                .filter(poll_voter_person::Column::PollId.eq(p.id))
                .filter(poll_voter_person::Column::UserId.eq(u.id))
                .one(db)
                .await?
            {
                Some(link) => {
                    poll_voter::Entity::find_by_id(link.voter_id)
                        .one(db)
                        .await?
                }
                None => None,
            },
            None => None,
        },
        _ => {
            return Err(E::Invalid(
                "invalid_voter",
                "Name the voter by voter_id or by voter_email, one of the two.".into(),
            ));
        }
    }
    .ok_or_else(|| {
        E::Invalid(
            "not_in_electorate",
            "That voter is not in this poll's electorate.".into(),
        )
    })?;
    let txn = state.db.write().await?;
    let current = poll_voter::Entity::find_by_id(voter.id)
        .one(&*txn)
        .await?
        .ok_or(E::Missing("voter"))?;
    let pending = assisted_ballot::Entity::find()
        .filter(assisted_ballot::Column::VoterId.eq(voter.id))
        .filter(assisted_ballot::Column::Status.eq("pending"))
        .one(&*txn)
        .await?;
    if pending.is_some() {
        return Err(E::Conflict(
            "assisted_pending",
            "A paper ballot for this voter awaits confirmation.".into(),
        ));
    }
    let (status, flag, choice) = if current.voted {
        ("duplicate", Some("already_voted"), None)
    } else {
        (
            "pending",
            None,
            Some(serde_json::to_string(&choices).unwrap_or_default()),
        )
    };
    let a = assisted_ballot::ActiveModel {
        id: Set(Uuid::new_v4()),
        poll_id: Set(p.id),
        voter_id: Set(voter.id),
        paper_reference: Set(reference),
        choice: Set(choice),
        status: Set(status.into()),
        recorded_by: Set(actor.id()),
        confirmed_by: Set(None),
        confirmed_at: Set(None),
        flag: Set(flag.map(str::to_string)),
        created_at: Set(clock::now()),
    }
    .insert(&*txn)
    .await?;
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "ballot.assisted_recorded",
        object_type: "poll_voter",
        object_id: voter.id.to_string(),
        summary: json!({ "poll_id": p.id, "assisted_ballot_id": a.id, "paper_reference": a.paper_reference, "status": status }),
    })
    .await?;
    txn.commit().await?;
    assisted_view(db, a).await
}

/// The confirmation queue: paper ballots of a poll, pending first.
pub async fn assisted_queue(
    state: &AppState,
    actor: &Actor,
    poll_id: Uuid,
) -> Result<Vec<AssistedBallotView>> {
    let db = &state.db.conn;
    let p = load(db, poll_id).await?;
    if !may_confirm(db, actor, &p).await? {
        return Err(E::Forbidden(
            "The paper-ballot queue is for grid workers and the committee.".into(),
        ));
    }
    let mut out = Vec::new();
    for a in assisted_ballot::Entity::find()
        .filter(assisted_ballot::Column::PollId.eq(poll_id))
        .order_by_asc(assisted_ballot::Column::CreatedAt)
        .limit(1000)
        .all(db)
        .await?
    {
        out.push(assisted_view(db, a).await?);
    }
    out.sort_by_key(|a| a.status != "pending");
    Ok(out)
}

/// A second person confirms a paper ballot: it is counted (unless the voter voted online in
/// the meantime, when it is flagged instead), and the voter is told.
pub async fn confirm_assisted(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
) -> Result<AssistedBallotView> {
    let db = &state.db.conn;
    let a = assisted_ballot::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(E::Missing("assisted ballot"))?;
    let p = load(db, a.poll_id).await?;
    if !may_confirm(db, actor, &p).await? {
        return Err(E::Forbidden(
            "Paper ballots are confirmed by grid workers and the committee.".into(),
        ));
    }
    if a.recorded_by == actor.id() {
        return Err(E::Forbidden(
            "A second person confirms a paper ballot, not the one who recorded it.".into(),
        ));
    }
    ensure_open(&p)?;
    let now = clock::now();
    let txn = state.db.write().await?;
    let claimed = assisted_ballot::Entity::update_many()
        .col_expr(assisted_ballot::Column::Status, Expr::value("confirming"))
        .filter(assisted_ballot::Column::Id.eq(id))
        .filter(assisted_ballot::Column::Status.eq("pending"))
        .exec(&*txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(E::Conflict(
            "assisted_decided",
            "This paper ballot has already been decided.".into(),
        ));
    }
    let voter = poll_voter::Entity::find_by_id(a.voter_id)
        .one(&*txn)
        .await?
        .ok_or(E::Missing("voter"))?;
    let choices = a.choice.as_deref().map(choices_of).unwrap_or_default();
    let stored = store_ballot(
        &*txn,
        state.sealing.stored_key()?,
        &p,
        &voter,
        &choices,
        BallotVia::Assisted,
        a.recorded_by,
        now,
    )
    .await?;
    let (status, flag) = if stored.is_some() {
        ("counted", None)
    } else {
        ("superseded", Some("voted_online_before_confirmation"))
    };
    // Once counted, a secret paper ballot's choice lives only in the unlinked ballot.
    let keep_choice = if p.secret { None } else { a.choice.clone() };
    assisted_ballot::Entity::update_many()
        .col_expr(assisted_ballot::Column::Status, Expr::value(status))
        .col_expr(assisted_ballot::Column::Flag, Expr::value(flag))
        .col_expr(assisted_ballot::Column::Choice, Expr::value(keep_choice))
        .col_expr(
            assisted_ballot::Column::ConfirmedBy,
            Expr::value(Some(actor.id())),
        )
        .col_expr(assisted_ballot::Column::ConfirmedAt, Expr::value(Some(now)))
        .filter(assisted_ballot::Column::Id.eq(id))
        .exec(&*txn)
        .await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "ballot.assisted_confirmed",
            object_type: "poll_voter",
            object_id: voter.id.to_string(),
            summary: json!({ "poll_id": p.id, "assisted_ballot_id": id, "status": status }),
        },
    )
    .await?;
    if stored.is_some() {
        let people: Vec<Uuid> = poll_voter_person::Entity::find()
            .select_only()
            .column(poll_voter_person::Column::UserId)
            .filter(poll_voter_person::Column::VoterId.eq(voter.id))
            .into_tuple()
            .all(&*txn)
            .await?;
        for u in user::Entity::find()
            .filter(user::Column::Id.is_in(people))
            .filter(user::Column::DeletedAt.is_null())
            .all(&*txn)
            .await?
        {
            notifications::notify(
                state,
                &*txn,
                notifications::Kind::AssistedCounted,
                Some(p.id),
                u.id,
                &u.email,
                templates::assisted_counted(
                    &u.language,
                    &u.display_name,
                    &p.question,
                    &a.paper_reference,
                    &state.link(&format!("/#/polls/{}", p.id)),
                ),
            )
            .await?;
        }
    }
    let a = assisted_ballot::Entity::find_by_id(id)
        .one(&*txn)
        .await?
        .ok_or(E::Missing("assisted ballot"))?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    if p.show_tally && !p.secret {
        state.tallies.touch(p.id);
    }
    assisted_view(db, a).await
}

/// The second person finds the record does not match the paper: it is not counted.
pub async fn reject_assisted(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    reason: &str,
) -> Result<AssistedBallotView> {
    let reason = text("reason_required", reason, 2000, "reason")?;
    let db = &state.db.conn;
    let a = assisted_ballot::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(E::Missing("assisted ballot"))?;
    let p = load(db, a.poll_id).await?;
    if !may_confirm(db, actor, &p).await? {
        return Err(E::Forbidden(
            "Paper ballots are decided by grid workers and the committee.".into(),
        ));
    }
    let txn = state.db.write().await?;
    let changed = assisted_ballot::Entity::update_many()
        .col_expr(assisted_ballot::Column::Status, Expr::value("rejected"))
        .col_expr(
            assisted_ballot::Column::Flag,
            Expr::value(Some(reason.clone())),
        )
        .col_expr(
            assisted_ballot::Column::Choice,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            assisted_ballot::Column::ConfirmedBy,
            Expr::value(Some(actor.id())),
        )
        .col_expr(
            assisted_ballot::Column::ConfirmedAt,
            Expr::value(Some(clock::now())),
        )
        .filter(assisted_ballot::Column::Id.eq(id))
        .filter(assisted_ballot::Column::Status.eq("pending"))
        .exec(&*txn)
        .await?;
    if changed.rows_affected != 1 {
        return Err(E::Conflict(
            "assisted_decided",
            "This paper ballot has already been decided.".into(),
        ));
    }
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "ballot.assisted_rejected",
            object_type: "poll_voter",
            object_id: a.voter_id.to_string(),
            summary: json!({ "poll_id": p.id, "assisted_ballot_id": id, "reason": reason }),
        },
    )
    .await?;
    let a = assisted_ballot::Entity::find_by_id(id)
        .one(&*txn)
        .await?
        .ok_or(E::Missing("assisted ballot"))?;
    txn.commit().await?;
    assisted_view(db, a).await
}

/// The electorate of an open poll, for the assisted-ballot form.
pub async fn electors(state: &AppState, actor: &Actor, poll_id: Uuid) -> Result<Vec<ElectorEntry>> {
    let db = &state.db.conn;
    let p = load(db, poll_id).await?;
    if !may_confirm(db, actor, &p).await? && !runs(db, actor, &p).await? {
        return Err(E::Forbidden(
            "The electorate list is for grid workers and the committee.".into(),
        ));
    }
    if p.secret && status_of(&p) != PollStatus::Open {
        // Who voted, beside the published totals, is what would link a voter to a choice.
        return Err(E::Conflict(
            "secret_poll_closed",
            "A secret vote's list of who voted is kept only while it is open, for recording paper ballots.".into(),
        ));
    }
    Ok(poll_voter::Entity::find()
        .filter(poll_voter::Column::PollId.eq(poll_id))
        .order_by_asc(poll_voter::Column::Label)
        .all(db)
        .await?
        .into_iter()
        .map(|v| ElectorEntry {
            voter_id: v.id,
            label: v.label,
            area_centi: v.area_centi,
            voted: v.voted,
        })
        .collect())
}
