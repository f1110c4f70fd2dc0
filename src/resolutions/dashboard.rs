//! The community dashboard: what consultation produced over a period, per community, side by
//! side for a subdistrict or district. Aggregates only; no names.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::error::ResolutionsError as E;
use super::model::{CommunityFigures, Dashboard, PollTurnout};
use super::service::{Result, today};
use crate::communities::model::PlaceKind;
use crate::communities::service::{load_place, scope_of};
use crate::entities::{
    place, poll, proposal, resolution, resolution_evaluation, resolution_rating, session,
    session_attendance,
};
use crate::policy::{Action, Actor, allows};
use crate::state::AppState;
use crate::voting::model::Outcome;

/// The instant a day starts in Asia/Shanghai.
fn start_of(d: NaiveDate) -> DateTime<Utc> {
    super::service::end_of_day(d) - Duration::days(1)
}

/// Communities at or under a place.
async fn communities_under<C: ConnectionTrait>(
    db: &C,
    root: place::Model,
) -> Result<Vec<place::Model>> {
    let mut out = Vec::new();
    let mut frontier = vec![root];
    for _ in 0..4 {
        let mut next = Vec::new();
        for p in frontier {
            if p.kind == PlaceKind::Community.as_str() {
                out.push(p);
                continue;
            }
            next.extend(
                place::Entity::find()
                    .filter(place::Column::ParentId.eq(p.id))
                    .order_by_asc(place::Column::Name)
                    .all(db)
                    .await?,
            );
        }
        frontier = next;
    }
    Ok(out)
}

fn mean(sum: i64, count: i64, scale: f64) -> Option<f64> {
    (count > 0).then(|| ((sum as f64 / count as f64 / scale) * 100.0).round() / 100.0)
}

async fn figures<C: ConnectionTrait>(
    db: &C,
    community: &place::Model,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    polls_out: &mut Vec<PollTurnout>,
) -> Result<CommunityFigures> {
    let id = community.id;
    let proposals_raised = proposal::Entity::find()
        .filter(proposal::Column::CommunityId.eq(id))
        .filter(proposal::Column::SubmittedAt.gte(from))
        .filter(proposal::Column::SubmittedAt.lt(to))
        .count(db)
        .await? as i64;
    let proposals_accepted = proposal::Entity::find()
        .filter(proposal::Column::CommunityId.eq(id))
        .filter(proposal::Column::Status.eq("accepted"))
        .filter(proposal::Column::DecidedAt.gte(from))
        .filter(proposal::Column::DecidedAt.lt(to))
        .count(db)
        .await? as i64;
    let sessions: Vec<Uuid> = session::Entity::find()
        .filter(session::Column::CommunityId.eq(id))
        .filter(session::Column::OpenedAt.gte(from))
        .filter(session::Column::OpenedAt.lt(to))
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    let attendance = if sessions.is_empty() {
        0
    } else {
        session_attendance::Entity::find()
            .filter(session_attendance::Column::SessionId.is_in(sessions.clone()))
            .count(db)
            .await? as i64
    };
    let polls = poll::Entity::find()
        .filter(poll::Column::CommunityId.eq(id))
        .filter(poll::Column::Status.eq("closed"))
        .filter(poll::Column::ClosedAt.gte(from))
        .filter(poll::Column::ClosedAt.lt(to))
        .order_by_asc(poll::Column::ClosedAt)
        .all(db)
        .await?;
    let mut turnout_sum = 0f64;
    let mut turnout_n = 0i64;
    for p in &polls {
        let Some(outcome) = p
            .result
            .as_deref()
            .and_then(|r| serde_json::from_str::<Outcome>(r).ok())
        else {
            continue;
        };
        let electorate = outcome.electorate.headcount as i64;
        let participants = outcome.participants.headcount as i64;
        let percent = if electorate > 0 {
            ((participants as f64 * 10000.0 / electorate as f64).round()) / 100.0
        } else {
            0.0
        };
        turnout_sum += percent;
        turnout_n += 1;
        polls_out.push(PollTurnout {
            poll_id: p.id,
            community_id: id,
            question: p.question.clone(),
            closed_at: p.closed_at.unwrap_or(p.updated_at),
            participants,
            electorate,
            turnout_percent: percent,
            passed: p.passed == Some(true),
        });
    }
    let in_community = resolution::Column::CommunityId.eq(id);
    let resolutions_adopted = resolution::Entity::find()
        .filter(in_community.clone())
        .filter(resolution::Column::EffectiveAt.gte(from))
        .filter(resolution::Column::EffectiveAt.lt(to))
        .count(db)
        .await? as i64;
    let completed = resolution::Entity::find()
        .filter(in_community.clone())
        .filter(resolution::Column::CompletedAt.gte(from))
        .filter(resolution::Column::CompletedAt.lt(to))
        .all(db)
        .await?;
    let completed_on_time = completed
        .iter()
        .filter(|r| match (r.completed_at, r.due_at) {
            (Some(c), Some(due)) => c < due,
            _ => true,
        })
        .count() as i64;
    let overdue = resolution::Entity::find()
        .filter(in_community.clone())
        .filter(resolution::Column::OverdueAt.gte(from))
        .filter(resolution::Column::OverdueAt.lt(to))
        .count(db)
        .await? as i64;
    let ids: Vec<Uuid> = resolution::Entity::find()
        .filter(in_community)
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let (ratings, rating_sum, evaluations, evaluation_sum) = if ids.is_empty() {
        (0, 0, 0, 0)
    } else {
        let ratings = resolution_rating::Entity::find()
            .filter(resolution_rating::Column::ResolutionId.is_in(ids.clone()))
            .filter(resolution_rating::Column::CreatedAt.gte(from))
            .filter(resolution_rating::Column::CreatedAt.lt(to))
            .all(db)
            .await?;
        let evaluations = resolution_evaluation::Entity::find()
            .filter(resolution_evaluation::Column::ResolutionId.is_in(ids))
            .filter(resolution_evaluation::Column::CreatedAt.gte(from))
            .filter(resolution_evaluation::Column::CreatedAt.lt(to))
            .all(db)
            .await?;
        (
            ratings.len() as i64,
            ratings.iter().map(|r| i64::from(r.score)).sum::<i64>(),
            evaluations.len() as i64,
            evaluations
                .iter()
                .map(|e| i64::from(e.total_centi))
                .sum::<i64>(),
        )
    };
    Ok(CommunityFigures {
        community_id: id,
        community_name: community.name.clone(),
        proposals_raised,
        proposals_accepted,
        sessions_held: sessions.len() as i64,
        attendance,
        polls_closed: polls.len() as i64,
        mean_turnout_percent: (turnout_n > 0)
            .then(|| (turnout_sum / turnout_n as f64 * 100.0).round() / 100.0),
        resolutions_adopted,
        resolutions_completed: completed.len() as i64,
        completed_on_time,
        overdue,
        ratings,
        mean_satisfaction: mean(rating_sum, ratings, 1.0),
        evaluations,
        mean_evaluation_score: mean(evaluation_sum, evaluations, 100.0),
    })
}

/// The dashboard of a community, or of every community under a subdistrict or district.
/// The period defaults to the last 365 days; `to` is the last day included.
pub async fn dashboard(
    state: &AppState,
    actor: &Actor,
    place_id: Uuid,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Dashboard> {
    let db = &state.db.conn;
    let place = load_place(db, place_id).await?;
    let scope = scope_of(db, place_id).await?;
    if !allows(actor, Action::ViewDashboard, Some(&scope)) {
        return Err(E::Forbidden(
            "Members of a community, its committee and the officers above it see its dashboard."
                .into(),
        ));
    }
    let to = to.unwrap_or_else(today);
    let from = from.unwrap_or(to - Duration::days(364));
    if from > to {
        return Err(E::Invalid(
            "invalid_period",
            "The period's start is after its end.".into(),
        ));
    }
    if (to - from).num_days() > 3660 {
        return Err(E::Invalid(
            "invalid_period",
            "The period is at most ten years.".into(),
        ));
    }
    let (start, end) = (start_of(from), start_of(to) + Duration::days(1));
    let mut polls = Vec::new();
    let mut communities = Vec::new();
    for c in communities_under(db, place).await? {
        communities.push(figures(db, &c, start, end, &mut polls).await?);
    }
    Ok(Dashboard {
        place_id,
        from,
        to,
        communities,
        polls,
    })
}

/// The same figures as CSV, one row per community.
pub fn to_csv(d: &Dashboard) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "community_id",
        "community",
        "from",
        "to",
        "proposals_raised",
        "proposals_accepted",
        "sessions_held",
        "attendance",
        "polls_closed",
        "mean_turnout_percent",
        "resolutions_adopted",
        "resolutions_completed",
        "completed_on_time",
        "overdue",
        "ratings",
        "mean_satisfaction",
        "evaluations",
        "mean_evaluation_score",
    ]);
    let opt = |x: Option<f64>| x.map(|v| format!("{v:.2}")).unwrap_or_default();
    for c in &d.communities {
        let _ = w.write_record([
            c.community_id.to_string(),
            crate::spreadsheet::guard(&c.community_name),
            d.from.to_string(),
            d.to.to_string(),
            c.proposals_raised.to_string(),
            c.proposals_accepted.to_string(),
            c.sessions_held.to_string(),
            c.attendance.to_string(),
            c.polls_closed.to_string(),
            opt(c.mean_turnout_percent),
            c.resolutions_adopted.to_string(),
            c.resolutions_completed.to_string(),
            c.completed_on_time.to_string(),
            c.overdue.to_string(),
            c.ratings.to_string(),
            opt(c.mean_satisfaction),
            c.evaluations.to_string(),
            opt(c.mean_evaluation_score),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
