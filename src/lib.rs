//! Yishi (议事厅): a platform on which a city community consults and decides together.

// ApiError is the whole problem response (poem-openapi derives it); boxing it would only move
// the allocation, and errors are not the hot path.
#![allow(clippy::result_large_err)]

pub mod accounts;
pub mod admin;
pub mod api;
pub mod audit;
pub mod clock;
pub mod communities;
pub mod config;
pub mod contracts;
pub mod db;
pub mod demo;
pub mod entities;
pub mod error;
pub mod group_commit;
pub mod in_flight;
pub mod keys;
pub mod memo;
pub mod metrics;
pub mod notifications;
pub mod parse_errors;
pub mod passwords;
pub mod places;
pub mod policy;
pub mod proposals;
pub mod ratelimit;
pub mod realtime;
pub mod register;
pub mod resolutions;
pub mod rotation;
pub mod scheduler;
pub mod sealing;
pub mod sessions;
pub mod spreadsheet;
pub mod startup;
pub mod state;
pub mod text;
pub mod voting;
