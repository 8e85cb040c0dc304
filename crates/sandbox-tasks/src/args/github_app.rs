//! A GitHub App: what check runs need (a personal or workflow token cannot
//! create them). Its id, its private key as a credential reference and its
//! installation on the repository's owner; all three or none.

use super::vault;
use clap::Args;
use sandbox_core::TaskError;
use sandbox_core::credential::{CredentialRef, VaultScope};
use sandbox_core::params::{EnvironmentName, Invalid, Problems};
use sandbox_forge::{AppInstallation, AppKey, Limits};
use sandbox_vault::Credentials;

/// The GitHub App that publishes check runs.
#[derive(Debug, Clone, Default, Args)]
pub struct GithubAppArgs {
    /// The GitHub App's id (App settings, "App ID"); check runs need an app.
    #[arg(long, env = "SANDBOX_GITHUB_APP_ID", value_name = "ID")]
    pub github_app_id: Option<String>,
    /// The App's private key, PEM (PKCS#1 as GitHub issues it, or PKCS#8): file:, env: or vault:// reference.
    #[arg(long, env = "SANDBOX_GITHUB_APP_KEY", value_name = "REF")]
    pub github_app_key: Option<String>,
    /// The App's installation id on the repository's owner.
    #[arg(long, env = "SANDBOX_GITHUB_INSTALLATION_ID", value_name = "ID")]
    pub github_installation_id: Option<String>,
}

/// [`GithubAppArgs`], validated: present only when all three were given.
#[derive(Debug, Clone)]
pub struct GithubAppPlan {
    /// The app id (the JWT's `iss`).
    pub app_id: u64,
    /// The key's reference, bound to the environment.
    pub key: CredentialRef,
    /// The installation.
    pub installation_id: u64,
}

fn parse_id(s: &str) -> Result<u64, Invalid> {
    s.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            Invalid::one(
                "positive-integer",
                "must be a positive integer",
                "copy the number from the App's settings page (App ID) or its installation URL (…/installations/<id>)",
            )
        })
}

impl GithubAppArgs {
    /// Validate; `None` (and no problem) when no app is configured, a
    /// problem for each part missing when only some are.
    pub fn validate(
        &self,
        environment: Option<&EnvironmentName>,
        scope: &VaultScope,
        problems: &mut Problems,
    ) -> Option<GithubAppPlan> {
        let given = [
            ("github_app_id", self.github_app_id.is_some()),
            ("github_app_key", self.github_app_key.is_some()),
            (
                "github_installation_id",
                self.github_installation_id.is_some(),
            ),
        ];
        let app_id = problems.parse_opt("github_app_id", self.github_app_id.as_deref(), parse_id);
        let installation_id = problems.parse_opt(
            "github_installation_id",
            self.github_installation_id.as_deref(),
            parse_id,
        );
        let key = vault::reference(
            problems,
            "github_app_key",
            self.github_app_key.as_deref(),
            environment,
            scope,
        );
        if given.iter().any(|(_, g)| *g) {
            for (field, _) in given.iter().filter(|(_, g)| !g) {
                problems.missing(
                    field,
                    "a GitHub App needs github_app_id, github_app_key and github_installation_id together; give all three, or none to use github_token",
                );
            }
        }
        Some(GithubAppPlan {
            app_id: app_id?,
            key: key?,
            installation_id: installation_id?,
        })
    }
}

impl GithubAppPlan {
    /// The key's reference.
    pub fn references(&self) -> impl Iterator<Item = &CredentialRef> {
        std::iter::once(&self.key)
    }

    /// The installation, with its key read and checked.
    pub async fn installation(
        &self,
        api_url: &str,
        creds: &Credentials,
    ) -> Result<AppInstallation, TaskError> {
        let pem = creds.resolve(&self.key).await.map_err(TaskError::from)?;
        let key = AppKey::from_pem(pem.expose().as_bytes()).map_err(|e| {
            let mut problems = Problems::new();
            problems.push(sandbox_core::Problem {
                field: "github_app_key".into(),
                rule: "pem-rsa-key".into(),
                message: format!("github_app_key does not hold the App's RSA private key: {e}"),
                value: None,
                fix: "store the PEM GitHub issued for the App (BEGIN RSA PRIVATE KEY, or PKCS#8 BEGIN PRIVATE KEY) under the reference".into(),
            });
            super::invalid(problems)
        })?;
        Ok(AppInstallation::new(
            api_url,
            self.app_id,
            self.installation_id,
            key,
            Limits::default(),
        ))
    }
}
