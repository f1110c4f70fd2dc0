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

// ---------------------------------------------------------------- community settings

pub async fn settings_of<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
) -> Result<CommunitySettingsView> {
    let found = community_setting::Entity::find_by_id(community_id)
        .one(db)
        .await?;
    Ok(CommunitySettingsView {
        community_id,
        cosign_threshold: found
            .as_ref()
            .map_or(DEFAULT_THRESHOLD, |s| s.cosign_threshold),
        cosign_period_days: found
            .as_ref()
            .map_or(DEFAULT_PERIOD_DAYS, |s| s.cosign_period_days),
    })
}

pub async fn get_settings<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
) -> Result<CommunitySettingsView> {
    load_community(db, community_id).await?;
    settings_of(db, community_id).await
}

pub async fn update_settings(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    req: CommunitySettingsRequest,
) -> Result<CommunitySettingsView> {
    let txn = state.db.write().await?;
    load_community(&*txn, community_id).await?;
    authorize_at(&*txn, actor, Action::Moderate, community_id).await?;
    let before = settings_of(&*txn, community_id).await?;
    let model = community_setting::ActiveModel {
        community_id: Set(community_id),
        cosign_threshold: Set(req.cosign_threshold),
        cosign_period_days: Set(req.cosign_period_days),
        updated_at: Set(clock::now()),
    };
    if community_setting::Entity::find_by_id(community_id)
        .one(&*txn)
        .await?
        .is_some()
    {
        model.update(&*txn).await?;
    } else {
        model.insert(&*txn).await?;
    }
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "community.settings_changed",
        object_type: "place",
        object_id: community_id.to_string(),
        summary: json!({
            "before": { "cosign_threshold": before.cosign_threshold, "cosign_period_days": before.cosign_period_days },
            "after": { "cosign_threshold": req.cosign_threshold, "cosign_period_days": req.cosign_period_days },
        }),
    })
    .await?;
    super::cache::commit(state, txn).await?;
    Ok(CommunitySettingsView {
        community_id,
        cosign_threshold: req.cosign_threshold,
        cosign_period_days: req.cosign_period_days,
    })
}

// ---------------------------------------------------------------- views

pub(super) async fn load<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<proposal::Model> {
    proposal::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(E::NotFound)
}

/// Loads a proposal the viewer may see, with the viewer's access to its community.
pub(super) async fn load_visible<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    id: Uuid,
) -> Result<(proposal::Model, PlaceScope, Access)> {
    let p = load(db, id).await?;
    let scope = scope_of(db, p.community_id).await?;
    let access = access(actor, &scope);
    let own = actor.is_some_and(|a| a.id() == p.proposer_id);
    let status = status_of(&p);
    if status == ProposalStatus::Draft && !own {
        return Err(E::NotFound);
    }
    if p.hidden_at.is_some() && access != Access::Committee {
        return Err(E::Hidden);
    }
    if access == Access::Public && !own && !PUBLIC_STATUSES.contains(&status) {
        return Err(E::NotFound);
    }
    Ok((p, scope, access))
}

struct Names {
    people: HashMap<Uuid, String>,
    organisations: HashMap<Uuid, OrganisationRef>,
    communities: HashMap<Uuid, String>,
}

async fn community_names<C: ConnectionTrait>(
    db: &C,
    communities: Vec<Uuid>,
) -> Result<HashMap<Uuid, String>> {
    let mut names = HashMap::new();
    for c in communities {
        if let std::collections::hash_map::Entry::Vacant(e) = names.entry(c) {
            e.insert(load_place(db, c).await?.name);
        }
    }
    Ok(names)
}

async fn names<C: ConnectionTrait>(
    db: &C,
    people: Vec<Uuid>,
    orgs: Vec<Uuid>,
    communities: Vec<Uuid>,
) -> Result<Names> {
    let people = if people.is_empty() {
        HashMap::new()
    } else {
        user::Entity::find()
            .filter(user::Column::Id.is_in(people))
            .all(db)
            .await?
            .into_iter()
            .map(|u| (u.id, u.display_name))
            .collect()
    };
    let organisations = if orgs.is_empty() {
        HashMap::new()
    } else {
        organisation::Entity::find()
            .filter(organisation::Column::Id.is_in(orgs))
            .all(db)
            .await?
            .into_iter()
            .map(|o| (o.id, org_ref(o)))
            .collect()
    };
    Ok(Names {
        people,
        organisations,
        communities: community_names(db, communities).await?,
    })
}

fn org_ref(o: organisation::Model) -> OrganisationRef {
    OrganisationRef {
        id: o.id,
        name: o.name,
        kind: o.kind,
    }
}

fn to_view(
    p: proposal::Model,
    access: Access,
    names: &Names,
    cosigned_by_me: bool,
) -> ProposalView {
    let show_person = access >= Access::Member;
    ProposalView {
        id: p.id,
        community_id: p.community_id,
        community_name: names
            .communities
            .get(&p.community_id)
            .cloned()
            .unwrap_or_default(),
        title: p.title,
        body: p.body,
        category: Category::parse(&p.category).unwrap_or(Category::Other),
        grid_id: p.grid_id,
        building_id: p.building_id,
        owners_only: p.owners_only,
        status: ProposalStatus::parse(&p.status).unwrap_or(ProposalStatus::Draft),
        proposer: show_person.then(|| PersonRef {
            id: p.proposer_id,
            display_name: names
                .people
                .get(&p.proposer_id)
                .cloned()
                .unwrap_or_default(),
        }),
        organisation: p
            .organisation_id
            .and_then(|o| names.organisations.get(&o))
            .cloned(),
        cosign_count: p.cosign_count,
        cosign_threshold: p.cosign_threshold,
        cosign_deadline: p.cosign_deadline,
        merged_into: p.merged_into,
        decision_reason: p.decision_reason,
        version: p.version,
        hidden: p.hidden_at.is_some(),
        hidden_reason: if access == Access::Committee {
            p.hidden_reason
        } else {
            None
        },
        submitted_at: p.submitted_at,
        decided_at: p.decided_at,
        created_at: p.created_at,
        updated_at: p.updated_at,
        cosigned_by_me,
    }
}

async fn cosigned_set<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    ids: &[Uuid],
) -> Result<Vec<Uuid>> {
    let Some(actor) = actor else {
        return Ok(Vec::new());
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(proposal_cosign::Entity::find()
        .filter(proposal_cosign::Column::UserId.eq(actor.id()))
        .filter(proposal_cosign::Column::ProposalId.is_in(ids.to_vec()))
        .filter(proposal_cosign::Column::WithdrawnAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.proposal_id)
        .collect())
}

pub(super) async fn view_one<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    p: proposal::Model,
    access: Access,
) -> Result<ProposalView> {
    let n = names(
        db,
        vec![p.proposer_id],
        p.organisation_id.into_iter().collect(),
        vec![p.community_id],
    )
    .await?;
    let mine = cosigned_set(db, actor, &[p.id]).await?;
    let cosigned = mine.contains(&p.id);
    Ok(to_view(p, access, &n, cosigned))
}

pub async fn get(state: &AppState, actor: Option<&Actor>, id: Uuid) -> Result<ProposalView> {
    let (p, _, access) = load_visible(&state.db.conn, actor, id).await?;
    view_one(&state.db.conn, actor, p, access).await
}

/// A proposal as the list query reads it: with the total of matches and the names it shows.
struct ListedProposal {
    proposal: proposal::Model,
    total: i64,
    proposer_name: Option<String>,
    organisation_name: Option<String>,
    organisation_kind: Option<String>,
    cosigned_by_me: bool,
}

/// Whether the viewer has a standing co-signature on the listed proposal (never, signed out).
fn cosigned_by(viewer: Option<Uuid>) -> sea_orm::sea_query::SimpleExpr {
    let Some(viewer) = viewer else {
        return Expr::cust("1 = 0");
    };
    Expr::exists(
        sea_orm::sea_query::Query::select()
            .expr(Expr::val(1))
            .from(proposal_cosign::Entity)
            .and_where(
                Expr::col((proposal_cosign::Entity, proposal_cosign::Column::ProposalId))
                    .equals((proposal::Entity, proposal::Column::Id)),
            )
            .and_where(
                Expr::col((proposal_cosign::Entity, proposal_cosign::Column::UserId)).eq(viewer),
            )
            .and_where(
                Expr::col((
                    proposal_cosign::Entity,
                    proposal_cosign::Column::WithdrawnAt,
                ))
                .is_null(),
            )
            .to_owned(),
    )
}

impl FromQueryResult for ListedProposal {
    fn from_query_result(res: &QueryResult, pre: &str) -> std::result::Result<Self, DbErr> {
        Ok(Self {
            proposal: proposal::Model::from_query_result(res, pre)?,
            total: res.try_get(pre, "total_matches")?,
            proposer_name: res.try_get(pre, "proposer_name")?,
            organisation_name: res.try_get(pre, "organisation_name")?,
            organisation_kind: res.try_get(pre, "organisation_kind")?,
            cosigned_by_me: res.try_get(pre, "cosigned_by_me")?,
        })
    }
}

pub struct Filters {
    pub community_id: Option<Uuid>,
    pub status: Option<ProposalStatus>,
    pub category: Option<Category>,
    pub grid_id: Option<Uuid>,
    pub proposer_id: Option<Uuid>,
    pub q: Option<String>,
    pub sort: SortOrder,
    pub page: u64,
    pub page_size: u64,
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The process's list memory: shared pages, and each viewer's co-signatures (None when the
/// viewer has proposals only they can see).
pub type ListMemory = super::cache::Lists<SharedPage, Option<HashSet<Uuid>>>;

/// A page of the list as every viewer who sees the community at one level sees it. The viewer's
/// own co-signatures are not in it.
pub struct SharedPage {
    rows: Vec<proposal::Model>,
    total: u64,
    names: Names,
}

pub async fn list(state: &AppState, actor: Option<&Actor>, f: Filters) -> Result<ProposalPage> {
    let db = &state.db.conn;
    let page_size = Ord::clamp(f.page_size, 1, MAX_PAGE_SIZE);
    let page = Ord::max(f.page, 1);
    let access = match f.community_id {
        Some(c) => {
            load_community(db, c).await?;
            access(actor, &scope_of(db, c).await?)
        }
        None => Access::Public,
    };
    let mine = actor.map(|a| a.id());
    if let Some(p) = f.proposer_id
        && access == Access::Public
        && mine != Some(p)
    {
        // Proposers are personal data: the public cannot filter by them.
        return Err(E::Forbidden(
            "Only members of the community may filter by proposer.".into(),
        ));
    }
    let at = Window { page, page_size };
    // The page every viewer at this level sees, remembered, then what is the viewer's own:
    // unless they have proposals only they can see, which makes their list their own.
    if state.lists.enabled() && (f.proposer_id.is_none() || f.proposer_id != mine) {
        let key = list_key(access, &f, at);
        let shared = state
            .lists
            .pages
            .get_or_fill(&key, || async {
                let (rows, total, names) = query_page(db, access, None, &f, at).await?;
                Ok::<_, E>(SharedPage {
                    rows: rows.into_iter().map(|(p, _)| p).collect(),
                    total,
                    names,
                })
            })
            .await?;
        let marks = match mine {
            Some(me) => {
                let key = format!("{me}|{access:?}|{:?}", f.community_id);
                state
                    .lists
                    .viewers
                    .get_or_fill(&key, || viewer_marks(db, me, access, f.community_id))
                    .await?
            }
            None => Arc::new(Some(HashSet::new())),
        };
        if let Some(cosigned) = marks.as_ref() {
            let rows = shared
                .rows
                .iter()
                .map(|p| (p.clone(), cosigned.contains(&p.id)));
            let items = views(rows, access, mine, &shared.names);
            return Ok(ProposalPage {
                items,
                total: shared.total,
                page,
                page_size,
            });
        }
    }
    let (rows, total, names) = query_page(db, access, mine, &f, at).await?;
    Ok(ProposalPage {
        items: views(rows.into_iter(), access, mine, &names),
        total,
        page,
        page_size,
    })
}

#[derive(Copy, Clone)]
struct Window {
    page: u64,
    page_size: u64,
}

fn list_key(access: Access, f: &Filters, at: Window) -> String {
    let q = f.q.as_deref().map(|q| q.trim().to_lowercase());
    format!(
        "{access:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{q:?}|{:?}|{}|{}",
        f.community_id,
        f.status,
        f.category,
        f.grid_id,
        f.proposer_id,
        f.sort,
        at.page,
        at.page_size
    )
}

fn views(
    rows: impl Iterator<Item = (proposal::Model, bool)>,
    access: Access,
    mine: Option<Uuid>,
    names: &Names,
) -> Vec<ProposalView> {
    rows.map(|(p, cosigned)| {
        let a = if mine == Some(p.proposer_id) {
            Ord::max(access, Access::Member)
        } else {
            access
        };
        to_view(p, a, names, cosigned)
    })
    .collect()
}

/// What is the viewer's own in a list at a level: the proposals they co-signed (standing
/// co-signatures, in the community when the list is of one), or None when they have proposals in
/// scope that the level does not show (their drafts, or for the public anything undecided) and
/// their list is therefore not the shared one. One query.
async fn viewer_marks<C: ConnectionTrait>(
    db: &C,
    viewer: Uuid,
    access: Access,
    community: Option<Uuid>,
) -> Result<Option<HashSet<Uuid>>> {
    use sea_orm::sea_query::{Alias, Query, UnionType};
    let mut own = Query::select();
    own.expr_as(Expr::col(proposal::Column::Id), Alias::new("id"))
        .expr_as(Expr::val(1), Alias::new("own"))
        .from(proposal::Entity)
        .and_where(proposal::Column::ProposerId.eq(viewer))
        .and_where(match access {
            Access::Public => {
                proposal::Column::Status.is_not_in(PUBLIC_STATUSES.map(|s| s.as_str()))
            }
            _ => proposal::Column::Status.eq(ProposalStatus::Draft.as_str()),
        });
    let mut cosigns = Query::select();
    cosigns
        .expr_as(
            Expr::col(proposal_cosign::Column::ProposalId),
            Alias::new("id"),
        )
        .expr_as(Expr::val(0), Alias::new("own"))
        .from(proposal_cosign::Entity)
        .and_where(proposal_cosign::Column::UserId.eq(viewer))
        .and_where(proposal_cosign::Column::WithdrawnAt.is_null());
    if let Some(c) = community {
        own.and_where(proposal::Column::CommunityId.eq(c));
        cosigns.and_where(
            proposal_cosign::Column::ProposalId.in_subquery(
                Query::select()
                    .column(proposal::Column::Id)
                    .from(proposal::Entity)
                    .and_where(proposal::Column::CommunityId.eq(c))
                    .to_owned(),
            ),
        );
    }
    own.union(UnionType::All, cosigns);
    let mut cosigned = HashSet::new();
    for row in db.query_all(&own).await? {
        let id: Uuid = row.try_get("", "id")?;
        let own: i32 = row.try_get("", "own")?;
        if own == 1 {
            return Ok(None);
        }
        cosigned.insert(id);
    }
    Ok(Some(cosigned))
}

/// One query reads the page, the total (a window count over every match), the names of
/// proposers and organisations and whether the viewer co-signed each. With no viewer, the page
/// as everyone at `access` sees it.
async fn query_page<C: ConnectionTrait>(
    db: &C,
    access: Access,
    mine: Option<Uuid>,
    f: &Filters,
    at: Window,
) -> Result<(Vec<(proposal::Model, bool)>, u64, Names)> {
    let Window { page, page_size } = at;
    let mut cond = Condition::all();
    if let Some(c) = f.community_id {
        cond = cond.add(proposal::Column::CommunityId.eq(c));
    }
    // What the viewer may see: drafts only their own, hidden only for the committee, and the
    // public only decided proposals.
    let mut visible = Condition::any();
    visible = match access {
        Access::Public => {
            visible.add(proposal::Column::Status.is_in(PUBLIC_STATUSES.map(|s| s.as_str())))
        }
        _ => visible.add(proposal::Column::Status.ne(ProposalStatus::Draft.as_str())),
    };
    if let Some(me) = mine {
        visible = visible.add(proposal::Column::ProposerId.eq(me));
    }
    cond = cond.add(visible);
    if access != Access::Committee {
        cond = cond.add(proposal::Column::HiddenAt.is_null());
    }
    if let Some(s) = f.status {
        cond = cond.add(proposal::Column::Status.eq(s.as_str()));
    }
    if let Some(c) = f.category {
        cond = cond.add(proposal::Column::Category.eq(c.as_str()));
    }
    if let Some(g) = f.grid_id {
        cond = cond.add(proposal::Column::GridId.eq(g));
    }
    if let Some(p) = f.proposer_id {
        cond = cond.add(proposal::Column::ProposerId.eq(p));
    }
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
        let like = |col: proposal::Column| {
            Expr::expr(Func::lower(Expr::col((proposal::Entity, col))))
                .like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        cond = cond.add(
            Condition::any()
                .add(like(proposal::Column::Title))
                .add(like(proposal::Column::Body)),
        );
    }
    let cond_for_count = cond.clone();
    let mut query = proposal::Entity::find().filter(cond);
    query = match f.sort {
        SortOrder::Newest => query.order_by_desc(proposal::Column::CreatedAt),
        SortOrder::MostCosigned => query.order_by_desc(proposal::Column::CosignCount).order_by_desc(proposal::Column::CreatedAt),
        SortOrder::Deadline => query
            .order_by(Expr::cust("CASE WHEN proposals.status = 'collecting' AND proposals.cosign_deadline IS NOT NULL THEN 0 ELSE 1 END"), Order::Asc)
            .order_by_asc(proposal::Column::CosignDeadline)
            .order_by_desc(proposal::Column::CreatedAt),
    };
    query = query.order_by_asc(proposal::Column::Id);
    // One query reads the page, the total (a window count over every match), the names of
    // proposers and organisations and whether the viewer co-signed each.
    let found: Vec<ListedProposal> = query
        .join(
            JoinType::LeftJoin,
            proposal::Entity::belongs_to(user::Entity)
                .from(proposal::Column::ProposerId)
                .to(user::Column::Id)
                .into(),
        )
        .join(
            JoinType::LeftJoin,
            proposal::Entity::belongs_to(organisation::Entity)
                .from(proposal::Column::OrganisationId)
                .to(organisation::Column::Id)
                .into(),
        )
        .expr_as(Expr::cust("COUNT(*) OVER ()"), "total_matches")
        .expr_as(cosigned_by(mine), "cosigned_by_me")
        .expr_as(
            Expr::col((user::Entity, user::Column::DisplayName)),
            "proposer_name",
        )
        .expr_as(
            Expr::col((organisation::Entity, organisation::Column::Name)),
            "organisation_name",
        )
        .expr_as(
            Expr::col((organisation::Entity, organisation::Column::Kind)),
            "organisation_kind",
        )
        .limit(page_size)
        .offset((page - 1) * page_size)
        .into_model()
        .all(db)
        .await?;
    let total = match found.first() {
        Some(f) => f.total as u64,
        // Past the last page the window has no row to count on.
        None if page > 1 => {
            proposal::Entity::find()
                .filter(cond_for_count)
                .count(db)
                .await?
        }
        None => 0,
    };
    let mut n = Names {
        people: HashMap::new(),
        organisations: HashMap::new(),
        communities: community_names(db, found.iter().map(|f| f.proposal.community_id).collect())
            .await?,
    };
    let mut rows = Vec::with_capacity(found.len());
    for f in found {
        n.people
            .insert(f.proposal.proposer_id, f.proposer_name.unwrap_or_default());
        if let (Some(id), Some(name), Some(kind)) = (
            f.proposal.organisation_id,
            f.organisation_name,
            f.organisation_kind,
        ) {
            n.organisations
                .insert(id, OrganisationRef { id, name, kind });
        }
        rows.push((f.proposal, f.cosigned_by_me));
    }
    Ok((rows, total, n))
}

// ---------------------------------------------------------------- writing

async fn check_place_refs<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    grid_id: Option<Uuid>,
    building_id: Option<Uuid>,
) -> Result<()> {
    if let Some(g) = grid_id {
        let grid = place::Entity::find_by_id(g).one(db).await?;
        if !grid.is_some_and(|g| {
            g.kind == PlaceKind::Grid.as_str() && g.parent_id == Some(community_id)
        }) {
            return Err(E::Invalid(
                "invalid_grid",
                "The grid is not a grid of this community.".into(),
            ));
        }
    }
    if let Some(b) = building_id {
        let found = building::Entity::find_by_id(b)
            .filter(building::Column::CommunityId.eq(community_id))
            .one(db)
            .await?;
        if found.is_none() {
            return Err(E::Invalid(
                "invalid_building",
                "The building is not in this community's register.".into(),
            ));
        }
    }
    Ok(())
}

async fn snapshot<C: ConnectionTrait>(txn: &C, p: &proposal::Model, editor: Uuid) -> Result<()> {
    proposal_version::ActiveModel {
        id: Set(Uuid::new_v4()),
        proposal_id: Set(p.id),
        version: Set(p.version),
        editor_id: Set(editor),
        title: Set(p.title.clone()),
        body: Set(p.body.clone()),
        category: Set(p.category.clone()),
        created_at: Set(clock::now()),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Moves a proposal through the state machine, guarding against a concurrent change of state,
/// and records the transition.
pub(super) async fn apply<C: ConnectionTrait>(
    txn: &C,
    p: &proposal::Model,
    event: Event,
    actor: Option<Uuid>,
    reason: Option<&str>,
) -> Result<ProposalStatus> {
    let from = status_of(p);
    let to = states::next(from, event).ok_or(E::InvalidTransition {
        from: from.as_str(),
        event: event.as_str(),
    })?;
    let now = clock::now();
    let mut update = proposal::Entity::update_many()
        .col_expr(proposal::Column::Status, Expr::value(to.as_str()))
        .col_expr(proposal::Column::UpdatedAt, Expr::value(now))
        .filter(proposal::Column::Id.eq(p.id))
        .filter(proposal::Column::Status.eq(from.as_str()));
    match event {
        Event::Accept | Event::RequestChanges | Event::Merge | Event::Reject => {
            update = update
                .col_expr(proposal::Column::DecidedAt, Expr::value(Some(now)))
                .col_expr(
                    proposal::Column::DecisionReason,
                    Expr::value(reason.map(str::to_string)),
                );
        }
        _ => {}
    }
    if update.exec(txn).await?.rows_affected != 1 {
        return Err(E::InvalidTransition {
            from: from.as_str(),
            event: event.as_str(),
        });
    }
    audit::record(
        txn,
        Change {
            actor,
            action: &format!("proposal.{}", event.as_str()),
            object_type: "proposal",
            object_id: p.id.to_string(),
            summary: json!({ "from": from.as_str(), "to": to.as_str(), "reason": reason }),
        },
    )
    .await?;
    Ok(to)
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    req: CreateProposalRequest,
) -> Result<ProposalView> {
    let title = clean_text("invalid_title", &req.title, 120, "title")?;
    let body = clean_text("invalid_body", &req.body, 20000, "body")?;
    let txn = state.db.write().await?;
    load_community(&*txn, req.community_id).await?;
    let scope = scope_of(&*txn, req.community_id).await?;
    authorize(actor, Action::Participate, Some(&scope))?;
    check_speaks_for(actor, req.organisation_id, &scope)?;
    check_place_refs(&*txn, req.community_id, req.grid_id, req.building_id).await?;
    let settings = settings_of(&*txn, req.community_id).await?;
    let now = clock::now();
    let p = proposal::ActiveModel {
        id: Set(Uuid::new_v4()),
        community_id: Set(req.community_id),
        proposer_id: Set(actor.id()),
        organisation_id: Set(req.organisation_id),
        title: Set(title),
        body: Set(body),
        category: Set(req.category.as_str().into()),
        grid_id: Set(req.grid_id),
        building_id: Set(req.building_id),
        owners_only: Set(req.owners_only),
        status: Set(ProposalStatus::Draft.as_str().into()),
        cosign_count: Set(0),
        cosign_threshold: Set(settings.cosign_threshold),
        cosign_deadline: Set(None),
        merged_into: Set(None),
        decision_reason: Set(None),
        version: Set(1),
        hidden_at: Set(None),
        hidden_reason: Set(None),
        submitted_at: Set(None),
        decided_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*txn)
    .await?;
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "proposal.created",
        object_type: "proposal",
        object_id: p.id.to_string(),
        summary: json!({ "community_id": p.community_id, "title": p.title, "category": p.category, "organisation_id": p.organisation_id }),
    })
    .await?;
    let p = if req.submit {
        submit_in(state, &*txn, actor, p, settings.cosign_period_days).await?
    } else {
        p
    };
    super::cache::commit(state, txn).await?;
    state.mail_wake.notify_one();
    view_one(&state.db.conn, Some(actor), p, Access::Member).await
}

/// Submits a draft for co-signing: the first version is kept, the co-signing period starts, and
/// a threshold of one (the proposer alone) sends it straight to moderation.
async fn submit_in<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    actor: &Actor,
    p: proposal::Model,
    period_days: i32,
) -> Result<proposal::Model> {
    apply(txn, &p, Event::Submit, Some(actor.id()), None).await?;
    let now = clock::now();
    proposal::Entity::update_many()
        .col_expr(proposal::Column::SubmittedAt, Expr::value(Some(now)))
        .col_expr(
            proposal::Column::CosignDeadline,
            Expr::value(Some(now + ChronoDuration::days(period_days as i64))),
        )
        .filter(proposal::Column::Id.eq(p.id))
        .exec(txn)
        .await?;
    let p = load(txn, p.id).await?;
    snapshot(txn, &p, actor.id()).await?;
    advance_if_supported(state, txn, &p).await
}

/// Moves a collecting proposal to moderation once its supporters reach the threshold, and
/// tells the proposer. Exactly one caller wins the transition.
pub(super) async fn advance_if_supported<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    p: &proposal::Model,
) -> Result<proposal::Model> {
    if status_of(p) == ProposalStatus::Collecting && p.cosign_count + 1 >= p.cosign_threshold {
        apply(txn, p, Event::ThresholdReached, None, None).await?;
        if let Some(proposer) = user::Entity::find_by_id(p.proposer_id)
            .one(txn)
            .await?
            .filter(|u| u.deleted_at.is_none())
        {
            let mail = templates::proposal_threshold_reached(
                &proposer.language,
                &proposer.display_name,
                &p.title,
                &link(state, p.id),
            );
            notifications::notify(
                state,
                txn,
                notifications::Kind::ProposalThreshold,
                Some(p.id),
                proposer.id,
                &proposer.email,
                mail,
            )
            .await?;
        }
        return load(txn, p.id).await;
    }
    Ok(p.clone())
}

/// Speaking for an organisation needs membership of it, and it must be active in the community.
fn check_speaks_for(
    actor: &Actor,
    organisation_id: Option<Uuid>,
    scope: &PlaceScope,
) -> Result<()> {
    match organisation_id {
        Some(org) if !actor.speaks_for(org, scope) => Err(E::Forbidden(
            "You do not belong to that organisation, or it is not active in this community.".into(),
        )),
        _ => Ok(()),
    }
}

fn require_proposer(actor: &Actor, p: &proposal::Model) -> Result<()> {
    if actor.id() == p.proposer_id {
        Ok(())
    } else {
        Err(E::Forbidden("Only the proposer may do this.".into()))
    }
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: UpdateProposalRequest,
) -> Result<ProposalView> {
    let title = req
        .title
        .as_deref()
        .map(|t| clean_text("invalid_title", t, 120, "title"))
        .transpose()?;
    let body = req
        .body
        .as_deref()
        .map(|b| clean_text("invalid_body", b, 20000, "body"))
        .transpose()?;
    let txn = state.db.write().await?;
    let (p, _, _) = load_visible(&*txn, Some(actor), id).await?;
    require_proposer(actor, &p)?;
    let status = status_of(&p);
    if !matches!(
        status,
        ProposalStatus::Draft | ProposalStatus::ChangesRequested
    ) {
        return Err(E::Conflict(
            "not_editable",
            format!("A proposal in state {} cannot be edited.", status.as_str()),
        ));
    }
    check_place_refs(&*txn, p.community_id, req.grid_id, req.building_id).await?;
    let submitted = status != ProposalStatus::Draft;
    let mut am: proposal::ActiveModel = p.clone().into();
    if let Some(t) = title {
        am.title = Set(t);
    }
    if let Some(b) = body {
        am.body = Set(b);
    }
    if let Some(c) = req.category {
        am.category = Set(c.as_str().into());
    }
    if req.grid_id.is_some() {
        am.grid_id = Set(req.grid_id);
    }
    if req.building_id.is_some() {
        am.building_id = Set(req.building_id);
    }
    if let Some(o) = req.owners_only {
        am.owners_only = Set(o);
    }
    if submitted {
        am.version = Set(p.version + 1);
    }
    am.updated_at = Set(clock::now());
    let updated = am.update(&*txn).await?;
    if submitted {
        // Once submitted, every edit is kept as a visible version.
        snapshot(&*txn, &updated, actor.id()).await?;
    }
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "proposal.edited",
            object_type: "proposal",
            object_id: id.to_string(),
            summary: json!({ "version": updated.version, "title": updated.title }),
        },
    )
    .await?;
    super::cache::commit(state, txn).await?;
    view_one(&state.db.conn, Some(actor), updated, Access::Member).await
}

/// Submits a draft for co-signing, or resubmits a proposal after the committee asked for changes.
pub async fn submit(state: &AppState, actor: &Actor, id: Uuid) -> Result<ProposalView> {
    let txn = state.db.write().await?;
    let (p, scope, _) = load_visible(&*txn, Some(actor), id).await?;
    require_proposer(actor, &p)?;
    authorize(actor, Action::Participate, Some(&scope))?;
    let p = match status_of(&p) {
        ProposalStatus::ChangesRequested => {
            apply(&*txn, &p, Event::Resubmit, Some(actor.id()), None).await?;
            load(&*txn, id).await?
        }
        _ => {
            let period = settings_of(&*txn, p.community_id).await?.cosign_period_days;
            submit_in(state, &*txn, actor, p, period).await?
        }
    };
    super::cache::commit(state, txn).await?;
    state.mail_wake.notify_one();
    view_one(&state.db.conn, Some(actor), p, Access::Member).await
}

pub async fn withdraw(state: &AppState, actor: &Actor, id: Uuid) -> Result<ProposalView> {
    let txn = state.db.write().await?;
    let (p, _, _) = load_visible(&*txn, Some(actor), id).await?;
    require_proposer(actor, &p)?;
    apply(&*txn, &p, Event::Withdraw, Some(actor.id()), None).await?;
    let p = load(&*txn, id).await?;
    super::cache::commit(state, txn).await?;
    view_one(&state.db.conn, Some(actor), p, Access::Member).await
}

pub async fn versions(
    state: &AppState,
    actor: Option<&Actor>,
    id: Uuid,
) -> Result<Vec<VersionView>> {
    let db = &state.db.conn;
    let (p, _, access) = load_visible(db, actor, id).await?;
    let rows = proposal_version::Entity::find()
        .filter(proposal_version::Column::ProposalId.eq(p.id))
        .order_by_asc(proposal_version::Column::Version)
        .all(db)
        .await?;
    let n = names(
        db,
        rows.iter().map(|v| v.editor_id).collect(),
        vec![],
        vec![],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|v| VersionView {
            version: v.version,
            title: v.title,
            body: v.body,
            category: Category::parse(&v.category).unwrap_or(Category::Other),
            editor: PersonRef {
                id: if access >= Access::Member {
                    v.editor_id
                } else {
                    Uuid::nil()
                },
                display_name: if access >= Access::Member {
                    n.people.get(&v.editor_id).cloned().unwrap_or_default()
                } else {
                    String::new()
                },
            },
            created_at: v.created_at,
        })
        .collect())
}

/// Changes the denormalised co-signature count in the same statement that locks the row, so
/// concurrent co-signs serialise on it and never lose an increment.
pub(super) async fn adjust_cosign_count<C: ConnectionTrait>(
    txn: &C,
    id: Uuid,
    delta: i32,
) -> Result<()> {
    proposal::Entity::update_many()
        .col_expr(
            proposal::Column::CosignCount,
            Expr::col(proposal::Column::CosignCount).add(delta),
        )
        .filter(proposal::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

pub(super) async fn notify_expired<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    p: &proposal::Model,
) -> Result<()> {
    if let Some(proposer) = user::Entity::find_by_id(p.proposer_id)
        .one(txn)
        .await?
        .filter(|u| u.deleted_at.is_none())
    {
        let mail = templates::proposal_decision(
            &proposer.language,
            &proposer.display_name,
            &p.title,
            "expired",
            None,
            &link(state, p.id),
        );
        notifications::notify(
            state,
            txn,
            notifications::Kind::ModerationDecision,
            Some(p.id),
            proposer.id,
            &proposer.email,
            mail,
        )
        .await?;
    }
    Ok(())
}

/// Expires every collecting proposal whose co-signing period has ended. Safe to run in several
/// processes at once: each expiry is a conditional transition, so only one process wins it.
pub async fn expire_due(state: &AppState) -> Result<usize> {
    let due = proposal::Entity::find()
        .filter(proposal::Column::Status.eq(ProposalStatus::Collecting.as_str()))
        .filter(proposal::Column::CosignDeadline.lte(clock::now()))
        .limit(200)
        .all(&state.db.conn)
        .await?;
    let mut expired = 0;
    for p in due {
        let txn = state.db.write().await?;
        match apply(&*txn, &p, Event::DeadlinePassed, None, None).await {
            Ok(_) => {
                notify_expired(state, &*txn, &p).await?;
                super::cache::commit(state, txn).await?;
                expired += 1;
            }
            Err(E::InvalidTransition { .. }) => {} // someone else got there first
            Err(e) => return Err(e),
        }
    }
    if expired > 0 {
        state.mail_wake.notify_one();
    }
    Ok(expired)
}

// ---------------------------------------------------------------- moderation

pub async fn moderate(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: ModerationRequest,
) -> Result<ProposalView> {
    let event = match req.action {
        ModerationAction::Accept => Event::Accept,
        ModerationAction::RequestChanges => Event::RequestChanges,
        ModerationAction::Merge => Event::Merge,
        ModerationAction::Reject => Event::Reject,
    };
    let reason = req
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    if event.needs_reason() && reason.is_none() {
        return Err(E::Invalid(
            "reason_required",
            "Give a written reason; the proposer sees it and it stays public on the proposal."
                .into(),
        ));
    }
    let txn = state.db.write().await?;
    let p = load(&*txn, id).await?;
    if status_of(&p) == ProposalStatus::Draft {
        return Err(E::NotFound);
    }
    let scope = scope_of(&*txn, p.community_id).await?;
    authorize(actor, Action::Moderate, Some(&scope))?;
    let target = if event == Event::Merge {
        let target_id = req.merge_into.ok_or_else(|| {
            E::Invalid(
                "merge_target_required",
                "Name the proposal to merge into.".into(),
            )
        })?;
        if target_id == p.id {
            return Err(E::Invalid(
                "invalid_merge_target",
                "A proposal cannot be merged into itself.".into(),
            ));
        }
        let target = load(&*txn, target_id).await?;
        let open = matches!(
            status_of(&target),
            ProposalStatus::Collecting
                | ProposalStatus::InModeration
                | ProposalStatus::ChangesRequested
                | ProposalStatus::Accepted
        );
        if target.community_id != p.community_id || !open || target.hidden_at.is_some() {
            return Err(E::Invalid(
                "invalid_merge_target",
                "Merge only into an open proposal of the same community.".into(),
            ));
        }
        Some(target)
    } else {
        None
    };
    apply(&*txn, &p, event, Some(actor.id()), reason.as_deref()).await?;
    if let Some(target) = &target {
        merge_supporters(state, &*txn, actor, &p, target).await?;
    }
    notify_decision(state, &*txn, &p, event, reason.as_deref()).await?;
    let p = load(&*txn, id).await?;
    super::cache::commit(state, txn).await?;
    state.mail_wake.notify_one();
    view_one(&state.db.conn, Some(actor), p, Access::Committee).await
}

/// Carries the source's proposer and active co-signers over to the target, without duplicates
/// and without the target's own proposer; people who withdrew from the target stay withdrawn.
async fn merge_supporters<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    actor: &Actor,
    source: &proposal::Model,
    target: &proposal::Model,
) -> Result<()> {
    let mut supporters: Vec<Uuid> = proposal_cosign::Entity::find()
        .filter(proposal_cosign::Column::ProposalId.eq(source.id))
        .filter(proposal_cosign::Column::WithdrawnAt.is_null())
        .all(txn)
        .await?
        .into_iter()
        .map(|c| c.user_id)
        .collect();
    supporters.push(source.proposer_id);
    let already: Vec<Uuid> = proposal_cosign::Entity::find()
        .filter(proposal_cosign::Column::ProposalId.eq(target.id))
        .all(txn)
        .await?
        .into_iter()
        .map(|c| c.user_id)
        .collect();
    let mut added = 0;
    let now = clock::now();
    supporters.sort();
    supporters.dedup();
    let mut supporters_added = Vec::new();
    for user_id in supporters {
        if user_id == target.proposer_id || already.contains(&user_id) {
            continue;
        }
        supporters_added.push(user_id);
        proposal_cosign::ActiveModel {
            id: Set(Uuid::new_v4()),
            proposal_id: Set(target.id),
            user_id: Set(user_id),
            created_at: Set(now),
            withdrawn_at: Set(None),
        }
        .insert(txn)
        .await?;
        added += 1;
    }
    // Co-signatures given for people of the register come along too.
    let mut accounts = already;
    accounts.push(target.proposer_id);
    accounts.extend(supporters_added);
    added += crate::register::service::assisted::carry(
        txn,
        crate::entities::assisted_act::AssistedKind::Cosign,
        source.id,
        target.id,
        &accounts,
    )
    .await?;
    adjust_cosign_count(txn, target.id, added).await?;
    proposal::Entity::update_many()
        .col_expr(proposal::Column::MergedInto, Expr::value(Some(target.id)))
        .filter(proposal::Column::Id.eq(source.id))
        .exec(txn)
        .await?;
    audit::record(
        txn,
        Change {
            actor: Some(actor.id()),
            action: "proposal.merge_received",
            object_type: "proposal",
            object_id: target.id.to_string(),
            summary: json!({ "from": source.id, "cosignatures_added": added }),
        },
    )
    .await?;
    let target = load(txn, target.id).await?;
    advance_if_supported(state, txn, &target).await?;
    Ok(())
}

async fn notify_decision<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    p: &proposal::Model,
    event: Event,
    reason: Option<&str>,
) -> Result<()> {
    let url = link(state, p.id);
    if let Some(proposer) = user::Entity::find_by_id(p.proposer_id)
        .one(txn)
        .await?
        .filter(|u| u.deleted_at.is_none())
    {
        let mail = templates::proposal_decision(
            &proposer.language,
            &proposer.display_name,
            &p.title,
            event.as_str(),
            reason,
            &url,
        );
        notifications::notify(
            state,
            txn,
            notifications::Kind::ModerationDecision,
            Some(p.id),
            proposer.id,
            &proposer.email,
            mail,
        )
        .await?;
    }
    if event == Event::Accept {
        let cosigners: Vec<Uuid> = proposal_cosign::Entity::find()
            .filter(proposal_cosign::Column::ProposalId.eq(p.id))
            .filter(proposal_cosign::Column::WithdrawnAt.is_null())
            .all(txn)
            .await?
            .into_iter()
            .map(|c| c.user_id)
            .collect();
        if !cosigners.is_empty() {
            for u in user::Entity::find()
                .filter(user::Column::Id.is_in(cosigners))
                .filter(user::Column::DeletedAt.is_null())
                .all(txn)
                .await?
            {
                let mail = templates::proposal_accepted_cosigner(
                    &u.language,
                    &u.display_name,
                    &p.title,
                    &url,
                );
                notifications::notify(
                    state,
                    txn,
                    notifications::Kind::CosignerAccepted,
                    Some(p.id),
                    u.id,
                    &u.email,
                    mail,
                )
                .await?;
            }
        }
    }
    Ok(())
}

pub async fn hide(state: &AppState, actor: &Actor, id: Uuid, reason: &str) -> Result<ProposalView> {
    let reason = clean_text("reason_required", reason, 2000, "reason")?;
    let txn = state.db.write().await?;
    let p = load(&*txn, id).await?;
    authorize_at(&*txn, actor, Action::Moderate, p.community_id).await?;
    if p.hidden_at.is_some() {
        return Err(E::Conflict(
            "already_hidden",
            "This proposal is already hidden.".into(),
        ));
    }
    let now = clock::now();
    proposal::Entity::update_many()
        .col_expr(proposal::Column::HiddenAt, Expr::value(Some(now)))
        .col_expr(
            proposal::Column::HiddenReason,
            Expr::value(Some(reason.clone())),
        )
        .filter(proposal::Column::Id.eq(id))
        .exec(&*txn)
        .await?;
    resolve_reports(&*txn, id, None).await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "proposal.hidden",
            object_type: "proposal",
            object_id: id.to_string(),
            summary: json!({ "reason": reason }),
        },
    )
    .await?;
    let p = load(&*txn, id).await?;
    super::cache::commit(state, txn).await?;
    view_one(&state.db.conn, Some(actor), p, Access::Committee).await
}

async fn resolve_reports<C: ConnectionTrait>(
    txn: &C,
    proposal_id: Uuid,
    comment_id: Option<Uuid>,
) -> Result<()> {
    let mut q = content_report::Entity::update_many()
        .col_expr(
            content_report::Column::ResolvedAt,
            Expr::value(Some(clock::now())),
        )
        .filter(content_report::Column::ProposalId.eq(proposal_id))
        .filter(content_report::Column::ResolvedAt.is_null());
    q = match comment_id {
        Some(c) => q.filter(content_report::Column::CommentId.eq(c)),
        None => q.filter(content_report::Column::CommentId.is_null()),
    };
    q.exec(txn).await?;
    Ok(())
}

pub async fn report(state: &AppState, actor: &Actor, id: Uuid, req: ReportRequest) -> Result<()> {
    let reason = clean_text("reason_required", &req.reason, 1000, "reason")?;
    let txn = state.db.write().await?;
    let (p, scope, _) = load_visible(&*txn, Some(actor), id).await?;
    authorize(actor, Action::Participate, Some(&scope))?;
    if let Some(c) = req.comment_id {
        proposal_comment::Entity::find_by_id(c)
            .filter(proposal_comment::Column::ProposalId.eq(p.id))
            .one(&*txn)
            .await?
            .ok_or(E::CommentNotFound)?;
    }
    let r = content_report::ActiveModel {
        id: Set(Uuid::new_v4()),
        proposal_id: Set(p.id),
        comment_id: Set(req.comment_id),
        reporter_id: Set(actor.id()),
        reason: Set(reason),
        created_at: Set(clock::now()),
        resolved_at: Set(None),
    }
    .insert(&*txn)
    .await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "proposal.reported",
            object_type: "proposal",
            object_id: p.id.to_string(),
            summary: json!({ "report_id": r.id, "comment_id": req.comment_id }),
        },
    )
    .await?;
    super::cache::commit(state, txn).await?;
    Ok(())
}

pub async fn open_reports(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
) -> Result<Vec<ReportView>> {
    let db = &state.db.conn;
    load_community(db, community_id).await?;
    authorize_at(db, actor, Action::Moderate, community_id).await?;
    let proposals: HashMap<Uuid, String> = proposal::Entity::find()
        .filter(proposal::Column::CommunityId.eq(community_id))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.title))
        .collect();
    if proposals.is_empty() {
        return Ok(Vec::new());
    }
    Ok(content_report::Entity::find()
        .filter(
            content_report::Column::ProposalId.is_in(proposals.keys().copied().collect::<Vec<_>>()),
        )
        .filter(content_report::Column::ResolvedAt.is_null())
        .order_by_asc(content_report::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|r| ReportView {
            id: r.id,
            proposal_title: proposals.get(&r.proposal_id).cloned().unwrap_or_default(),
            proposal_id: r.proposal_id,
            comment_id: r.comment_id,
            reason: r.reason,
            created_at: r.created_at,
        })
        .collect())
}

// ---------------------------------------------------------------- threads

fn comment_view(c: proposal_comment::Model, access: Access, n: &Names) -> CommentView {
    let state = if c.hidden_at.is_some() {
        CommentState::Hidden
    } else if c.deleted_at.is_some() {
        CommentState::Deleted
    } else {
        CommentState::Visible
    };
    let committee = access == Access::Committee;
    let show = state == CommentState::Visible || (state == CommentState::Hidden && committee);
    CommentView {
        id: c.id,
        parent_id: c.parent_id,
        depth: c.depth,
        author: show.then(|| PersonRef {
            id: c.author_id,
            display_name: n.people.get(&c.author_id).cloned().unwrap_or_default(),
        }),
        organisation: if show {
            c.organisation_id
                .and_then(|o| n.organisations.get(&o))
                .cloned()
        } else {
            None
        },
        body: show.then_some(c.body),
        state,
        hidden_reason: if committee { c.hidden_reason } else { None },
        created_at: c.created_at,
        edited_at: c.edited_at,
    }
}

async fn member_access<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> Result<(proposal::Model, PlaceScope, Access)> {
    let (p, scope, access) = load_visible(db, Some(actor), id).await?;
    if access == Access::Public {
        return Err(E::Forbidden(
            "Discussions are open to members of the community.".into(),
        ));
    }
    Ok((p, scope, access))
}

pub async fn comments(state: &AppState, actor: &Actor, id: Uuid) -> Result<Vec<CommentView>> {
    let db = &state.db.conn;
    let (p, _, access) = member_access(db, actor, id).await?;
    let rows = proposal_comment::Entity::find()
        .filter(proposal_comment::Column::ProposalId.eq(p.id))
        .order_by_asc(proposal_comment::Column::CreatedAt)
        .order_by_asc(proposal_comment::Column::Id)
        .limit(MAX_COMMENTS)
        .all(db)
        .await?;
    let n = names(
        db,
        rows.iter().map(|c| c.author_id).collect(),
        rows.iter().filter_map(|c| c.organisation_id).collect(),
        vec![],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|c| comment_view(c, access, &n))
        .collect())
}

async fn one_comment_view<C: ConnectionTrait>(
    db: &C,
    c: proposal_comment::Model,
    access: Access,
) -> Result<CommentView> {
    let n = names(
        db,
        vec![c.author_id],
        c.organisation_id.into_iter().collect(),
        vec![],
    )
    .await?;
    Ok(comment_view(c, access, &n))
}

pub async fn comment(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: CommentRequest,
) -> Result<CommentView> {
    let body = clean_text("invalid_body", &req.body, 4000, "comment")?;
    let txn = state.db.write().await?;
    let (p, scope, access) = member_access(&*txn, actor, id).await?;
    authorize(actor, Action::Participate, Some(&scope))?;
    if status_of(&p) == ProposalStatus::Draft {
        return Err(E::Conflict(
            "not_open_for_discussion",
            "Drafts have no discussion yet.".into(),
        ));
    }
    check_speaks_for(actor, req.organisation_id, &scope)?;
    let depth = match req.parent_id {
        Some(parent) => {
            let parent = proposal_comment::Entity::find_by_id(parent)
                .filter(proposal_comment::Column::ProposalId.eq(p.id))
                .one(&*txn)
                .await?
                .ok_or(E::CommentNotFound)?;
            parent.depth + 1
        }
        None => 0,
    };
    if depth > MAX_DEPTH {
        return Err(E::Invalid(
            "thread_too_deep",
            format!("Replies nest at most {MAX_DEPTH} levels deep; answer a comment higher up."),
        ));
    }
    let count = proposal_comment::Entity::find()
        .filter(proposal_comment::Column::ProposalId.eq(p.id))
        .count(&*txn)
        .await?;
    if count >= MAX_COMMENTS {
        return Err(E::Conflict(
            "thread_full",
            format!("This discussion has reached its {MAX_COMMENTS} comments."),
        ));
    }
    let c = proposal_comment::ActiveModel {
        id: Set(Uuid::new_v4()),
        proposal_id: Set(p.id),
        parent_id: Set(req.parent_id),
        depth: Set(depth),
        author_id: Set(actor.id()),
        organisation_id: Set(req.organisation_id),
        body: Set(body),
        created_at: Set(clock::now()),
        edited_at: Set(None),
        deleted_at: Set(None),
        hidden_at: Set(None),
        hidden_reason: Set(None),
    }
    .insert(&*txn)
    .await?;
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "comment.posted",
        object_type: "proposal",
        object_id: p.id.to_string(),
        summary: json!({ "comment_id": c.id, "parent_id": c.parent_id, "organisation_id": c.organisation_id }),
    })
    .await?;
    txn.commit().await?;
    one_comment_view(&state.db.conn, c, access).await
}

async fn load_comment<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    comment_id: Uuid,
) -> Result<(proposal_comment::Model, PlaceScope, Access)> {
    let c = proposal_comment::Entity::find_by_id(comment_id)
        .one(db)
        .await?
        .ok_or(E::CommentNotFound)?;
    let (_, scope, access) = member_access(db, actor, c.proposal_id).await?;
    Ok((c, scope, access))
}

pub async fn edit_comment(
    state: &AppState,
    actor: &Actor,
    comment_id: Uuid,
    body: &str,
) -> Result<CommentView> {
    let body = clean_text("invalid_body", body, 4000, "comment")?;
    let txn = state.db.write().await?;
    let (c, _, access) = load_comment(&*txn, actor, comment_id).await?;
    if c.author_id != actor.id() {
        return Err(E::Forbidden("Only the author may edit a comment.".into()));
    }
    if c.deleted_at.is_some() || c.hidden_at.is_some() {
        return Err(E::Conflict(
            "comment_removed",
            "This comment was deleted or hidden.".into(),
        ));
    }
    if clock::now() - c.created_at > ChronoDuration::minutes(EDIT_WINDOW_MINUTES) {
        return Err(E::Conflict(
            "edit_window_closed",
            format!("Comments can be edited for {EDIT_WINDOW_MINUTES} minutes after posting."),
        ));
    }
    let mut am: proposal_comment::ActiveModel = c.clone().into();
    am.body = Set(body);
    am.edited_at = Set(Some(clock::now()));
    let c = am.update(&*txn).await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "comment.edited",
            object_type: "proposal",
            object_id: c.proposal_id.to_string(),
            summary: json!({ "comment_id": c.id }),
        },
    )
    .await?;
    txn.commit().await?;
    one_comment_view(&state.db.conn, c, access).await
}

/// The author deletes a comment; a tombstone keeps the thread's shape.
pub async fn delete_comment(state: &AppState, actor: &Actor, comment_id: Uuid) -> Result<()> {
    let txn = state.db.write().await?;
    let (c, _, _) = load_comment(&*txn, actor, comment_id).await?;
    if c.author_id != actor.id() {
        return Err(E::Forbidden("Only the author may delete a comment.".into()));
    }
    if c.deleted_at.is_some() {
        return Err(E::Conflict(
            "comment_removed",
            "This comment is already deleted.".into(),
        ));
    }
    proposal_comment::Entity::update_many()
        .col_expr(
            proposal_comment::Column::DeletedAt,
            Expr::value(Some(clock::now())),
        )
        .col_expr(proposal_comment::Column::Body, Expr::value(""))
        .filter(proposal_comment::Column::Id.eq(c.id))
        .exec(&*txn)
        .await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "comment.deleted",
            object_type: "proposal",
            object_id: c.proposal_id.to_string(),
            summary: json!({ "comment_id": c.id }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn hide_comment(
    state: &AppState,
    actor: &Actor,
    comment_id: Uuid,
    reason: &str,
) -> Result<CommentView> {
    let reason = clean_text("reason_required", reason, 2000, "reason")?;
    let txn = state.db.write().await?;
    let (c, scope, access) = load_comment(&*txn, actor, comment_id).await?;
    authorize(actor, Action::Moderate, Some(&scope))?;
    if c.hidden_at.is_some() {
        return Err(E::Conflict(
            "already_hidden",
            "This comment is already hidden.".into(),
        ));
    }
    let mut am: proposal_comment::ActiveModel = c.clone().into();
    am.hidden_at = Set(Some(clock::now()));
    am.hidden_reason = Set(Some(reason.clone()));
    let c = am.update(&*txn).await?;
    resolve_reports(&*txn, c.proposal_id, Some(c.id)).await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "comment.hidden",
            object_type: "proposal",
            object_id: c.proposal_id.to_string(),
            summary: json!({ "comment_id": c.id, "reason": reason }),
        },
    )
    .await?;
    txn.commit().await?;
    one_comment_view(&state.db.conn, c, access).await
}
