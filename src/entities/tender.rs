use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub place_id: Uuid,
    pub title: String,
    pub description: String,
    pub category: String,
    pub budget_fen: i64,
    pub eligibility: String,
    pub required_qualification: Option<String>,
    pub status: String,
    pub enquiry_ends_at: DateTimeUtc,
    pub tender_ends_at: DateTimeUtc,
    pub publicity_days: i32,
    pub published_at: Option<DateTimeUtc>,
    pub opened_at: Option<DateTimeUtc>,
    pub bid_count: Option<i32>,
    pub award_bid_id: Option<Uuid>,
    pub award_proposed_at: Option<DateTimeUtc>,
    pub publicity_ends_at: Option<DateTimeUtc>,
    pub awarded_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    pub end_reason: Option<String>,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
