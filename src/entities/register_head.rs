use sea_orm::entity::prelude::*;

/// A community's last register change number.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "register_heads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub community_id: Uuid,
    pub seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
