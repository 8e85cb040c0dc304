//! `register-app`: write the environment's Argo CD `Application` into the
//! app-of-apps directory (`<apps_path>/<app_name>.yaml` on `apps_branch`),
//! so Argo CD deploys the environment's branch and overlay. Many sandboxes
//! register at once: the push is rebased and retried, never forced, and the
//! only path it may change is the environment's own file.

use crate::gitops::{self, ACTION, EnvArgs, EnvPlan, GitArgs, GitPlan};
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::params::{BranchName, Namespace, Problems, RepoPath};
use sandbox_core::{ErrorKind, Outputs, Problem, TaskError};
use sandbox_git::{EditError, PushOutcome};
use serde_json::Value;

/// The built-in Application template (tera). `--template` replaces it.
pub const DEFAULT_TEMPLATE: &str = include_str!("register_app/application.yaml.tera");

/// Where the app-of-apps lives and which Application is the environment's;
/// shared by register-app and unregister-app.
#[derive(Debug, Clone, Default, Args)]
pub struct AppsArgs {
    /// App-of-apps directory.
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
    /// Argo CD Application name [default: <environment>].
    #[arg(long, env = "SANDBOX_APP_NAME", value_name = "NAME")]
    pub app_name: Option<String>,
    /// Print the plan and touch nothing.
    #[arg(long, env = "SANDBOX_DRY_RUN")]
    pub dry_run: bool,
}

/// [`AppsArgs`] validated, with the environment.
#[derive(Debug, Clone)]
pub struct AppsPlan {
    /// The repository.
    pub git: GitPlan,
    /// The environment.
    pub env: EnvPlan,
    /// The app-of-apps branch.
    pub apps_branch: BranchName,
    /// The Application's name.
    pub app_name: String,
    /// `<apps_path>/<app_name>.yaml`
    pub app_file: String,
}

impl AppsArgs {
    /// Validate with the repository and environment flags; guard rails after.
    pub fn validate(
        &self,
        git: &GitArgs,
        env: &EnvArgs,
        branch_hint: Option<&str>,
        problems: &mut Problems,
    ) -> Option<AppsPlan> {
        let git = git.validate(problems);
        let env = env.validate(branch_hint, problems);
        let apps_path = problems.parse("apps_path", &self.apps_path, RepoPath::parse);
        let apps_branch = problems.parse("apps_branch", &self.apps_branch, BranchName::parse);
        let app_name = problems.parse_opt("app_name", self.app_name.as_deref(), Namespace::parse);
        let (git, env, apps_path, apps_branch) = (git?, env?, apps_path?, apps_branch?);
        let app_name = app_name.map_or_else(|| env.environment.to_string(), |a| a.to_string());
        Some(AppsPlan {
            app_file: format!("{apps_path}/{app_name}.yaml"),
            git,
            env,
            apps_branch,
            app_name,
        })
    }
}

impl AppsPlan {
    /// The guard rails: the environment's prefix, and the Application must
    /// be the environment's.
    pub fn check(&self, branch: Option<&BranchName>) -> Result<(), TaskError> {
        self.env.check(branch)?;
        self.env
            .policy
            .check_app_name(&self.app_name, &self.env.environment)
            .map_err(|r| TaskError::refused(vec![r.into_problem("app_name", &self.app_name)]))
    }

    /// Write (`Some`) or remove (`None`) the environment's file on the apps
    /// branch: a fast-forward commit that may change that one path only.
    pub async fn push(
        &self,
        ctx: &Context,
        contents: Option<String>,
        message: String,
    ) -> Result<PushOutcome, TaskError> {
        let ws = self.git.open(ctx).await?;
        let branch = self.apps_branch.clone();
        let file = self.app_file.clone();
        gitops::blocking(move || {
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

/// Write the environment's Argo CD Application into the app-of-apps directory.
#[derive(Debug, Clone, Default, Args)]
#[command(about = "Register the environment's Argo CD Application in the app-of-apps directory")]
pub struct Params {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub git: GitArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub env: EnvArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub apps: AppsArgs,
    /// The environment's branch, which Argo CD deploys [default: <environment>].
    #[arg(long, env = "SANDBOX_BRANCH", value_name = "BRANCH")]
    pub branch: Option<String>,
    /// The environment's Kustomize overlay, relative to the repository root.
    #[arg(long, env = "SANDBOX_OVERLAY_PATH", value_name = "PATH")]
    pub overlay_path: Option<String>,
    /// The environment's namespace [default: apps-<environment>].
    #[arg(long, env = "SANDBOX_NAMESPACE", value_name = "NAME")]
    pub namespace: Option<String>,
    /// A tera template in the repository (read from the apps branch) that replaces the built-in Application.
    #[arg(long, env = "SANDBOX_TEMPLATE", value_name = "PATH")]
    pub template: Option<String>,
    /// Namespace Argo CD runs in (where Applications live).
    #[arg(
        long,
        env = "SANDBOX_ARGOCD_NAMESPACE",
        value_name = "NAME",
        default_value = "argocd"
    )]
    pub argocd_namespace: String,
    /// Argo CD project.
    #[arg(
        long,
        env = "SANDBOX_ARGOCD_PROJECT",
        value_name = "NAME",
        default_value = "default"
    )]
    pub argocd_project: String,
    /// Cluster the Application deploys to.
    #[arg(
        long,
        env = "SANDBOX_DESTINATION_SERVER",
        value_name = "URL",
        default_value = "https://kubernetes.default.svc"
    )]
    pub destination_server: String,
    /// Repository URL as Argo CD knows it [default: --repo-url].
    #[arg(long, env = "SANDBOX_SOURCE_REPO_URL", value_name = "URL")]
    pub source_repo_url: Option<String>,
}

/// The task.
pub struct RegisterApp;

impl Task for RegisterApp {
    const NAME: &'static str = "register-app";
    const NEEDS: &'static [crate::Need] = crate::needs::GIT;
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "app_name",
            description: "The Argo CD Application name.",
        },
        OutputSpec {
            name: "app_file",
            description: "The Application's file in the app-of-apps directory.",
        },
        OutputSpec {
            name: "commit",
            description: "The commit on the apps branch holding it (empty on a dry run).",
        },
        OutputSpec {
            name: "action",
            description: "What happened: pushed, unchanged or planned (dry run).",
        },
    ];
    type Params = Params;

    #[tracing::instrument(name = "register-app", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let mut problems = Problems::new();
        let plan = params.apps.validate(
            &params.git,
            &params.env,
            params.branch.as_deref(),
            &mut problems,
        );
        let branch = problems.parse_opt("branch", params.branch.as_deref(), BranchName::parse);
        let overlay = match &params.overlay_path {
            Some(p) => problems.parse("overlay_path", p, RepoPath::parse),
            None => {
                problems.missing("overlay_path", "pass --overlay-path overlays/<environment>");
                None
            }
        };
        let namespace =
            problems.parse_opt("namespace", params.namespace.as_deref(), Namespace::parse);
        let template = problems.parse_opt("template", params.template.as_deref(), RepoPath::parse);
        let argocd_ns = problems.parse(
            "argocd_namespace",
            &params.argocd_namespace,
            Namespace::parse,
        );
        let project = problems.parse("argocd_project", &params.argocd_project, Namespace::parse);
        let source_repo = problems.parse_opt(
            "source_repo_url",
            params.source_repo_url.as_deref(),
            sandbox_core::params::GitRemote::parse,
        );
        if !params.destination_server.starts_with("https://")
            || params.destination_server.contains(char::is_whitespace)
        {
            problems.push(Problem {
                field: "destination_server".into(),
                rule: "url".into(),
                message: "destination_server must be an https:// URL".into(),
                value: Some(params.destination_server.clone()),
                fix: "keep the default https://kubernetes.default.svc".into(),
            });
        }
        let (Some(plan), Some(overlay), Some(argocd_ns), Some(project)) =
            (plan, overlay, argocd_ns, project)
        else {
            return Err(TaskError::invalid(problems.into_vec()));
        };
        if !problems.is_empty() {
            return Err(TaskError::invalid(problems.into_vec()));
        }
        let env = &plan.env.environment;
        let branch = match branch {
            Some(b) => b,
            None => BranchName::parse(env.as_str()).map_err(|e| {
                TaskError::internal(format!("environment is not a branch name: {e}"))
            })?,
        };
        plan.check(Some(&branch))?;
        let own_namespace = Namespace::for_environment(env);
        let namespace = namespace.unwrap_or_else(|| own_namespace.clone());
        plan.env
            .policy
            .check_namespace(&namespace, env)
            .map_err(|r| {
                TaskError::refused(vec![r.into_problem("namespace", namespace.as_str())])
            })?;

        let mut context = tera::Context::new();
        context.insert("app_name", &plan.app_name);
        context.insert("environment", env.as_str());
        context.insert("namespace", namespace.as_str());
        context.insert("argocd_namespace", argocd_ns.as_str());
        context.insert("project", project.as_str());
        context.insert(
            "repo_url",
            source_repo
                .as_ref()
                .map_or(plan.git.url.as_str(), |r| r.as_str()),
        );
        context.insert("target_revision", branch.as_str());
        context.insert("overlay_path", overlay.as_str());
        context.insert("destination_server", &params.destination_server);
        context.insert("pr_number", &plan.env.pr_number.map(|p| p.to_string()));

        let mut out = Outputs::new();
        out.set("app_name", &plan.app_name)
            .set("app_file", &plan.app_file);
        if params.apps.dry_run {
            let rendered = match &template {
                None => Some(render(DEFAULT_TEMPLATE, &context, &plan.app_name)?),
                Some(_) => None,
            };
            tracing::info!(
                repo = %plan.git.redacted_url(), apps_branch = %plan.apps_branch, file = %plan.app_file,
                "dry run: would write the Application{}",
                rendered.map_or_else(|| format!(" from the template {}", template.as_ref().map(|t| t.as_str()).unwrap_or_default()), |r| format!(":\n{r}"))
            );
            out.set(ACTION, "planned");
            return Ok(out);
        }
        let contents = match &template {
            None => render(DEFAULT_TEMPLATE, &context, &plan.app_name)?,
            Some(path) => {
                let ws = plan.git.open(&ctx).await?;
                let (apps_branch, path) = (plan.apps_branch.clone(), path.clone());
                let text = gitops::blocking(move || {
                    ws.read_branch(&apps_branch, |tree| {
                        tree.read_string(path.as_str())?.ok_or_else(|| {
                            EditError::precondition(format!(
                                "template {path} is not on branch {apps_branch}"
                            ))
                        })
                    })
                    .map_err(TaskError::from)
                })
                .await?;
                render(&text, &context, &plan.app_name)?
            }
        };
        let message = match plan.env.pr_number {
            Some(pr) => format!("register-app: {} (PR #{pr})", plan.app_name),
            None => format!("register-app: {}", plan.app_name),
        };
        let outcome = plan.push(&ctx, Some(contents), message).await?;
        out.set("commit", outcome.commit()).set(
            ACTION,
            if outcome.pushed() {
                "pushed"
            } else {
                "unchanged"
            },
        );
        Ok(out)
    }
}

/// Render the Application and check it is one, named `app_name`, with the
/// finalizer that makes Argo CD delete what it deployed.
pub fn render(
    template: &str,
    context: &tera::Context,
    app_name: &str,
) -> Result<String, TaskError> {
    let text = tera::Tera::one_off(template, context, false).map_err(|e| {
        TaskError::precondition("the Application template does not render").with_source(e)
    })?;
    let doc: Value = yaml_serde::from_str(&text).map_err(|e| {
        TaskError::precondition("the rendered Application is not valid YAML").with_source(e)
    })?;
    let bad = |what: &str| {
        TaskError::new(
            ErrorKind::Precondition,
            format!("the rendered Application {what}"),
        )
    };
    if doc["kind"] != "Application"
        || !doc["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("argoproj.io/"))
    {
        return Err(bad("is not an argoproj.io Application"));
    }
    if doc["metadata"]["name"] != app_name {
        return Err(bad(&format!("is not named {app_name}")));
    }
    let finalizers = doc["metadata"]["finalizers"].as_array();
    if !finalizers.is_some_and(|f| f.iter().any(|v| v == FINALIZER)) {
        return Err(bad(&format!("lacks the {FINALIZER} finalizer")));
    }
    Ok(text)
}

/// Makes Argo CD delete the resources an Application deployed when the
/// Application is deleted: unregistering removes the sandbox.
pub const FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_template_renders_a_complete_application() {
        let mut c = tera::Context::new();
        for (k, v) in [
            ("app_name", "sbx-pr-7"),
            ("environment", "sbx-pr-7"),
            ("namespace", "apps-sbx-pr-7"),
            ("argocd_namespace", "argocd"),
            ("project", "default"),
            ("repo_url", "https://github.com/org/infra.git"),
            ("target_revision", "sbx-pr-7"),
            ("overlay_path", "overlays/sbx-pr-7"),
            ("destination_server", "https://kubernetes.default.svc"),
            ("pr_number", "7"),
        ] {
            c.insert(k, v);
        }
        let text = render(DEFAULT_TEMPLATE, &c, "sbx-pr-7").unwrap();
        let doc: Value = yaml_serde::from_str(&text).unwrap();
        assert_eq!(doc["spec"]["source"]["targetRevision"], "sbx-pr-7");
        assert_eq!(doc["spec"]["source"]["path"], "overlays/sbx-pr-7");
        assert_eq!(doc["spec"]["destination"]["namespace"], "apps-sbx-pr-7");
        assert_eq!(doc["spec"]["syncPolicy"]["automated"]["prune"], true);
        assert_eq!(doc["spec"]["syncPolicy"]["automated"]["selfHeal"], true);
        assert_eq!(doc["metadata"]["labels"]["argo-sandbox.io/pr-number"], "7");
        assert!(render("kind: ConfigMap\n", &c, "sbx-pr-7").is_err());
    }
}
