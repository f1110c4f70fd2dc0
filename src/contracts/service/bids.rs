//! Sealed bids: submitted sealed, withdrawn before the deadline, opened only after it.

use super::*;

/// What is sealed: everything the bidder sent, documents included.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct BidContents {
    pub price_fen: i64,
    pub technical_proposal: String,
    pub team: Vec<TeamMember>,
    pub documents: Vec<SealedDocument>,
}

/// Refuses a write after the deadline. On PostgreSQL the update also locks the tender row, so
/// the opening waits for a bid being written, and a bid written after the opening is refused.
pub(super) async fn claim_open_tender<C: ConnectionTrait>(txn: &C, id: Uuid) -> Result<()> {
    let done = tender::Entity::update_many()
        .col_expr(
            tender::Column::UpdatedAt,
            Expr::col(tender::Column::UpdatedAt),
        )
        .filter(tender::Column::Id.eq(id))
        .filter(tender::Column::Status.eq(TenderStatus::Active.as_str()))
        .filter(tender::Column::TenderEndsAt.gt(clock::now()))
        .exec(txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::Conflict(
            "tender_closed",
            "The tender period has ended; late bids are refused.".into(),
        ));
    }
    Ok(())
}

pub async fn submit_bid(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: SubmitBidRequest,
) -> Result<BidReceipt> {
    let technical = clean(
        "technical_proposal_required",
        &req.technical_proposal,
        50000,
        "technical proposal",
    )?;
    if req.team.len() > 50
        || req
            .team
            .iter()
            .any(|m| m.name.trim().is_empty() || m.name.chars().count() > 100)
    {
        return Err(E::Invalid(
            "invalid_team",
            "A team has at most 50 people, each named in 1 to 100 characters.".into(),
        ));
    }
    let documents = files::check(&req.documents)?;
    let contents = BidContents {
        price_fen: req.price_fen,
        technical_proposal: technical,
        team: req.team,
        documents: documents.iter().map(SealedDocument::from_checked).collect(),
    };
    let plain = serde_json::to_vec(&contents).map_err(|e| E::Sealing(e.to_string()))?;
    let digest = hex::encode(Sha256::digest(&plain));

    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    claim_open_tender(&*txn, id).await?;
    require_representative(&*txn, actor, req.organisation_id).await?;
    let org = load_org(&*txn, req.organisation_id).await?;
    if let Some(why) = ineligibility(&*txn, &t, &org).await? {
        return Err(E::Forbidden(why));
    }
    if !(1..=t.budget_fen).contains(&req.price_fen) {
        return Err(E::Invalid(
            "price_over_budget",
            format!(
                "The price is a positive amount in fen, at most the budget ceiling of {} fen.",
                t.budget_fen
            ),
        ));
    }
    let sealed = sealing_key(state)?.seal(id, org.id, &plain);
    let now = clock::now();
    let existing = bid::Entity::find()
        .filter(bid::Column::TenderId.eq(id))
        .filter(bid::Column::OrganisationId.eq(org.id))
        .one(&*txn)
        .await?;
    let (bid_id, version) = match existing {
        Some(b) => {
            let version = b.version + 1;
            let mut m: bid::ActiveModel = b.clone().into();
            m.sealed = Set(sealed);
            m.digest = Set(digest.clone());
            m.version = Set(version);
            m.status = Set("submitted".into());
            m.submitted_by = Set(actor.id());
            m.submitted_at = Set(now);
            m.updated_at = Set(now);
            m.update(&*txn).await?;
            (b.id, version)
        }
        None => {
            let bid_id = Uuid::new_v4();
            let inserted = bid::ActiveModel {
                id: Set(bid_id),
                tender_id: Set(id),
                organisation_id: Set(org.id),
                submitted_by: Set(actor.id()),
                status: Set("submitted".into()),
                sealed: Set(sealed),
                digest: Set(digest.clone()),
                version: Set(1),
                price_fen: Set(None),
                submitted_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&*txn)
            .await;
            match inserted {
                Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                    return Err(E::Conflict(
                        "bid_in_progress",
                        "Another bid of this organisation was submitted at the same moment; try again.".into(),
                    ));
                }
                other => other?,
            };
            (bid_id, 1)
        }
    };
    // The record holds the digest, never the contents.
    record(
        &*txn,
        Some(actor.id()),
        "bid.submitted",
        "tender",
        id,
        json!({ "bid_id": bid_id, "organisation_id": org.id, "version": version, "digest": digest }),
    )
    .await?;
    let link = tender_link(state, id);
    notify_members(
        state,
        &*txn,
        org.id,
        notifications::Kind::BidConfirmation,
        id,
        |u| templates::bid_confirmation(&u.language, &u.display_name, &t.title, &digest, &link),
    )
    .await?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    Ok(BidReceipt {
        bid_id,
        version,
        digest,
        submitted_at: now,
    })
}

pub async fn withdraw_bid(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    organisation_id: Uuid,
) -> Result<()> {
    let txn = state.db.write().await?;
    claim_open_tender(&*txn, id).await?;
    require_representative(&*txn, actor, organisation_id).await?;
    let done = bid::Entity::update_many()
        .col_expr(bid::Column::Status, Expr::value("withdrawn"))
        .col_expr(bid::Column::UpdatedAt, Expr::value(clock::now()))
        .filter(bid::Column::TenderId.eq(id))
        .filter(bid::Column::OrganisationId.eq(organisation_id))
        .filter(bid::Column::Status.eq("submitted"))
        .exec(&*txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::Missing("bid"));
    }
    record(
        &*txn,
        Some(actor.id()),
        "bid.withdrawn",
        "tender",
        id,
        json!({ "organisation_id": organisation_id }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

pub(super) fn sealing_key(state: &AppState) -> Result<&crate::sealing::SealingKey> {
    state
        .sealing
        .key()
        .map_err(|e| E::Sealing(format!("sealing key: {e}")))
}

pub(super) fn open_contents(state: &AppState, b: &bid::Model) -> Result<BidContents> {
    let plain = sealing_key(state)?
        .open(b.tender_id, b.organisation_id, &b.sealed)
        .ok_or_else(|| {
            E::Sealing(format!(
                "bid {} cannot be opened with this server's sealing key",
                b.id
            ))
        })?;
    serde_json::from_slice(&plain).map_err(|e| E::Sealing(e.to_string()))
}

pub(super) fn bid_view(state: &AppState, b: &bid::Model, org_name: String) -> Result<BidView> {
    let c = open_contents(state, b)?;
    Ok(BidView {
        id: b.id,
        organisation_id: b.organisation_id,
        organisation_name: org_name,
        status: b.status.clone(),
        version: b.version,
        digest: b.digest.clone(),
        price_fen: c.price_fen,
        technical_proposal: c.technical_proposal,
        team: c.team,
        documents: c.documents.iter().map(SealedDocument::view).collect(),
        submitted_at: b.submitted_at,
    })
}

/// The organisation's own bid: its members may read it at any time.
pub async fn my_bid(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    organisation_id: Uuid,
) -> Result<BidView> {
    let db = &state.db.conn;
    if !is_member(actor, organisation_id) {
        return Err(E::Missing("bid"));
    }
    let b = bid::Entity::find()
        .filter(bid::Column::TenderId.eq(id))
        .filter(bid::Column::OrganisationId.eq(organisation_id))
        .one(db)
        .await?
        .ok_or(E::Missing("bid"))?;
    let org = load_org(db, organisation_id).await?;
    bid_view(state, &b, org.name)
}

/// Opens every bid whose tender period has ended. Conditional, so several processes may run
/// it at once; each tender opens once.
pub async fn run_due(state: &AppState) -> Result<usize> {
    let due = tender::Entity::find()
        .filter(tender::Column::Status.eq(TenderStatus::Active.as_str()))
        .filter(tender::Column::TenderEndsAt.lte(clock::now()))
        .all(&state.db.conn)
        .await?;
    let mut opened = 0;
    for t in due {
        match open_bids(state, t.id).await {
            Ok(true) => opened += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(tender = %t.id, error = %e, "opening failed; will retry"),
        }
    }
    Ok(opened)
}

/// Opens one tender's bids if its deadline has passed; false when there was nothing to do.
pub async fn open_bids(state: &AppState, id: Uuid) -> Result<bool> {
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    let now = clock::now();
    if status_of(&t) != TenderStatus::Active || t.tender_ends_at > now {
        return Ok(false);
    }
    // Claim the tender first: on PostgreSQL this waits for a bid being written.
    let claimed = tender::Entity::update_many()
        .col_expr(tender::Column::OpenedAt, Expr::value(Some(now)))
        .filter(tender::Column::Id.eq(id))
        .filter(tender::Column::Status.eq(TenderStatus::Active.as_str()))
        .filter(tender::Column::OpenedAt.is_null())
        .exec(&*txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(false);
    }
    let bids = bid::Entity::find()
        .filter(bid::Column::TenderId.eq(id))
        .filter(bid::Column::Status.eq("submitted"))
        .order_by_asc(bid::Column::SubmittedAt)
        .all(&*txn)
        .await?;
    let mut digests = Vec::new();
    for b in &bids {
        let c = open_contents(state, b)?;
        bid::Entity::update_many()
            .col_expr(bid::Column::PriceFen, Expr::value(Some(c.price_fen)))
            .filter(bid::Column::Id.eq(b.id))
            .exec(&*txn)
            .await?;
        digests.push(b.digest.clone());
    }
    let count = bids.len() as i32;
    let (to, reason) = if bids.is_empty() {
        (
            TenderStatus::Unsuccessful,
            Some("No bids were received by the deadline.".to_string()),
        )
    } else {
        (TenderStatus::Evaluation, None)
    };
    let t = load_tender(&*txn, id).await?;
    let mut set = vec![(tender::Column::BidCount, Some(count).into())];
    if let Some(r) = &reason {
        set.push((tender::Column::EndReason, Some(r.clone()).into()));
        set.push((tender::Column::EndedAt, Some(now).into()));
    }
    move_tender(&*txn, &t, to, set).await?;
    record(
        &*txn,
        None,
        "tender.bids_opened",
        "tender",
        id,
        json!({ "bid_count": count, "digests": digests }),
    )
    .await?;
    ocds::release(state, &*txn, id, &["tenderUpdate"]).await?;
    txn.commit().await?;
    tracing::info!(tender = %id, bids = count, "bids opened");
    Ok(true)
}
