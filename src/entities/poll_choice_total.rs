use sea_orm::entity::prelude::*;

/// A secret poll's ballots and their summed area for one choice (the ballots themselves hold
/// no area).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "poll_choice_totals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub poll_id: Uuid,
    /// The ballot's choices as stored in `ballots.choice` (a JSON array).
    #[sea_orm(primary_key, auto_increment = false)]
    pub choice: String,
    pub ballots: i64,
    pub area_centi: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
