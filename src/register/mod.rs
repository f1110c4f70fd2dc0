//! The community register: persons, households and owners, kept by the residents' committee
//! and its grid workers, each change a dated version. It, not the app's accounts, says who may
//! vote, what a quorum is counted against and who took part; accounts link to its persons.

pub mod api;
pub mod csv;
pub mod documents;
pub mod error;
pub mod history;
pub mod model;
pub mod service;
