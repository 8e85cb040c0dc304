//! The application repository on GitHub (or GitHub Enterprise Server) and
//! the token the tasks that talk to it use.

use super::vault;
use clap::Args;
use sandbox_core::TaskError;
use sandbox_core::credential::{CredentialRef, VaultScope};
use sandbox_core::params::{EnvironmentName, GithubRepo, Invalid, Problems};
use sandbox_forge::{GITHUB_API, GitHub, Limits};
use sandbox_vault::Credentials;

/// The repository whose pull requests own the sandboxes, and its API.
#[derive(Debug, Clone, Args)]
pub struct GithubArgs {
    /// owner/name of the application repository whose pull requests own the sandboxes.
    #[arg(long, env = "SANDBOX_GITHUB_REPO", value_name = "OWNER/NAME")]
    pub github_repo: Option<String>,
    /// GitHub API base URL (GitHub Enterprise Server: https://<host>/api/v3).
    #[arg(long, env = "SANDBOX_GITHUB_API_URL", value_name = "URL", default_value = GITHUB_API)]
    pub github_api_url: String,
    /// GitHub token: file:, env: or vault:// reference.
    #[arg(long, env = "SANDBOX_GITHUB_TOKEN", value_name = "REF")]
    pub github_token: Option<String>,
}

impl Default for GithubArgs {
    fn default() -> Self {
        GithubArgs {
            github_repo: None,
            github_api_url: GITHUB_API.into(),
            github_token: None,
        }
    }
}

/// [`GithubArgs`], validated.
#[derive(Debug, Clone)]
pub struct GithubPlan {
    /// The repository (none when not given).
    pub repo: Option<GithubRepo>,
    /// The API base URL.
    pub api_url: String,
    /// The token's reference, bound to the environment.
    pub token: Option<CredentialRef>,
}

impl GithubArgs {
    /// Validate; a missing repository is a problem only when `required`.
    pub fn validate(
        &self,
        required: bool,
        environment: Option<&EnvironmentName>,
        scope: &VaultScope,
        problems: &mut Problems,
    ) -> Option<GithubPlan> {
        if required && self.github_repo.is_none() {
            problems.missing("github_repo", "pass --github-repo owner/name");
        }
        let repo = problems.parse_opt(
            "github_repo",
            self.github_repo.as_deref(),
            GithubRepo::parse,
        );
        let token = vault::reference(
            problems,
            "github_token",
            self.github_token.as_deref(),
            environment,
            scope,
        );
        problems.parse("github_api_url", &self.github_api_url, parse_api_url)?;
        Some(GithubPlan {
            repo,
            api_url: self.github_api_url.clone(),
            token,
        })
    }
}

/// The API base: an http(s) URL without credentials (the client refuses
/// anything else too; checked here so validation needs no client).
fn parse_api_url(s: &str) -> Result<(), Invalid> {
    let fix = "give e.g. https://api.github.com, or https://<host>/api/v3";
    let url = url::Url::parse(s.trim_end_matches('/'))
        .map_err(|_| Invalid::one("url", "github_api_url is not a URL", fix))?;
    if !matches!(url.scheme(), "https" | "http")
        || url.password().is_some()
        || !url.username().is_empty()
    {
        return Err(Invalid::one(
            "url",
            "github_api_url must be http(s) without credentials",
            fix,
        ));
    }
    Ok(())
}

impl GithubPlan {
    /// The token's reference, if any.
    pub fn references(&self) -> impl Iterator<Item = &CredentialRef> {
        self.token.iter()
    }

    /// A client with the token resolved (anonymous without one).
    pub async fn client(&self, creds: &Credentials) -> Result<GitHub, TaskError> {
        let token = match &self.token {
            Some(r) => Some(creds.resolve(r).await.map_err(TaskError::from)?),
            None => None,
        };
        Ok(GitHub::new(
            &self.api_url,
            token.as_ref().map(|t| t.expose()),
            Limits::default(),
        )?)
    }
}

/// Which forge is asked about pull requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Forge {
    /// GitHub or GitHub Enterprise Server (the github group's flags).
    #[default]
    Github,
    /// No forge: nothing is asked, as if no pull request were open.
    None,
}

/// Whether the tasks that can ask a forge about pull requests do.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct ForgeArgs {
    /// Where to look for pull requests: github, or none.
    #[arg(long, env = "SANDBOX_FORGE", value_enum, default_value_t = Forge::Github)]
    pub forge: Forge,
}
