//! Accounts: registration, email verification, sign-in sessions, password reset and change,
//! data export and account deletion.

pub mod api;
pub mod cache;
pub mod devices;
pub mod error;
pub mod lookup;
pub mod model;
pub mod seen;
pub mod service;
pub mod signin;
pub mod tickets;
pub mod tokens;
