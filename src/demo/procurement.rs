//! Demo procurements for `yishi demo`, made through the same service functions the API calls:
//! one planned, one open for bids (with an answered enquiry and a sealed bid), one in
//! evaluation (bids opened, the panel half-way), one awarded with its contract under way (a
//! milestone accepted and paid, the next reported), one cancelled and one without bids. Each
//! story is told over the weeks it would take, with the process's clock set to each step's day
//! (`clock::travel_to`), so every date the services write (publication, deadlines, opening,
//! award, signing, acceptance) is in order.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::resolutions::{actor, db};
use crate::clock;
use crate::contracts::model::*;
use crate::contracts::{delivery, service};
use crate::entities::{organisation, place, resolution, tender};
use crate::policy::Actor;
use crate::state::AppState;

type Result<T> = std::result::Result<T, String>;

const PLAN: &[u8] = b"%PDF-1.4\n% Yishi demo tender document\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn e(err: crate::contracts::error::ContractsError) -> String {
    err.to_string()
}

async fn org_named(state: &AppState, name: &str) -> Result<Uuid> {
    organisation::Entity::find()
        .filter(organisation::Column::Name.eq(name))
        .one(&state.db.conn)
        .await
        .map_err(db)?
        .map(|o| o.id)
        .ok_or_else(|| format!("no demo organisation {name}"))
}

fn pdf(name: &str) -> FileUpload {
    use base64::Engine;
    FileUpload {
        name: name.into(),
        content_base64: base64::engine::general_purpose::STANDARD
            .encode(PLAN)
            .into(),
    }
}

fn criteria() -> Vec<CriterionInput> {
    [
        ("价格", 30, true),
        ("服务方案", 40, false),
        ("团队与经验", 30, false),
    ]
    .into_iter()
    .map(|(name, weight, price)| CriterionInput {
        name: name.into(),
        weight,
        price,
    })
    .collect()
}

struct Spec<'a> {
    title: &'a str,
    description: &'a str,
    category: ServiceCategory,
    budget_fen: i64,
    resolutions: Vec<Uuid>,
}

async fn tender(state: &AppState, officer: &Actor, place: Uuid, s: Spec<'_>) -> Result<Uuid> {
    let now = clock::now();
    let t = service::create(
        state,
        officer,
        CreateTenderRequest {
            place_id: place,
            title: s.title.into(),
            description: s.description.into(),
            category: s.category,
            resolution_ids: s.resolutions,
            budget_fen: s.budget_fen,
            eligibility: "在本区登记的社会组织，具备相应服务资质，近三年无不良记录。".into(),
            required_qualification: Some("民政部门登记证书".into()),
            criteria: criteria(),
            enquiry_ends_at: now + Duration::days(7),
            tender_ends_at: now + Duration::days(14),
            publicity_days: 5,
        },
    )
    .await
    .map_err(e)?;
    service::add_documents(state, officer, t.id, &[pdf("招标文件.pdf")])
        .await
        .map_err(e)?;
    Ok(t.id)
}

async fn bid(
    state: &AppState,
    who: &Actor,
    org: Uuid,
    t: Uuid,
    price: i64,
    plan: &str,
) -> Result<()> {
    service::submit_bid(
        state,
        who,
        t,
        SubmitBidRequest {
            organisation_id: org,
            price_fen: price,
            technical_proposal: plan.into(),
            team: vec![TeamMember {
                name: "项目主管".into(),
                role: "统筹".into(),
                qualification: "社会工作师".into(),
            }],
            documents: vec![pdf("技术方案.pdf")],
        },
    )
    .await
    .map_err(e)?;
    Ok(())
}

async fn load_tender(state: &AppState, t: Uuid) -> Result<tender::Model> {
    tender::Entity::find_by_id(t)
        .one(&state.db.conn)
        .await
        .map_err(db)?
        .ok_or_else(|| "a demo tender vanished".to_string())
}

/// An hour after the tender period ends, the opening the scheduler would run.
async fn close_and_open(state: &AppState, t: Uuid) -> Result<()> {
    let ends = load_tender(state, t).await?.tender_ends_at;
    clock::travel_to(ends + Duration::hours(1));
    service::open_bids(state, t).await.map_err(e)?;
    Ok(())
}

async fn panel(
    state: &AppState,
    officer: &Actor,
    t: Uuid,
    experts: &[Actor],
    scored: usize,
    marks: &[[i32; 2]],
) -> Result<()> {
    for x in experts {
        service::appoint(state, officer, t, &x.user.email)
            .await
            .map_err(e)?;
        service::declare(
            state,
            x,
            t,
            DeclarationRequest {
                conflict: false,
                statement: "本人与各投标人无利害关系。".into(),
            },
        )
        .await
        .map_err(e)?;
    }
    for (x, m) in experts.iter().zip(marks).take(scored) {
        let sheet = service::evaluation(state, x, t).await.map_err(e)?;
        let mut scores = Vec::new();
        for (i, b) in sheet.bids.iter().enumerate() {
            for c in sheet.criteria.iter().filter(|c| !c.price) {
                scores.push(ScoreInput {
                    bid_id: b.id,
                    criterion_id: c.id,
                    score: m[i.min(1)],
                });
            }
        }
        service::submit_scores(state, x, t, scores)
            .await
            .map_err(e)?;
    }
    Ok(())
}

pub async fn load(state: &AppState, slug: &str) -> Result<()> {
    let home = clock::now();
    let told = tell(state, slug, home).await;
    clock::travel_back_home();
    told
}

async fn tell(state: &AppState, slug: &str, home: DateTime<Utc>) -> Result<()> {
    let today = clock::local_day(home);
    let ago = |days: i64| home - Duration::days(days);
    let officer = actor(state, "officer@demo.yishi.localhost").await?;
    let care = actor(state, "care@demo.yishi.localhost").await?;
    let youth = actor(state, "youth@demo.yishi.localhost").await?;
    let mut experts = Vec::new();
    for n in 1..=3 {
        experts.push(actor(state, &format!("expert{n}@demo.yishi.localhost")).await?);
    }
    let subdistrict = place::Entity::find()
        .filter(place::Column::Name.eq("望湖街道"))
        .one(&state.db.conn)
        .await
        .map_err(db)?
        .ok_or("no demo subdistrict")?
        .id;
    let care_org = org_named(state, "乐龄为老服务中心").await?;
    let youth_org = org_named(state, "阳光青少年发展中心").await?;
    // Bidder profiles: credit codes, service areas, the required registration.
    for (who, org, code, areas) in [
        (
            &care,
            care_org,
            "52350100MJ0000001A",
            vec![ServiceCategory::ElderlyCare, ServiceCategory::Volunteering],
        ),
        (
            &youth,
            youth_org,
            "52350100MJ0000002A",
            vec![ServiceCategory::ChildCare, ServiceCategory::Culture],
        ),
    ] {
        let code = with_check(code);
        service::update_profile(
            state,
            who,
            org,
            UpdateBidderProfileRequest {
                credit_code: code.into(),
                service_areas: areas,
                description: "扎根望湖街道多年的社区社会组织。".into(),
            },
        )
        .await
        .map_err(e)?;
        service::add_qualification(
            state,
            who,
            org,
            AddQualificationRequest {
                name: "民政部门登记证书".into(),
                issuer: "临江区民政局".into(),
                number: format!("LJMZ-{}", &org.simple().to_string()[..6]).into(),
                valid_until: NaiveDate::from_ymd_opt(2029, 12, 31).expect("a date"),
            },
        )
        .await
        .map_err(e)?;
    }
    let community_resolutions: Vec<Uuid> = resolution::Entity::find()
        .filter(resolution::Column::Status.is_in(["in_progress", "completed"]))
        .all(&state.db.conn)
        .await
        .map_err(db)?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let _ = slug;

    // Awarded, with the contract under way: published 130 days ago.
    clock::travel_to(ago(130));
    let awarded = tender(
        state,
        &officer,
        subdistrict,
        Spec {
            title: "望湖街道独居老人助餐与探访服务",
            description: "为辖区 80 岁以上独居老人提供每日助餐、每周探访和紧急联络服务，为期一年。",
            category: ServiceCategory::ElderlyCare,
            budget_fen: 48_000_000,
            resolutions: community_resolutions.iter().take(1).copied().collect(),
        },
    )
    .await?;
    service::publish(state, &officer, awarded)
        .await
        .map_err(e)?;
    bid(
        state,
        &care,
        care_org,
        awarded,
        42_000_000,
        "中央厨房配送，每日 11:00 前送达；志愿者每周探访一次。",
    )
    .await?;
    bid(
        state,
        &youth,
        youth_org,
        awarded,
        39_000_000,
        "联合社区食堂供餐，青年志愿者结对探访。",
    )
    .await?;
    close_and_open(state, awarded).await?;
    panel(
        state,
        &officer,
        awarded,
        &experts,
        3,
        &[[92, 70], [88, 72], [90, 68]],
    )
    .await?;
    service::propose_award(state, &officer, awarded)
        .await
        .map_err(e)?;
    // The publicity period passes without a complaint.
    let publicity_ends = load_tender(state, awarded)
        .await?
        .publicity_ends_at
        .ok_or("no publicity period")?;
    clock::travel_to(publicity_ends + Duration::hours(2));
    service::confirm_award(state, &officer, awarded)
        .await
        .map_err(e)?;
    // Signed ten days after the award, the service starting the next day.
    clock::travel_to(ago(101));
    let c = delivery::create(
        state,
        &officer,
        awarded,
        CreateContractRequest {
            value_fen: 42_000_000,
            period_start: today - Duration::days(100),
            period_end: today + Duration::days(265),
            signed_on: today - Duration::days(101),
            milestones: vec![
                MilestoneInput {
                    title: "第一季度服务".into(),
                    deliverable: "助餐台账、探访记录、满意度回访".into(),
                    due_date: today - Duration::days(10),
                    amount_fen: 10_500_000,
                },
                MilestoneInput {
                    title: "第二季度服务".into(),
                    deliverable: "助餐台账、探访记录".into(),
                    due_date: today + Duration::days(80),
                    amount_fen: 10_500_000,
                },
                MilestoneInput {
                    title: "下半年服务与年度总结".into(),
                    deliverable: "年度服务报告、第三方评估材料".into(),
                    due_date: today + Duration::days(265),
                    amount_fen: 21_000_000,
                },
            ],
        },
    )
    .await
    .map_err(e)?;
    let first = c.milestones[0].id;
    clock::travel_to(ago(12));
    delivery::report(
        state,
        &care,
        c.id,
        first,
        ReportMilestoneRequest {
            report: "服务独居老人 86 名，送餐 7,740 份，探访 1,032 人次，回访满意率 97%。".into(),
            files: vec![pdf("第一季度台账.pdf")],
        },
    )
    .await
    .map_err(e)?;
    clock::travel_to(ago(11));
    delivery::decide(
        state,
        &officer,
        c.id,
        first,
        MilestoneDecisionRequest {
            accept: true,
            reason: "台账完整，抽查回访属实，予以验收。".into(),
        },
    )
    .await
    .map_err(e)?;
    clock::travel_to(ago(2));
    delivery::report(
        state,
        &care,
        c.id,
        c.milestones[1].id,
        ReportMilestoneRequest {
            report: "第二季度服务已过半，提前提交中期台账。".into(),
            files: Vec::new(),
        },
    )
    .await
    .map_err(e)?;

    // In evaluation: published 20 days ago, bids opened, two of three evaluators have scored.
    clock::travel_to(ago(20));
    let evaluating = tender(
        state,
        &officer,
        subdistrict,
        Spec {
            title: "青少年课后托管与成长营",
            description: "在两个社区开设课后托管点，提供作业辅导、阅读和周末成长营。",
            category: ServiceCategory::ChildCare,
            budget_fen: 30_000_000,
            resolutions: Vec::new(),
        },
    )
    .await?;
    service::publish(state, &officer, evaluating)
        .await
        .map_err(e)?;
    bid(
        state,
        &youth,
        youth_org,
        evaluating,
        27_500_000,
        "每个托管点配 2 名社工、4 名大学生志愿者。",
    )
    .await?;
    bid(
        state,
        &care,
        care_org,
        evaluating,
        29_000_000,
        "由退休教师志愿者提供作业辅导。",
    )
    .await?;
    close_and_open(state, evaluating).await?;
    panel(
        state,
        &officer,
        evaluating,
        &experts,
        2,
        &[[85, 75], [80, 78]],
    )
    .await?;

    // Open for bids since today, with an answered enquiry and one sealed bid.
    clock::travel_back_home();
    let active = tender(
        state,
        &officer,
        subdistrict,
        Spec {
            title: "社区矛盾纠纷调解服务",
            description: "在各社区设立调解工作室，每周两次驻点，处理邻里、物业纠纷。",
            category: ServiceCategory::Mediation,
            budget_fen: 20_000_000,
            resolutions: community_resolutions
                .iter()
                .skip(1)
                .take(1)
                .copied()
                .collect(),
        },
    )
    .await?;
    service::publish(state, &officer, active).await.map_err(e)?;
    let asked = service::ask(
        state,
        &youth,
        active,
        AskRequest {
            organisation_id: youth_org,
            question: "调解员是否需要持证上岗？".into(),
        },
    )
    .await
    .map_err(e)?;
    service::answer(
        state,
        &officer,
        active,
        asked.enquiries[0].id,
        "需至少一名持人民调解员证书的人员驻点。",
    )
    .await
    .map_err(e)?;
    bid(
        state,
        &care,
        care_org,
        active,
        18_800_000,
        "与街道人民调解委员会合作驻点。",
    )
    .await?;

    // Cancelled two days after its publication, a week ago.
    clock::travel_to(ago(9));
    let cancelled = tender(
        state,
        &officer,
        subdistrict,
        Spec {
            title: "社区文化节策划执行",
            description: "策划并执行年度社区文化节。",
            category: ServiceCategory::Culture,
            budget_fen: 8_000_000,
            resolutions: Vec::new(),
        },
    )
    .await?;
    service::publish(state, &officer, cancelled)
        .await
        .map_err(e)?;
    clock::travel_to(ago(7));
    service::cancel(
        state,
        &officer,
        cancelled,
        "文化节改由街道文化站自办，本项目取消。",
    )
    .await
    .map_err(e)?;
    // Unsuccessful: no bid came in by its deadline, 26 days ago.
    clock::travel_to(ago(40));
    let unsuccessful = tender(
        state,
        &officer,
        subdistrict,
        Spec {
            title: "老旧小区楼道保洁",
            description: "十二栋老旧楼房楼道每周保洁两次。",
            category: ServiceCategory::Cleaning,
            budget_fen: 3_000_000,
            resolutions: Vec::new(),
        },
    )
    .await?;
    service::publish(state, &officer, unsuccessful)
        .await
        .map_err(e)?;
    close_and_open(state, unsuccessful).await?;
    // Planned: drafted today.
    clock::travel_back_home();
    tender(
        state,
        &officer,
        subdistrict,
        Spec {
            title: "助残康复上门服务（筹备中）",
            description: "为辖区持证残疾人提供康复训练上门服务。",
            category: ServiceCategory::Disability,
            budget_fen: 12_000_000,
            resolutions: Vec::new(),
        },
    )
    .await?;
    Ok(())
}

/// Completes a 17-character base with its check character (the demo codes are made up).
fn with_check(code: &str) -> String {
    let base: String = code.chars().take(17).collect();
    let check = crate::communities::register::credit_code_check(&base).unwrap_or('0');
    format!("{base}{check}")
}
