//! Changes of the register a grid worker asks for (moved in, moved out, died, sold), for a
//! committee member to confirm or refuse.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("register_requests")
                .col(pk_uuid("id"))
                .col(uuid("community_id"))
                .col(string("kind"))
                .col(uuid_null("person_id"))
                .col(uuid_null("unit_id"))
                .col(text("data"))
                .col(string("reference"))
                .col(string("status"))
                .col(uuid("requested_by"))
                .col(uuid_null("decided_by"))
                .col(timestamp_with_time_zone_null("decided_at"))
                .col(text_null("decision_reason"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("register_requests", "community_id", "places"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "register_requests",
            "ix_register_requests_status",
            &["community_id", "status", "created_at"],
            false,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("register_requests").to_owned())
            .await
    }
}
