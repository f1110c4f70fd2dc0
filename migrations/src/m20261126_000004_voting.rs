//! Voting: polls, their frozen electorates, ballots (secret ones unlinked from voters),
//! idempotent ballot requests, proxies and assisted (paper) ballots.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::util::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("polls")
                .col(pk_uuid("id"))
                .col(uuid("community_id"))
                .col(uuid_null("session_id"))
                .col(uuid_null("agenda_item_id"))
                .col(uuid_null("proposal_id"))
                .col(string("question"))
                .col(text("description"))
                .col(string("kind"))
                .col(integer("max_choices"))
                .col(text("options"))
                .col(boolean("secret"))
                .col(text("electorate"))
                .col(text("rule"))
                .col(boolean("show_tally"))
                .col(string("status"))
                .col(timestamp_with_time_zone_null("opens_at"))
                .col(timestamp_with_time_zone_null("closes_at"))
                .col(timestamp_with_time_zone_null("opened_at"))
                .col(timestamp_with_time_zone_null("closed_at"))
                .col(big_integer("electorate_headcount"))
                .col(big_integer("electorate_area"))
                .col(text_null("result"))
                .col(boolean_null("passed"))
                .col(uuid("created_by"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("polls", "community_id", "places"))
                .foreign_key(&mut fk("polls", "session_id", "sessions"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "polls",
            "ix_polls_community",
            &["community_id", "created_at"],
            false,
        ))
        .await?;
        m.create_index(index("polls", "ix_polls_session", &["session_id"], false))
            .await?;
        m.create_index(index("polls", "ix_polls_status", &["status"], false))
            .await?;

        // The electorate, frozen when the poll opens: one row per voting entity (a person, a
        // household, an owner with all their units, an organisation).
        m.create_table(
            Table::create()
                .table("poll_voters")
                .col(pk_uuid("id"))
                .col(uuid("poll_id"))
                .col(string("entity_key"))
                .col(string("label"))
                .col(big_integer("area_centi"))
                .col(boolean("voted"))
                .col(string_null("voted_via"))
                .col(uuid_null("cast_by"))
                .col(timestamp_with_time_zone_null("voted_at"))
                .foreign_key(&mut fk("poll_voters", "poll_id", "polls"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "poll_voters",
            "ux_poll_voters_entity",
            &["poll_id", "entity_key"],
            true,
        ))
        .await?;

        // Who may cast each entity's ballot.
        m.create_table(
            Table::create()
                .table("poll_voter_people")
                .col(pk_uuid("id"))
                .col(uuid("poll_id"))
                .col(uuid("voter_id"))
                .col(uuid("user_id"))
                .foreign_key(&mut fk("poll_voter_people", "poll_id", "polls"))
                .foreign_key(&mut fk("poll_voter_people", "voter_id", "poll_voters"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "poll_voter_people",
            "ux_poll_voter_people",
            &["poll_id", "user_id"],
            true,
        ))
        .await?;
        m.create_index(index(
            "poll_voter_people",
            "ix_poll_voter_people_voter",
            &["voter_id"],
            false,
        ))
        .await?;

        // Choices. A secret ballot has no voter, no time, and (on SQLite) is stored in the
        // order of its random key rather than the order it arrived in.
        let ballots = Table::create()
            .table("ballots")
            .col(pk_uuid("id"))
            .col(uuid("poll_id"))
            .col(uuid_null("voter_id"))
            .col(text("choice"))
            .col(big_integer("area_centi"))
            .col(string_uniq("receipt"))
            .col(timestamp_with_time_zone_null("updated_at"))
            .foreign_key(&mut fk("ballots", "poll_id", "polls"))
            .take();
        if m.get_database_backend() == DbBackend::Sqlite {
            let sql = format!("{} WITHOUT ROWID", ballots.to_string(SqliteQueryBuilder));
            m.get_connection().execute_unprepared(&sql).await?;
        } else {
            m.create_table(ballots).await?;
        }
        m.create_index(index(
            "ballots",
            "ux_ballots_voter",
            &["poll_id", "voter_id"],
            true,
        ))
        .await?;

        // The first answer to a ballot request, sealed with its idempotency key (which is not
        // stored), so a retry gets the same answer without the table linking voter and receipt.
        m.create_table(
            Table::create()
                .table("ballot_requests")
                .col(pk_uuid("id"))
                .col(uuid("poll_id"))
                .col(string_uniq("key_hash"))
                .col(text("sealed"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("ballot_requests", "poll_id", "polls"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("poll_proxies")
                .col(pk_uuid("id"))
                .col(uuid("community_id"))
                .col(uuid_null("poll_id"))
                .col(uuid_null("session_id"))
                .col(uuid("grantor_id"))
                .col(uuid("proxy_id"))
                .col(string("reference"))
                .col(string("status"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .col(timestamp_with_time_zone_null("used_at"))
                .foreign_key(&mut fk("poll_proxies", "community_id", "places"))
                .foreign_key(&mut fk("poll_proxies", "grantor_id", "users"))
                .foreign_key(&mut fk("poll_proxies", "proxy_id", "users"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "poll_proxies",
            "ix_poll_proxies_proxy",
            &["proxy_id", "status"],
            false,
        ))
        .await?;
        m.create_index(index(
            "poll_proxies",
            "ix_poll_proxies_grantor",
            &["grantor_id", "status"],
            false,
        ))
        .await?;

        // Paper or in-person ballots recorded by a grid worker; counted once a second person
        // confirms them.
        m.create_table(
            Table::create()
                .table("assisted_ballots")
                .col(pk_uuid("id"))
                .col(uuid("poll_id"))
                .col(uuid("voter_id"))
                .col(string("paper_reference"))
                .col(text_null("choice"))
                .col(string("status"))
                .col(uuid("recorded_by"))
                .col(uuid_null("confirmed_by"))
                .col(timestamp_with_time_zone_null("confirmed_at"))
                .col(string_null("flag"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("assisted_ballots", "poll_id", "polls"))
                .foreign_key(&mut fk("assisted_ballots", "voter_id", "poll_voters"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "assisted_ballots",
            "ix_assisted_ballots_poll",
            &["poll_id", "status"],
            false,
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "assisted_ballots",
            "poll_proxies",
            "ballot_requests",
            "ballots",
            "poll_voter_people",
            "poll_voters",
            "polls",
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}
