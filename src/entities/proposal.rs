use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "proposals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub community_id: Uuid,
    pub proposer_id: Uuid,
    pub organisation_id: Option<Uuid>,
    pub title: String,
    pub body: String,
    pub category: String,
    pub grid_id: Option<Uuid>,
    pub building_id: Option<Uuid>,
    pub owners_only: bool,
    pub status: String,
    pub cosign_count: i32,
    pub cosign_threshold: i32,
    pub cosign_deadline: Option<DateTimeUtc>,
    pub merged_into: Option<Uuid>,
    pub decision_reason: Option<String>,
    pub version: i32,
    pub hidden_at: Option<DateTimeUtc>,
    pub hidden_reason: Option<String>,
    pub submitted_at: Option<DateTimeUtc>,
    pub decided_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
