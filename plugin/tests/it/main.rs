//! The plugin's integration tests: one binary, so the plugin and every task
//! it links are linked once for all of them (as ripgrep's and uv's
//! `tests/it` do). One module per concern.

mod agent;
mod binary;
mod common;
mod conformance;
mod fuzz;
mod manifest;
mod router;
mod serve;
