//! The names a sandbox is known by, all derived from its environment name
//! (DESIGN §4) so no template computes a name itself.

use crate::params::{BranchName, DatabaseName, EnvironmentName, Invalid, Namespace};
use serde::Serialize;

/// Default base of the environment's secrets in Vault.
pub const DEFAULT_VAULT_BASE: &str = "secret/sandboxes";

/// Every name the pipelines use for one sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SandboxNames {
    /// `sbx-pr-42`
    pub environment: EnvironmentName,
    /// `apps-sbx-pr-42`
    pub namespace: Namespace,
    /// The environment's branch of the infrastructure repo: `sbx-pr-42`.
    pub branch: BranchName,
    /// The Argo CD Application: `sbx-pr-42`.
    pub app_name: String,
    /// `sbx_pr_42`
    pub database_name: DatabaseName,
    /// `secret/sandboxes/sbx-pr-42`
    pub vault_path: String,
    /// The object prefix of the environment's documents: `sbx-pr-42/`.
    pub bucket_prefix: String,
}

impl SandboxNames {
    /// Derive every name from the environment name.
    pub fn derive(environment: &EnvironmentName) -> Result<Self, Invalid> {
        Ok(SandboxNames {
            namespace: Namespace::for_environment(environment),
            branch: BranchName::parse(environment.as_str())?,
            app_name: environment.to_string(),
            database_name: DatabaseName::for_environment(environment)?,
            vault_path: format!("{DEFAULT_VAULT_BASE}/{environment}"),
            bucket_prefix: format!("{environment}/"),
            environment: environment.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_design_section_4() {
        let env = EnvironmentName::parse("sbx-pr-42").unwrap();
        let names = SandboxNames::derive(&env).unwrap();
        assert_eq!(names.namespace.as_str(), "apps-sbx-pr-42");
        assert_eq!(names.branch.as_str(), "sbx-pr-42");
        assert_eq!(names.app_name, "sbx-pr-42");
        assert_eq!(names.database_name.as_str(), "sbx_pr_42");
        assert_eq!(names.vault_path, "secret/sandboxes/sbx-pr-42");
        assert_eq!(names.bucket_prefix, "sbx-pr-42/");
    }
}
