//! The tamper-evident record: an append-only, hash-chained log of every state change.
//!
//! Entries are spread over `AUDIT_SHARDS` independent chains by a hash of the object they
//! concern. Each chain has a head row; appending locks only that row, so writes about
//! different objects do not wait on one global lock, while the history of any one object
//! stays in one ordered chain.

pub mod api;
pub mod heads;
pub mod model;
pub mod service;

pub use service::{Change, record};
