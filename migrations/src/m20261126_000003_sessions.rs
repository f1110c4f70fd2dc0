//! Live consultation sessions: the session, its agenda, invitations, attendance and the
//! persisted room events; mail attachments (iCalendar) in the outbox.

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
                .table("sessions")
                .col(pk_uuid("id"))
                .col(uuid("community_id"))
                .col(string("title"))
                .col(text("purpose"))
                .col(timestamp_with_time_zone("starts_at"))
                .col(timestamp_with_time_zone("ends_at"))
                .col(string_null("address"))
                .col(boolean("online"))
                .col(string("status"))
                .col(uuid("chair_id"))
                .col(uuid("created_by"))
                .col(text("invited"))
                .col(text_null("cancel_reason"))
                .col(uuid_null("current_item_id"))
                .col(big_integer("event_seq"))
                .col(integer("revision"))
                .col(timestamp_with_time_zone_null("reminded_at"))
                .col(timestamp_with_time_zone_null("opened_at"))
                .col(timestamp_with_time_zone_null("closed_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("sessions", "community_id", "places"))
                .foreign_key(&mut fk("sessions", "chair_id", "users"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "sessions",
            "ix_sessions_community",
            &["community_id", "starts_at"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("agenda_items")
                .col(pk_uuid("id"))
                .col(uuid("session_id"))
                .col(integer("position"))
                .col(uuid_null("proposal_id"))
                .col(string("title"))
                .col(text("description"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("agenda_items", "session_id", "sessions"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "agenda_items",
            "ix_agenda_items",
            &["session_id", "position"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("session_invitations")
                .col(pk_uuid("id"))
                .col(uuid("session_id"))
                .col(uuid("user_id"))
                .col(string("invited_as"))
                .col(string("response"))
                .col(timestamp_with_time_zone_null("responded_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("session_invitations", "session_id", "sessions"))
                .foreign_key(&mut fk("session_invitations", "user_id", "users"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "session_invitations",
            "ux_session_invitations",
            &["session_id", "user_id"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("session_attendance")
                .col(pk_uuid("id"))
                .col(uuid("session_id"))
                .col(uuid("user_id"))
                .col(string("mode"))
                .col(uuid_null("checked_in_by"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("session_attendance", "session_id", "sessions"))
                .foreign_key(&mut fk("session_attendance", "user_id", "users"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "session_attendance",
            "ux_session_attendance",
            &["session_id", "user_id"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("session_events")
                .col(pk_uuid("id"))
                .col(uuid("session_id"))
                .col(big_integer("seq"))
                .col(string("kind"))
                .col(uuid_null("actor_id"))
                .col(text("payload"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("session_events", "session_id", "sessions"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "session_events",
            "ux_session_events",
            &["session_id", "seq"],
            true,
        ))
        .await?;

        m.alter_table(
            Table::alter()
                .table("outbox")
                .add_column(text_null("ics"))
                .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("outbox").drop_column("ics").take())
            .await?;
        for table in [
            "session_events",
            "session_attendance",
            "session_invitations",
            "agenda_items",
            "sessions",
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}
