//! Casting, changing and counting ballots, open or secret.

use super::*;

pub(super) fn validate_choices(p: &poll::Model, choices: &[Text]) -> Result<Vec<String>> {
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

pub(super) fn new_receipt(poll_id: Uuid) -> String {
    let mut nonce = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut nonce);
    let mut h = Sha256::new();
    h.update(b"yishi-ballot-receipt");
    h.update(poll_id.as_bytes());
    h.update(nonce);
    hex::encode(&h.finalize()[..16])
}

pub(super) fn key_hash(poll_id: Uuid, user: Uuid, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"yishi-ballot-request\0");
    h.update(poll_id.as_bytes());
    h.update(user.as_bytes());
    h.update(key.as_bytes());
    hex::encode(h.finalize())
}

pub(super) async fn replayed<C: ConnectionTrait>(
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

pub(super) fn check_key(key: Option<&str>) -> Result<Option<&str>> {
    match key.map(str::trim) {
        None => Ok(None),
        Some(k) if (16..=200).contains(&k.len()) && k.is_ascii() => Ok(Some(k)),
        Some(_) => Err(E::Invalid(
            "invalid_idempotency_key",
            "An Idempotency-Key has 16 to 200 ASCII characters (a UUID is a good choice).".into(),
        )),
    }
}

pub(super) fn ensure_open(p: &poll::Model) -> Result<()> {
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
pub(super) async fn store_ballot<C: ConnectionTrait>(
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
        crate::voting::mixing::hold(
            txn,
            key,
            vec![crate::voting::mixing::Hold {
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
pub(super) async fn own_elector(
    state: &AppState,
    p: &poll::Model,
    user_id: Uuid,
) -> Result<Option<Elector>> {
    Ok(electorate(state, p.id).await?.get(&user_id).copied())
}

/// An open poll's electorate, from this process's memory or read into it.
pub(super) async fn electorate(
    state: &AppState,
    poll_id: Uuid,
) -> Result<std::sync::Arc<Electors>> {
    state
        .open_polls
        .electorates
        .get_or_fill(&poll_id.to_string(), || {
            read_electorate(&state.db.conn, poll_id)
        })
        .await
}

/// Puts an electorate just frozen into this process's memory of them.
pub(super) async fn remember_electorate(state: &AppState, poll_id: Uuid, electors: Electors) {
    let _ = state
        .open_polls
        .electorates
        .get_or_fill(&poll_id.to_string(), || async {
            Ok::<_, std::convert::Infallible>(electors)
        })
        .await;
}

/// An open poll's frozen electorate, by person.
pub(super) async fn read_electorate<C: ConnectionTrait>(db: &C, poll_id: Uuid) -> Result<Electors> {
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
    let job = crate::voting::writer::Job {
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
        crate::voting::writer::Written::Stored => {
            if p.show_tally && !p.secret {
                state.tallies.touch(p.id);
            }
            Ok((answer, false))
        }
        crate::voting::writer::Written::Replayed(sealed) => {
            let k = key.unwrap_or_default();
            unseal(poll_id, actor.id(), k, &sealed)
                .map(|first| (first, true))
                .ok_or_else(|| E::Conflict("already_voted", "This ballot has been cast.".into()))
        }
        crate::voting::writer::Written::Closed => Err(E::Conflict(
            "poll_not_open",
            "This poll closed before the ballot could be counted; nothing was stored.".into(),
        )),
        crate::voting::writer::Written::AlreadyVoted => {
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

pub(super) fn already_voted(p: &poll::Model) -> E {
    let msg = if p.secret {
        "This ballot has been cast; a secret ballot is final."
    } else {
        "This ballot has been cast; change it instead."
    };
    E::Conflict("already_voted", msg.into())
}

/// A proxy casts an owner's ballot: marked as used, and the owner is emailed.
pub(super) async fn cast_by_proxy(
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
