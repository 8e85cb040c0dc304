//! The harness's integration tests, in one binary: the services are the
//! real thing, and sandbox-core's names hold in the real systems.

mod names_in_real_systems;
mod services;
