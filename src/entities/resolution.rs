use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "resolutions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub community_id: Uuid,
    pub title: String,
    pub body: String,
    pub origin: String,
    pub poll_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub agenda_item_id: Option<Uuid>,
    pub proposal_id: Option<Uuid>,
    pub responsible_org_id: Option<Uuid>,
    pub deadline: Option<String>,
    pub due_at: Option<DateTimeUtc>,
    pub budget_fen: Option<i64>,
    pub major: bool,
    pub review_rule: Option<String>,
    pub status: String,
    pub progress: i32,
    pub disclosure_ends_at: Option<DateTimeUtc>,
    pub effective_at: Option<DateTimeUtc>,
    pub started_at: Option<DateTimeUtc>,
    pub overdue_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub rating_closes_at: Option<DateTimeUtc>,
    pub end_reason: Option<String>,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
