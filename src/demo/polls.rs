//! Demo polls for `yishi demo`: open and closed polls of each kind, made through the same
//! service functions the API calls, including an owners' vote that passes by headcount and
//! fails by floor area.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entities::{poll_voter, poll_voter_person, role_grant, session, user};
use crate::policy::{Actor, Role};
use crate::state::AppState;
use crate::voting::model::*;
use crate::voting::service;

type Result<T> = std::result::Result<T, String>;

async fn actor(state: &AppState, email: &str) -> Result<Actor> {
    let u = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&state.db.conn)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("demo account {email} is missing"))?;
    crate::accounts::service::actor_for(state, u.id, Uuid::nil())
        .await
        .map_err(|e| e.to_string())
}

fn req(
    community: Uuid,
    question: &str,
    kind: PollKind,
    electorate: ElectorateKind,
) -> CreatePollRequest {
    CreatePollRequest {
        community_id: Some(community),
        session_id: None,
        agenda_item_id: None,
        proposal_id: None,
        question: question.into(),
        description: Default::default(),
        kind,
        options: Vec::new(),
        max_choices: None,
        secret: false,
        electorate,
        grid_ids: Vec::new(),
        preset: None,
        rule: None,
        show_tally: false,
        opens_at: None,
        closes_at: None,
    }
}

fn ballot(choices: &[&str]) -> CastBallotRequest {
    CastBallotRequest {
        choices: choices.iter().map(|c| (*c).into()).collect(),
        voter_id: None,
    }
}

/// Casts `choose(i)` for each resident `i` who is in the poll's electorate.
async fn vote_all(
    state: &AppState,
    poll: Uuid,
    residents: &[Actor],
    choose: impl Fn(usize) -> Option<Vec<&'static str>>,
) -> Result<()> {
    for (i, r) in residents.iter().enumerate() {
        if let Some(c) = choose(i) {
            service::cast(state, r, poll, ballot(&c), None)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Who records and confirms paper ballots, and how their references begin.
struct Paper<'a> {
    grid: &'a Actor,
    secretary: &'a Actor,
    prefix: &'a str,
}

/// Casts `choose(i)` for each voting entity `i` of the poll: online when one of its people has
/// an account among `residents`, else on paper, recorded by the grid worker and confirmed.
async fn vote_everyone(
    state: &AppState,
    poll: Uuid,
    residents: &[Actor],
    paper: &Paper<'_>,
    choose: impl Fn(usize) -> Option<Vec<&'static str>>,
) -> Result<()> {
    let err = |e: crate::voting::error::VotingError| e.to_string();
    let mut entities = poll_voter::Entity::find()
        .filter(poll_voter::Column::PollId.eq(poll))
        .all(&state.db.conn)
        .await
        .map_err(|e| e.to_string())?;
    entities.sort_by(|a, b| (&a.label, a.id).cmp(&(&b.label, b.id)));
    for (i, v) in entities.iter().enumerate() {
        let Some(choices) = choose(i) else {
            continue;
        };
        let person = poll_voter_person::Entity::find()
            .filter(poll_voter_person::Column::VoterId.eq(v.id))
            .one(&state.db.conn)
            .await
            .map_err(|e| e.to_string())?;
        match person.and_then(|link| residents.iter().find(|r| r.id() == link.user_id)) {
            Some(voter) => {
                service::cast(state, voter, poll, ballot(&choices), None)
                    .await
                    .map_err(err)?;
            }
            None => {
                let recorded = service::record_assisted(
                    state,
                    paper.grid,
                    poll,
                    RecordAssistedBallotRequest {
                        voter_id: Some(v.id),
                        voter_email: None,
                        paper_reference: format!("{} {:03}", paper.prefix, i + 1).into(),
                        choices: choices.iter().map(|c| (*c).into()).collect(),
                    },
                )
                .await
                .map_err(err)?;
                service::confirm_assisted(state, paper.secretary, recorded.id)
                    .await
                    .map_err(err)?;
            }
        }
    }
    Ok(())
}

pub async fn load(state: &AppState, slug: &str) -> Result<()> {
    let err = |e: crate::voting::error::VotingError| e.to_string();
    let committee = actor(state, &format!("committee@{slug}.demo.yishi.localhost")).await?;
    let secretary = actor(state, &format!("secretary@{slug}.demo.yishi.localhost")).await?;
    let grid = actor(state, &format!("grid@{slug}.demo.yishi.localhost")).await?;
    let community = committee
        .grants
        .iter()
        .find(|(r, _)| *r == Role::CommitteeMember)
        .and_then(|(_, p)| *p)
        .ok_or("the demo committee member has no community")?;
    let mut residents = Vec::new();
    for g in role_grant::Entity::find()
        .filter(role_grant::Column::PlaceId.eq(community))
        .filter(role_grant::Column::Role.eq(Role::Resident.as_str()))
        .order_by_asc(role_grant::Column::CreatedAt)
        .all(&state.db.conn)
        .await
        .map_err(|e| e.to_string())?
    {
        residents.push(
            crate::accounts::service::actor_for(state, g.user_id, Uuid::nil())
                .await
                .map_err(|e| e.to_string())?,
        );
    }

    // A closed yes/no residents' vote that passed.
    let mut r = req(
        community,
        "是否同意将广场舞时间调整为每晚19:00至20:30？",
        PollKind::YesNo,
        ElectorateKind::Residents,
    );
    r.preset = Some(Preset::ResidentsMeeting);
    let p = service::create(state, &committee, r).await.map_err(err)?;
    service::open(state, &committee, p.id).await.map_err(err)?;
    // Most take part: online if they have an account, else on paper through the grid worker.
    let paper = Paper {
        grid: &grid,
        secretary: &secretary,
        prefix: "居民会议表决票",
    };
    vote_everyone(state, p.id, &residents, &paper, |i| match i % 5 {
        0..=2 => Some(vec!["yes"]),
        3 => Some(vec!["no"]),
        _ => (i % 10 == 4).then(|| vec!["abstain"]),
    })
    .await?;
    service::close(state, &committee, p.id).await.map_err(err)?;

    // The owners' ordinary matter: every owner takes part (online, or on paper through the
    // grid worker); the small owners say yes and the large ones no, so it passes by headcount
    // and fails by floor area.
    let mut r = req(
        community,
        "是否同意使用专项维修资金更换1号楼电梯？",
        PollKind::YesNo,
        ElectorateKind::Owners,
    );
    r.preset = Some(Preset::OwnersOrdinary);
    r.description = "业主共同决定事项（民法典第二百七十八条）：双过半，按人数和专有面积计。".into();
    let p = service::create(state, &committee, r).await.map_err(err)?;
    service::open(state, &committee, p.id).await.map_err(err)?;
    let mut entities = poll_voter::Entity::find()
        .filter(poll_voter::Column::PollId.eq(p.id))
        .all(&state.db.conn)
        .await
        .map_err(|e| e.to_string())?;
    entities.sort_by_key(|v| (v.area_centi, v.id));
    let yes_count = entities.len() / 2 + 1;
    for (i, v) in entities.iter().enumerate() {
        let choice = if i < yes_count { "yes" } else { "no" };
        let person = poll_voter_person::Entity::find()
            .filter(poll_voter_person::Column::VoterId.eq(v.id))
            .one(&state.db.conn)
            .await
            .map_err(|e| e.to_string())?;
        let online = match person {
            Some(link) => residents.iter().find(|r| r.id() == link.user_id),
            None => None,
        };
        match online {
            Some(voter) => {
                service::cast(state, voter, p.id, ballot(&[choice]), None)
                    .await
                    .map_err(err)?;
            }
            None => {
                let recorded = service::record_assisted(
                    state,
                    &grid,
                    p.id,
                    RecordAssistedBallotRequest {
                        voter_id: Some(v.id),
                        voter_email: None,
                        paper_reference: format!("纸质票 2026-{:03}", i + 1).into(),
                        choices: vec![choice.into()],
                    },
                )
                .await
                .map_err(err)?;
                service::confirm_assisted(state, &secretary, recorded.id)
                    .await
                    .map_err(err)?;
            }
        }
    }
    service::close(state, &committee, p.id).await.map_err(err)?;

    // A closed secret single-choice vote and a closed ranked-choice vote.
    let mut r = req(
        community,
        "今年社区春节活动办什么？",
        PollKind::Single,
        ElectorateKind::Households,
    );
    r.options = vec![
        "写春联送福".into(),
        "邻里百家宴".into(),
        "游园猜灯谜".into(),
    ];
    r.secret = true;
    let p = service::create(state, &committee, r).await.map_err(err)?;
    service::open(state, &committee, p.id).await.map_err(err)?;
    for (i, resident) in residents.iter().enumerate() {
        let choice = ["o2", "o1", "o2", "o2", "o3"][i % 5];
        // One member per household votes; the others find their household has voted.
        let _ = service::cast(state, resident, p.id, ballot(&[choice]), None).await;
    }
    service::close(state, &committee, p.id).await.map_err(err)?;

    let mut r = req(
        community,
        "儿童游乐场改造选哪个方案？",
        PollKind::Ranked,
        ElectorateKind::Residents,
    );
    r.options = vec![
        "A 方案：塑胶场地".into(),
        "B 方案：沙池".into(),
        "C 方案：攀爬架".into(),
    ];
    let p = service::create(state, &committee, r).await.map_err(err)?;
    service::open(state, &committee, p.id).await.map_err(err)?;
    vote_all(state, p.id, &residents, |i| {
        Some(match i % 7 {
            0..=2 => vec!["o1", "o3"],
            3 | 4 => vec!["o2", "o3"],
            _ => vec!["o3", "o2"],
        })
    })
    .await?;
    service::close(state, &committee, p.id).await.map_err(err)?;

    // Open now: a multiple-choice vote outside any session, and a vote in the live session
    // with its running tally shown.
    let mut r = req(
        community,
        "小区广场增设哪些健身器材？（最多选两项）",
        PollKind::Multiple,
        ElectorateKind::Residents,
    );
    r.options = vec![
        "太空漫步机".into(),
        "单杠双杠".into(),
        "乒乓球台".into(),
        "儿童秋千".into(),
    ];
    r.max_choices = Some(2);
    r.show_tally = true;
    let p = service::create(state, &committee, r).await.map_err(err)?;
    service::open(state, &committee, p.id).await.map_err(err)?;
    vote_all(state, p.id, &residents, |i| {
        (i % 3 != 0).then(|| {
            if i % 2 == 0 {
                vec!["o1", "o3"]
            } else {
                vec!["o3"]
            }
        })
    })
    .await?;

    let live = session::Entity::find()
        .filter(session::Column::CommunityId.eq(community))
        .filter(session::Column::Status.eq("open"))
        .one(&state.db.conn)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(live) = live {
        let mut r = req(
            community,
            "同意物业的快递柜选址方案吗？",
            PollKind::YesNo,
            ElectorateKind::Residents,
        );
        r.community_id = None;
        r.session_id = Some(live.id);
        r.show_tally = true;
        let p = service::create(state, &committee, r).await.map_err(err)?;
        service::open(state, &committee, p.id).await.map_err(err)?;
        vote_all(state, p.id, &residents[..residents.len().min(4)], |i| {
            Some(vec![if i == 3 { "no" } else { "yes" }])
        })
        .await?;
        // And one the chair has prepared but not opened yet.
        let mut r = req(
            community,
            "电动自行车充电桩装在哪里？",
            PollKind::Single,
            ElectorateKind::Residents,
        );
        r.community_id = None;
        r.session_id = Some(live.id);
        r.options = vec!["东门车棚".into(), "3号楼北侧".into()];
        service::create(state, &committee, r).await.map_err(err)?;
    }
    Ok(())
}
