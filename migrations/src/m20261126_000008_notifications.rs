//! Notifications people keep switched on: who and what each queued message is about (for
//! preferences, unsubscribe links and merging), the in-app feed, preferences per category,
//! digest settings and runs, the suppression list, application keys, and when a poll's
//! opening was announced.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            uuid_null("user_id"),
            string_null("category"),
            string_null("merge_key"),
        ] {
            let mut col = col;
            m.alter_table(Table::alter().table("outbox").add_column(&mut col).take())
                .await?;
        }
        m.create_index(index(
            "outbox",
            "ix_outbox_merge",
            &["merge_key", "status"],
            false,
        ))
        .await?;
        m.alter_table(
            Table::alter()
                .table("polls")
                .add_column(timestamp_with_time_zone_null("open_mailed_at"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("notifications")
                .col(pk_uuid("id"))
                .col(uuid("user_id"))
                .col(string("kind"))
                .col(string("category"))
                .col(string("title"))
                .col(text("body"))
                .col(string_null("link"))
                .col(uuid_null("object_id"))
                .col(string("email_state"))
                .col(uuid_null("digest_id"))
                .col(timestamp_with_time_zone_null("read_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("notifications", "user_id", "users"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "notifications",
            "ix_notifications_user",
            &["user_id", "created_at"],
            false,
        ))
        .await?;
        m.create_index(index(
            "notifications",
            "ix_notifications_email_state",
            &["email_state", "user_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("notification_preferences")
                .col(pk_uuid("id"))
                .col(uuid("user_id"))
                .col(string("category"))
                .col(string("mode"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("notification_preferences", "user_id", "users"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "notification_preferences",
            "ux_notification_preferences",
            &["user_id", "category"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("notification_settings")
                .col(pk_uuid("user_id"))
                .col(integer("digest_minute"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("notification_settings", "user_id", "users"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("digest_runs")
                .col(pk_uuid("id"))
                .col(uuid("user_id"))
                .col(string("day"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("digest_runs", "user_id", "users"))
                .take(),
        )
        .await?;
        // One digest per person per day, decided by the database.
        m.create_index(index(
            "digest_runs",
            "ux_digest_runs",
            &["user_id", "day"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("suppressed_addresses")
                .col(string("address").primary_key())
                .col(text("reason"))
                .col(timestamp_with_time_zone("created_at"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("app_keys")
                .col(string("name").primary_key())
                .col(string("value"))
                .col(timestamp_with_time_zone("created_at"))
                .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "app_keys",
            "suppressed_addresses",
            "digest_runs",
            "notification_settings",
            "notification_preferences",
            "notifications",
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        m.alter_table(
            Table::alter()
                .table("polls")
                .drop_column("open_mailed_at")
                .take(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("ix_outbox_merge")
                .table("outbox")
                .to_owned(),
        )
        .await?;
        for col in ["merge_key", "category", "user_id"] {
            m.alter_table(Table::alter().table("outbox").drop_column(col).take())
                .await?;
        }
        Ok(())
    }
}
