//! Demo data, apart from the rules: what `yishi demo` puts in a fresh database.

pub mod mail;
mod people;
pub mod polls;
pub mod procurement;
mod proposals;
pub mod register;
pub mod resolutions;
mod sessions;

pub use people::{DEMO_PASSWORD, load_demo};
