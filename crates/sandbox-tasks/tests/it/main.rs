//! Every integration test of the tasks, in one binary: the task binaries
//! run as processes against real services (the harness), one module per
//! task or concern.

mod support;

mod check_params;
mod check_params_buckets;
mod cleanup_bucket;
mod drop_db;
mod gitops;
mod hibernate;
mod patch_kustomize;
mod pr_feedback;
mod prepare_db;
mod reap;
mod report_tests;
mod restore_db;
mod restore_strategies;
mod secrets;
mod seed_bucket;
mod ssh;
mod wait_ready;
