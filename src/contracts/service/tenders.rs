//! Tenders: drafting, publishing, amending and cancelling a purchase of service.

use super::*;

pub(super) struct TenderInput {
    pub(super) title: String,
    pub(super) description: String,
    pub(super) eligibility: String,
    pub(super) required_qualification: Option<String>,
    pub(super) budget_fen: i64,
    /// Checked when given; an edit may leave them as they are.
    pub(super) criteria: Option<Vec<CriterionInput>>,
    pub(super) enquiry_ends_at: DateTime<Utc>,
    pub(super) tender_ends_at: DateTime<Utc>,
    pub(super) publicity_days: i32,
}

pub(super) fn check_tender(i: &TenderInput) -> Result<()> {
    if !(1..=MAX_BUDGET_FEN).contains(&i.budget_fen) {
        return Err(E::Invalid(
            "invalid_budget",
            "The budget ceiling is a positive amount in fen.".into(),
        ));
    }
    if !(1..=30).contains(&i.publicity_days) {
        return Err(E::Invalid(
            "invalid_publicity_days",
            "The publicity period is 1 to 30 days.".into(),
        ));
    }
    if i.enquiry_ends_at >= i.tender_ends_at {
        return Err(E::Invalid(
            "invalid_periods",
            "Enquiries close before the tender period ends.".into(),
        ));
    }
    match &i.criteria {
        Some(c) => check_criteria(c),
        None => Ok(()),
    }
}

pub fn check_criteria(criteria: &[CriterionInput]) -> Result<()> {
    let invalid = |m: &str| Err(E::Invalid("invalid_criteria", m.to_string()));
    if criteria.iter().filter(|c| c.price).count() != 1 {
        return invalid("Exactly one criterion is the price.");
    }
    if !criteria.iter().any(|c| !c.price) {
        return invalid("At least one quality criterion is needed.");
    }
    if criteria.len() > 20 {
        return invalid("At most 20 criteria.");
    }
    if criteria.iter().any(|c| !(1..=100).contains(&c.weight)) {
        return invalid("Each weight is 1 to 100.");
    }
    if criteria.iter().map(|c| c.weight).sum::<i32>() != 100 {
        return invalid("The weights sum to 100.");
    }
    let mut names = HashSet::new();
    for c in criteria {
        let n = c.name.trim();
        if n.is_empty() || n.chars().count() > 100 || !names.insert(n.to_string()) {
            return invalid("Each criterion has a distinct name of 1 to 100 characters.");
        }
    }
    Ok(())
}

pub(super) async fn write_criteria<C: ConnectionTrait>(
    txn: &C,
    tender_id: Uuid,
    criteria: &[CriterionInput],
) -> Result<()> {
    tender_criterion::Entity::delete_many()
        .filter(tender_criterion::Column::TenderId.eq(tender_id))
        .exec(txn)
        .await?;
    for (i, c) in criteria.iter().enumerate() {
        tender_criterion::ActiveModel {
            id: Set(Uuid::new_v4()),
            tender_id: Set(tender_id),
            position: Set(i as i32),
            name: Set(c.name.trim().to_string()),
            weight: Set(c.weight),
            price: Set(c.price),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// Links resolutions of communities under the buying place; every one must be public.
pub(super) async fn write_resolutions<C: ConnectionTrait>(
    txn: &C,
    tender_id: Uuid,
    place_id: Uuid,
    ids: &[Uuid],
) -> Result<()> {
    tender_resolution::Entity::delete_many()
        .filter(tender_resolution::Column::TenderId.eq(tender_id))
        .exec(txn)
        .await?;
    let mut seen = HashSet::new();
    for rid in ids {
        if !seen.insert(*rid) {
            continue;
        }
        let r = resolution::Entity::find_by_id(*rid)
            .one(txn)
            .await?
            .ok_or(E::Missing("resolution"))?;
        let scope = scope_of(txn, r.community_id).await?;
        if !scope.path.contains(&place_id) {
            return Err(E::Invalid(
                "resolution_elsewhere",
                "A linked resolution must be of a community under the buying place.".into(),
            ));
        }
        if matches!(
            r.status.as_str(),
            "draft" | "in_review" | "approved" | "returned" | "cancelled" | "withdrawn"
        ) {
            return Err(E::Invalid(
                "resolution_not_effective",
                "Only resolutions that have taken effect can be carried out by a procurement."
                    .into(),
            ));
        }
        tender_resolution::ActiveModel {
            id: Set(Uuid::new_v4()),
            tender_id: Set(tender_id),
            resolution_id: Set(*rid),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    req: CreateTenderRequest,
) -> Result<TenderView> {
    let input = TenderInput {
        title: clean("title_required", &req.title, 200, "title")?,
        description: clean(
            "description_required",
            &req.description,
            20000,
            "description",
        )?,
        eligibility: clean(
            "eligibility_required",
            &req.eligibility,
            5000,
            "eligibility",
        )?,
        required_qualification: match req.required_qualification.as_deref().map(str::trim) {
            Some("") | None => None,
            Some(q) => Some(clean("invalid_qualification", q, 200, "qualification")?),
        },
        budget_fen: req.budget_fen,
        criteria: Some(req.criteria),
        enquiry_ends_at: req.enquiry_ends_at,
        tender_ends_at: req.tender_ends_at,
        publicity_days: req.publicity_days,
    };
    check_tender(&input)?;
    let txn = state.db.write().await?;
    let place = load_place(&*txn, req.place_id).await?;
    if !matches!(place.kind.as_str(), "subdistrict" | "district") {
        return Err(E::Invalid(
            "buyer_not_government",
            "The buyer is a subdistrict or a district.".into(),
        ));
    }
    let scope = scope_of(&*txn, place.id).await?;
    if !is_officer(actor, &scope) {
        return Err(E::Forbidden(
            "Only a government officer of this subdistrict or district creates procurements."
                .into(),
        ));
    }
    let now = clock::now();
    let id = Uuid::new_v4();
    tender::ActiveModel {
        id: Set(id),
        place_id: Set(place.id),
        title: Set(input.title.clone()),
        description: Set(input.description),
        category: Set(req.category.as_str().into()),
        budget_fen: Set(input.budget_fen),
        eligibility: Set(input.eligibility),
        required_qualification: Set(input.required_qualification),
        status: Set(TenderStatus::Planned.as_str().into()),
        enquiry_ends_at: Set(input.enquiry_ends_at),
        tender_ends_at: Set(input.tender_ends_at),
        publicity_days: Set(input.publicity_days),
        published_at: Set(None),
        opened_at: Set(None),
        bid_count: Set(None),
        award_bid_id: Set(None),
        award_proposed_at: Set(None),
        publicity_ends_at: Set(None),
        awarded_at: Set(None),
        ended_at: Set(None),
        end_reason: Set(None),
        created_by: Set(actor.id()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*txn)
    .await?;
    write_criteria(&*txn, id, input.criteria.as_deref().unwrap_or_default()).await?;
    write_resolutions(&*txn, id, place.id, &req.resolution_ids).await?;
    record(
        &*txn,
        Some(actor.id()),
        "tender.created",
        "tender",
        id,
        json!({ "title": input.title, "budget_fen": input.budget_fen }),
    )
    .await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: UpdateTenderRequest,
) -> Result<TenderView> {
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    if status_of(&t) != TenderStatus::Planned {
        return Err(E::Conflict(
            "tender_published",
            "A published tender is not edited; cancel it and publish another.".into(),
        ));
    }
    let input = TenderInput {
        title: match &req.title {
            Some(v) => clean("title_required", v, 200, "title")?,
            None => t.title.clone(),
        },
        description: match &req.description {
            Some(v) => clean("description_required", v, 20000, "description")?,
            None => t.description.clone(),
        },
        eligibility: match &req.eligibility {
            Some(v) => clean("eligibility_required", v, 5000, "eligibility")?,
            None => t.eligibility.clone(),
        },
        required_qualification: match req.required_qualification.as_deref().map(str::trim) {
            Some("") => None,
            Some(q) => Some(clean("invalid_qualification", q, 200, "qualification")?),
            None => t.required_qualification.clone(),
        },
        budget_fen: req.budget_fen.unwrap_or(t.budget_fen),
        criteria: req.criteria,
        enquiry_ends_at: req.enquiry_ends_at.unwrap_or(t.enquiry_ends_at),
        tender_ends_at: req.tender_ends_at.unwrap_or(t.tender_ends_at),
        publicity_days: req.publicity_days.unwrap_or(t.publicity_days),
    };
    check_tender(&input)?;
    let mut m: tender::ActiveModel = t.clone().into();
    m.title = Set(input.title);
    m.description = Set(input.description);
    m.eligibility = Set(input.eligibility);
    m.required_qualification = Set(input.required_qualification);
    m.budget_fen = Set(input.budget_fen);
    m.enquiry_ends_at = Set(input.enquiry_ends_at);
    m.tender_ends_at = Set(input.tender_ends_at);
    m.publicity_days = Set(input.publicity_days);
    m.updated_at = Set(clock::now());
    m.update(&*txn).await?;
    if let Some(c) = &input.criteria {
        write_criteria(&*txn, id, c).await?;
    }
    if let Some(r) = &req.resolution_ids {
        write_resolutions(&*txn, id, t.place_id, r).await?;
    }
    record(
        &*txn,
        Some(actor.id()),
        "tender.edited",
        "tender",
        id,
        json!({}),
    )
    .await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

/// Moves the tender from the state it was read in; refused if someone moved it first.
pub(super) async fn move_tender<C: ConnectionTrait>(
    txn: &C,
    t: &tender::Model,
    to: TenderStatus,
    set: Vec<(tender::Column, sea_orm::Value)>,
) -> Result<()> {
    let mut update = tender::Entity::update_many()
        .col_expr(tender::Column::Status, Expr::value(to.as_str()))
        .col_expr(tender::Column::UpdatedAt, Expr::value(clock::now()));
    for (col, value) in set {
        update = update.col_expr(col, Expr::value(value));
    }
    let done = update
        .filter(tender::Column::Id.eq(t.id))
        .filter(tender::Column::Status.eq(t.status.clone()))
        .exec(txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::Conflict(
            "invalid_transition",
            format!("The tender is no longer {}.", t.status),
        ));
    }
    Ok(())
}

pub async fn publish(state: &AppState, actor: &Actor, id: Uuid) -> Result<TenderView> {
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    if status_of(&t) != TenderStatus::Planned {
        return Err(E::Conflict(
            "invalid_transition",
            "Only a planned tender is published.".into(),
        ));
    }
    let now = clock::now();
    if t.enquiry_ends_at <= now {
        return Err(E::Invalid(
            "invalid_periods",
            "The enquiry period must end in the future; change the dates first.".into(),
        ));
    }
    move_tender(
        &*txn,
        &t,
        TenderStatus::Active,
        vec![(tender::Column::PublishedAt, Some(now).into())],
    )
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "tender.published",
        "tender",
        id,
        json!({}),
    )
    .await?;
    ocds::release(state, &*txn, id, &["tender"]).await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

pub async fn cancel(state: &AppState, actor: &Actor, id: Uuid, reason: &str) -> Result<TenderView> {
    let reason = clean("reason_required", reason, 2000, "reason")?;
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    let from = status_of(&t);
    if !matches!(
        from,
        TenderStatus::Planned | TenderStatus::Active | TenderStatus::Evaluation
    ) {
        return Err(E::Conflict(
            "invalid_transition",
            format!("A tender that is {} cannot be cancelled.", t.status),
        ));
    }
    move_tender(
        &*txn,
        &t,
        TenderStatus::Cancelled,
        vec![
            (tender::Column::EndReason, Some(reason.clone()).into()),
            (tender::Column::EndedAt, Some(clock::now()).into()),
        ],
    )
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "tender.cancelled",
        "tender",
        id,
        json!({ "reason": reason }),
    )
    .await?;
    if from != TenderStatus::Planned {
        ocds::release(state, &*txn, id, &["tenderCancellation"]).await?;
    }
    // Every organisation with a bid in is told, with the reason.
    let link = tender_link(state, id);
    for b in bidders_of(&*txn, id).await? {
        notify_members(
            state,
            &*txn,
            b.organisation_id,
            notifications::Kind::TenderCancelled,
            id,
            |u| templates::tender_cancelled(&u.language, &u.display_name, &t.title, &reason, &link),
        )
        .await?;
    }
    txn.commit().await?;
    state.mail_wake.notify_one();
    get(state, Some(actor), id).await
}

pub async fn add_documents(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    uploads: &[FileUpload],
) -> Result<TenderView> {
    let checked = files::check(uploads)?;
    {
        let t = load_tender(&state.db.conn, id).await?;
        require_officer(&state.db.conn, actor, &t).await?;
    }
    let keys = files::store(state, &checked).await?;
    let written = write_documents(state, actor, id, &checked, &keys).await;
    if written.is_err() {
        files::discard(state, &keys).await;
    }
    written?;
    get(state, Some(actor), id).await
}

pub(super) async fn write_documents(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    checked: &[files::Checked],
    keys: &[String],
) -> Result<()> {
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    let status = status_of(&t);
    if !matches!(status, TenderStatus::Planned | TenderStatus::Active) {
        return Err(E::Conflict(
            "tender_closed",
            "Documents are added before the tender period ends.".into(),
        ));
    }
    let existing = procurement_file::Entity::find()
        .filter(procurement_file::Column::OwnerId.eq(id))
        .all(&*txn)
        .await?
        .len();
    if existing + checked.len() > MAX_TENDER_DOCUMENTS {
        return Err(E::Invalid(
            "too_many_files",
            format!("A tender has at most {MAX_TENDER_DOCUMENTS} documents."),
        ));
    }
    files::record(&*txn, id, "tender", id, checked, keys, actor.id()).await?;
    record(
        &*txn,
        Some(actor.id()),
        "tender.documents_added",
        "tender",
        id,
        json!({ "sha256": checked.iter().map(|c| c.sha256.clone()).collect::<Vec<_>>() }),
    )
    .await?;
    if status == TenderStatus::Active {
        ocds::release(state, &*txn, id, &["tenderAmendment"]).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// A procurement file, for whoever may see its tender.
pub async fn file(
    state: &AppState,
    actor: Option<&Actor>,
    file_id: Uuid,
) -> Result<(procurement_file::Model, Vec<u8>)> {
    let db = &state.db.conn;
    let f = procurement_file::Entity::find_by_id(file_id)
        .one(db)
        .await?
        .ok_or(E::Missing("file"))?;
    let t = load_tender(db, f.tender_id).await?;
    if !visible(db, actor, &t).await? {
        return Err(E::Missing("file"));
    }
    let bytes = state.evidence.get(&f.storage_key).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            tracing::error!(key = %f.storage_key, "a recorded file is missing from the file store");
            E::Missing("stored file")
        } else {
            E::Storage(e)
        }
    })?;
    Ok((f, bytes))
}

/// Planned tenders are seen by their officers only; the rest is public.
pub(super) async fn visible<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    t: &tender::Model,
) -> Result<bool> {
    if status_of(t) != TenderStatus::Planned {
        return Ok(true);
    }
    match actor {
        Some(a) => Ok(is_officer(a, &scope_of(db, t.place_id).await?)),
        None => Ok(false),
    }
}
