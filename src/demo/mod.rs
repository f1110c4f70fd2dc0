//! Demo data, apart from the rules: what `yishi demo` puts in a fresh database.

pub mod register;
