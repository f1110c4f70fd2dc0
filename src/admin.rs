//! Command-line operations: the first platform administrator and the demo data set.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

use crate::accounts::service::{check_display_name, check_password, normalize_email};
use crate::audit::{self, Change};
use crate::clock;
use crate::db::Db;
use crate::entities::{
    agenda_item, building, community_setting, membership, organisation, organisation_member, place,
    proposal, proposal_comment, proposal_cosign, proposal_version, role_grant, session,
    session_attendance, session_event, session_invitation, unit, user,
};
use crate::passwords::Passwords;
use crate::policy::Role;
use sea_orm::sea_query::Expr;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

async fn insert_user<C: ConnectionTrait>(
    txn: &C,
    email: &str,
    name: &str,
    hash: &str,
) -> Result<user::Model, AdminError> {
    let now = clock::now();
    Ok(user::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email.into()),
        display_name: Set(name.into()),
        password_hash: Set(hash.into()),
        language: Set("zh-CN".into()),
        email_verified_at: Set(Some(now)),
        deleted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?)
}

async fn grant<C: ConnectionTrait>(
    txn: &C,
    user_id: Uuid,
    place_id: Option<Uuid>,
    role: Role,
) -> Result<(), AdminError> {
    role_grant::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        place_id: Set(place_id),
        role: Set(role.as_str().into()),
        granted_by: Set(None),
        created_at: Set(clock::now()),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Creates a platform administrator with a verified email. Refuses an email already in use.
pub async fn create_admin(
    db: &Db,
    email: &str,
    name: &str,
    password: &str,
) -> Result<Uuid, AdminError> {
    let email = normalize_email(email).map_err(|e| AdminError::Invalid(e.to_string()))?;
    let name = check_display_name(name).map_err(|e| AdminError::Invalid(e.to_string()))?;
    check_password(password).map_err(|e| AdminError::Invalid(e.to_string()))?;
    let hash = Passwords::new(1)
        .hash(password)
        .await
        .map_err(AdminError::Invalid)?;
    let txn = db.write().await?;
    if user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&*txn)
        .await?
        .is_some()
    {
        return Err(AdminError::Invalid(format!(
            "an account with {email} already exists"
        )));
    }
    let u = insert_user(&*txn, &email, &name, &hash).await?;
    grant(&*txn, u.id, None, Role::PlatformAdmin).await?;
    audit::record(
        &*txn,
        Change {
            actor: None,
            action: "admin.created",
            object_type: "user",
            object_id: u.id.to_string(),
            summary: json!({ "via": "command line" }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(u.id)
}

pub const DEMO_PASSWORD: &str = "yishi-demo-2026";

async fn demo_place<C: ConnectionTrait>(
    txn: &C,
    parent: Option<Uuid>,
    kind: &str,
    name: &str,
) -> Result<Uuid, AdminError> {
    let id = Uuid::new_v4();
    place::ActiveModel {
        id: Set(id),
        parent_id: Set(parent),
        kind: Set(kind.into()),
        name: Set(name.into()),
        created_at: Set(clock::now()),
    }
    .insert(txn)
    .await?;
    audit::record(
        txn,
        Change {
            actor: None,
            action: "place.created",
            object_type: "place",
            object_id: id.to_string(),
            summary: json!({ "kind": kind, "name": name, "via": "demo" }),
        },
    )
    .await?;
    Ok(id)
}

async fn demo_org<C: ConnectionTrait>(
    txn: &C,
    place_id: Uuid,
    kind: &str,
    name: &str,
    code: Option<&str>,
    members: &[(Uuid, &str)],
) -> Result<Uuid, AdminError> {
    let id = Uuid::new_v4();
    organisation::ActiveModel {
        id: Set(id),
        kind: Set(kind.into()),
        name: Set(name.into()),
        place_id: Set(place_id),
        credit_code: Set(code.map(str::to_string)),
        created_at: Set(clock::now()),
    }
    .insert(txn)
    .await?;
    for (user_id, role) in members {
        organisation_member::ActiveModel {
            id: Set(Uuid::new_v4()),
            organisation_id: Set(id),
            user_id: Set(*user_id),
            role: Set((*role).into()),
            created_at: Set(clock::now()),
        }
        .insert(txn)
        .await?;
    }
    audit::record(
        txn,
        Change {
            actor: None,
            action: "organisation.created",
            object_type: "organisation",
            object_id: id.to_string(),
            summary: json!({ "kind": kind, "name": name, "via": "demo" }),
        },
    )
    .await?;
    Ok(id)
}

/// Loads a realistic demo: a district, a subdistrict, two communities with grids, buildings
/// and units with floor areas, verified residents and owners, organisations of every kind and
/// the people who run them. Every demo account's password is `DEMO_PASSWORD`.
pub async fn load_demo(db: &Db) -> Result<Vec<(String, String)>, AdminError> {
    let hash = Passwords::new(1)
        .hash(DEMO_PASSWORD)
        .await
        .map_err(AdminError::Invalid)?;
    let txn = db.write().await?;
    if place::Entity::find()
        .filter(place::Column::Name.eq("临江区"))
        .one(&*txn)
        .await?
        .is_some()
    {
        return Err(AdminError::Invalid("the demo is already loaded".into()));
    }
    let mut accounts = Vec::new();
    let mut person = |email: &str, name: &str| {
        accounts.push((email.to_string(), name.to_string()));
        (email.to_string(), name.to_string())
    };
    let district = demo_place(&*txn, None, "district", "临江区").await?;
    let subdistrict = demo_place(&*txn, Some(district), "subdistrict", "望湖街道").await?;

    let (e, n) = person("officer@demo.yishi.localhost", "王建国（街道办）");
    let officer = insert_user(&*txn, &e, &n, &hash).await?.id;
    grant(&*txn, officer, Some(subdistrict), Role::GovernmentOfficer).await?;
    let (e, n) = person("evaluator@demo.yishi.localhost", "周评（第三方评估）");
    let evaluator = insert_user(&*txn, &e, &n, &hash).await?.id;
    grant(&*txn, evaluator, Some(district), Role::Evaluator).await?;
    let (e, n) = person("lawyer@demo.yishi.localhost", "刘律师（街道法律顾问）");
    let lawyer = insert_user(&*txn, &e, &n, &hash).await?.id;
    grant(&*txn, lawyer, Some(subdistrict), Role::LegalReviewer).await?;
    demo_org(
        &*txn,
        subdistrict,
        "government_department",
        "望湖街道办事处",
        None,
        &[(officer, "representative")],
    )
    .await?;
    demo_org(
        &*txn,
        district,
        "evaluator",
        "临江社会治理评估中心",
        Some("91350100M000100Y43"),
        &[(evaluator, "representative")],
    )
    .await?;
    // Experts the officer appoints to tender evaluation panels.
    for (email, name) in [
        ("expert1@demo.yishi.localhost", "吴教授（评审专家）"),
        ("expert2@demo.yishi.localhost", "郑会计师（评审专家）"),
        ("expert3@demo.yishi.localhost", "冯社工师（评审专家）"),
    ] {
        let (e, n) = person(email, name);
        insert_user(&*txn, &e, &n, &hash).await?;
    }
    let (e, n) = person("property@demo.yishi.localhost", "陈经理（锦绣物业）");
    let property_rep = insert_user(&*txn, &e, &n, &hash).await?.id;
    let (e, n) = person("care@demo.yishi.localhost", "林主任（乐龄为老服务中心）");
    let care_rep = insert_user(&*txn, &e, &n, &hash).await?.id;
    let (e, n) = person("youth@demo.yishi.localhost", "赵社工（阳光青少年发展中心）");
    let youth_rep = insert_user(&*txn, &e, &n, &hash).await?.id;
    let (e, n) = person("shop@demo.yishi.localhost", "孙老板（邻里便利店）");
    let shop_rep = insert_user(&*txn, &e, &n, &hash).await?.id;
    demo_org(
        &*txn,
        subdistrict,
        "social_organisation",
        "乐龄为老服务中心",
        None,
        &[(care_rep, "representative")],
    )
    .await?;
    demo_org(
        &*txn,
        subdistrict,
        "social_organisation",
        "阳光青少年发展中心",
        None,
        &[(youth_rep, "representative")],
    )
    .await?;

    let surnames = [
        "张", "李", "王", "刘", "陈", "杨", "黄", "吴", "徐", "朱", "马", "胡",
    ];
    for (ci, (community_name, slug)) in [("桂花社区", "guihua"), ("枫林社区", "fenglin")]
        .into_iter()
        .enumerate()
    {
        let community = demo_place(&*txn, Some(subdistrict), "community", community_name).await?;
        let grid1 = demo_place(&*txn, Some(community), "grid", "第一网格").await?;
        let grid2 = demo_place(&*txn, Some(community), "grid", "第二网格").await?;

        let (e, n) = person(
            &format!("secretary@{slug}.demo.yishi.localhost"),
            &format!("{}书记", surnames[ci]),
        );
        let secretary = insert_user(&*txn, &e, &n, &hash).await?.id;
        grant(&*txn, secretary, Some(community), Role::PartySecretary).await?;
        let (e, n) = person(
            &format!("committee@{slug}.demo.yishi.localhost"),
            &format!("{}主任（居委会）", surnames[ci + 2]),
        );
        let committee = insert_user(&*txn, &e, &n, &hash).await?.id;
        grant(&*txn, committee, Some(community), Role::CommitteeMember).await?;
        let (e, n) = person(
            &format!("grid@{slug}.demo.yishi.localhost"),
            &format!("{}网格员", surnames[ci + 4]),
        );
        let grid_worker = insert_user(&*txn, &e, &n, &hash).await?.id;
        grant(&*txn, grid_worker, Some(grid1), Role::GridWorker).await?;

        demo_org(
            &*txn,
            community,
            "party_organisation",
            &format!("{community_name}党总支"),
            None,
            &[(secretary, "representative")],
        )
        .await?;
        demo_org(
            &*txn,
            community,
            "residents_committee",
            &format!("{community_name}居民委员会"),
            None,
            &[(committee, "representative")],
        )
        .await?;
        let firm = demo_org(
            &*txn,
            community,
            "property_management_firm",
            &format!("锦绣物业服务有限公司（{community_name}项目）"),
            None,
            &[(property_rep, "representative")],
        )
        .await?;
        if ci == 0 {
            demo_org(
                &*txn,
                community,
                "enterprise",
                "邻里便利店",
                None,
                &[(shop_rep, "representative")],
            )
            .await?;
        }

        let mut resident_no = 0;
        let mut residents = Vec::new();
        let mut owners_committee = Vec::new();
        let developer = crate::demo::register::developer(&*txn, community).await?;
        for b in 1..=3 {
            let building_id = Uuid::new_v4();
            building::ActiveModel {
                id: Set(building_id),
                community_id: Set(community),
                name: Set(format!("{b}号楼")),
                grid_id: Set(Some(if b == 1 { grid1 } else { grid2 })),
                created_at: Set(clock::now()),
            }
            .insert(&*txn)
            .await?;
            for floor in 1..=4 {
                for door in 1..=2 {
                    let number = format!("{floor}0{door}");
                    // Areas between 58.30 and 131.75 m², in hundredths.
                    let area = 5830 + ((b * 37 + floor * 13 + door * 29) % 60) * 122 + door * 5;
                    let developer_held = b == 3 && floor == 4;
                    let unit_id = Uuid::new_v4();
                    let owner_name = format!(
                        "{}{}",
                        surnames[(b + floor + door) as usize % surnames.len()],
                        ["伟", "芳", "敏", "静", "磊", "洋"][(floor + door) as usize % 6]
                    );
                    let now = clock::now();
                    unit::ActiveModel {
                        id: Set(unit_id),
                        building_id: Set(building_id),
                        community_id: Set(community),
                        number: Set(number.clone()),
                        area_centi: Set(area as i64),
                        registered_owner: Set((!developer_held).then(|| owner_name.clone())),
                        developer_held: Set(developer_held),
                        created_at: Set(now),
                        updated_at: Set(now),
                    }
                    .insert(&*txn)
                    .await?;
                    if developer_held {
                        crate::demo::register::unsold(&*txn, community, unit_id, developer).await?;
                        continue;
                    }
                    // Every occupied unit is on the register; not every household is on the
                    // platform, and family members mostly are not.
                    let family = (floor % 2 == 0).then(|| {
                        format!(
                            "{}{}",
                            surnames[(b + floor + door + 3) as usize % surnames.len()],
                            ["丽", "强", "红", "军"][(b + door) as usize % 4]
                        )
                    });
                    let certificate = format!(
                        "临(2021)望湖不动产权第{:07}号",
                        (ci as i64 + 1) * 100_000 + i64::from(b * 100 + floor * 10 + door)
                    );
                    let on_platform = (floor + door) % 3 != 0;
                    let resident = if on_platform {
                        resident_no += 1;
                        let (e, n) = person(
                            &format!("resident{resident_no}@{slug}.demo.yishi.localhost"),
                            &owner_name,
                        );
                        Some(insert_user(&*txn, &e, &n, &hash).await?.id)
                    } else {
                        None
                    };
                    crate::demo::register::occupied(
                        &*txn,
                        community,
                        unit_id,
                        &owner_name,
                        resident,
                        family.as_deref(),
                        floor == 2,
                        certificate,
                    )
                    .await?;
                    let Some(resident) = resident else {
                        continue;
                    };
                    residents.push(resident);
                    let owner = door == 1 || floor % 2 == 0;
                    membership::ActiveModel {
                        id: Set(Uuid::new_v4()),
                        user_id: Set(resident),
                        community_id: Set(community),
                        unit_id: Set(Some(unit_id)),
                        household: Set(true),
                        owner: Set(owner),
                        status: Set("verified".into()),
                        note: Set(None),
                        decided_by: Set(Some(committee)),
                        decided_at: Set(Some(now)),
                        decision_reason: Set(None),
                        created_at: Set(now),
                    }
                    .insert(&*txn)
                    .await?;
                    grant(&*txn, resident, Some(community), Role::Resident).await?;
                    if owner {
                        grant(&*txn, resident, Some(community), Role::Owner).await?;
                        if owners_committee.len() < 3 {
                            owners_committee.push((
                                resident,
                                if owners_committee.is_empty() {
                                    "representative"
                                } else {
                                    "member"
                                },
                            ));
                        }
                    }
                }
            }
        }
        demo_org(
            &*txn,
            community,
            "owners_committee",
            &format!("{community_name}业主委员会"),
            None,
            &owners_committee,
        )
        .await?;
        community_setting::ActiveModel {
            community_id: Set(community),
            cosign_threshold: Set(10),
            cosign_period_days: Set(30),
            updated_at: Set(clock::now()),
        }
        .insert(&*txn)
        .await?;
        let people = DemoPeople {
            committee,
            residents,
            firm,
            firm_rep: property_rep,
            grid_worker,
            grid: grid1,
        };
        if ci == 0 {
            demo_proposals(&*txn, community, &people).await?;
        } else {
            demo_proposal(
                &*txn,
                community,
                &people,
                1,
                (
                    "设立社区图书角",
                    "在活动室设一个图书角，邻里捐书、自助借阅。",
                    "culture",
                ),
                "collecting",
                4,
                None,
            )
            .await?;
        }
    }
    // Servers already running on this database forget the proposal lists they remember.
    crate::proposals::cache::announce(db, &txn).await?;
    txn.commit().await?;
    Ok(accounts)
}

struct DemoPeople {
    committee: Uuid,
    residents: Vec<Uuid>,
    firm: Uuid,
    firm_rep: Uuid,
    grid_worker: Uuid,
    grid: Uuid,
}

/// One demo proposal by `residents[by]` in `status`, with `cosigners` co-signatures from the
/// neighbours after the proposer; returns its id.
#[allow(clippy::too_many_arguments)]
async fn demo_proposal<C: ConnectionTrait>(
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
async fn demo_proposals<C: ConnectionTrait>(
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

/// One demo session with its agenda, invitations of every resident, attendance and room events.
#[allow(clippy::too_many_arguments)]
async fn demo_session<C: ConnectionTrait>(
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
