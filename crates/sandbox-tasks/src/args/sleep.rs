//! The kubectl that renders overlays, and who stays awake when sandboxes are hibernated: a pull-request label
//! (read from one listing of the open pull requests) or the Application
//! annotation `argo-sandbox.io/keep-awake: "true"`.

use clap::Args;
use sandbox_core::Problem;
use sandbox_core::params::Problems;
use std::path::PathBuf;

/// The label that keeps a sandbox awake.
#[derive(Debug, Clone, Args)]
pub struct SleepArgs {
    /// A PR label that keeps its sandbox awake when the others hibernate.
    #[arg(
        long,
        env = "SANDBOX_KEEP_AWAKE_LABEL",
        value_name = "LABEL",
        default_value = "keep-awake"
    )]
    pub keep_awake_label: String,
}

impl Default for SleepArgs {
    fn default() -> Self {
        SleepArgs {
            keep_awake_label: "keep-awake".into(),
        }
    }
}

impl SleepArgs {
    /// The label, validated (a GitHub label name: 1-50 characters).
    pub fn validate(&self, problems: &mut Problems) -> Option<String> {
        let label = self.keep_awake_label.trim();
        if label.is_empty() || label.chars().count() > 50 {
            problems.push(Problem {
                field: "keep_awake_label".into(),
                rule: "github-label".into(),
                message: "keep_awake_label must be a GitHub label name (1-50 characters)".into(),
                value: Some(self.keep_awake_label.clone()),
                fix: "keep the default keep-awake".into(),
            });
            return None;
        }
        Some(label.to_string())
    }
}

/// The kubectl that renders overlays (`kubectl kustomize`).
#[derive(Debug, Clone, Args)]
pub struct KubectlArgs {
    /// The kubectl that renders overlays with `kubectl kustomize`.
    #[arg(
        long,
        env = "SANDBOX_KUBECTL",
        value_name = "PATH",
        default_value = "kubectl"
    )]
    pub kubectl: PathBuf,
}

impl Default for KubectlArgs {
    fn default() -> Self {
        KubectlArgs {
            kubectl: "kubectl".into(),
        }
    }
}
