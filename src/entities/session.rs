use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub community_id: Uuid,
    pub title: String,
    pub purpose: String,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    pub address: Option<String>,
    pub online: bool,
    pub status: String,
    pub chair_id: Uuid,
    pub created_by: Uuid,
    pub invited: String,
    pub cancel_reason: Option<String>,
    pub current_item_id: Option<Uuid>,
    pub event_seq: i64,
    pub revision: i32,
    pub reminded_at: Option<DateTimeUtc>,
    pub opened_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
