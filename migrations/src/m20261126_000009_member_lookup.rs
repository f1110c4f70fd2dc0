//! Every authenticated request looks up the organisations a person belongs to by user id; the
//! unique index starts with the organisation, so it cannot serve that lookup.

use sea_orm_migration::prelude::*;

use crate::util::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(index(
            "organisation_members",
            "ix_organisation_members_user",
            &["user_id"],
            false,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_organisation_members_user")
                .table("organisation_members")
                .to_owned(),
        )
        .await
    }
}
