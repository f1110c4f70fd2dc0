//! Demo procurements: filled in by `yishi demo` (see `seed`).
