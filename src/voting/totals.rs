//! The per-choice sums of a secret poll's areas (issue 32). A secret ballot row holds its
//! choice and receipt but not its voter's area, so no join on area links it to the electorate;
//! the areas the count needs are added here, per poll and choice, in the transaction that
//! stores the ballots. Polls counted by headcount get the same treatment: nothing to lose.

use std::collections::BTreeMap;

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::counting::CountedBallot;
use crate::entities::poll_choice_total;

/// Adds ballots (poll, stored choice, area) to their sums.
pub async fn add<C: ConnectionTrait>(
    txn: &C,
    ballots: impl IntoIterator<Item = (Uuid, String, i64)>,
) -> Result<(), DbErr> {
    let mut sums: BTreeMap<(Uuid, String), (i64, i64)> = BTreeMap::new();
    for (poll, choice, area) in ballots {
        let s = sums.entry((poll, choice)).or_default();
        s.0 += 1;
        s.1 += area.max(0);
    }
    for ((poll_id, choice), (ballots, area_centi)) in sums {
        poll_choice_total::Entity::insert(poll_choice_total::ActiveModel {
            poll_id: Set(poll_id),
            choice: Set(choice),
            ballots: Set(ballots),
            area_centi: Set(area_centi),
        })
        .on_conflict(
            OnConflict::columns([
                poll_choice_total::Column::PollId,
                poll_choice_total::Column::Choice,
            ])
            .value(
                poll_choice_total::Column::Ballots,
                Expr::cust("poll_choice_totals.ballots + excluded.ballots"),
            )
            .value(
                poll_choice_total::Column::AreaCenti,
                Expr::cust("poll_choice_totals.area_centi + excluded.area_centi"),
            )
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}

/// A secret poll's ballots as the count sees them: per choice, as many ballots as were cast,
/// the first carrying the choice's whole area. Every sum the count takes (headcount and area
/// per option, of participants, of cast ballots) comes out as if each carried its own.
pub async fn counted<C: ConnectionTrait>(
    db: &C,
    poll_id: Uuid,
    choices_of: impl Fn(&str) -> Vec<String>,
) -> Result<Vec<CountedBallot>, DbErr> {
    let rows = poll_choice_total::Entity::find()
        .filter(poll_choice_total::Column::PollId.eq(poll_id))
        .all(db)
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let choices = choices_of(&r.choice);
        for i in 0..r.ballots.max(0) {
            out.push(CountedBallot {
                choices: choices.clone(),
                area_centi: if i == 0 {
                    r.area_centi.max(0) as u64
                } else {
                    0
                },
            });
        }
    }
    Ok(out)
}
