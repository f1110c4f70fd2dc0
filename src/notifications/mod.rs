//! Email that is never lost: messages are written to the outbox table in the same
//! transaction as the change that causes them, and a background worker delivers them.

pub mod outbox;
pub mod templates;
pub mod worker;

pub use outbox::{enqueue, enqueue_many};
pub use templates::Mail;
