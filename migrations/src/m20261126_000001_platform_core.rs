//! Platform core: accounts, places, organisations, roles, the unit register, memberships,
//! the tamper-evident record and the email outbox.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::{fk, index};

/// Number of independent audit hash chains. Writes touching different objects land on
/// different chains, so they do not queue behind one global head row.
pub const AUDIT_SHARDS: i32 = 16;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("users")
                .col(pk_uuid("id"))
                .col(string_uniq("email"))
                .col(string("display_name"))
                .col(string("password_hash"))
                .col(string("language"))
                .col(timestamp_with_time_zone_null("email_verified_at"))
                .col(timestamp_with_time_zone_null("deleted_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("auth_sessions")
                .col(pk_uuid("id"))
                .col(uuid("user_id"))
                .col(string_uniq("token_hash"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone("last_seen_at"))
                .col(string_null("user_agent"))
                .col(string_null("client_address"))
                .foreign_key(&mut fk("auth_sessions", "user_id", "users"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "auth_sessions",
            "ix_auth_sessions_user",
            &["user_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("one_time_tokens")
                .col(pk_uuid("id"))
                .col(uuid("user_id"))
                .col(string("purpose"))
                .col(string_uniq("token_hash"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("used_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("one_time_tokens", "user_id", "users"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("places")
                .col(pk_uuid("id"))
                .col(uuid_null("parent_id"))
                .col(string("kind"))
                .col(string("name"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("places", "parent_id", "places"))
                .take(),
        )
        .await?;
        m.create_index(index("places", "ix_places_parent", &["parent_id"], false))
            .await?;

        m.create_table(
            Table::create()
                .table("organisations")
                .col(pk_uuid("id"))
                .col(string("kind"))
                .col(string("name"))
                .col(uuid("place_id"))
                .col(string_null("credit_code"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("organisations", "place_id", "places"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "organisations",
            "ix_organisations_place",
            &["place_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("organisation_members")
                .col(pk_uuid("id"))
                .col(uuid("organisation_id"))
                .col(uuid("user_id"))
                .col(string("role"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "organisation_members",
                    "organisation_id",
                    "organisations",
                ))
                .foreign_key(&mut fk("organisation_members", "user_id", "users"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "organisation_members",
            "ux_organisation_members",
            &["organisation_id", "user_id"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("role_grants")
                .col(pk_uuid("id"))
                .col(uuid("user_id"))
                .col(uuid_null("place_id"))
                .col(string("role"))
                .col(uuid_null("granted_by"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("role_grants", "user_id", "users"))
                .foreign_key(&mut fk("role_grants", "place_id", "places"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "role_grants",
            "ix_role_grants_user",
            &["user_id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "role_grants",
            "ix_role_grants_place",
            &["place_id", "role"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("buildings")
                .col(pk_uuid("id"))
                .col(uuid("community_id"))
                .col(string("name"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("buildings", "community_id", "places"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "buildings",
            "ux_buildings_name",
            &["community_id", "name"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("units")
                .col(pk_uuid("id"))
                .col(uuid("building_id"))
                .col(uuid("community_id"))
                .col(string("number"))
                .col(big_integer("area_centi"))
                .col(string_null("registered_owner"))
                .col(boolean("developer_held"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("units", "building_id", "buildings"))
                .foreign_key(&mut fk("units", "community_id", "places"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "units",
            "ux_units_number",
            &["building_id", "number"],
            true,
        ))
        .await?;
        m.create_index(index(
            "units",
            "ix_units_community",
            &["community_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("memberships")
                .col(pk_uuid("id"))
                .col(uuid("user_id"))
                .col(uuid("community_id"))
                .col(uuid_null("unit_id"))
                .col(boolean("household"))
                .col(boolean("owner"))
                .col(string("status"))
                .col(string_null("note"))
                .col(uuid_null("decided_by"))
                .col(timestamp_with_time_zone_null("decided_at"))
                .col(string_null("decision_reason"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("memberships", "user_id", "users"))
                .foreign_key(&mut fk("memberships", "community_id", "places"))
                .foreign_key(&mut fk("memberships", "unit_id", "units"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "memberships",
            "ix_memberships_queue",
            &["community_id", "status"],
            false,
        ))
        .await?;
        m.create_index(index(
            "memberships",
            "ix_memberships_user",
            &["user_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("audit_heads")
                .col(integer("shard").primary_key())
                .col(big_integer("seq"))
                .col(string("hash"))
                .take(),
        )
        .await?;
        let mut heads = Query::insert();
        heads
            .into_table("audit_heads")
            .columns(["shard", "seq", "hash"]);
        for shard in 0..AUDIT_SHARDS {
            heads.values_panic([shard.into(), 0i64.into(), "0".repeat(64).into()]);
        }
        m.exec_stmt(heads).await?;

        m.create_table(
            Table::create()
                .table("audit_entries")
                .col(pk_uuid("id"))
                .col(integer("shard"))
                .col(big_integer("seq"))
                .col(uuid_null("actor_id"))
                .col(string("action"))
                .col(string("object_type"))
                .col(string("object_id"))
                .col(text("summary"))
                .col(timestamp_with_time_zone("created_at"))
                .col(string("prev_hash"))
                .col(string("hash"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "audit_entries",
            "ux_audit_chain",
            &["shard", "seq"],
            true,
        ))
        .await?;
        m.create_index(index(
            "audit_entries",
            "ix_audit_object",
            &["object_type", "object_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("outbox")
                .col(pk_uuid("id"))
                .col(string("to_address"))
                .col(string("subject"))
                .col(text("body_text"))
                .col(text("body_html"))
                .col(string("status"))
                .col(integer("attempts"))
                .col(timestamp_with_time_zone("next_attempt_at"))
                .col(timestamp_with_time_zone_null("locked_until"))
                .col(text_null("last_error"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("sent_at"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "outbox",
            "ix_outbox_due",
            &["status", "next_attempt_at"],
            false,
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "outbox",
            "audit_entries",
            "audit_heads",
            "memberships",
            "units",
            "buildings",
            "role_grants",
            "organisation_members",
            "organisations",
            "places",
            "one_time_tokens",
            "auth_sessions",
            "users",
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}
