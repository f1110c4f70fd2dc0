//! Voting: polls with real electorates (residents, households, owners by area, invited
//! organisations, attendees), exact counting rules, open and secret ballots with receipts,
//! proxies, and assisted paper ballots under a two-person rule.

mod answers;
pub mod api;
pub mod counting;
pub mod disclosure;
pub mod error;
pub mod live;
pub mod mixing;
pub mod model;
pub mod service;
pub mod totals;
pub mod writer;
