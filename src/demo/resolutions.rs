//! Demo resolutions for `yishi demo`, one in every state, made through the same service
//! functions the API calls: a completed one with evidence, ratings and an evaluation; one in
//! progress; one overdue; one on the disclosure board with an objection; one in legal review;
//! one approved; a draft; a cancelled one; and one withdrawn after an upheld objection.

use chrono::Duration;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::clock;
use crate::entities::{
    agenda_item, organisation, organisation_member, poll, resolution, role_grant, session, user,
};
use crate::policy::{Actor, Role};
use crate::resolutions::model::*;
use crate::resolutions::service::{self, IncomingFile, today};
use crate::state::AppState;

type Result<T> = std::result::Result<T, String>;

/// A 1×1 PNG, as a photo of the work would be.
const PHOTO: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];
const NOTICE: &[u8] = b"%PDF-1.4\n% Yishi demo notice\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn e(err: crate::resolutions::error::ResolutionsError) -> String {
    err.to_string()
}

pub(crate) fn db(err: sea_orm::DbErr) -> String {
    err.to_string()
}

/// The demo account with this email, as the actor its requests would carry.
pub(crate) async fn actor(state: &AppState, email: &str) -> Result<Actor> {
    let u = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&state.db.conn)
        .await
        .map_err(db)?
        .ok_or_else(|| format!("demo account {email} is missing"))?;
    crate::accounts::service::actor_for(state, u.id, Uuid::nil())
        .await
        .map_err(|e| e.to_string())
}

/// The organisation of `kind` in `community` that `who` belongs to.
async fn org_of(state: &AppState, who: &Actor, kind: &str, community: Uuid) -> Result<Uuid> {
    let ids: Vec<Uuid> = organisation_member::Entity::find()
        .filter(organisation_member::Column::UserId.eq(who.id()))
        .all(&state.db.conn)
        .await
        .map_err(db)?
        .into_iter()
        .map(|m| m.organisation_id)
        .collect();
    organisation::Entity::find()
        .filter(organisation::Column::Id.is_in(ids))
        .filter(organisation::Column::Kind.eq(kind))
        .filter(organisation::Column::PlaceId.eq(community))
        .one(&state.db.conn)
        .await
        .map_err(db)?
        .map(|o| o.id)
        .ok_or_else(|| format!("no demo {kind}"))
}

fn milestone(title: &str, days: i64) -> MilestoneInput {
    MilestoneInput {
        title: title.into(),
        deadline: today() + Duration::days(days),
    }
}

struct Draft<'a> {
    poll: Option<Uuid>,
    session: Option<(Uuid, Uuid)>,
    title: &'a str,
    body: &'a str,
    org: Option<Uuid>,
    days: i64,
    budget_fen: Option<i64>,
    major: bool,
    milestones: Vec<MilestoneInput>,
}

async fn draft(state: &AppState, by: &Actor, d: Draft<'_>) -> Result<Uuid> {
    let r = service::create(
        state,
        by,
        CreateResolutionRequest {
            poll_id: d.poll,
            session_id: d.session.map(|s| s.0),
            agenda_item_id: d.session.map(|s| s.1),
            title: d.title.into(),
            body: d.body.into(),
            responsible_org_id: d.org,
            deadline: Some(today() + Duration::days(d.days)),
            budget_fen: d.budget_fen,
            major: d.major,
            milestones: d.milestones,
        },
    )
    .await
    .map_err(e)?;
    Ok(r.id)
}

/// Lets the resolution take effect and, as if its disclosure days had passed, start.
async fn start(state: &AppState, committee: &Actor, id: Uuid) -> Result<()> {
    service::take_effect(state, committee, id)
        .await
        .map_err(e)?;
    resolution::Entity::update_many()
        .col_expr(
            resolution::Column::DisclosureEndsAt,
            Expr::value(Some(clock::now() - Duration::seconds(1))),
        )
        .filter(resolution::Column::Id.eq(id))
        .exec(&state.db.conn)
        .await
        .map_err(db)?;
    service::run_due(state).await.map_err(e)?;
    Ok(())
}

async fn update(
    state: &AppState,
    rep: &Actor,
    id: Uuid,
    text: &str,
    percent: i32,
    file: Option<(&str, &[u8])>,
) -> Result<()> {
    let files = file
        .map(|(name, bytes)| {
            vec![IncomingFile {
                file_name: name.into(),
                bytes: bytes.to_vec(),
            }]
        })
        .unwrap_or_default();
    service::post_update(state, rep, id, text, percent, files)
        .await
        .map_err(e)?;
    Ok(())
}

pub async fn load(state: &AppState, slug: &str) -> Result<()> {
    let committee = actor(state, &format!("committee@{slug}.demo.yishi.localhost")).await?;
    let secretary = actor(state, &format!("secretary@{slug}.demo.yishi.localhost")).await?;
    let property = actor(state, "property@demo.yishi.localhost").await?;
    let lawyer = actor(state, "lawyer@demo.yishi.localhost").await?;
    let evaluator = actor(state, "evaluator@demo.yishi.localhost").await?;
    let community = committee
        .grants
        .iter()
        .find(|(r, _)| *r == Role::CommitteeMember)
        .and_then(|(_, p)| *p)
        .ok_or("the demo committee member has no community")?;
    let firm = org_of(state, &property, "property_management_firm", community).await?;
    let residents_committee = org_of(state, &committee, "residents_committee", community).await?;
    let mut residents = Vec::new();
    for g in role_grant::Entity::find()
        .filter(role_grant::Column::PlaceId.eq(community))
        .filter(role_grant::Column::Role.eq(Role::Resident.as_str()))
        .order_by_asc(role_grant::Column::CreatedAt)
        .all(&state.db.conn)
        .await
        .map_err(db)?
    {
        residents.push(
            crate::accounts::service::actor_for(state, g.user_id, Uuid::nil())
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    let held = session::Entity::find()
        .filter(session::Column::CommunityId.eq(community))
        .filter(session::Column::Status.eq("closed"))
        .one(&state.db.conn)
        .await
        .map_err(db)?
        .ok_or("no held demo session")?;
    let item = agenda_item::Entity::find()
        .filter(agenda_item::Column::SessionId.eq(held.id))
        .order_by_asc(agenda_item::Column::Position)
        .one(&state.db.conn)
        .await
        .map_err(db)?
        .ok_or("no agenda item in the held demo session")?;
    let consensus = Some((held.id, item.id));
    let passed = poll::Entity::find()
        .filter(poll::Column::CommunityId.eq(community))
        .filter(poll::Column::SessionId.is_null())
        .filter(poll::Column::Kind.eq("yes_no"))
        .filter(poll::Column::Passed.eq(true))
        .order_by_asc(poll::Column::CreatedAt)
        .one(&state.db.conn)
        .await
        .map_err(db)?
        .ok_or("no passed demo poll")?;

    // Completed, with evidence, ratings and an evaluation.
    let done = draft(
        state,
        &committee,
        Draft {
            poll: Some(passed.id),
            session: None,
            title: "广场舞时间调整为每晚19:00至20:30",
            body: "居委会张贴告示并与广场舞队约定新时间，物业在20:30后关闭广场音响电源。",
            org: Some(residents_committee),
            days: 14,
            budget_fen: None,
            major: false,
            milestones: vec![milestone("张贴告示", 3), milestone("与舞队签订文明公约", 7)],
        },
    )
    .await?;
    start(state, &committee, done).await?;
    update(
        state,
        &committee,
        done,
        "告示已在各楼栋张贴。",
        50,
        Some(("告示.pdf", NOTICE)),
    )
    .await?;
    let view = service::get(state, Some(&committee), done)
        .await
        .map_err(e)?;
    for m in &view.milestones {
        service::milestone_done(state, &committee, m.id)
            .await
            .map_err(e)?;
    }
    update(
        state,
        &committee,
        done,
        "已与三支舞队签订文明公约，新时间执行一周，未再接到投诉。",
        100,
        Some(("现场.png", PHOTO)),
    )
    .await?;
    service::complete(state, &committee, done)
        .await
        .map_err(e)?;
    let scores = [5, 4, 5, 3, 4, 5, 4];
    for (i, resident) in residents.iter().take(scores.len()).enumerate() {
        let comment = match i {
            0 => Some("晚上终于清静了。".to_string()),
            3 => Some("希望周末可以延长半小时。".to_string()),
            _ => None,
        };
        service::rate(
            state,
            resident,
            done,
            RatingRequest {
                score: scores[i],
                comment: comment.map(Into::into),
            },
        )
        .await
        .map_err(e)?;
    }
    service::evaluate(
        state,
        &evaluator,
        done,
        EvaluationRequest {
            criteria: vec![
                CriterionScore {
                    name: "按期完成".into(),
                    weight: 40,
                    score: 95,
                },
                CriterionScore {
                    name: "居民满意度".into(),
                    weight: 40,
                    score: 82,
                },
                CriterionScore {
                    name: "过程公开".into(),
                    weight: 20,
                    score: 90,
                },
            ],
            report: "决议按期办结，过程留痕完整；建议固定每季度回访一次。".into(),
        },
    )
    .await
    .map_err(e)?;

    // In progress, with an update and a photo.
    let working = draft(
        state,
        &secretary,
        Draft {
            poll: None,
            session: consensus,
            title: "修缮儿童游乐场滑梯和地垫",
            body: "物业更换破损滑梯一座，铺设塑胶地垫 120 平方米。",
            org: Some(firm),
            days: 30,
            budget_fen: Some(3_000_000),
            major: false,
            milestones: vec![milestone("采购滑梯和地垫", 10), milestone("安装并验收", 25)],
        },
    )
    .await?;
    start(state, &committee, working).await?;
    update(
        state,
        &property,
        working,
        "滑梯已下单，地垫样品已送居委会确认。",
        40,
        Some(("样品.png", PHOTO)),
    )
    .await?;

    // Overdue: the deadline passed before the work was done.
    let late = draft(
        state,
        &secretary,
        Draft {
            poll: None,
            session: consensus,
            title: "更换游乐场破损围栏",
            body: "物业更换游乐场东侧破损围栏 15 米。",
            org: Some(firm),
            days: 10,
            budget_fen: Some(800_000),
            major: false,
            milestones: Vec::new(),
        },
    )
    .await?;
    start(state, &committee, late).await?;
    update(state, &property, late, "围栏材料到货延迟。", 20, None).await?;
    resolution::Entity::update_many()
        .col_expr(
            resolution::Column::DueAt,
            Expr::value(Some(clock::now() - Duration::hours(1))),
        )
        .filter(resolution::Column::Id.eq(late))
        .exec(&state.db.conn)
        .await
        .map_err(db)?;
    service::run_due(state).await.map_err(e)?;

    // On the disclosure board, with an objection waiting for the committee's answer.
    let disclosed = draft(
        state,
        &secretary,
        Draft {
            poll: None,
            session: consensus,
            title: "游乐场开放时间定为 7:00 至 21:00",
            body: "游乐场每日 7:00 开放，21:00 关闭照明。",
            org: Some(firm),
            days: 20,
            budget_fen: None,
            major: false,
            milestones: Vec::new(),
        },
    )
    .await?;
    service::take_effect(state, &committee, disclosed)
        .await
        .map_err(e)?;
    if let Some(r) = residents.get(4) {
        service::object(
            state,
            r,
            disclosed,
            ObjectionRequest {
                reasons: "夏天 21:00 天还亮，建议延长到 21:30。".into(),
            },
        )
        .await
        .map_err(e)?;
    }

    // In legal review: a major matter with a large budget.
    let major = draft(
        state,
        &committee,
        Draft {
            poll: None,
            session: consensus,
            title: "1号楼加装电梯",
            body: "使用专项维修资金为1号楼加装电梯一部，由具备资质的企业施工。",
            org: Some(firm),
            days: 180,
            budget_fen: Some(80_000_000),
            major: true,
            milestones: vec![milestone("完成设计和报批", 60), milestone("施工", 150)],
        },
    )
    .await?;
    service::submit_for_review(state, &committee, major)
        .await
        .map_err(e)?;

    // Approved by the legal reviewer, about to take effect.
    let approved = draft(
        state,
        &committee,
        Draft {
            poll: None,
            session: consensus,
            title: "更新小区监控系统",
            body: "更换老旧摄像头 24 个，监控录像保存 30 天，调阅须登记。",
            org: Some(firm),
            days: 60,
            budget_fen: Some(15_000_000),
            major: false,
            milestones: Vec::new(),
        },
    )
    .await?;
    service::submit_for_review(state, &committee, approved)
        .await
        .map_err(e)?;
    service::review(
        state,
        &lawyer,
        approved,
        ReviewRequest {
            decision: ReviewDecision::Approve,
            findings: "预算经业主大会同意，调阅登记制度符合个人信息保护要求。".into(),
        },
    )
    .await
    .map_err(e)?;

    // A draft, still without a responsible party.
    draft(
        state,
        &committee,
        Draft {
            poll: None,
            session: consensus,
            title: "增设电动自行车充电桩",
            body: "在东门车棚增设充电桩 20 个。",
            org: None,
            days: 45,
            budget_fen: Some(2_000_000),
            major: false,
            milestones: Vec::new(),
        },
    )
    .await?;

    // Cancelled before it took effect.
    let cancelled = draft(
        state,
        &committee,
        Draft {
            poll: None,
            session: consensus,
            title: "春节游园活动增设灯谜区",
            body: "在游乐场增设灯谜区。",
            org: Some(residents_committee),
            days: 15,
            budget_fen: None,
            major: false,
            milestones: Vec::new(),
        },
    )
    .await?;
    service::cancel(state, &committee, cancelled, "与春节活动方案合并办理。")
        .await
        .map_err(e)?;

    // Withdrawn after an upheld objection.
    let withdrawn = draft(
        state,
        &committee,
        Draft {
            poll: None,
            session: consensus,
            title: "游乐场旁设置临时停车位",
            body: "在游乐场北侧划设临时停车位 6 个。",
            org: Some(firm),
            days: 20,
            budget_fen: None,
            major: false,
            milestones: Vec::new(),
        },
    )
    .await?;
    service::take_effect(state, &committee, withdrawn)
        .await
        .map_err(e)?;
    if let Some(r) = residents.get(5) {
        let v = service::object(
            state,
            r,
            withdrawn,
            ObjectionRequest {
                reasons: "停车位紧挨游乐场，孩子有安全隐患。".into(),
            },
        )
        .await
        .map_err(e)?;
        if let Some(o) = v.objections.first() {
            service::answer_objection(
                state,
                &committee,
                o.id,
                AnswerObjectionRequest {
                    decision: ObjectionDecision::UpholdAndWithdraw,
                    answer: "异议成立：停车位另行选址，本决议撤回。".into(),
                },
            )
            .await
            .map_err(e)?;
        }
    }
    Ok(())
}
