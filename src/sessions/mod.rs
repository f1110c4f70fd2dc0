//! Live consultation sessions (协商议事会): convening, agenda, invitations with iCalendar,
//! attendance online and in person, and the lifecycle draft → scheduled → open ⇄ adjourned →
//! closed (or cancelled).

pub mod api;
pub mod assisted;
pub mod error;
pub mod events;
pub mod ics;
pub mod minutes;
pub mod model;
pub mod service;
