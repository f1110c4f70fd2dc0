//! Secret ballots wait here, sealed, until their poll closes (issue 32): the transaction that
//! marks a voter as having voted writes only a sealed copy of the choice, under the master key
//! kept outside the database; the close opens them all and writes the ballots in one
//! transaction, in random order, so that no transaction id, timestamp or row order links a
//! ballot to its voter.

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
                .table("pending_ballots")
                .col(pk_uuid("id"))
                .col(uuid("poll_id"))
                .col(blob("sealed"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "pending_ballots",
            "ix_pending_ballots_poll",
            &["poll_id"],
            false,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("pending_ballots").to_owned())
            .await
    }
}
