//! Co-signing (附议): a member co-signs once, may withdraw while the proposal collects, and a
//! grid worker or committee member co-signs for a person of the register on a signed paper,
//! which counts once a second person confirms it.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

use super::error::ProposalsError as E;
use super::model::*;
use super::service::{
    Access, adjust_cosign_count, advance_if_supported, apply, load, load_visible, notify_expired,
    status_of, view_one,
};
use super::states::Event;
use crate::audit::{self, Change};
use crate::clock;
use crate::entities::assisted_act::AssistedKind;
use crate::entities::{proposal, proposal_cosign};
use crate::policy::{Action, Actor, authorize};
use crate::register::model::{AssistRequest, AssistedActView, AssistedDetail};
use crate::register::service::assisted::{self, NewAct};
use crate::state::AppState;

type Result<T> = std::result::Result<T, E>;

pub async fn cosign(state: &AppState, actor: &Actor, id: Uuid) -> Result<ProposalView> {
    let txn = state.db.write().await?;
    let (p, scope, _) = load_visible(&*txn, Some(actor), id).await?;
    authorize(actor, Action::Participate, Some(&scope))?;
    if p.proposer_id == actor.id() {
        return Err(E::Conflict(
            "own_proposal",
            "Your own proposal already counts you as its first supporter.".into(),
        ));
    }
    if let Err(e) = takes_cosigns(&p) {
        // The deadline passed and nothing has expired the proposal yet: this request does.
        if matches!(e, E::Conflict("proposal_expired", _)) {
            apply(&*txn, &p, Event::DeadlinePassed, None, None).await?;
            notify_expired(state, &*txn, &p).await?;
            super::cache::commit(state, txn).await?;
            state.mail_wake.notify_one();
        }
        return Err(e);
    }
    if assisted::live_for_account(
        &*txn,
        AssistedKind::Cosign,
        p.id,
        p.community_id,
        actor.id(),
    )
    .await?
    .is_some()
    {
        return Err(E::Conflict(
            "already_cosigned",
            "A grid worker has co-signed this proposal for you on paper.".into(),
        ));
    }
    let existing = proposal_cosign::Entity::find()
        .filter(proposal_cosign::Column::ProposalId.eq(p.id))
        .filter(proposal_cosign::Column::UserId.eq(actor.id()))
        .one(&*txn)
        .await?;
    match existing {
        Some(c) if c.withdrawn_at.is_none() => {
            return Err(E::Conflict(
                "already_cosigned",
                "You have already co-signed this proposal.".into(),
            ));
        }
        Some(_) => {
            return Err(E::Conflict(
                "cosign_withdrawn",
                "You withdrew your co-signature; each person co-signs once.".into(),
            ));
        }
        None => {}
    }
    proposal_cosign::ActiveModel {
        id: Set(Uuid::new_v4()),
        proposal_id: Set(p.id),
        user_id: Set(actor.id()),
        created_at: Set(clock::now()),
        withdrawn_at: Set(None),
    }
    .insert(&*txn)
    .await?;
    adjust_cosign_count(&*txn, p.id, 1).await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "proposal.cosigned",
            object_type: "proposal",
            object_id: p.id.to_string(),
            summary: json!({}),
        },
    )
    .await?;
    let p = load(&*txn, id).await?;
    let p = advance_if_supported(state, &*txn, &p).await?;
    super::cache::commit(state, txn).await?;
    state.mail_wake.notify_one();
    view_one(&state.db.conn, Some(actor), p, Access::Member).await
}

pub async fn withdraw_cosign(state: &AppState, actor: &Actor, id: Uuid) -> Result<ProposalView> {
    let txn = state.db.write().await?;
    let (p, _, _) = load_visible(&*txn, Some(actor), id).await?;
    if status_of(&p) != ProposalStatus::Collecting {
        return Err(E::Conflict(
            "cosigning_closed",
            "Co-signatures can be withdrawn only while the proposal is collecting them.".into(),
        ));
    }
    let withdrawn = proposal_cosign::Entity::update_many()
        .col_expr(
            proposal_cosign::Column::WithdrawnAt,
            Expr::value(Some(clock::now())),
        )
        .filter(proposal_cosign::Column::ProposalId.eq(p.id))
        .filter(proposal_cosign::Column::UserId.eq(actor.id()))
        .filter(proposal_cosign::Column::WithdrawnAt.is_null())
        .exec(&*txn)
        .await?;
    if withdrawn.rows_affected != 1 {
        return Err(E::Conflict(
            "not_cosigned",
            "You have no co-signature on this proposal to withdraw.".into(),
        ));
    }
    adjust_cosign_count(&*txn, p.id, -1).await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "proposal.cosign_withdrawn",
            object_type: "proposal",
            object_id: p.id.to_string(),
            summary: json!({}),
        },
    )
    .await?;
    let p = load(&*txn, id).await?;
    super::cache::commit(state, txn).await?;
    view_one(&state.db.conn, Some(actor), p, Access::Member).await
}

/// A proposal someone acts on for a person of the register: grid workers see it through the
/// person they act for (`person_to_assist` checks that), so drafts and hidden ones aside.
async fn load_acted_on<C: sea_orm::ConnectionTrait>(db: &C, id: Uuid) -> Result<proposal::Model> {
    let p = load(db, id).await?;
    if status_of(&p) == ProposalStatus::Draft {
        return Err(E::NotFound);
    }
    if p.hidden_at.is_some() {
        return Err(E::Hidden);
    }
    Ok(p)
}

/// A proposal takes co-signatures while it collects them or is being moderated.
fn takes_cosigns(p: &proposal::Model) -> Result<()> {
    let status = status_of(p);
    if status == ProposalStatus::Collecting && p.cosign_deadline.is_some_and(|d| d <= clock::now())
    {
        return Err(E::Conflict(
            "proposal_expired",
            "The co-signing period of this proposal has ended.".into(),
        ));
    }
    if !matches!(
        status,
        ProposalStatus::Collecting
            | ProposalStatus::InModeration
            | ProposalStatus::ChangesRequested
    ) {
        return Err(E::Conflict(
            "cosigning_closed",
            format!(
                "A proposal in state {} takes no co-signatures.",
                status.as_str()
            ),
        ));
    }
    Ok(())
}

/// A grid worker or committee member co-signs for a person of the register on a signed
/// paper. It waits for a second person's confirmation before it counts.
pub async fn assist(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: AssistRequest,
) -> Result<AssistedActView> {
    let txn = state.db.write().await?;
    let p = load_acted_on(&*txn, id).await?;
    let person = assisted::person_to_assist(&*txn, actor, p.community_id, req.person_id).await?;
    takes_cosigns(&p)?;
    if let Some(user_id) = person.user_id {
        if user_id == p.proposer_id {
            return Err(E::Conflict(
                "own_proposal",
                "This person proposed it; their proposal already counts them.".into(),
            ));
        }
        let own = proposal_cosign::Entity::find()
            .filter(proposal_cosign::Column::ProposalId.eq(p.id))
            .filter(proposal_cosign::Column::UserId.eq(user_id))
            .one(&*txn)
            .await?;
        if own.is_some() {
            return Err(E::Conflict(
                "already_cosigned",
                "This person has co-signed with their own account; each person co-signs once."
                    .into(),
            ));
        }
    }
    let a = assisted::record(
        &*txn,
        actor,
        &person,
        NewAct {
            kind: AssistedKind::Cosign,
            object_id: p.id,
            detail: AssistedDetail::default(),
            reference: &req.reference,
            needs_confirmation: true,
            replaces: false,
        },
    )
    .await?;
    let view = assisted::view(&*txn, a, person.name).await?;
    txn.commit().await?;
    Ok(view)
}

/// A second person confirms a co-signature recorded for someone: it counts, and may bring
/// the proposal to the committee.
pub async fn confirm_assisted(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    act_id: Uuid,
) -> Result<ProposalView> {
    let txn = state.db.write().await?;
    let p = load_acted_on(&*txn, id).await?;
    let (a, _) = assisted::load(&*txn, act_id).await?;
    if a.kind != AssistedKind::Cosign || a.object_id != p.id {
        return Err(crate::register::error::RegisterError::ActNotFound.into());
    }
    takes_cosigns(&p)?;
    assisted::decide(&*txn, actor, act_id, true, None).await?;
    adjust_cosign_count(&*txn, p.id, 1).await?;
    let p = load(&*txn, id).await?;
    let p = advance_if_supported(state, &*txn, &p).await?;
    super::cache::commit(state, txn).await?;
    state.mail_wake.notify_one();
    view_one(&state.db.conn, Some(actor), p, Access::Member).await
}
