//! Places (district → subdistrict → community → grid), organisations and their members,
//! roles scoped to places, each community's register of buildings and property units, and
//! residents joining a community and being verified.

pub mod api;
pub mod error;
pub mod model;
pub mod register;
pub mod service;
