//! Reading tenders, bids and contracts for each role.

use super::*;

pub fn ocid(state: &AppState, id: Uuid) -> String {
    format!("{}-{}", state.settings.ocid_prefix, id)
}

pub async fn get(state: &AppState, actor: Option<&Actor>, id: Uuid) -> Result<TenderView> {
    let db = &state.db.conn;
    let t = load_tender(db, id).await?;
    if !visible(db, actor, &t).await? {
        return Err(E::Missing("tender"));
    }
    let scope = scope_of(db, t.place_id).await?;
    let officer = actor.is_some_and(|a| is_officer(a, &scope));
    let place = place::Entity::find_by_id(t.place_id).one(db).await?;
    let enquiries = enquiry::Entity::find()
        .filter(enquiry::Column::TenderId.eq(id))
        .order_by_asc(enquiry::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        // Unanswered questions are seen by the officer and by the organisation that asked.
        .filter(|e| {
            e.answer.is_some() || officer || actor.is_some_and(|a| is_member(a, e.organisation_id))
        })
        .map(|e| EnquiryView {
            id: e.id,
            question: e.question,
            answer: e.answer,
            asked_at: e.created_at,
            answered_at: e.answered_at,
        })
        .collect();
    let opening = match t.opened_at {
        Some(opened_at) => Some(OpeningView {
            opened_at,
            bid_count: t.bid_count.unwrap_or(0),
            digests: bid::Entity::find()
                .filter(bid::Column::TenderId.eq(id))
                .filter(bid::Column::PriceFen.is_not_null())
                .order_by_asc(bid::Column::SubmittedAt)
                .all(db)
                .await?
                .into_iter()
                .map(|b| b.digest)
                .collect(),
        }),
        None => None,
    };
    let award = match (t.award_bid_id, t.award_proposed_at, t.publicity_ends_at) {
        (Some(bid_id), Some(proposed_at), Some(publicity_ends_at)) => {
            let st = standing(db, &t).await?;
            let b = bid::Entity::find_by_id(bid_id)
                .one(db)
                .await?
                .ok_or(E::Missing("bid"))?;
            let org = load_org(db, b.organisation_id).await?;
            Some(AwardView {
                bid_id,
                organisation_id: org.id,
                organisation_name: org.name,
                price_fen: b.price_fen.unwrap_or(0),
                total: st
                    .ranking
                    .iter()
                    .find(|(_, r)| r.id == bid_id)
                    .map(|(s, _)| s.total.to_fixed2())
                    .unwrap_or_default(),
                proposed_at,
                publicity_ends_at,
                awarded_at: t.awarded_at,
            })
        }
        _ => None,
    };
    let complaint_rows = complaint::Entity::find()
        .filter(complaint::Column::TenderId.eq(id))
        .order_by_asc(complaint::Column::CreatedAt)
        .all(db)
        .await?;
    let names = org_names(
        db,
        complaint_rows.iter().map(|c| c.organisation_id).collect(),
    )
    .await?;
    let complaints = complaint_rows
        .into_iter()
        .filter(|c| {
            c.status != "open" || officer || actor.is_some_and(|a| is_member(a, c.organisation_id))
        })
        .map(|c| ComplaintView {
            id: c.id,
            organisation_name: (officer || actor.is_some_and(|a| is_member(a, c.organisation_id)))
                .then(|| names.get(&c.organisation_id).cloned().unwrap_or_default()),
            body: c.body,
            status: c.status,
            answer: c.answer,
            created_at: c.created_at,
            answered_at: c.answered_at,
        })
        .collect();
    let contract_id = contract::Entity::find()
        .filter(contract::Column::TenderId.eq(id))
        .one(db)
        .await?
        .map(|c| c.id);
    let mut abilities = TenderAbilities {
        manage: officer,
        ..Default::default()
    };
    if let Some(a) = actor {
        for af in &a.affiliations {
            let org = organisation::Entity::find_by_id(af.organisation_id)
                .one(db)
                .await?;
            if let Some(org) = org
                && org.kind == "social_organisation"
                && represents(db, a, org.id).await?
                && !abilities.bid_as.contains(&org.id)
            {
                abilities.bid_as.push(org.id);
            }
        }
        abilities.evaluate = my_seat(db, a, id).await?.is_some();
    }
    Ok(TenderView {
        id: t.id,
        ocid: ocid(state, t.id),
        place_id: t.place_id,
        place_name: place.map(|p| p.name).unwrap_or_default(),
        title: t.title.clone(),
        description: t.description.clone(),
        category: category_of(&t),
        resolution_ids: resolutions_of(db, id).await?,
        budget_fen: t.budget_fen,
        currency: "CNY".into(),
        eligibility: t.eligibility.clone(),
        required_qualification: t.required_qualification.clone(),
        criteria: criteria_of(db, id)
            .await?
            .into_iter()
            .map(criterion_view)
            .collect(),
        documents: files::of_owner(db, state, id).await?,
        enquiries,
        status: status_of(&t),
        enquiry_ends_at: t.enquiry_ends_at,
        tender_ends_at: t.tender_ends_at,
        publicity_days: t.publicity_days,
        published_at: t.published_at,
        opening,
        award,
        complaints,
        contract_id,
        end_reason: t.end_reason.clone(),
        created_at: t.created_at,
        updated_at: t.updated_at,
        abilities,
    })
}

pub async fn resolutions_of<C: ConnectionTrait>(db: &C, tender_id: Uuid) -> Result<Vec<Uuid>> {
    Ok(tender_resolution::Entity::find()
        .filter(tender_resolution::Column::TenderId.eq(tender_id))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.resolution_id)
        .collect())
}

/// Public tenders (and the officer's planned ones), newest first; filtered by place (and what
/// is under it) and status.
pub async fn list(
    state: &AppState,
    actor: Option<&Actor>,
    place_id: Option<Uuid>,
    status: Option<TenderStatus>,
) -> Result<Vec<TenderSummary>> {
    let db = &state.db.conn;
    let mut q = tender::Entity::find().order_by_desc(tender::Column::CreatedAt);
    if let Some(s) = status {
        q = q.filter(tender::Column::Status.eq(s.as_str()));
    }
    let rows = q.all(db).await?;
    let mut out = Vec::new();
    let mut places: HashMap<Uuid, (String, PlaceScope)> = HashMap::new();
    for t in rows {
        if let std::collections::hash_map::Entry::Vacant(slot) = places.entry(t.place_id) {
            let p = load_place(db, t.place_id).await?;
            slot.insert((p.name, scope_of(db, t.place_id).await?));
        }
        let (name, scope) = &places[&t.place_id];
        if let Some(filter) = place_id
            && !scope.path.contains(&filter)
        {
            continue;
        }
        if status_of(&t) == TenderStatus::Planned && !actor.is_some_and(|a| is_officer(a, scope)) {
            continue;
        }
        out.push(TenderSummary {
            id: t.id,
            ocid: ocid(state, t.id),
            place_name: name.clone(),
            title: t.title.clone(),
            category: category_of(&t),
            budget_fen: t.budget_fen,
            status: status_of(&t),
            tender_ends_at: t.tender_ends_at,
            updated_at: t.updated_at,
        });
    }
    Ok(out)
}
