use sea_orm::entity::prelude::*;

/// One version of one register object: the whole object after the change (`data` is `None`
/// once it was removed), who made it, when and why.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "register_changes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub community_id: Uuid,
    pub seq: i64,
    pub entity: String,
    pub entity_id: Uuid,
    pub data: Option<String>,
    pub changed_by: Option<Uuid>,
    pub reason: String,
    pub changed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
