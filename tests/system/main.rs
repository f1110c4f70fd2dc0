//! Tests that need the machine itself, so they run as root (as `.ci/run` does) and are a
//! target of their own: `cargo test --test system`. They start a private PostgreSQL cluster,
//! mount a small tmpfs, and run nginx in front of two `yishi serve` processes.

#[path = "../api/smtp.rs"]
#[allow(dead_code)]
mod smtp;
#[path = "../api/support.rs"]
#[allow(dead_code)]
mod support;

mod deployment;
mod faults;
