//! A community's resolution settings.

use super::*;

pub async fn settings_of<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
) -> Result<ResolutionSettingsView> {
    let found = resolution_setting::Entity::find_by_id(community_id)
        .one(db)
        .await?;
    Ok(match found {
        Some(s) => ResolutionSettingsView {
            community_id,
            disclosure_days: s.disclosure_days,
            review_budget_fen: s.review_budget_fen,
            rating_days: s.rating_days,
        },
        None => ResolutionSettingsView {
            community_id,
            disclosure_days: DEFAULT_DISCLOSURE_DAYS,
            review_budget_fen: DEFAULT_REVIEW_BUDGET_FEN,
            rating_days: DEFAULT_RATING_DAYS,
        },
    })
}

pub async fn get_settings(state: &AppState, community_id: Uuid) -> Result<ResolutionSettingsView> {
    load_community(&state.db.conn, community_id).await?;
    settings_of(&state.db.conn, community_id).await
}

pub async fn update_settings(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    req: ResolutionSettingsRequest,
) -> Result<ResolutionSettingsView> {
    let txn = state.db.write().await?;
    load_community(&*txn, community_id).await?;
    let scope = scope_of(&*txn, community_id).await?;
    if !allows(actor, Action::Moderate, Some(&scope)) {
        return Err(E::Forbidden(
            "Only the community's committee sets its resolution rules.".into(),
        ));
    }
    let before = settings_of(&*txn, community_id).await?;
    let model = resolution_setting::ActiveModel {
        community_id: Set(community_id),
        disclosure_days: Set(req.disclosure_days),
        review_budget_fen: Set(req.review_budget_fen),
        rating_days: Set(req.rating_days),
        updated_at: Set(clock::now()),
    };
    if resolution_setting::Entity::find_by_id(community_id)
        .one(&*txn)
        .await?
        .is_some()
    {
        model.update(&*txn).await?;
    } else {
        model.insert(&*txn).await?;
    }
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "community.resolution_rules_changed",
        object_type: "place",
        object_id: community_id.to_string(),
        summary: json!({
            "before": { "disclosure_days": before.disclosure_days, "review_budget_fen": before.review_budget_fen, "rating_days": before.rating_days },
            "after": { "disclosure_days": req.disclosure_days, "review_budget_fen": req.review_budget_fen, "rating_days": req.rating_days },
        }),
    })
    .await?;
    txn.commit().await?;
    settings_of(&state.db.conn, community_id).await
}
