//! sandbox-junit's integration tests, in one binary.

mod fixtures;
mod pytest;
