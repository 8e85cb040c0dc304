//! Argo CD Applications as the sandbox pipelines need them: read through
//! the Kubernetes API ([`Kube`], with the pod's own service account, as
//! client-go's `rest.InClusterConfig` does), turned into a verdict
//! ([`application::verdict`]: ready, still waiting and why, or failed and
//! which resources), and waited for with a deadline ([`wait::wait_ready`]).
//!
//! The shapes follow Argo CD's own types (argoproj/argo-cd
//! `pkg/apis/application/v1alpha1/types.go`: `ApplicationStatus`,
//! `SyncStatus`, `AppHealthStatus`, `ResourceStatus`, `OperationState`) and
//! the health codes of its gitops-engine (`gitops-engine/pkg/health/health.go`
//! `HealthStatusCode`). Only what the verdict reads is decoded; every field
//! is optional, as the controller omits empty ones (`omitempty`).
#![warn(missing_docs)]

pub mod application;
mod error;
pub mod kube;
pub mod wait;

pub use application::{Application, Failure, UnhealthyResource, Verdict, verdict};
pub use error::KubeError;
pub use kube::{Kube, KubeConfig, TokenSource};
pub use wait::{Ready, WaitError, WaitOptions, wait_ready};

/// The API path of Application `name` in `namespace`
/// (`applications.argoproj.io/v1alpha1`, namespaced).
pub fn application_path(namespace: &str, name: &str) -> String {
    format!("/apis/argoproj.io/v1alpha1/namespaces/{namespace}/applications/{name}")
}
