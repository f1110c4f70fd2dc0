use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "resolution_milestones")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub resolution_id: Uuid,
    pub position: i32,
    pub title: String,
    pub deadline: String,
    pub due_at: DateTimeUtc,
    pub done_at: Option<DateTimeUtc>,
    pub done_by: Option<Uuid>,
    pub overdue_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
