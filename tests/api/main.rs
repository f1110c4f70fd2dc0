//! Black-box tests: the real server over HTTP, a real database, a real SMTP server.

mod accounts;
mod assisted;
mod audit;
mod bad_input;
mod cli;
mod communities;
mod faults;
mod limits;
mod live;
mod notifications;
mod outbox;
mod policy;
mod procurement;
mod proposals;
mod register;
mod register_data;
mod resolutions;
mod secret_area;
mod serving;
mod sessions;
mod smtp;
mod storage;
mod support;
mod voting;
