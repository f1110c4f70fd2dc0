//! Proposals (提案): raised by members, co-signed by neighbours (附议), moderated by the
//! residents' committee onto the agenda or answered in writing, discussed in threads.

pub mod api;
pub mod cache;
pub mod cosigns;
pub mod error;
pub mod model;
pub mod service;
pub mod states;
