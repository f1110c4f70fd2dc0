use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contracts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tender_id: Uuid,
    pub organisation_id: Uuid,
    pub bid_id: Uuid,
    pub title: String,
    pub value_fen: i64,
    pub period_start: String,
    pub period_end: String,
    pub signed_on: String,
    pub status: String,
    pub version: i32,
    pub end_reason: Option<String>,
    pub performance_score: Option<i32>,
    pub performance_comment: Option<String>,
    pub evaluated_by: Option<Uuid>,
    pub evaluated_at: Option<DateTimeUtc>,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
