//! Secret votes keep no voter's area beside a choice (issue 32): each ballot row of a secret
//! poll holds area 0, and the areas are summed per poll and choice here as ballots arrive.
//! Joining a ballot's area to the voters' areas linked them directly.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("poll_choice_totals")
                .col(uuid("poll_id"))
                .col(text("choice"))
                .col(big_integer("ballots"))
                .col(big_integer("area_centi"))
                .primary_key(&mut Index::create().col("poll_id").col("choice").to_owned())
                .take(),
        )
        .await?;
        let db = m.get_connection();
        // Secret polls already holding ballots: their sums move here, their areas go.
        db.execute_unprepared(
            "INSERT INTO poll_choice_totals (poll_id, choice, ballots, area_centi) \
             SELECT b.poll_id, b.choice, COUNT(*), COALESCE(SUM(b.area_centi), 0) \
             FROM ballots b JOIN polls p ON p.id = b.poll_id \
             WHERE p.secret = TRUE GROUP BY b.poll_id, b.choice",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE ballots SET area_centi = 0 \
             WHERE poll_id IN (SELECT id FROM polls WHERE secret = TRUE)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("poll_choice_totals").to_owned())
            .await
    }
}
