//! Where Argo CD keeps its Applications: register-app writes one there,
//! wait-ready reads it.

use clap::Args;
use sandbox_core::params::{Namespace, Problems};

/// Argo CD's namespace.
#[derive(Debug, Clone, Args)]
pub struct ArgoCdArgs {
    /// Namespace Argo CD runs in (where Applications live).
    #[arg(
        long,
        env = "SANDBOX_ARGOCD_NAMESPACE",
        value_name = "NAME",
        default_value = "argocd"
    )]
    pub argocd_namespace: String,
}

impl Default for ArgoCdArgs {
    fn default() -> Self {
        ArgoCdArgs {
            argocd_namespace: "argocd".into(),
        }
    }
}

impl ArgoCdArgs {
    /// The namespace, validated.
    pub fn validate(&self, problems: &mut Problems) -> Option<Namespace> {
        problems.parse("argocd_namespace", &self.argocd_namespace, Namespace::parse)
    }
}
