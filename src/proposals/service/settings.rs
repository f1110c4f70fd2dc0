//! A community's proposal settings.

use super::*;

pub async fn settings_of<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
) -> Result<CommunitySettingsView> {
    let found = community_setting::Entity::find_by_id(community_id)
        .one(db)
        .await?;
    Ok(CommunitySettingsView {
        community_id,
        cosign_threshold: found
            .as_ref()
            .map_or(DEFAULT_THRESHOLD, |s| s.cosign_threshold),
        cosign_period_days: found
            .as_ref()
            .map_or(DEFAULT_PERIOD_DAYS, |s| s.cosign_period_days),
    })
}

pub async fn get_settings<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
) -> Result<CommunitySettingsView> {
    load_community(db, community_id).await?;
    settings_of(db, community_id).await
}

pub async fn update_settings(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    req: CommunitySettingsRequest,
) -> Result<CommunitySettingsView> {
    let txn = state.db.write().await?;
    load_community(&*txn, community_id).await?;
    authorize_at(&*txn, actor, Action::Moderate, community_id).await?;
    let before = settings_of(&*txn, community_id).await?;
    let model = community_setting::ActiveModel {
        community_id: Set(community_id),
        cosign_threshold: Set(req.cosign_threshold),
        cosign_period_days: Set(req.cosign_period_days),
        updated_at: Set(clock::now()),
    };
    if community_setting::Entity::find_by_id(community_id)
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
        action: "community.settings_changed",
        object_type: "place",
        object_id: community_id.to_string(),
        summary: json!({
            "before": { "cosign_threshold": before.cosign_threshold, "cosign_period_days": before.cosign_period_days },
            "after": { "cosign_threshold": req.cosign_threshold, "cosign_period_days": req.cosign_period_days },
        }),
    })
    .await?;
    crate::proposals::cache::commit(state, txn).await?;
    Ok(CommunitySettingsView {
        community_id,
        cosign_threshold: req.cosign_threshold,
        cosign_period_days: req.cosign_period_days,
    })
}
