use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "register_owner_persons")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub owner_id: Uuid,
    pub person_id: Uuid,
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
        belongs_to = "super::register_person::Entity",
        from = "Column::PersonId",
        to = "super::register_person::Column::Id"
    )]
    Person,
}

impl Related<super::register_owner::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
