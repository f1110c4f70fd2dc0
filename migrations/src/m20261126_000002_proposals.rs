//! Proposals: community settings, proposals and their versions, co-signatures, discussion
//! threads and abuse reports.

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
                .table("community_settings")
                .col(uuid("community_id").primary_key())
                .col(integer("cosign_threshold"))
                .col(integer("cosign_period_days"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(
                    &mut ForeignKey::create()
                        .from("community_settings", "community_id")
                        .to("places", "id")
                        .on_delete(ForeignKeyAction::Cascade)
                        .take(),
                )
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("proposals")
                .col(pk_uuid("id"))
                .col(uuid("community_id"))
                .col(uuid("proposer_id"))
                .col(uuid_null("organisation_id"))
                .col(string("title"))
                .col(text("body"))
                .col(string("category"))
                .col(uuid_null("grid_id"))
                .col(uuid_null("building_id"))
                .col(boolean("owners_only"))
                .col(string("status"))
                .col(integer("cosign_count"))
                .col(integer("cosign_threshold"))
                .col(timestamp_with_time_zone_null("cosign_deadline"))
                .col(uuid_null("merged_into"))
                .col(text_null("decision_reason"))
                .col(integer("version"))
                .col(timestamp_with_time_zone_null("hidden_at"))
                .col(text_null("hidden_reason"))
                .col(timestamp_with_time_zone_null("submitted_at"))
                .col(timestamp_with_time_zone_null("decided_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("proposals", "community_id", "places"))
                .foreign_key(&mut fk("proposals", "proposer_id", "users"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "proposals",
            "ix_proposals_community_status",
            &["community_id", "status"],
            false,
        ))
        .await?;
        m.create_index(index(
            "proposals",
            "ix_proposals_deadline",
            &["status", "cosign_deadline"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("proposal_versions")
                .col(pk_uuid("id"))
                .col(uuid("proposal_id"))
                .col(integer("version"))
                .col(uuid("editor_id"))
                .col(string("title"))
                .col(text("body"))
                .col(string("category"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("proposal_versions", "proposal_id", "proposals"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "proposal_versions",
            "ux_proposal_versions",
            &["proposal_id", "version"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("proposal_cosigns")
                .col(pk_uuid("id"))
                .col(uuid("proposal_id"))
                .col(uuid("user_id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("withdrawn_at"))
                .foreign_key(&mut fk("proposal_cosigns", "proposal_id", "proposals"))
                .foreign_key(&mut fk("proposal_cosigns", "user_id", "users"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "proposal_cosigns",
            "ux_proposal_cosigns",
            &["proposal_id", "user_id"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("proposal_comments")
                .col(pk_uuid("id"))
                .col(uuid("proposal_id"))
                .col(uuid_null("parent_id"))
                .col(integer("depth"))
                .col(uuid("author_id"))
                .col(uuid_null("organisation_id"))
                .col(text("body"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("edited_at"))
                .col(timestamp_with_time_zone_null("deleted_at"))
                .col(timestamp_with_time_zone_null("hidden_at"))
                .col(text_null("hidden_reason"))
                .foreign_key(&mut fk("proposal_comments", "proposal_id", "proposals"))
                .foreign_key(&mut fk("proposal_comments", "author_id", "users"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "proposal_comments",
            "ix_proposal_comments",
            &["proposal_id", "created_at"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("content_reports")
                .col(pk_uuid("id"))
                .col(uuid("proposal_id"))
                .col(uuid_null("comment_id"))
                .col(uuid("reporter_id"))
                .col(text("reason"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("resolved_at"))
                .foreign_key(&mut fk("content_reports", "proposal_id", "proposals"))
                .foreign_key(&mut fk("content_reports", "reporter_id", "users"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "content_reports",
            "ix_content_reports",
            &["proposal_id"],
            false,
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "content_reports",
            "proposal_comments",
            "proposal_cosigns",
            "proposal_versions",
            "proposals",
            "community_settings",
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}
