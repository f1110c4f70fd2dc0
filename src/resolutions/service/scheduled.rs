//! What the scheduler does to resolutions as their periods end.

use super::*;

/// Starts resolutions whose disclosure ended, and marks overdue resolutions and milestones,
/// mailing the responsible party and the committee in the same transaction as the mark. Every
/// step is a conditional update, so several processes may run this at once and each email
/// goes out once.
pub async fn run_due(state: &AppState) -> Result<usize> {
    let now = clock::now();
    let mut done = 0;
    let disclosed: Vec<Uuid> = resolution::Entity::find()
        .select_only()
        .column(resolution::Column::Id)
        .filter(resolution::Column::Status.eq(ResolutionStatus::Disclosure.as_str()))
        .filter(resolution::Column::DisclosureEndsAt.lte(now))
        .limit(100)
        .into_tuple()
        .all(&state.db.conn)
        .await?;
    for id in disclosed {
        if start_if_due(state, id).await? {
            done += 1;
        }
    }
    let late = resolution::Entity::find()
        .filter(resolution::Column::Status.eq(ResolutionStatus::InProgress.as_str()))
        .filter(resolution::Column::DueAt.lte(now))
        .limit(100)
        .all(&state.db.conn)
        .await?;
    for r in late {
        let txn = state.db.write().await?;
        match move_to(
            &*txn,
            &r,
            Event::DeadlinePassed,
            vec![(resolution::Column::OverdueAt, Some(now).into())],
        )
        .await
        {
            Ok(_) => {}
            Err(E::InvalidTransition { .. }) => continue,
            Err(e) => return Err(e),
        }
        record(
            &*txn,
            None,
            "resolution.overdue",
            r.id,
            json!({ "deadline": r.deadline }),
        )
        .await?;
        mail_overdue(state, &*txn, &r, None).await?;
        txn.commit().await?;
        done += 1;
    }
    let milestones = resolution_milestone::Entity::find()
        .filter(resolution_milestone::Column::DueAt.lte(now))
        .filter(resolution_milestone::Column::DoneAt.is_null())
        .filter(resolution_milestone::Column::OverdueAt.is_null())
        .limit(200)
        .all(&state.db.conn)
        .await?;
    for m in milestones {
        let txn = state.db.write().await?;
        let r = load(&*txn, m.resolution_id).await?;
        if !matches!(
            status_of(&r),
            ResolutionStatus::InProgress | ResolutionStatus::Overdue
        ) {
            continue;
        }
        let marked = resolution_milestone::Entity::update_many()
            .col_expr(
                resolution_milestone::Column::OverdueAt,
                Expr::value(Some(now)),
            )
            .filter(resolution_milestone::Column::Id.eq(m.id))
            .filter(resolution_milestone::Column::OverdueAt.is_null())
            .filter(resolution_milestone::Column::DoneAt.is_null())
            .exec(&*txn)
            .await?;
        if marked.rows_affected != 1 {
            continue;
        }
        record(
            &*txn,
            None,
            "milestone.overdue",
            r.id,
            json!({ "milestone_id": m.id, "title": m.title }),
        )
        .await?;
        mail_overdue(state, &*txn, &r, Some(&m)).await?;
        txn.commit().await?;
        done += 1;
    }
    if done > 0 {
        state.mail_wake.notify_one();
    }
    Ok(done)
}

/// Members of the responsible organisation and the community's committee.
pub(super) async fn accountable_people<C: ConnectionTrait>(
    txn: &C,
    r: &resolution::Model,
) -> Result<Vec<user::Model>> {
    let mut ids: Vec<Uuid> = Vec::new();
    if let Some(org) = r.responsible_org_id {
        ids.extend(
            organisation_member::Entity::find()
                .select_only()
                .column(organisation_member::Column::UserId)
                .filter(organisation_member::Column::OrganisationId.eq(org))
                .into_tuple::<Uuid>()
                .all(txn)
                .await?,
        );
    }
    ids.extend(
        role_grant::Entity::find()
            .select_only()
            .column(role_grant::Column::UserId)
            .filter(role_grant::Column::PlaceId.eq(r.community_id))
            .filter(role_grant::Column::Role.is_in([
                Role::CommitteeMember.as_str(),
                Role::PartySecretary.as_str(),
            ]))
            .into_tuple::<Uuid>()
            .all(txn)
            .await?,
    );
    ids.sort();
    ids.dedup();
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .filter(user::Column::DeletedAt.is_null())
        .all(txn)
        .await?)
}

pub(super) async fn mail_overdue<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    r: &resolution::Model,
    milestone: Option<&resolution_milestone::Model>,
) -> Result<()> {
    let url = link(state, r.id);
    let deadline = match milestone {
        Some(m) => m.deadline.clone(),
        None => r.deadline.clone().unwrap_or_default(),
    };
    let rows = accountable_people(txn, r)
        .await?
        .into_iter()
        .map(|u| {
            let mail = templates::resolution_overdue(
                &u.language,
                &u.display_name,
                &r.title,
                milestone.map(|m| m.title.as_str()),
                &deadline,
                &url,
            );
            notifications::Recipient {
                user_id: u.id,
                email: u.email,
                mail,
            }
        })
        .collect();
    notifications::notify_many(
        state,
        txn,
        notifications::Kind::ResolutionOverdue,
        Some(milestone.map_or(r.id, |m| m.id)),
        rows,
    )
    .await?;
    Ok(())
}
