//! Database migrations for Yishi. Append-only: once a migration has landed it is never edited;
//! a change is a new file. Every statement runs on both SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_platform_core;
mod m20261126_000002_proposals;
mod m20261126_000003_sessions;
mod m20261126_000004_voting;
mod m20261126_000005_poll_result_mail;
mod m20261126_000006_building_grids;
mod m20261126_000007_resolutions;
mod m20261126_000008_notifications;
mod m20261126_000009_member_lookup;
mod m20261126_000010_poll_open_notice_cursor;
mod m20261126_000011_procurement;
mod m20261207_000012_register;
mod m20261207_000013_register_requests;
mod m20261207_000014_assisted_acts;
mod m20261207_000015_secrets_out_of_database;
mod m20261207_000016_audit_publications;
mod m20261207_000017_secret_area_totals;
mod m20261207_000018_pending_ballots;
mod m20261207_000019_rate_windows;
mod util;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_platform_core::Migration),
            Box::new(m20261126_000002_proposals::Migration),
            Box::new(m20261126_000003_sessions::Migration),
            Box::new(m20261126_000004_voting::Migration),
            Box::new(m20261126_000005_poll_result_mail::Migration),
            Box::new(m20261126_000006_building_grids::Migration),
            Box::new(m20261126_000007_resolutions::Migration),
            Box::new(m20261126_000008_notifications::Migration),
            Box::new(m20261126_000009_member_lookup::Migration),
            Box::new(m20261126_000010_poll_open_notice_cursor::Migration),
            Box::new(m20261126_000011_procurement::Migration),
            Box::new(m20261207_000012_register::Migration),
            Box::new(m20261207_000013_register_requests::Migration),
            Box::new(m20261207_000014_assisted_acts::Migration),
            Box::new(m20261207_000015_secrets_out_of_database::Migration),
            Box::new(m20261207_000016_audit_publications::Migration),
            Box::new(m20261207_000017_secret_area_totals::Migration),
            Box::new(m20261207_000018_pending_ballots::Migration),
            Box::new(m20261207_000019_rate_windows::Migration),
        ]
    }
}
