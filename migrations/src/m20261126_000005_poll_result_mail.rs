//! When a poll's result was mailed to its electorate: mailing happens after the close, in its
//! own transaction, so closing stays quick however large the electorate.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("polls")
                .add_column(timestamp_with_time_zone_null("result_mailed_at"))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("polls")
                .drop_column("result_mailed_at")
                .take(),
        )
        .await
    }
}
