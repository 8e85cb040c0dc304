//! sandbox-forge's integration tests, in one binary (one module per
//! subject, as ripgrep's and uv's `tests/it` do).

mod checks;
mod github;
