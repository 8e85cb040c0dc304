//! The contract every sandbox task keeps: validated parameters, the guard
//! rails, the outcome of a task and its exit code, the outputs it writes,
//! logging, retries and the redaction of secrets.
//!
//! Nothing in here talks to a remote system; domain crates (git, storage,
//! database, forge) build on these types and tasks compose them.
#![warn(missing_docs)]

pub mod credential;
pub mod env_vars;
pub mod error;
pub mod names;
pub mod outputs;
pub mod params;
pub mod policy;
pub mod redact;
pub mod retry;
pub mod schedule;
pub mod telemetry;
pub mod time;

pub use error::{Classify, ErrorKind, Problem, TaskError};
pub use outputs::Outputs;
pub use policy::Policy;
