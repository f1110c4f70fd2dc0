use sea_orm::entity::prelude::*;

pub use super::register_kinds::{RequestKind, RequestStatus};

/// A change of the register a grid worker asks for; a committee member confirms it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "register_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub community_id: Uuid,
    pub kind: RequestKind,
    pub person_id: Option<Uuid>,
    pub unit_id: Option<Uuid>,
    /// What the change sets, as JSON (a new person's name and document hash, the new owner).
    pub data: String,
    /// The paper, certificate or consent the request rests on.
    pub reference: String,
    pub status: RequestStatus,
    pub requested_by: Uuid,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTimeUtc>,
    pub decision_reason: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
