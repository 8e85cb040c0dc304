//! Every integration test of the `sandbox` command in one binary: the
//! shipped library and install manifests against upstream's schemas and
//! Argo's rules, `sandbox lint`, `sandbox sensor-test` and the demo as
//! processes.

mod common;

mod cluster;
mod demo;
mod demo_lifecycle;
mod lint;
mod schema_conformance;
mod schema_tables;
mod sensor_test;
mod wake_sensor;
