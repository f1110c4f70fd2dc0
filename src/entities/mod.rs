//! sea-orm entities only; rules live in each context's service.
pub mod audit_entry;
pub mod audit_head;
pub mod auth_session;
pub mod building;
pub mod membership;
pub mod one_time_token;
pub mod organisation;
pub mod organisation_member;
pub mod outbox;
pub mod place;
pub mod role_grant;
pub mod unit;
pub mod user;
