//! Resolutions: what a passed poll or a session's consensus commits someone to do, its legal
//! review, public disclosure with objections, tracking (updates with evidence, milestones),
//! followers, residents' satisfaction and third-party evaluations; per-community settings.

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
                .table("resolutions")
                .col(pk_uuid("id"))
                .col(uuid("community_id"))
                .col(string("title"))
                .col(text("body"))
                .col(string("origin"))
                .col(uuid_null("poll_id"))
                .col(uuid_null("session_id"))
                .col(uuid_null("agenda_item_id"))
                .col(uuid_null("proposal_id"))
                .col(uuid_null("responsible_org_id"))
                .col(string_null("deadline"))
                .col(timestamp_with_time_zone_null("due_at"))
                .col(big_integer_null("budget_fen"))
                .col(boolean("major"))
                .col(text_null("review_rule"))
                .col(string("status"))
                .col(integer("progress"))
                .col(timestamp_with_time_zone_null("disclosure_ends_at"))
                .col(timestamp_with_time_zone_null("effective_at"))
                .col(timestamp_with_time_zone_null("started_at"))
                .col(timestamp_with_time_zone_null("overdue_at"))
                .col(timestamp_with_time_zone_null("completed_at"))
                .col(timestamp_with_time_zone_null("rating_closes_at"))
                .col(text_null("end_reason"))
                .col(uuid("created_by"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("resolutions", "community_id", "places"))
                .foreign_key(&mut fk("resolutions", "poll_id", "polls"))
                .foreign_key(&mut fk("resolutions", "session_id", "sessions"))
                .foreign_key(&mut fk("resolutions", "proposal_id", "proposals"))
                .foreign_key(&mut fk(
                    "resolutions",
                    "responsible_org_id",
                    "organisations",
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "resolutions",
            "ix_resolutions_community",
            &["community_id", "created_at"],
            false,
        ))
        .await?;
        // One resolution per poll, decided by the database.
        m.create_index(index(
            "resolutions",
            "ux_resolutions_poll",
            &["poll_id"],
            true,
        ))
        .await?;
        m.create_index(index(
            "resolutions",
            "ix_resolutions_status",
            &["status"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("resolution_milestones")
                .col(pk_uuid("id"))
                .col(uuid("resolution_id"))
                .col(integer("position"))
                .col(string("title"))
                .col(string("deadline"))
                .col(timestamp_with_time_zone("due_at"))
                .col(timestamp_with_time_zone_null("done_at"))
                .col(uuid_null("done_by"))
                .col(timestamp_with_time_zone_null("overdue_at"))
                .foreign_key(&mut fk(
                    "resolution_milestones",
                    "resolution_id",
                    "resolutions",
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "resolution_milestones",
            "ix_resolution_milestones_resolution",
            &["resolution_id", "position"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("resolution_reviews")
                .col(pk_uuid("id"))
                .col(uuid("resolution_id"))
                .col(uuid("reviewer_id"))
                .col(string("decision"))
                .col(text("findings"))
                .col(text("rule"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "resolution_reviews",
                    "resolution_id",
                    "resolutions",
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "resolution_reviews",
            "ix_resolution_reviews_resolution",
            &["resolution_id", "created_at"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("resolution_objections")
                .col(pk_uuid("id"))
                .col(uuid("resolution_id"))
                .col(uuid("user_id"))
                .col(text("reasons"))
                .col(string("status"))
                .col(text_null("answer"))
                .col(uuid_null("answered_by"))
                .col(timestamp_with_time_zone_null("answered_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "resolution_objections",
                    "resolution_id",
                    "resolutions",
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "resolution_objections",
            "ix_resolution_objections_resolution",
            &["resolution_id", "status"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("resolution_updates")
                .col(pk_uuid("id"))
                .col(uuid("resolution_id"))
                .col(uuid("organisation_id"))
                .col(uuid("author_id"))
                .col(text("body"))
                .col(integer("percent"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "resolution_updates",
                    "resolution_id",
                    "resolutions",
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "resolution_updates",
            "ix_resolution_updates_resolution",
            &["resolution_id", "created_at"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("evidence_files")
                .col(pk_uuid("id"))
                .col(uuid("resolution_id"))
                .col(uuid("update_id"))
                .col(string("file_name"))
                .col(string("content_type"))
                .col(big_integer("size"))
                .col(string("sha256"))
                .col(string("storage_key"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("evidence_files", "resolution_id", "resolutions"))
                .foreign_key(&mut fk("evidence_files", "update_id", "resolution_updates"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "evidence_files",
            "ix_evidence_files_update",
            &["update_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("resolution_followers")
                .col(pk_uuid("id"))
                .col(uuid("resolution_id"))
                .col(uuid("user_id"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "resolution_followers",
                    "resolution_id",
                    "resolutions",
                ))
                .foreign_key(&mut fk("resolution_followers", "user_id", "users"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "resolution_followers",
            "ux_resolution_followers",
            &["resolution_id", "user_id"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("resolution_ratings")
                .col(pk_uuid("id"))
                .col(uuid("resolution_id"))
                .col(uuid("user_id"))
                .col(integer("score"))
                .col(text_null("comment"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "resolution_ratings",
                    "resolution_id",
                    "resolutions",
                ))
                .take(),
        )
        .await?;
        // Rating once is decided by the database.
        m.create_index(index(
            "resolution_ratings",
            "ux_resolution_ratings",
            &["resolution_id", "user_id"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("resolution_evaluations")
                .col(pk_uuid("id"))
                .col(uuid("resolution_id"))
                .col(uuid("evaluator_id"))
                .col(text("criteria"))
                .col(integer("total_centi"))
                .col(text("report"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "resolution_evaluations",
                    "resolution_id",
                    "resolutions",
                ))
                .take(),
        )
        .await?;
        m.create_index(index(
            "resolution_evaluations",
            "ux_resolution_evaluations",
            &["resolution_id", "evaluator_id"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("resolution_settings")
                .col(pk_uuid("community_id"))
                .col(integer("disclosure_days"))
                .col(big_integer("review_budget_fen"))
                .col(integer("rating_days"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("resolution_settings", "community_id", "places"))
                .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "resolution_settings",
            "resolution_evaluations",
            "resolution_ratings",
            "resolution_followers",
            "evidence_files",
            "resolution_updates",
            "resolution_objections",
            "resolution_reviews",
            "resolution_milestones",
            "resolutions",
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}
