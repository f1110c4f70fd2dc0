use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "polls")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub community_id: Uuid,
    pub session_id: Option<Uuid>,
    pub agenda_item_id: Option<Uuid>,
    pub proposal_id: Option<Uuid>,
    pub question: String,
    pub description: String,
    pub kind: String,
    pub max_choices: i32,
    pub options: String,
    pub secret: bool,
    pub electorate: String,
    pub rule: String,
    pub show_tally: bool,
    pub status: String,
    pub opens_at: Option<DateTimeUtc>,
    pub closes_at: Option<DateTimeUtc>,
    pub opened_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub electorate_headcount: i64,
    pub electorate_area: i64,
    pub result: Option<String>,
    pub passed: Option<bool>,
    pub result_mailed_at: Option<DateTimeUtc>,
    pub open_mailed_at: Option<DateTimeUtc>,
    pub open_notice_after: Option<Uuid>,
    /// The register version the electorate was frozen from (`None` before the register).
    pub register_seq: Option<i64>,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
