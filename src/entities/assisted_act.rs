use sea_orm::entity::prelude::*;

pub use super::register_kinds::{AssistedKind, AssistedStatus};

/// Something a grid worker or committee member did for a person of the register.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "assisted_acts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub community_id: Uuid,
    pub person_id: Uuid,
    pub kind: AssistedKind,
    /// The session, proposal or resolution acted on.
    pub object_id: Uuid,
    /// What was answered, as JSON: `{"response"}`, `{"score","comment"}`, `{"objection_id"}`.
    pub detail: Option<String>,
    /// The paper, signature sheet or consent the act rests on.
    pub reference: String,
    pub status: AssistedStatus,
    /// `Some("live")` while the act stands; the unique index allows one per person and object.
    pub live: Option<String>,
    pub acted_by: Uuid,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTimeUtc>,
    pub decision_reason: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::register_person::Entity",
        from = "Column::PersonId",
        to = "super::register_person::Column::Id"
    )]
    Person,
}

impl Related<super::register_person::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Person.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
