//! The `sandbox` command's library: [`demo`] runs the pipelines on a local
//! world, [`lint`] checks workflow and event YAML
//! without a cluster, [`sensor`] evaluates a Sensor against an event the way
//! Argo Events does. Both read YAML through [`yaml`], which keeps lines.

pub mod demo;
pub mod lint;
pub mod schema;
pub mod sensor;
pub mod yaml;
