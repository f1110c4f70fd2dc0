//! Announcing a vote's opening to a large electorate goes in chunks, each its own short
//! transaction, so that ballots are not held up behind one long write; the cursor is the last
//! person told.

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
                .add_column(uuid_null("open_notice_after"))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("polls")
                .drop_column("open_notice_after")
                .take(),
        )
        .await
    }
}
