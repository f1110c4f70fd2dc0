//! Secrets leave the database (issue 32): the ticket and unsubscribe keys are derived from the
//! master key file from now on, so the copies kept in `app_keys` go; and one-time links in
//! mail already sent or given up are removed from the outbox (new ones are sealed until sent).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared("DELETE FROM app_keys WHERE name IN ('tickets', 'unsubscribe')")
            .await?;
        db.execute_unprepared(
            "UPDATE outbox SET \
               body_text = '(removed after delivery: this message carried a one-time link)', \
               body_html = '(removed after delivery: this message carried a one-time link)' \
             WHERE category = 'security' AND status IN ('sent', 'dead')",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        // Keys that were deleted are not needed again; removed links cannot come back.
        Ok(())
    }
}
