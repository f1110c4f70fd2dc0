use sea_orm::entity::prelude::*;

/// The head of the tamper-evident record as published on one day.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_publications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The local day (`YYYY-MM-DD`) it was published for; unique.
    pub day: String,
    /// The head as published: `yishi-audit-head/1 <day> <positions> <digest>`.
    pub head: String,
    pub entries: i64,
    pub published_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
