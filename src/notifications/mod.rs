//! Notifications people keep switched on: one catalogue of everything the platform sends,
//! per-person preferences by category (at once, daily digest, off), one-click unsubscribe,
//! the suppression list, an in-app feed pushed over the person's own socket, and email that
//! is never lost (written to the outbox in the same transaction as the change that causes it,
//! delivered by a background worker).

pub mod api;
pub mod catalogue;
pub mod digest;
pub mod error;
pub mod feed;
pub mod heads;
pub mod keys;
pub mod model;
pub mod notify;
pub mod outbox;
pub mod service;
pub mod templates;
pub mod worker;

pub use catalogue::Kind;
pub use notify::{Recipient, notify, notify_many};
pub use templates::Mail;
