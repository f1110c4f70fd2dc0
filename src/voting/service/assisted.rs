//! Assisted ballots: a grid worker or committee member casting for a person without an account, recorded as such.

use super::*;

/// Grid workers of the community (or one of its grids) record paper ballots; they, the
/// committee and the party secretary confirm them.
pub(super) async fn may_assist<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    p: &poll::Model,
) -> Result<bool> {
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

pub(super) async fn may_confirm<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    p: &poll::Model,
) -> Result<bool> {
    let scope = scope_of(db, p.community_id).await?;
    Ok(may_assist(db, actor, p).await?
        || actor.holds_over(Role::CommitteeMember, &scope)
        || actor.holds_over(Role::PartySecretary, &scope))
}

pub(super) async fn assisted_view<C: ConnectionTrait>(
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
