//! Membership requests and their review.

use super::*;

/// Views of many memberships with four queries in all, not four per membership.
pub(super) async fn membership_views<C: ConnectionTrait>(
    db: &C,
    memberships: Vec<membership::Model>,
) -> Result<Vec<MembershipView>> {
    fn ids<T>(items: &[membership::Model], f: impl Fn(&membership::Model) -> Option<T>) -> Vec<T> {
        items.iter().filter_map(f).collect()
    }
    let communities: HashMap<Uuid, String> = place::Entity::find()
        .filter(place::Column::Id.is_in(ids(&memberships, |m| Some(m.community_id))))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let people = display_names(db, memberships.iter().map(|m| m.user_id)).await?;
    let units: HashMap<Uuid, unit::Model> = unit::Entity::find()
        .filter(unit::Column::Id.is_in(ids(&memberships, |m| m.unit_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let buildings: HashMap<Uuid, String> = building::Entity::find()
        .filter(
            building::Column::Id.is_in(units.values().map(|u| u.building_id).collect::<Vec<_>>()),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|b| (b.id, b.name))
        .collect();
    Ok(memberships
        .into_iter()
        .map(|m| MembershipView {
            id: m.id,
            community_id: m.community_id,
            community_name: communities
                .get(&m.community_id)
                .cloned()
                .unwrap_or_default(),
            user_id: m.user_id,
            display_name: people.get(&m.user_id).cloned().unwrap_or_default(),
            unit_id: m.unit_id,
            unit_label: m.unit_id.and_then(|u| units.get(&u)).map(|u| {
                format!(
                    "{} {}",
                    buildings.get(&u.building_id).cloned().unwrap_or_default(),
                    u.number
                )
            }),
            household: m.household,
            owner: m.owner,
            status: MembershipStatus::parse(&m.status),
            note: m.note,
            decision_reason: m.decision_reason,
            created_at: m.created_at,
            decided_at: m.decided_at,
        })
        .collect())
}

pub(super) async fn membership_view<C: ConnectionTrait>(
    db: &C,
    m: membership::Model,
) -> Result<MembershipView> {
    Ok(membership_views(db, vec![m]).await?.remove(0))
}

pub async fn join(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    req: JoinRequest,
) -> Result<MembershipView> {
    if !actor.email_verified() {
        return Err(E::EmailUnverified);
    }
    if !req.household && !req.owner {
        return Err(E::Invalid(
            "invalid_claim",
            "Say whether you live in the unit, own it, or both.".into(),
        ));
    }
    let txn = state.db.write().await?;
    load_community(&*txn, community_id).await?;
    let b = find_building(&*txn, community_id, &req.building)
        .await?
        .ok_or(E::BuildingNotFound)?;
    let u = find_unit(&*txn, b.id, &req.unit_number)
        .await?
        .ok_or(E::UnitNotFound)?;
    let open = membership::Entity::find()
        .filter(membership::Column::UserId.eq(actor.id()))
        .filter(membership::Column::CommunityId.eq(community_id))
        .filter(membership::Column::UnitId.eq(u.id))
        .filter(membership::Column::Status.is_in([
            MembershipStatus::Pending.as_str(),
            MembershipStatus::Verified.as_str(),
        ]))
        .one(&*txn)
        .await?;
    if open.is_some() {
        return Err(E::Duplicate(
            "membership_exists",
            "You already have a request or membership for this unit.".into(),
        ));
    }
    let m = membership::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(actor.id()),
        community_id: Set(community_id),
        unit_id: Set(Some(u.id)),
        household: Set(req.household),
        owner: Set(req.owner),
        status: Set(MembershipStatus::Pending.as_str().into()),
        note: Set(req
            .note
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())),
        decided_by: Set(None),
        decided_at: Set(None),
        decision_reason: Set(None),
        created_at: Set(clock::now()),
    }
    .insert(&*txn)
    .await?;
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "membership.requested",
        object_type: "membership",
        object_id: m.id.to_string(),
        summary: json!({ "community_id": community_id, "unit_id": u.id, "household": m.household, "owner": m.owner }),
    })
    .await?;
    txn.commit().await?;
    membership_view(&state.db.conn, m).await
}

pub async fn list_memberships<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    community_id: Uuid,
    status: Option<MembershipStatus>,
) -> Result<Vec<MembershipView>> {
    load_community(db, community_id).await?;
    authorize_at(db, actor, Action::ReviewMemberships, community_id).await?;
    let mut q = membership::Entity::find()
        .filter(membership::Column::CommunityId.eq(community_id))
        .order_by_asc(membership::Column::CreatedAt);
    if let Some(s) = status {
        q = q.filter(membership::Column::Status.eq(s.as_str()));
    }
    membership_views(db, q.limit(500).all(db).await?).await
}

pub async fn my_memberships<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
) -> Result<Vec<MembershipView>> {
    let mine = membership::Entity::find()
        .filter(membership::Column::UserId.eq(actor.id()))
        .order_by_desc(membership::Column::CreatedAt)
        .all(db)
        .await?;
    membership_views(db, mine).await
}

/// A committee member verifies (as household member and/or owner) or rejects, with a reason.
pub async fn decide(
    state: &AppState,
    actor: &Actor,
    membership_id: Uuid,
    req: DecisionRequest,
) -> Result<MembershipView> {
    let reason = req
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    match req.verdict {
        Verdict::Reject if reason.is_none() => {
            return Err(E::Invalid(
                "reason_required",
                "Give the reason for rejecting; the person will see it.".into(),
            ));
        }
        Verdict::Verify if !req.household && !req.owner => {
            return Err(E::Invalid(
                "invalid_claim",
                "Verify as household member, owner, or both.".into(),
            ));
        }
        _ => {}
    }
    let txn = state.db.write().await?;
    let m = membership::Entity::find_by_id(membership_id)
        .one(&*txn)
        .await?
        .ok_or(E::MembershipNotFound)?;
    authorize_at(&*txn, actor, Action::ReviewMemberships, m.community_id).await?;
    let now = clock::now();
    let status = match req.verdict {
        Verdict::Verify => MembershipStatus::Verified,
        Verdict::Reject => MembershipStatus::Rejected,
    };
    let (household, owner) = match req.verdict {
        Verdict::Verify => (req.household, req.owner),
        Verdict::Reject => (m.household, m.owner),
    };
    let changed = membership::Entity::update_many()
        .col_expr(membership::Column::Status, Expr::value(status.as_str()))
        .col_expr(membership::Column::Household, Expr::value(household))
        .col_expr(membership::Column::Owner, Expr::value(owner))
        .col_expr(membership::Column::DecidedBy, Expr::value(Some(actor.id())))
        .col_expr(membership::Column::DecidedAt, Expr::value(Some(now)))
        .col_expr(
            membership::Column::DecisionReason,
            Expr::value(reason.clone()),
        )
        .filter(membership::Column::Id.eq(m.id))
        .filter(membership::Column::Status.eq(MembershipStatus::Pending.as_str()))
        .exec(&*txn)
        .await?;
    if changed.rows_affected != 1 {
        return Err(E::State(
            "membership_decided",
            "This request has already been decided.".into(),
        ));
    }
    if status == MembershipStatus::Verified {
        let account = user::Entity::find_by_id(m.user_id)
            .one(&*txn)
            .await?
            .filter(|u| u.deleted_at.is_none())
            .ok_or(E::PersonNotFound)?;
        links::link_verified(
            &*txn,
            m.community_id,
            &account,
            &links::Claim {
                unit_id: m.unit_id,
                household,
                owner,
            },
            &links::Evidence {
                person_id: req.person_id,
                document_last4: req.document_last4.map(Text::into_string),
                certificate: req
                    .certificate
                    .map(|c| c.chars().filter(|c| !c.is_whitespace()).collect()),
            },
            &Why {
                by: Some(actor.id()),
                reason: "membership verified",
            },
        )
        .await?;
        if household {
            grant_in(
                &*txn,
                m.user_id,
                m.community_id,
                Role::Resident,
                Some(actor.id()),
            )
            .await?;
        }
        if owner {
            grant_in(
                &*txn,
                m.user_id,
                m.community_id,
                Role::Owner,
                Some(actor.id()),
            )
            .await?;
        }
    }
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: if status == MembershipStatus::Verified {
                "membership.verified"
            } else {
                "membership.rejected"
            },
            object_type: "membership",
            object_id: m.id.to_string(),
            summary: json!({ "household": household, "owner": owner, "reason": reason }),
        },
    )
    .await?;
    let person = user::Entity::find_by_id(m.user_id).one(&*txn).await?;
    let community = load_place(&*txn, m.community_id).await?;
    if let Some(person) = person.filter(|p| p.deleted_at.is_none()) {
        let mail = templates::membership_decided(
            &person.language,
            &person.display_name,
            &community.name,
            status == MembershipStatus::Verified,
            reason.as_deref(),
        );
        notifications::notify(
            state,
            &*txn,
            notifications::Kind::MembershipDecided,
            Some(m.id),
            person.id,
            &person.email,
            mail,
        )
        .await?;
    }
    let m = membership::Entity::find_by_id(m.id)
        .one(&*txn)
        .await?
        .ok_or(E::MembershipNotFound)?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    state.announce_revocation(m.user_id).await;
    membership_view(&state.db.conn, m).await
}
