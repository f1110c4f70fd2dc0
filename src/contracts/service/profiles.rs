//! Bidder profiles: the organisations that may bid, their qualifications and past performance.

use super::*;

pub async fn profile(
    state: &AppState,
    actor: Option<&Actor>,
    org_id: Uuid,
) -> Result<BidderProfileView> {
    let db = &state.db.conn;
    let org = load_org(db, org_id).await?;
    let p = bidder_profile::Entity::find_by_id(org_id).one(db).await?;
    let quals = qualification::Entity::find()
        .filter(qualification::Column::OrganisationId.eq(org_id))
        .order_by_asc(qualification::Column::ValidUntil)
        .all(db)
        .await?;
    let today = crate::resolutions::service::today();
    let contracts = contract::Entity::find()
        .filter(contract::Column::OrganisationId.eq(org_id))
        .order_by_desc(contract::Column::CreatedAt)
        .all(db)
        .await?;
    let scored: Vec<i64> = contracts
        .iter()
        .filter_map(|c| c.performance_score.map(i64::from))
        .collect();
    let average_performance = (!scored.is_empty()).then(|| {
        Ratio::new(i128::from(scored.iter().sum::<i64>()), scored.len() as i128).to_fixed2()
    });
    let editable = match actor {
        Some(a) => operates(a) || represents(db, a, org_id).await?,
        None => false,
    };
    Ok(BidderProfileView {
        organisation_id: org.id,
        name: org.name,
        credit_code: org.credit_code,
        service_areas: p
            .as_ref()
            .and_then(|p| serde_json::from_str::<Vec<ServiceCategory>>(&p.service_areas).ok())
            .unwrap_or_default(),
        description: p.map(|p| p.description).unwrap_or_default(),
        qualifications: quals
            .into_iter()
            .map(|q| {
                let valid_until = q.valid_until.parse().unwrap_or(today);
                QualificationView {
                    id: q.id,
                    name: q.name,
                    issuer: q.issuer,
                    number: q.number,
                    valid_until,
                    expired: valid_until < today,
                }
            })
            .collect(),
        past_contracts: contracts
            .into_iter()
            .map(|c| PastContract {
                contract_id: c.id,
                tender_id: c.tender_id,
                title: c.title,
                value_fen: c.value_fen,
                status: c.status,
                performance_score: c.performance_score,
            })
            .collect(),
        average_performance,
        editable,
    })
}

pub async fn update_profile(
    state: &AppState,
    actor: &Actor,
    org_id: Uuid,
    req: UpdateBidderProfileRequest,
) -> Result<BidderProfileView> {
    let code = req.credit_code.trim().to_uppercase();
    if !crate::communities::register::valid_credit_code(&code) {
        return Err(E::Invalid(
            "invalid_credit_code",
            "The unified social credit code is 18 characters with a valid check character.".into(),
        ));
    }
    if req.description.chars().count() > 5000 {
        return Err(E::Invalid(
            "description_too_long",
            "The description has at most 5000 characters.".into(),
        ));
    }
    let mut areas = req.service_areas.clone();
    areas.dedup();
    let txn = state.db.write().await?;
    let org = load_org(&*txn, org_id).await?;
    if !operates(actor) {
        require_representative(&*txn, actor, org_id).await?;
    }
    if org.kind != "social_organisation" {
        return Err(E::Invalid(
            "not_a_social_organisation",
            "Only social organisations keep a bidder profile.".into(),
        ));
    }
    organisation::Entity::update_many()
        .col_expr(organisation::Column::CreditCode, Expr::value(code.clone()))
        .filter(organisation::Column::Id.eq(org_id))
        .exec(&*txn)
        .await?;
    let now = clock::now();
    let areas_json = serde_json::to_string(&areas).unwrap_or_else(|_| "[]".into());
    match bidder_profile::Entity::find_by_id(org_id)
        .one(&*txn)
        .await?
    {
        Some(p) => {
            let mut p: bidder_profile::ActiveModel = p.into();
            p.service_areas = Set(areas_json);
            p.description = Set(req.description.trim().to_string());
            p.updated_by = Set(actor.id());
            p.updated_at = Set(now);
            p.update(&*txn).await?;
        }
        None => {
            bidder_profile::ActiveModel {
                organisation_id: Set(org_id),
                service_areas: Set(areas_json),
                description: Set(req.description.trim().to_string()),
                updated_by: Set(actor.id()),
                updated_at: Set(now),
            }
            .insert(&*txn)
            .await?;
        }
    }
    record(
        &*txn,
        Some(actor.id()),
        "bidder_profile.updated",
        "organisation",
        org_id,
        json!({ "credit_code": code }),
    )
    .await?;
    txn.commit().await?;
    profile(state, Some(actor), org_id).await
}

pub async fn add_qualification(
    state: &AppState,
    actor: &Actor,
    org_id: Uuid,
    req: AddQualificationRequest,
) -> Result<BidderProfileView> {
    let name = clean("name_required", &req.name, 200, "qualification's name")?;
    let issuer = clean("issuer_required", &req.issuer, 200, "issuer")?;
    let number = clean("number_required", &req.number, 100, "certificate number")?;
    let txn = state.db.write().await?;
    load_org(&*txn, org_id).await?;
    if !operates(actor) {
        require_representative(&*txn, actor, org_id).await?;
    }
    let id = Uuid::new_v4();
    qualification::ActiveModel {
        id: Set(id),
        organisation_id: Set(org_id),
        name: Set(name.clone()),
        issuer: Set(issuer),
        number: Set(number),
        valid_until: Set(req.valid_until.to_string()),
        created_by: Set(actor.id()),
        created_at: Set(clock::now()),
    }
    .insert(&*txn)
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "qualification.added",
        "organisation",
        org_id,
        json!({ "qualification_id": id, "name": name, "valid_until": req.valid_until }),
    )
    .await?;
    txn.commit().await?;
    profile(state, Some(actor), org_id).await
}

pub async fn remove_qualification(
    state: &AppState,
    actor: &Actor,
    org_id: Uuid,
    qualification_id: Uuid,
) -> Result<BidderProfileView> {
    let txn = state.db.write().await?;
    if !operates(actor) {
        require_representative(&*txn, actor, org_id).await?;
    }
    let done = qualification::Entity::delete_many()
        .filter(qualification::Column::Id.eq(qualification_id))
        .filter(qualification::Column::OrganisationId.eq(org_id))
        .exec(&*txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(E::Missing("qualification"));
    }
    record(
        &*txn,
        Some(actor.id()),
        "qualification.removed",
        "organisation",
        org_id,
        json!({ "qualification_id": qualification_id }),
    )
    .await?;
    txn.commit().await?;
    profile(state, Some(actor), org_id).await
}

/// Why the organisation may not bid on this tender, if it may not.
pub(super) async fn ineligibility<C: ConnectionTrait>(
    db: &C,
    t: &tender::Model,
    org: &organisation::Model,
) -> Result<Option<String>> {
    if org.kind != "social_organisation" {
        return Ok(Some("Only social organisations bid for services.".into()));
    }
    if !org
        .credit_code
        .as_deref()
        .is_some_and(crate::communities::register::valid_credit_code)
    {
        return Ok(Some(
            "The organisation's profile needs a valid unified social credit code.".into(),
        ));
    }
    if let Some(required) = &t.required_qualification {
        let deadline = (t.tender_ends_at + Duration::hours(8)).date_naive();
        let held = qualification::Entity::find()
            .filter(qualification::Column::OrganisationId.eq(org.id))
            .filter(qualification::Column::Name.eq(required.clone()))
            .all(db)
            .await?
            .into_iter()
            .any(|q| {
                q.valid_until
                    .parse()
                    .is_ok_and(|d: chrono::NaiveDate| d >= deadline)
            });
        if !held {
            return Ok(Some(format!(
                "The tender requires the qualification \"{required}\", valid at the deadline."
            )));
        }
    }
    Ok(None)
}

/// Administrators keep every organisation's profile; anyone else only their own.
fn operates(actor: &Actor) -> bool {
    crate::policy::allows(actor, crate::policy::Action::OperatePlatform, None)
}
