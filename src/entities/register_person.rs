use sea_orm::entity::prelude::*;

pub use super::register_kinds::{DocumentKind, PersonStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "register_persons")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub community_id: Uuid,
    pub name: String,
    pub document_kind: DocumentKind,
    pub document_hash: Option<String>,
    pub document_last4: Option<String>,
    pub phone: Option<String>,
    pub birth_date: Option<Date>,
    pub adult: bool,
    pub status: PersonStatus,
    pub household_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::register_household::Entity",
        from = "Column::HouseholdId",
        to = "super::register_household::Column::Id"
    )]
    Household,
}

impl Related<super::register_household::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Household.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
