//! Which grid a building belongs to, so that "the residents of a grid" can be an electorate.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("buildings")
                .add_column(uuid_null("grid_id"))
                .take(),
        )
        .await?;
        m.create_index(index("buildings", "ix_buildings_grid", &["grid_id"], false))
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_buildings_grid")
                .table("buildings")
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("buildings")
                .drop_column("grid_id")
                .take(),
        )
        .await
    }
}
