//! The demo's places, organisations and people, and the order the rest is loaded in.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

use super::proposals::{demo_proposal, demo_proposals};
use crate::admin::{AdminError, grant, insert_user};
use crate::audit::{self, Change};
use crate::clock;
use crate::db::Db;
use crate::entities::{
    building, community_setting, membership, organisation, organisation_member, place, unit,
};
use crate::passwords::Passwords;
use crate::policy::Role;

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

pub(super) struct DemoPeople {
    pub(super) committee: Uuid,
    pub(super) residents: Vec<Uuid>,
    pub(super) firm: Uuid,
    pub(super) firm_rep: Uuid,
    pub(super) grid_worker: Uuid,
    pub(super) grid: Uuid,
}
