//! The daily published head of the tamper-evident record (issue 32): what is copied out of the
//! database (the public board, the officers' mailboxes) so that a rewritten chain can be caught
//! against it. One row a day, claimed under a unique day.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("audit_publications")
                .col(pk_uuid("id"))
                .col(string("day"))
                .col(text("head"))
                .col(big_integer("entries"))
                .col(timestamp_with_time_zone("published_at"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "audit_publications",
            "ux_audit_publications_day",
            &["day"],
            true,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("audit_publications").to_owned())
            .await
    }
}
