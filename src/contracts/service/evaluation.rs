//! The evaluation panel: members, conflicts of interest, scores and the ranking.

use super::*;

pub(super) async fn bidders_of<C: ConnectionTrait>(
    db: &C,
    tender_id: Uuid,
) -> Result<Vec<bid::Model>> {
    Ok(bid::Entity::find()
        .filter(bid::Column::TenderId.eq(tender_id))
        .filter(bid::Column::Status.ne("withdrawn"))
        .order_by_asc(bid::Column::SubmittedAt)
        .all(db)
        .await?)
}

/// True when the person belongs to an organisation that bid.
pub(super) async fn belongs_to_bidder<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    bids: &[bid::Model],
) -> Result<bool> {
    let orgs: Vec<Uuid> = bids.iter().map(|b| b.organisation_id).collect();
    if orgs.is_empty() {
        return Ok(false);
    }
    Ok(organisation_member::Entity::find()
        .filter(organisation_member::Column::UserId.eq(user_id))
        .filter(organisation_member::Column::OrganisationId.is_in(orgs))
        .one(db)
        .await?
        .is_some())
}

pub(super) fn require_evaluation(t: &tender::Model) -> Result<()> {
    if status_of(t) != TenderStatus::Evaluation {
        return Err(E::Conflict(
            "not_in_evaluation",
            "The tender is not in evaluation.".into(),
        ));
    }
    Ok(())
}

pub async fn appoint(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    email: &str,
) -> Result<EvaluationView> {
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    require_evaluation(&t)?;
    if t.award_bid_id.is_some() {
        return Err(E::Conflict(
            "award_proposed",
            "The award is proposed; the panel is closed.".into(),
        ));
    }
    let person = user::Entity::find()
        .filter(user::Column::Email.eq(email.trim().to_lowercase()))
        .filter(user::Column::DeletedAt.is_null())
        .one(&*txn)
        .await?
        .filter(|u| u.email_verified_at.is_some())
        .ok_or(E::Missing("person"))?;
    if belongs_to_bidder(&*txn, person.id, &bidders_of(&*txn, id).await?).await? {
        return Err(E::Conflict(
            "evaluator_conflicted",
            "This person belongs to a bidding organisation and cannot evaluate.".into(),
        ));
    }
    let pid = Uuid::new_v4();
    let inserted = panel_member::ActiveModel {
        id: Set(pid),
        tender_id: Set(id),
        user_id: Set(person.id),
        status: Set("appointed".into()),
        declaration: Set(None),
        appointed_by: Set(actor.id()),
        appointed_at: Set(clock::now()),
        declared_at: Set(None),
        submitted_at: Set(None),
    }
    .insert(&*txn)
    .await;
    match inserted {
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(E::Conflict(
                "already_on_panel",
                "This person is already on the panel.".into(),
            ));
        }
        other => other?,
    };
    record(
        &*txn,
        Some(actor.id()),
        "panel.appointed",
        "tender",
        id,
        json!({ "panel_member_id": pid, "user_id": person.id }),
    )
    .await?;
    txn.commit().await?;
    evaluation(state, actor, id).await
}

pub(super) async fn my_seat<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    tender_id: Uuid,
) -> Result<Option<panel_member::Model>> {
    Ok(panel_member::Entity::find()
        .filter(panel_member::Column::TenderId.eq(tender_id))
        .filter(panel_member::Column::UserId.eq(actor.id()))
        .one(db)
        .await?)
}

pub async fn declare(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: DeclarationRequest,
) -> Result<EvaluationView> {
    let statement = clean("statement_required", &req.statement, 2000, "statement")?;
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_evaluation(&t)?;
    let seat = my_seat(&*txn, actor, id)
        .await?
        .ok_or_else(|| E::Forbidden("You are not on this tender's panel.".into()))?;
    if seat.status != "appointed" {
        return Err(E::Conflict(
            "already_declared",
            "You have already declared.".into(),
        ));
    }
    let automatic = belongs_to_bidder(&*txn, actor.id(), &bidders_of(&*txn, id).await?).await?;
    let (status, declaration) = if automatic {
        (
            "recused",
            "Refused automatically: a member of a bidding organisation.".to_string(),
        )
    } else if req.conflict {
        ("recused", statement)
    } else {
        ("cleared", statement)
    };
    panel_member::Entity::update_many()
        .col_expr(panel_member::Column::Status, Expr::value(status))
        .col_expr(
            panel_member::Column::Declaration,
            Expr::value(Some(declaration.clone())),
        )
        .col_expr(
            panel_member::Column::DeclaredAt,
            Expr::value(Some(clock::now())),
        )
        .filter(panel_member::Column::Id.eq(seat.id))
        .filter(panel_member::Column::Status.eq("appointed"))
        .exec(&*txn)
        .await?;
    record(
        &*txn,
        Some(actor.id()),
        "panel.declared",
        "tender",
        id,
        json!({ "panel_member_id": seat.id, "status": status, "declaration": declaration }),
    )
    .await?;
    txn.commit().await?;
    if automatic {
        return Err(E::Conflict(
            "evaluator_conflicted",
            "You belong to a bidding organisation; you have been taken off the panel.".into(),
        ));
    }
    evaluation(state, actor, id).await
}

pub async fn submit_scores(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    scores: Vec<ScoreInput>,
) -> Result<EvaluationView> {
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_evaluation(&t)?;
    let seat = my_seat(&*txn, actor, id)
        .await?
        .ok_or_else(|| E::Forbidden("You are not on this tender's panel.".into()))?;
    if seat.status != "cleared" {
        return Err(E::Forbidden(
            "Declare that you have no conflict of interest before scoring.".into(),
        ));
    }
    if seat.submitted_at.is_some() {
        return Err(E::Conflict(
            "scores_submitted",
            "Your scores are submitted and final.".into(),
        ));
    }
    let bids: Vec<Uuid> = bidders_of(&*txn, id)
        .await?
        .into_iter()
        .filter(|b| b.status == "submitted")
        .map(|b| b.id)
        .collect();
    let quality: Vec<Uuid> = criteria_of(&*txn, id)
        .await?
        .into_iter()
        .filter(|c| !c.price)
        .map(|c| c.id)
        .collect();
    let expected: HashSet<(Uuid, Uuid)> = bids
        .iter()
        .flat_map(|b| quality.iter().map(move |c| (*b, *c)))
        .collect();
    let mut given = HashSet::new();
    for s in &scores {
        if !(0..=100).contains(&s.score) {
            return Err(E::Invalid(
                "invalid_score",
                "Each score is 0 to 100.".into(),
            ));
        }
        if !expected.contains(&(s.bid_id, s.criterion_id))
            || !given.insert((s.bid_id, s.criterion_id))
        {
            return Err(E::Invalid(
                "invalid_sheet",
                "Score each bid once on each quality criterion, and nothing else.".into(),
            ));
        }
    }
    if given.len() != expected.len() {
        return Err(E::Invalid(
            "incomplete_sheet",
            format!(
                "Score every bid on every quality criterion: {} scores expected, {} given.",
                expected.len(),
                given.len()
            ),
        ));
    }
    let done = panel_member::Entity::update_many()
        .col_expr(
            panel_member::Column::SubmittedAt,
            Expr::value(Some(clock::now())),
        )
        .filter(panel_member::Column::Id.eq(seat.id))
        .filter(panel_member::Column::SubmittedAt.is_null())
        .exec(&*txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::Conflict(
            "scores_submitted",
            "Your scores are submitted and final.".into(),
        ));
    }
    for s in &scores {
        bid_score::ActiveModel {
            id: Set(Uuid::new_v4()),
            tender_id: Set(id),
            panel_member_id: Set(seat.id),
            bid_id: Set(s.bid_id),
            criterion_id: Set(s.criterion_id),
            score: Set(s.score),
        }
        .insert(&*txn)
        .await?;
    }
    record(
        &*txn,
        Some(actor.id()),
        "panel.scored",
        "tender",
        id,
        json!({ "panel_member_id": seat.id, "scores": scores.len() }),
    )
    .await?;
    txn.commit().await?;
    evaluation(state, actor, id).await
}

pub async fn criteria_of<C: ConnectionTrait>(
    db: &C,
    tender_id: Uuid,
) -> Result<Vec<tender_criterion::Model>> {
    Ok(tender_criterion::Entity::find()
        .filter(tender_criterion::Column::TenderId.eq(tender_id))
        .order_by_asc(tender_criterion::Column::Position)
        .all(db)
        .await?)
}

/// The panel's state and, once complete, the ranking.
pub struct Standing {
    pub panel: Vec<panel_member::Model>,
    pub complete: bool,
    pub ranking: Vec<(scoring::Scored, bid::Model)>,
    pub scores: Vec<bid_score::Model>,
}

pub async fn standing<C: ConnectionTrait>(db: &C, t: &tender::Model) -> Result<Standing> {
    let panel = panel_member::Entity::find()
        .filter(panel_member::Column::TenderId.eq(t.id))
        .order_by_asc(panel_member::Column::AppointedAt)
        .all(db)
        .await?;
    let cleared: Vec<&panel_member::Model> =
        panel.iter().filter(|p| p.status == "cleared").collect();
    let complete = cleared.len() >= 3
        && cleared.iter().all(|p| p.submitted_at.is_some())
        && !panel.iter().any(|p| p.status == "appointed");
    let scores = bid_score::Entity::find()
        .filter(bid_score::Column::TenderId.eq(t.id))
        .all(db)
        .await?;
    let mut ranking = Vec::new();
    if complete {
        let counted: HashSet<Uuid> = cleared.iter().map(|p| p.id).collect();
        let criteria: Vec<scoring::Criterion> = criteria_of(db, t.id)
            .await?
            .into_iter()
            .map(|c| scoring::Criterion {
                id: c.id,
                weight: c.weight,
                price: c.price,
            })
            .collect();
        let bids: Vec<bid::Model> = bidders_of(db, t.id)
            .await?
            .into_iter()
            .filter(|b| b.price_fen.is_some())
            .collect();
        let valid: Vec<scoring::Bid> = bids
            .iter()
            .filter(|b| b.status == "submitted")
            .map(|b| scoring::Bid {
                id: b.id,
                price_fen: b.price_fen.unwrap_or(0),
                submitted_at: b.submitted_at,
            })
            .collect();
        let mut by: HashMap<(Uuid, Uuid), Vec<i32>> = HashMap::new();
        for s in scores
            .iter()
            .filter(|s| counted.contains(&s.panel_member_id))
        {
            by.entry((s.bid_id, s.criterion_id))
                .or_default()
                .push(s.score);
        }
        // The valid bids decide the order (the lowest valid price gets full marks); bids
        // disqualified after a complaint follow, scored as they were before.
        let mut ranked = scoring::rank(&criteria, &valid, &by);
        let all: Vec<scoring::Bid> = bids
            .iter()
            .map(|b| scoring::Bid {
                id: b.id,
                price_fen: b.price_fen.unwrap_or(0),
                submitted_at: b.submitted_at,
            })
            .collect();
        ranked.extend(scoring::rank(&criteria, &all, &by).into_iter().filter(|s| {
            bids.iter()
                .any(|b| b.id == s.bid_id && b.status == "disqualified")
        }));
        let by_id: HashMap<Uuid, bid::Model> = bids.into_iter().map(|b| (b.id, b)).collect();
        for s in ranked {
            if let Some(b) = by_id.get(&s.bid_id) {
                ranking.push((s, b.clone()));
            }
        }
    }
    Ok(Standing {
        panel,
        complete,
        ranking,
        scores,
    })
}

pub(super) async fn org_names<C: ConnectionTrait>(
    db: &C,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(organisation::Entity::find()
        .filter(organisation::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect())
}

pub(super) async fn user_names<C: ConnectionTrait>(
    db: &C,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect())
}

pub fn ranked_view(
    rank: usize,
    s: &scoring::Scored,
    b: &bid::Model,
    names: &HashMap<Uuid, String>,
) -> RankedBid {
    RankedBid {
        rank: rank as i32 + 1,
        bid_id: b.id,
        organisation_id: b.organisation_id,
        organisation_name: names.get(&b.organisation_id).cloned().unwrap_or_default(),
        price_fen: b.price_fen.unwrap_or(0),
        price_points: s.price_points.to_fixed2(),
        quality_points: s.quality_points.to_fixed2(),
        total: s.total.to_fixed2(),
        total_exact: s.total.exact(),
        disqualified: b.status == "disqualified",
    }
}

/// The evaluator's sheet or the officer's summary. Bids are shown only after the opening, to
/// the officer and to evaluators who declared no conflict; others' scores only when everyone
/// has submitted.
pub async fn evaluation(state: &AppState, actor: &Actor, id: Uuid) -> Result<EvaluationView> {
    let db = &state.db.conn;
    let t = load_tender(db, id).await?;
    let officer = is_officer(actor, &scope_of(db, t.place_id).await?);
    let seat = my_seat(db, actor, id).await?;
    if !officer && seat.is_none() {
        return Err(E::Forbidden(
            "The evaluation is for the officer and the panel.".into(),
        ));
    }
    let opened = t.opened_at.is_some();
    let st = standing(db, &t).await?;
    let bids = bidders_of(db, id).await?;
    let names = org_names(db, bids.iter().map(|b| b.organisation_id).collect()).await?;
    let people = user_names(db, st.panel.iter().map(|p| p.user_id).collect()).await?;
    let may_see_bids = opened && (officer || seat.as_ref().is_some_and(|s| s.status == "cleared"));
    let mut bid_views = Vec::new();
    if may_see_bids {
        for b in &bids {
            bid_views.push(bid_view(
                state,
                b,
                names.get(&b.organisation_id).cloned().unwrap_or_default(),
            )?);
        }
    }
    let my_scores = match &seat {
        Some(s) => st
            .scores
            .iter()
            .filter(|x| x.panel_member_id == s.id)
            .map(|x| ScoreInput {
                bid_id: x.bid_id,
                criterion_id: x.criterion_id,
                score: x.score,
            })
            .collect(),
        None => Vec::new(),
    };
    let seat_names: HashMap<Uuid, String> = st
        .panel
        .iter()
        .map(|p| (p.id, people.get(&p.user_id).cloned().unwrap_or_default()))
        .collect();
    let all_scores = if st.complete {
        st.scores
            .iter()
            .map(|x| PanelScore {
                evaluator_name: seat_names
                    .get(&x.panel_member_id)
                    .cloned()
                    .unwrap_or_default(),
                bid_id: x.bid_id,
                criterion_id: x.criterion_id,
                score: x.score,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(EvaluationView {
        tender_id: id,
        criteria: criteria_of(db, id)
            .await?
            .into_iter()
            .map(criterion_view)
            .collect(),
        panel: st
            .panel
            .iter()
            .map(|p| PanelMemberView {
                id: p.id,
                user_id: p.user_id,
                name: people.get(&p.user_id).cloned().unwrap_or_default(),
                status: p.status.clone(),
                declaration: p.declaration.clone(),
                submitted: p.submitted_at.is_some(),
            })
            .collect(),
        bidders: if opened {
            bids.iter()
                .map(|b| names.get(&b.organisation_id).cloned().unwrap_or_default())
                .collect()
        } else {
            Vec::new()
        },
        bids: bid_views,
        my_scores,
        all_scores,
        ranking: st
            .ranking
            .iter()
            .enumerate()
            .map(|(i, (s, b))| ranked_view(i, s, b, &names))
            .collect(),
        complete: st.complete,
        rule: scoring::RULE.to_string(),
    })
}

pub fn criterion_view(c: tender_criterion::Model) -> CriterionView {
    CriterionView {
        id: c.id,
        name: c.name,
        weight: c.weight,
        price: c.price,
    }
}
