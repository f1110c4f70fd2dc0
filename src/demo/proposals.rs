//! The demo's proposals in every state, with co-signatures and threads.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

use super::people::DemoPeople;
use super::sessions::demo_session;
use crate::admin::AdminError;
use crate::audit::{self, Change};
use crate::clock;
use crate::entities::{proposal, proposal_comment, proposal_cosign, proposal_version};

/// One demo proposal by `residents[by]` in `status`, with `cosigners` co-signatures from the
/// neighbours after the proposer; returns its id.
#[allow(clippy::too_many_arguments)]
pub(super) async fn demo_proposal<C: ConnectionTrait>(
    txn: &C,
    community: Uuid,
    people: &DemoPeople,
    by: usize,
    (title, body, category): (&str, &str, &str),
    status: &str,
    cosigners: usize,
    reason: Option<&str>,
) -> Result<Uuid, AdminError> {
    let now = clock::now();
    let id = Uuid::new_v4();
    let proposer = people.residents[by % people.residents.len()];
    let submitted = status != "draft";
    let decided = matches!(
        status,
        "accepted" | "rejected" | "merged" | "changes_requested"
    );
    let supporters: Vec<Uuid> = people
        .residents
        .iter()
        .copied()
        .filter(|r| *r != proposer)
        .take(if submitted { cosigners } else { 0 })
        .collect();
    proposal::ActiveModel {
        id: Set(id),
        community_id: Set(community),
        proposer_id: Set(proposer),
        organisation_id: Set(None),
        title: Set(title.into()),
        body: Set(body.into()),
        category: Set(category.into()),
        grid_id: Set(None),
        building_id: Set(None),
        owners_only: Set(category == "property_and_estate"),
        status: Set(status.into()),
        cosign_count: Set(supporters.len() as i32),
        cosign_threshold: Set(10),
        cosign_deadline: Set(submitted
            .then(|| now + chrono::Duration::days(if status == "expired" { -1 } else { 21 }))),
        merged_into: Set(None),
        decision_reason: Set(reason.map(str::to_string)),
        version: Set(1),
        hidden_at: Set(None),
        hidden_reason: Set(None),
        submitted_at: Set(submitted.then_some(now)),
        decided_at: Set(decided.then_some(now)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    if submitted {
        proposal_version::ActiveModel {
            id: Set(Uuid::new_v4()),
            proposal_id: Set(id),
            version: Set(1),
            editor_id: Set(proposer),
            title: Set(title.into()),
            body: Set(body.into()),
            category: Set(category.into()),
            created_at: Set(now),
        }
        .insert(txn)
        .await?;
    }
    for user_id in supporters {
        proposal_cosign::ActiveModel {
            id: Set(Uuid::new_v4()),
            proposal_id: Set(id),
            user_id: Set(user_id),
            created_at: Set(now),
            withdrawn_at: Set(None),
        }
        .insert(txn)
        .await?;
    }
    audit::record(
        txn,
        Change {
            actor: Some(proposer),
            action: "proposal.created",
            object_type: "proposal",
            object_id: id.to_string(),
            summary: json!({ "title": title, "status": status, "via": "demo" }),
        },
    )
    .await?;
    Ok(id)
}

async fn demo_comment<C: ConnectionTrait>(
    txn: &C,
    proposal_id: Uuid,
    parent: Option<(Uuid, i32)>,
    author: Uuid,
    organisation: Option<Uuid>,
    body: &str,
) -> Result<Uuid, AdminError> {
    let id = Uuid::new_v4();
    proposal_comment::ActiveModel {
        id: Set(id),
        proposal_id: Set(proposal_id),
        parent_id: Set(parent.map(|p| p.0)),
        depth: Set(parent.map_or(0, |p| p.1 + 1)),
        author_id: Set(author),
        organisation_id: Set(organisation),
        body: Set(body.into()),
        created_at: Set(clock::now()),
        edited_at: Set(None),
        deleted_at: Set(None),
        hidden_at: Set(None),
        hidden_reason: Set(None),
    }
    .insert(txn)
    .await?;
    Ok(id)
}

/// Proposals in every state, with co-signatures and threads.
pub(super) async fn demo_proposals<C: ConnectionTrait>(
    txn: &C,
    community: Uuid,
    p: &DemoPeople,
) -> Result<(), AdminError> {
    demo_proposal(
        txn,
        community,
        p,
        2,
        (
            "楼顶绿化改造设想",
            "把 2 号楼楼顶改成屋顶花园，夏天也能降温。",
            "environment",
        ),
        "draft",
        0,
        None,
    )
    .await?;
    demo_proposal(
        txn,
        community,
        p,
        3,
        (
            "增设电动自行车充电桩",
            "楼道里充电太危险，建议在车棚集中设置充电桩。\n\n- 车棚东侧有空地\n- 可按次扫码付费",
            "safety",
        ),
        "collecting",
        3,
        None,
    )
    .await?;
    let parcel = demo_proposal(
        txn,
        community,
        p,
        4,
        (
            "小区东侧增设快递柜",
            "快递经常堆在门卫室，建议在东门增设智能快递柜。",
            "property_and_estate",
        ),
        "in_moderation",
        9,
        None,
    )
    .await?;
    demo_proposal(
        txn,
        community,
        p,
        5,
        (
            "调整广场舞时间",
            "建议晚上九点后停止广场舞音乐。",
            "culture",
        ),
        "changes_requested",
        9,
        Some("请补充周边楼栋居民的意见，并给出可行的替代场地。"),
    )
    .await?;
    let playground = demo_proposal(
        txn,
        community,
        p,
        6,
        (
            "修缮儿童游乐场",
            "滑梯开裂、秋千链条生锈，存在安全隐患。",
            "children",
        ),
        "accepted",
        11,
        None,
    )
    .await?;
    demo_proposal(
        txn,
        community,
        p,
        7,
        (
            "取消物业费",
            "物业服务不到位，建议取消物业费。",
            "property_and_estate",
        ),
        "rejected",
        9,
        Some("物业费由业主大会依法决定，不属于居民议事范围；服务问题请另行提出具体改进议题。"),
    )
    .await?;
    let dup = demo_proposal(
        txn,
        community,
        p,
        8,
        ("增加快递柜", "东门需要快递柜。", "property_and_estate"),
        "merged",
        2,
        Some("与“小区东侧增设快递柜”是同一事项，附议已一并转入。"),
    )
    .await?;
    proposal::Entity::update_many()
        .col_expr(proposal::Column::MergedInto, Expr::value(Some(parcel)))
        .filter(proposal::Column::Id.eq(dup))
        .exec(txn)
        .await?;
    demo_proposal(
        txn,
        community,
        p,
        9,
        (
            "设立宠物活动区",
            "希望在绿地划出宠物活动区。",
            "environment",
        ),
        "expired",
        2,
        None,
    )
    .await?;
    demo_proposal(
        txn,
        community,
        p,
        10,
        (
            "重新划分停车位",
            "地面车位划线不合理。",
            "parking_and_traffic",
        ),
        "withdrawn",
        1,
        None,
    )
    .await?;

    let first = demo_comment(
        txn,
        playground,
        None,
        p.residents[0],
        None,
        "我家孩子上周被滑梯的裂缝划伤了，希望尽快修。",
    )
    .await?;
    demo_comment(
        txn,
        playground,
        Some((first, 0)),
        p.firm_rep,
        Some(p.firm),
        "已安排维修单位本周内查看，先用围挡封闭滑梯。",
    )
    .await?;
    demo_comment(
        txn,
        playground,
        None,
        p.committee,
        None,
        "已列入本月议事会议程，届时请物业报告维修方案。",
    )
    .await?;
    let q = demo_comment(txn, parcel, None, p.residents[1], None, "快递柜会收费吗？").await?;
    demo_comment(
        txn,
        parcel,
        Some((q, 0)),
        p.firm_rep,
        Some(p.firm),
        "初步方案是 12 小时内免费，超时按柜主规则收费。",
    )
    .await?;

    let now = clock::now();
    let day = chrono::Duration::days(1);
    let hour = chrono::Duration::hours(1);
    // A closed session with its record, a live one, and a scheduled one.
    let r = &p.residents;
    let closed_events = vec![
        (
            "presence.joined",
            json!({ "user_id": p.committee, "name": "主任" }),
        ),
        (
            "presence.joined",
            json!({ "user_id": r[0], "name": "居民" }),
        ),
        ("hand.raised", json!({ "user_id": r[0], "name": "居民" })),
        (
            "floor.given",
            json!({ "user_id": r[0], "name": "居民", "seconds": 180, "until": now - day * 20 }),
        ),
        (
            "chat.posted",
            json!({ "user_id": r[1], "name": "居民", "text": "同意先修滑梯。", "item_id": null }),
        ),
        ("floor.ended", json!({ "user_id": r[0], "reason": "chair" })),
        ("session.closed", json!({})),
    ];
    demo_session(
        txn,
        community,
        p,
        "二月协商议事会",
        "closed",
        now - day * 21,
        &[
            ("修缮儿童游乐场", Some(playground)),
            ("社区春节活动总结", None),
        ],
        &closed_events,
    )
    .await?;
    let live_events = vec![
        (
            "presence.joined",
            json!({ "user_id": p.committee, "name": "主任" }),
        ),
        (
            "chat.posted",
            json!({ "user_id": p.committee, "name": "主任", "text": "会议开始，先请物业介绍快递柜方案。", "item_id": null }),
        ),
        ("hand.raised", json!({ "user_id": r[2], "name": "居民" })),
    ];
    demo_session(
        txn,
        community,
        p,
        "三月协商议事会",
        "open",
        now - hour / 2,
        &[("小区东侧增设快递柜", None), ("电动自行车充电桩", None)],
        &live_events,
    )
    .await?;
    demo_session(
        txn,
        community,
        p,
        "四月协商议事会",
        "scheduled",
        now + day * 7,
        &[("调整广场舞时间", None)],
        &[],
    )
    .await?;
    Ok(())
}
