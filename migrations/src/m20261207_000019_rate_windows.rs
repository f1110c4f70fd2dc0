//! Rate limits shared by every process on one PostgreSQL database (issue 32): one row per
//! hashed key (an account, a client address, a person's writes), holding its current window or
//! paced run. SQLite deployments are one process and count in memory; the table is made there
//! too, so that both databases have one schema.

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
                .table("rate_windows")
                .col(string_len("key", 64).primary_key())
                .col(timestamp_with_time_zone("started_at"))
                .col(big_integer("used"))
                .col(timestamp_with_time_zone_null("blocked_until"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "rate_windows",
            "ix_rate_windows_started_at",
            &["started_at"],
            false,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("rate_windows").to_owned())
            .await
    }
}
