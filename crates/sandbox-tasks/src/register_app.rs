//! `register-app`: write the environment's Argo CD `Application` into the
//! app-of-apps directory (`<apps_path>/<app_name>.yaml` on `apps_branch`),
//! so Argo CD deploys the environment's branch and overlay. Many sandboxes
//! register at once: the push is rebased and retried, never forced, and the
//! only path it may change is the environment's own file.

use crate::args::{
    self, AppsArgs, AppsPlan, AuthorArgs, BranchArgs, EnvArgs, EnvPlan, OverlayArgs, Refusals,
    RepoArgs, RepoPlan, VaultArgs, VaultPlan,
};
use crate::gitops::{self, ACTION};
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::params::{Namespace, Problems, RepoPath};
use sandbox_core::{ErrorKind, Outputs, Problem, TaskError};
use sandbox_git::{Author, EditError};
use serde_json::Value;

/// The built-in Application template (tera). `--app-template` replaces it.
pub const DEFAULT_TEMPLATE: &str = include_str!("register_app/application.yaml.tera");

/// Write the environment's Argo CD Application into the app-of-apps directory.
#[derive(Debug, Clone, Default, Args)]
#[command(about = "Register the environment's Argo CD Application in the app-of-apps directory")]
pub struct Params {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub env: EnvArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub repo: RepoArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub author: AuthorArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub apps: AppsArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub branch: BranchArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub overlay: OverlayArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
    /// A tera template in the repository (read from the apps branch) that replaces the built-in Application.
    #[arg(long, env = "SANDBOX_APP_TEMPLATE", value_name = "PATH")]
    pub app_template: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub argocd: args::ArgoCdArgs,
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

/// A validated run.
struct Plan {
    env: EnvPlan,
    repo: RepoPlan,
    author: Author,
    apps: AppsPlan,
    vault: VaultPlan,
    template: Option<RepoPath>,
    context: tera::Context,
}

fn validate(p: &Params) -> Result<Plan, TaskError> {
    let mut problems = Problems::new();
    let env = p.env.validate(p.branch.branch.as_deref(), &mut problems);
    let name = env.as_ref().map(|e| &e.environment);
    let scope = p.vault.scope(&mut problems);
    let repo = p.repo.validate(true, name, &scope, &mut problems);
    let author = p.author.validate(&mut problems);
    let apps = p.apps.validate(env.as_ref(), &mut problems);
    let branch = p.branch.validate(&mut problems);
    let overlay = p.overlay.validate(true, &mut problems);
    let template = problems.parse_opt("app_template", p.app_template.as_deref(), RepoPath::parse);
    let argocd_ns = p.argocd.validate(&mut problems);
    let project = problems.parse("argocd_project", &p.argocd_project, Namespace::parse);
    let source_repo = problems.parse_opt(
        "source_repo_url",
        p.source_repo_url.as_deref(),
        sandbox_core::params::GitRemote::parse,
    );
    if !p.destination_server.starts_with("https://")
        || p.destination_server.contains(char::is_whitespace)
    {
        problems.push(Problem {
            field: "destination_server".into(),
            rule: "url".into(),
            message: "destination_server must be an https:// URL".into(),
            value: Some(p.destination_server.clone()),
            fix: "keep the default https://kubernetes.default.svc".into(),
        });
    }
    let vault = p.vault.plan(
        scope,
        name,
        repo.iter().flat_map(RepoPlan::references),
        &mut problems,
    );
    let (
        Some(env),
        Some(repo),
        Some(author),
        Some(apps),
        Some(overlay_path),
        Some(argocd_ns),
        Some(project),
        true,
    ) = (
        env,
        repo,
        author,
        apps,
        overlay.overlay_path.clone(),
        argocd_ns,
        project,
        problems.is_empty(),
    )
    else {
        return Err(args::invalid(problems));
    };
    let branch = BranchArgs::resolve(branch, &env)?;
    let mut refusals = Refusals::new();
    apps.refusals(&env, &mut refusals);
    overlay.refusals(&env, &mut refusals);
    refusals.finish()?;
    let namespace = overlay.namespace_for(&env);

    let mut context = tera::Context::new();
    context.insert("app_name", &apps.app_name);
    context.insert("environment", env.environment.as_str());
    context.insert("namespace", namespace.as_str());
    context.insert("argocd_namespace", argocd_ns.as_str());
    context.insert("project", project.as_str());
    context.insert(
        "repo_url",
        source_repo
            .as_ref()
            .map_or(repo.url.as_str(), |r| r.as_str()),
    );
    context.insert("target_revision", branch.as_str());
    context.insert("overlay_path", overlay_path.as_str());
    context.insert("destination_server", &p.destination_server);
    context.insert("pr_number", &env.pr_number.map(|p| p.to_string()));
    Ok(Plan {
        env,
        repo,
        author,
        apps,
        vault,
        template,
        context,
    })
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

    fn validate(params: &Params) -> Result<(), TaskError> {
        validate(params).map(drop)
    }

    #[tracing::instrument(name = "register-app", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let plan = validate(&params)?;
        let (apps, context, template) = (&plan.apps, &plan.context, &plan.template);
        let mut out = Outputs::new();
        out.set("app_name", &apps.app_name)
            .set("app_file", &apps.app_file);
        if ctx.dry_run {
            let rendered = match template {
                None => Some(render(DEFAULT_TEMPLATE, context, &apps.app_name)?),
                Some(_) => None,
            };
            tracing::info!(
                repo = %plan.repo.redacted_url(), apps_branch = %apps.apps_branch, file = %apps.app_file,
                "dry run: would write the Application{}",
                rendered.map_or_else(|| format!(" from the template {}", template.as_ref().map(|t| t.as_str()).unwrap_or_default()), |r| format!(":\n{r}"))
            );
            out.set(ACTION, "planned");
            return Ok(out);
        }
        let creds = plan.vault.credentials(&ctx);
        let contents = match template {
            None => render(DEFAULT_TEMPLATE, context, &apps.app_name)?,
            Some(path) => {
                let ws = plan.repo.open(&creds, plan.author.clone()).await?;
                let (apps_branch, path) = (apps.apps_branch.clone(), path.clone());
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
                render(&text, context, &apps.app_name)?
            }
        };
        let message = match plan.env.pr_number {
            Some(pr) => format!("register-app: {} (PR #{pr})", apps.app_name),
            None => format!("register-app: {}", apps.app_name),
        };
        let outcome = apps
            .push(
                &plan.repo,
                &creds,
                plan.author.clone(),
                Some(contents),
                message,
            )
            .await?;
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
