use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "register_unit_owners")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub unit_id: Uuid,
    pub community_id: Uuid,
    pub owner_id: Uuid,
    pub certificate: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::register_owner::Entity",
        from = "Column::OwnerId",
        to = "super::register_owner::Column::Id"
    )]
    Owner,
    #[sea_orm(
        belongs_to = "super::unit::Entity",
        from = "Column::UnitId",
        to = "super::unit::Column::Id"
    )]
    Unit,
}

impl Related<super::register_owner::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
