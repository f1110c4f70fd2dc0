//! Resolutions: accountability from a passed poll or a session's consensus to completion —
//! legal review, public disclosure with objections, progress with evidence, overdue marking,
//! residents' satisfaction, third-party evaluation, and the community dashboard.

pub mod api;
pub mod assisted;
pub mod dashboard;
pub mod error;
pub mod evidence;
pub mod model;
pub mod procurement;
pub mod service;
pub mod states;
