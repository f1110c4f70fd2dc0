use poem_openapi::OpenApi;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;

use super::model::*;
use super::service;
use crate::api::{ApiResult, ApiTags, BearerAuth};
use crate::error::ApiError;
use crate::policy::{Action, authorize};
use crate::state::AppState;

pub struct AuditApi {
    pub state: AppState,
}

fn link_view(b: &service::BrokenLink) -> BrokenLinkView {
    BrokenLinkView {
        chain: b.shard,
        position: b.seq,
        entry_id: b.entry_id,
        reason: b.reason.clone(),
    }
}

#[OpenApi(tag = "ApiTags::Audit")]
impl AuditApi {
    /// Recompute every hash chain of the record and report the first broken link.
    #[oai(path = "/audit/verify", method = "get", operation_id = "verifyAudit")]
    async fn verify(&self, auth: BearerAuth) -> ApiResult<Json<VerificationReport>> {
        let actor = auth.actor(&self.state).await?;
        authorize(&actor, Action::VerifyAudit, None)?;
        let v = service::verify(&self.state.db.conn).await?;
        Ok(Json(VerificationReport {
            intact: v.broken.is_empty(),
            chains: v.chains,
            entries_checked: v.entries_checked,
            first_broken: v.first_broken().map(link_view),
            broken: v.broken.iter().map(link_view).collect(),
        }))
    }

    /// The heads of the record published each day, newest first: public, so that anyone can
    /// keep a copy to check the record against later.
    #[oai(path = "/audit/heads", method = "get", operation_id = "listAuditHeads")]
    async fn heads(
        &self,
        #[oai(
            default = "default_head_limit",
            validator(minimum(value = "1"), maximum(value = "366"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<Vec<PublishedHeadView>>> {
        let published = super::heads::published(&self.state.db.conn, limit.0).await?;
        Ok(Json(
            published
                .into_iter()
                .map(|p| PublishedHeadView {
                    day: p.day,
                    head: p.head,
                    entries: p.entries,
                    published_at: p.published_at,
                })
                .collect(),
        ))
    }

    /// Entries of the record about one object, newest first, for those who may see the object.
    #[oai(
        path = "/audit/entries",
        method = "get",
        operation_id = "listAuditEntries"
    )]
    async fn entries(
        &self,
        auth: BearerAuth,
        #[oai(validator(max_length = 32))] object_type: Query<String>,
        #[oai(validator(max_length = 64))] object_id: Query<String>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "500"))
        )]
        limit: Query<u64>,
        #[oai(default, validator(maximum(value = "1000000")))] offset: Query<u64>,
    ) -> ApiResult<Json<Vec<AuditEntryView>>> {
        let actor = auth.actor(&self.state).await?;
        let db = &self.state.db.conn;
        let object_id = object_id.0.trim().to_string();
        let scope =
            crate::communities::service::object_scope(db, &object_type.0, &object_id).await?;
        match scope {
            crate::communities::service::ObjectScope::Own(owner) if owner == actor.id() => {}
            crate::communities::service::ObjectScope::Own(_) => {
                authorize(&actor, Action::ViewAudit, None)?;
            }
            crate::communities::service::ObjectScope::Place(scope) => {
                authorize(&actor, Action::ViewAudit, Some(&scope))?;
            }
            crate::communities::service::ObjectScope::Unknown => {
                return Err(ApiError::not_found("object_not_found", "No such object."));
            }
        }
        let entries =
            service::entries_for(db, &object_type.0, &object_id, limit.0, offset.0).await?;
        Ok(Json(
            entries
                .into_iter()
                .map(|e| AuditEntryView {
                    id: e.id,
                    at: e.created_at,
                    actor_id: e.actor_id,
                    action: e.action,
                    object_type: e.object_type,
                    object_id: e.object_id,
                    summary: serde_json::from_str(&e.summary).unwrap_or(serde_json::Value::Null),
                    hash: e.hash,
                })
                .collect(),
        ))
    }
}

fn default_head_limit() -> u64 {
    30
}

fn default_limit() -> u64 {
    50
}
