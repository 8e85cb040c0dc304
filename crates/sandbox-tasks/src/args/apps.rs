//! The app-of-apps directory Argo CD watches, its branch, and which
//! Application is the environment's; writing that one file.

use super::{EnvPlan, Refusals, RepoPlan};
use crate::gitops::blocking;
use clap::Args;
use sandbox_core::TaskError;
use sandbox_core::params::{BranchName, Namespace, Problems, RepoPath};
use sandbox_git::{Author, PushOutcome};
use sandbox_vault::Credentials;

/// The app-of-apps directory and its branch.
#[derive(Debug, Clone, Args)]
pub struct AppsDirArgs {
    /// App-of-apps directory Argo CD watches, holding one Application file per sandbox.
    #[arg(
        long,
        env = "SANDBOX_APPS_PATH",
        value_name = "PATH",
        default_value = "apps/sandboxes"
    )]
    pub apps_path: String,
    /// Branch of the app-of-apps directory; only the environment's own file is ever written there.
    #[arg(
        long,
        env = "SANDBOX_APPS_BRANCH",
        value_name = "BRANCH",
        default_value = "main"
    )]
    pub apps_branch: String,
}

impl Default for AppsDirArgs {
    fn default() -> Self {
        AppsDirArgs {
            apps_path: "apps/sandboxes".into(),
            apps_branch: "main".into(),
        }
    }
}

impl AppsDirArgs {
    /// The directory and its branch, validated.
    pub fn validate(&self, problems: &mut Problems) -> Option<(RepoPath, BranchName)> {
        let path = problems.parse("apps_path", &self.apps_path, RepoPath::parse);
        let branch = problems.parse("apps_branch", &self.apps_branch, BranchName::parse);
        Some((path?, branch?))
    }
}

/// The app-of-apps and the environment's Application in it.
#[derive(Debug, Clone, Default, Args)]
pub struct AppsArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub dir: AppsDirArgs,
    /// Argo CD Application name [default: <environment>].
    #[arg(long, env = "SANDBOX_APP_NAME", value_name = "NAME")]
    pub app_name: Option<String>,
}

/// [`AppsArgs`] validated, with the environment.
#[derive(Debug, Clone)]
pub struct AppsPlan {
    /// The app-of-apps directory.
    pub apps_path: RepoPath,
    /// The app-of-apps branch.
    pub apps_branch: BranchName,
    /// The Application's name.
    pub app_name: String,
    /// `<apps_path>/<app_name>.yaml`
    pub app_file: String,
}

impl AppsArgs {
    /// Validate; the Application is named after the environment unless
    /// `--app-name` says otherwise.
    pub fn validate(&self, env: Option<&EnvPlan>, problems: &mut Problems) -> Option<AppsPlan> {
        let dir = self.dir.validate(problems);
        let app_name = problems.parse_opt("app_name", self.app_name.as_deref(), Namespace::parse);
        let (apps_path, apps_branch) = dir?;
        let app_name = match app_name {
            Some(a) => a.to_string(),
            None if self.app_name.is_some() => return None,
            None => env?.environment.to_string(),
        };
        Some(AppsPlan {
            app_file: format!("{apps_path}/{app_name}.yaml"),
            apps_path,
            apps_branch,
            app_name,
        })
    }
}

impl AppsPlan {
    /// The Application must be the environment's.
    pub fn refusals(&self, env: &EnvPlan, refusals: &mut Refusals) {
        refusals.check(
            "app_name",
            &self.app_name,
            env.policy.check_app_name(&self.app_name, &env.environment),
        );
    }

    /// Write (`Some`) or remove (`None`) the environment's file on the apps
    /// branch: a fast-forward commit that may change that one path only.
    pub async fn push(
        &self,
        repo: &RepoPlan,
        creds: &Credentials,
        author: Author,
        contents: Option<String>,
        message: String,
    ) -> Result<PushOutcome, TaskError> {
        let ws = repo.open(creds, author).await?;
        let branch = self.apps_branch.clone();
        let file = self.app_file.clone();
        blocking(move || {
            ws.commit_and_push_only(&branch, &message, std::slice::from_ref(&file), |tree| {
                match &contents {
                    Some(text) => tree.write(&file, text.as_bytes()),
                    None => tree.remove(&file),
                }
                Ok(())
            })
            .map_err(TaskError::from)
        })
        .await
    }
}
