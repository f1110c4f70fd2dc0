//! Reading polls: views, participation and results.

use super::*;

pub(super) async fn participation<C: ConnectionTrait>(db: &C, poll_id: Uuid) -> Result<Weight> {
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

pub(super) async fn counted_ballots<C: ConnectionTrait>(
    db: &C,
    p: &poll::Model,
) -> Result<Vec<CountedBallot>> {
    if p.secret {
        return Ok(crate::voting::totals::counted(db, p.id, choices_of).await?);
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

pub(super) fn electorate_weight(p: &poll::Model) -> Weight {
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
pub(super) async fn my_voters<C: ConnectionTrait>(
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

pub(super) async fn active_proxies_for<C: ConnectionTrait>(
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
    let result = crate::voting::disclosure::published_result(&p);
    let participation = participation.map(|w| crate::voting::disclosure::published_weight(&p, w));
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
