//! Acts a grid worker or committee member does for a person of the register (check-in, RSVP,
//! co-sign, rating, objection): who acted, on what paper or consent, and, where the act counts
//! toward a threshold, who confirmed it. An objection lodged for a person also names them.

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
                .table("assisted_acts")
                .col(pk_uuid("id"))
                .col(uuid("community_id"))
                .col(uuid("person_id"))
                .col(string("kind"))
                .col(uuid("object_id"))
                .col(text_null("detail"))
                .col(string("reference"))
                .col(string("status"))
                // "live" while the act stands (pending or counted), null once rejected or
                // replaced: the unique index below lets one live act per person and object.
                .col(string_null("live"))
                .col(uuid("acted_by"))
                .col(uuid_null("decided_by"))
                .col(timestamp_with_time_zone_null("decided_at"))
                .col(text_null("decision_reason"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("assisted_acts", "community_id", "places"))
                .foreign_key(&mut fk("assisted_acts", "person_id", "register_persons"))
                .take(),
        )
        .await?;
        m.create_index(index(
            "assisted_acts",
            "ux_assisted_acts_live",
            &["kind", "object_id", "person_id", "live"],
            true,
        ))
        .await?;
        m.create_index(index(
            "assisted_acts",
            "ix_assisted_acts_person",
            &["person_id", "created_at"],
            false,
        ))
        .await?;
        m.create_index(index(
            "assisted_acts",
            "ix_assisted_acts_queue",
            &["community_id", "status", "created_at"],
            false,
        ))
        .await?;
        m.alter_table(
            Table::alter()
                .table("resolution_objections")
                .add_column(uuid_null("person_id"))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("resolution_objections")
                .drop_column("person_id")
                .take(),
        )
        .await?;
        m.drop_table(Table::drop().table("assisted_acts").to_owned())
            .await
    }
}
