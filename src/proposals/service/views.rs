//! Reading proposals: lists, details and versions.

use super::*;

pub(in crate::proposals) async fn load<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<proposal::Model> {
    proposal::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(E::NotFound)
}

/// Loads a proposal the viewer may see, with the viewer's access to its community.
pub(in crate::proposals) async fn load_visible<C: ConnectionTrait>(
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

pub(super) struct Names {
    pub(super) people: HashMap<Uuid, String>,
    pub(super) organisations: HashMap<Uuid, OrganisationRef>,
    pub(super) communities: HashMap<Uuid, String>,
}

pub(super) async fn community_names<C: ConnectionTrait>(
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

pub(super) async fn names<C: ConnectionTrait>(
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

pub(super) fn org_ref(o: organisation::Model) -> OrganisationRef {
    OrganisationRef {
        id: o.id,
        name: o.name,
        kind: o.kind,
    }
}

pub(super) fn to_view(
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

pub(super) async fn cosigned_set<C: ConnectionTrait>(
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

pub(in crate::proposals) async fn view_one<C: ConnectionTrait>(
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
pub(super) struct ListedProposal {
    pub(super) proposal: proposal::Model,
    pub(super) total: i64,
    pub(super) proposer_name: Option<String>,
    pub(super) organisation_name: Option<String>,
    pub(super) organisation_kind: Option<String>,
    pub(super) cosigned_by_me: bool,
}

/// Whether the viewer has a standing co-signature on the listed proposal (never, signed out).
pub(super) fn cosigned_by(viewer: Option<Uuid>) -> sea_orm::sea_query::SimpleExpr {
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

pub(super) fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The process's list memory: shared pages, and each viewer's co-signatures (None when the
/// viewer has proposals only they can see).
pub type ListMemory = crate::proposals::cache::Lists<SharedPage, Option<HashSet<Uuid>>>;

/// A page of the list as every viewer who sees the community at one level sees it. The viewer's
/// own co-signatures are not in it.
pub struct SharedPage {
    pub(super) rows: Vec<proposal::Model>,
    pub(super) total: u64,
    pub(super) names: Names,
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
pub(super) struct Window {
    pub(super) page: u64,
    pub(super) page_size: u64,
}

pub(super) fn list_key(access: Access, f: &Filters, at: Window) -> String {
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

pub(super) fn views(
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
pub(super) async fn viewer_marks<C: ConnectionTrait>(
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
pub(super) async fn query_page<C: ConnectionTrait>(
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
