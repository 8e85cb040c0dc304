//! `sandbox-plugin`: the Argo executor plugin that runs every sandbox task
//! inside the workflow's agent pod (DESIGN §5), so a step that takes
//! milliseconds does not cost a pod.
//!
//! - [`protocol`]: the agent's request and reply, as Argo's Go types define them.
//! - [`server`]: the router (`app`) and `serve`, with auth, errors and metrics.
//! - [`jobs`]: the job table that runs tasks in the background and answers polls.
//! - [`auth`]: the agent's bearer token, read from its file.
//! - [`manifest`]: the ConfigMap that installs the plugin.
#![warn(missing_docs)]

pub mod auth;
pub mod config;
pub mod go_duration;
pub mod jobs;
pub mod manifest;
pub mod metrics;
pub mod protocol;
pub mod server;

pub use server::{AppState, Stop, app, serve};
