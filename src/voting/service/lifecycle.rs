//! A poll from draft to open, closed, counted and published.

use super::*;

/// Appends a room event for a session's poll; published after the commit.
pub(super) async fn room_event<C: ConnectionTrait>(
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

pub(super) async fn publish(state: &AppState, p: &poll::Model) {
    if let Some(sid) = p.session_id {
        state.rooms.catch_up(state, sid).await;
    }
}

pub(super) async fn open_poll(state: &AppState, id: Uuid, by: Option<Uuid>) -> Result<poll::Model> {
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
pub(super) async fn close_poll(
    state: &AppState,
    id: Uuid,
    by: Option<Uuid>,
) -> Result<poll::Model> {
    let txn = state.db.write().await?;
    // Waits for ballot batches being written, and makes later ones see the close.
    crate::voting::writer::poll_lock(&*txn, id, true).await?;
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
        crate::voting::mixing::release(&*txn, state.sealing.stored_key()?, p.id).await?;
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
        summary: json!({ "result_sha256": hex::encode(Sha256::digest(result.as_bytes())), "passed": outcome.passed, "participants": crate::voting::disclosure::published_weight(&p, outcome.participants), "electorate": outcome.electorate, "winners": outcome.winners }),
    })
    .await?;
    let p = load(&*txn, id).await?;
    room_event(
        &*txn,
        &p,
        "poll.closed",
        by,
        json!({ "poll_id": p.id, "question": p.question, "result": crate::voting::disclosure::published(&p, &outcome) }),
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
pub(super) async fn announce_chunk(state: &AppState, id: Uuid) -> Result<Option<bool>> {
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
        if let Some(outcome) = crate::voting::disclosure::published_result(&p) {
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

pub(super) async fn mail_result<C: ConnectionTrait>(
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
pub(super) fn summarise(outcome: &Outcome, options: &[PollOption]) -> String {
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
    crate::voting::mixing::discard(&*txn, p.id).await?;
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
