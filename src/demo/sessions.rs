//! The demo's consultation session: agenda, invitations, attendance and room events.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

use super::people::DemoPeople;
use crate::admin::AdminError;
use crate::audit::{self, Change};
use crate::clock;
use crate::entities::{
    agenda_item, session, session_attendance, session_event, session_invitation,
};

/// One demo session with its agenda, invitations of every resident, attendance and room events.
#[allow(clippy::too_many_arguments)]
pub(super) async fn demo_session<C: ConnectionTrait>(
    txn: &C,
    community: Uuid,
    p: &DemoPeople,
    title: &str,
    status: &str,
    starts_at: chrono::DateTime<chrono::Utc>,
    agenda: &[(&str, Option<Uuid>)],
    events: &[(&str, serde_json::Value)],
) -> Result<(), AdminError> {
    let id = Uuid::new_v4();
    let now = clock::now();
    let started = status != "scheduled";
    session::ActiveModel {
        id: Set(id),
        community_id: Set(community),
        title: Set(title.into()),
        purpose: Set("社区党组织召集居民、物业和社会组织，协商本月议题。".into()),
        starts_at: Set(starts_at),
        ends_at: Set(starts_at + chrono::Duration::hours(2)),
        address: Set(Some("社区党群服务中心二楼会议室".into())),
        online: Set(true),
        status: Set(status.into()),
        chair_id: Set(p.committee),
        created_by: Set(p.committee),
        invited: Set(json!({ "all_residents": true, "owners": false, "grid_ids": [], "organisation_ids": [p.firm], "people": [] }).to_string()),
        cancel_reason: Set(None),
        current_item_id: Set(None),
        event_seq: Set(events.len() as i64),
        revision: Set(0),
        reminded_at: Set(None),
        opened_at: Set(started.then_some(starts_at)),
        closed_at: Set((status == "closed").then_some(starts_at + chrono::Duration::hours(2))),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    let mut first_item = None;
    for (i, (item, proposal_id)) in agenda.iter().enumerate() {
        let item_id = Uuid::new_v4();
        first_item.get_or_insert(item_id);
        agenda_item::ActiveModel {
            id: Set(item_id),
            session_id: Set(id),
            position: Set(i as i32 + 1),
            proposal_id: Set(*proposal_id),
            title: Set((*item).into()),
            description: Set(String::new()),
            created_at: Set(now),
        }
        .insert(txn)
        .await?;
    }
    if started {
        session::Entity::update_many()
            .col_expr(session::Column::CurrentItemId, Expr::value(first_item))
            .filter(session::Column::Id.eq(id))
            .exec(txn)
            .await?;
    }
    if status == "open" {
        crate::demo::register::checked_in_on_paper(txn, community, id, p.grid_worker, p.grid, 2)
            .await?;
    }
    let mut invited: Vec<(Uuid, &str)> = p.residents.iter().map(|r| (*r, "resident")).collect();
    invited.push((p.committee, "chair"));
    invited.push((p.firm_rep, "organisation"));
    for (i, (user_id, group)) in invited.iter().enumerate() {
        let response = if i % 3 == 0 {
            "pending"
        } else if i % 5 == 0 {
            "declined"
        } else {
            "confirmed"
        };
        session_invitation::ActiveModel {
            id: Set(Uuid::new_v4()),
            session_id: Set(id),
            user_id: Set(*user_id),
            invited_as: Set((*group).into()),
            response: Set(response.into()),
            responded_at: Set(None),
            created_at: Set(now),
        }
        .insert(txn)
        .await?;
        if started && i % 2 == 0 {
            session_attendance::ActiveModel {
                id: Set(Uuid::new_v4()),
                session_id: Set(id),
                user_id: Set(*user_id),
                mode: Set(if i % 4 == 0 { "assisted" } else { "online" }.into()),
                checked_in_by: Set(None),
                created_at: Set(starts_at),
            }
            .insert(txn)
            .await?;
        }
    }
    for (seq, (kind, payload)) in events.iter().enumerate() {
        let mut payload = payload.clone();
        if payload.get("item_id").is_some_and(|v| v.is_null()) {
            payload["item_id"] = json!(first_item);
        }
        session_event::ActiveModel {
            id: Set(Uuid::new_v4()),
            session_id: Set(id),
            seq: Set(seq as i64 + 1),
            kind: Set((*kind).into()),
            actor_id: Set(Some(p.committee)),
            payload: Set(payload.to_string()),
            created_at: Set(starts_at + chrono::Duration::minutes(seq as i64 * 5)),
        }
        .insert(txn)
        .await?;
    }
    audit::record(
        txn,
        Change {
            actor: Some(p.committee),
            action: "session.created",
            object_type: "session",
            object_id: id.to_string(),
            summary: json!({ "title": title, "status": status, "via": "demo" }),
        },
    )
    .await?;
    Ok(())
}
