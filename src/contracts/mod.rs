//! Government purchase of services (政府购买服务): bidder profiles, tenders linked to the
//! resolutions they carry out, public enquiries, sealed bids opened at the deadline, an
//! evaluation panel with declared conflicts and exact scoring, the award with its publicity
//! period and complaints, contracts with milestones and payments, and OCDS 1.1 releases.

pub mod api;
pub mod delivery;
pub mod error;
pub mod files;
pub mod model;
pub mod ocds;
pub mod ocds_merge;
pub mod scoring;
pub mod service;
