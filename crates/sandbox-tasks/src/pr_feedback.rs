//! `pr-feedback`: tell the pull request how its sandbox is doing — a commit
//! status (context `sandbox/<environment>`) on the PR's head commit, and one
//! sticky comment (found by a hidden marker, edited in place, never posted
//! twice) with the environment's URL, the state, the workflow's link and how
//! to delete the sandbox. Rate limits are waited out by `sandbox-forge`.

use crate::args::{self, EnvArgs, GithubArgs, VaultArgs};
use crate::{Context, OutputSpec, Task};
use clap::{Args, ValueEnum};
use sandbox_core::params::{Invalid, Problems};
use sandbox_core::{Outputs, TaskError};
use sandbox_forge::{Status, StatusState};
use serde::Serialize;

/// The built-in comment template (tera).
pub const COMMENT_TEMPLATE: &str = include_str!("pr_feedback/comment.md.tera");

/// GitHub cuts status descriptions at 140 characters.
const MAX_DESCRIPTION: usize = 140;

/// The state reported, as GitHub's commit status names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// The pipeline is running.
    Pending,
    /// The pipeline succeeded.
    Success,
    /// A step failed.
    Failure,
    /// The pipeline broke (error, cancelled).
    Error,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Success => "success",
            State::Failure => "failure",
            State::Error => "error",
        }
    }

    fn status(self) -> StatusState {
        match self {
            State::Pending => StatusState::Pending,
            State::Success => StatusState::Success,
            State::Failure => StatusState::Failure,
            State::Error => StatusState::Error,
        }
    }
}

/// Which pipeline reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// sandbox-create.
    #[default]
    Create,
    /// sandbox-delete.
    Delete,
}

/// Report the sandbox's state on its pull request.
#[derive(Debug, Clone, Default, Args)]
#[command(
    about = "Report the sandbox's state on its pull request: a commit status and one sticky comment"
)]
pub struct Params {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub env: EnvArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub github: GithubArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
    /// The state to report.
    #[arg(long, env = "SANDBOX_STATE", value_enum)]
    pub state: Option<State>,
    /// Which pipeline reports: create or delete.
    #[arg(long, env = "SANDBOX_OPERATION", value_enum, default_value_t = Operation::Create)]
    pub operation: Operation,
    /// Link of the commit status [default: --workflow-url].
    #[arg(long, env = "SANDBOX_TARGET_URL", value_name = "URL")]
    pub target_url: Option<String>,
    /// The workflow's page in the Argo Workflows UI.
    #[arg(long, env = "SANDBOX_WORKFLOW_URL", value_name = "URL")]
    pub workflow_url: Option<String>,
    /// Where the sandbox answers, shown in the comment.
    #[arg(long, env = "SANDBOX_ENVIRONMENT_URL", value_name = "URL")]
    pub environment_url: Option<String>,
    /// The label whose removal deletes the sandbox (named in the comment).
    #[arg(
        long,
        env = "SANDBOX_CREATE_LABEL",
        value_name = "LABEL",
        default_value = "create-sandbox"
    )]
    pub create_label: String,
}

/// A validated run.
struct Plan {
    env: args::EnvPlan,
    pr: sandbox_core::params::PrNumber,
    github: args::GithubPlan,
    repo: sandbox_core::params::GithubRepo,
    vault: args::VaultPlan,
    state: State,
    target_url: Option<String>,
    workflow_url: Option<String>,
    environment_url: Option<String>,
    label: String,
}

fn validate(params: &Params, dry_run: bool) -> Result<Plan, TaskError> {
    let mut problems = Problems::new();
    let env = params.env.validate(None, &mut problems);
    if params.env.pr_number.is_none() {
        problems.missing("pr_number", "pass --pr-number N");
    }
    let name = env.as_ref().map(|e| &e.environment);
    let scope = params.vault.scope(&mut problems);
    let github = params.github.validate(true, name, &scope, &mut problems);
    if params.state.is_none() {
        problems.missing("state", "pass --state pending|success|failure|error");
    }
    let target_url = problems.parse_opt("target_url", params.target_url.as_deref(), parse_link);
    let workflow_url =
        problems.parse_opt("workflow_url", params.workflow_url.as_deref(), parse_link);
    let environment_url = problems.parse_opt(
        "environment_url",
        params.environment_url.as_deref(),
        parse_link,
    );
    let label = params.create_label.trim();
    if label.is_empty() || label.contains(['`', '\n', '\r']) || label.len() > 50 {
        problems.push(sandbox_core::Problem {
            field: "create_label".into(),
            rule: "github-label".into(),
            message: "create_label must be a GitHub label name (1-50 characters, no backquotes or newlines)".into(),
            value: Some(params.create_label.clone()),
            fix: "keep the default create-sandbox".into(),
        });
    }
    if params.github.github_token.is_none() && !dry_run {
        problems.missing(
            "github_token",
            "pass --github-token file:<path>, env:<VAR> or vault://<mount>/<path>#<key>",
        );
    }
    let vault = params.vault.plan(
        scope,
        name,
        github.iter().flat_map(args::GithubPlan::references),
        &mut problems,
    );
    let (Some(env), Some(github), Some(state), true) =
        (env, github, params.state, problems.is_empty())
    else {
        return Err(args::invalid(problems));
    };
    let (Some(pr), Some(repo)) = (env.pr_number, github.repo.clone()) else {
        return Err(TaskError::internal(
            "pr_number and github_repo validated but absent",
        ));
    };
    env.check(None)?;
    Ok(Plan {
        env,
        pr,
        github,
        repo,
        vault,
        state,
        target_url,
        workflow_url,
        environment_url,
        label: label.to_string(),
    })
}

/// The task.
pub struct PrFeedback;

/// What the comment template is given.
#[derive(Debug, Serialize)]
struct CommentContext<'a> {
    marker: &'a str,
    icon: &'a str,
    headline: &'a str,
    environment: &'a str,
    state: &'a str,
    operation: Operation,
    environment_url: Option<&'a str>,
    workflow_url: Option<&'a str>,
    sha: &'a str,
    create_label: &'a str,
}

/// The hidden marker that identifies the sandbox's comment on the PR.
pub fn marker(environment: &str) -> String {
    format!("<!-- argo-sandbox:{environment} -->")
}

fn headline(operation: Operation, state: State) -> (&'static str, &'static str) {
    match (operation, state) {
        (Operation::Create, State::Pending) => ("⏳", "being created"),
        (Operation::Create, State::Success) => ("✅", "ready"),
        (Operation::Create, State::Failure) => ("❌", "creation failed"),
        (Operation::Create, State::Error) => ("⚠️", "creation stopped with an error"),
        (Operation::Delete, State::Pending) => ("⏳", "being deleted"),
        (Operation::Delete, State::Success) => ("🗑️", "deleted"),
        (Operation::Delete, State::Failure) => ("❌", "deletion failed"),
        (Operation::Delete, State::Error) => ("⚠️", "deletion stopped with an error"),
    }
}

/// A link we put in Markdown: http(s), no credentials, no characters that
/// could end the link early.
fn parse_link(s: &str) -> Result<String, Invalid> {
    let fix = "give an http(s) URL without credentials, e.g. https://sbx-pr-42.example.com";
    let url =
        url::Url::parse(s).map_err(|_| Invalid::one("url", format!("{s:?} is not a URL"), fix))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Invalid::one("url-scheme", "only http and https links", fix));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Invalid::one(
            "url-credentials",
            "the URL carries credentials",
            fix,
        ));
    }
    // The url crate percent-encodes spaces, quotes and angle brackets; a
    // Markdown link destination in <…> then cannot be broken out of.
    Ok(url.to_string())
}

fn render_comment(ctx: &CommentContext<'_>) -> Result<String, TaskError> {
    let context = tera::Context::from_serialize(ctx)
        .map_err(|e| TaskError::internal("cannot build the comment context").with_source(e))?;
    tera::Tera::one_off(COMMENT_TEMPLATE, &context, false)
        .map_err(|e| TaskError::internal("cannot render the comment").with_source(e))
}

impl Task for PrFeedback {
    const NAME: &'static str = "pr-feedback";
    const NEEDS: &'static [crate::Need] = crate::needs::VAULT;
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "comment_id",
            description: "The id of the sandbox's comment on the PR (empty on a dry run).",
        },
        OutputSpec {
            name: "comment_action",
            description: "What happened to the comment: created, updated, unchanged or planned (dry run).",
        },
        OutputSpec {
            name: "status_state",
            description: "The commit status state reported: pending, success, failure or error.",
        },
    ];
    type Params = Params;

    fn validate(params: &Params) -> Result<(), TaskError> {
        validate(params, false).map(drop)
    }

    #[tracing::instrument(name = "pr-feedback", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let Plan {
            env,
            pr,
            github,
            repo,
            vault,
            state,
            target_url,
            workflow_url,
            environment_url,
            label,
        } = validate(&params, ctx.dry_run)?;
        let label = label.as_str();
        let environment = env.environment.as_str();
        let context = format!("sandbox/{environment}");
        let (icon, headline) = headline(params.operation, state);
        let description: String = format!("Sandbox {environment}: {headline}")
            .chars()
            .take(MAX_DESCRIPTION)
            .collect();
        let target_url = target_url.or_else(|| workflow_url.clone());
        let marker = marker(environment);
        let comment_for = |sha: &str| {
            render_comment(&CommentContext {
                marker: &marker,
                icon,
                headline,
                environment,
                state: state.as_str(),
                operation: params.operation,
                environment_url: environment_url.as_deref(),
                workflow_url: workflow_url.as_deref(),
                sha,
                create_label: label,
            })
        };

        let mut out = Outputs::new();
        out.set("status_state", state.as_str());
        if ctx.dry_run {
            let body = comment_for("<head commit>")?;
            tracing::info!(
                repo = %repo, pr = pr.get(), %context, state = state.as_str(), %description,
                target_url = target_url.as_deref().unwrap_or(""),
                "dry run: would set this commit status on the PR's head commit"
            );
            tracing::info!("dry run: would write this comment on PR #{pr}:\n{body}");
            out.set("comment_action", "planned");
            return Ok(out);
        }

        let github = github.client(&vault.credentials(&ctx)).await?;
        let pull = github.pull(&repo, u64::from(pr.get())).await?;
        let sha = pull.head.sha.as_str();
        github
            .create_status(
                &repo,
                sha,
                &Status {
                    state: state.status(),
                    target_url: target_url.as_deref(),
                    description: &description,
                    context: &context,
                },
            )
            .await?;
        tracing::info!(%context, state = state.as_str(), sha, "commit status set");
        let short = &sha[..sha.len().min(12)];
        let body = comment_for(short)?;
        let (comment, action) = github
            .sticky_comment(&repo, u64::from(pr.get()), &marker, &body)
            .await?;
        tracing::info!(id = comment.id, action = action.as_str(), url = %comment.html_url, "PR comment");
        out.set("comment_id", comment.id)
            .set("comment_action", action.as_str());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(operation: Operation, state: State, env_url: Option<&str>) -> String {
        let (icon, headline) = headline(operation, state);
        render_comment(&CommentContext {
            marker: &marker("sbx-pr-42"),
            icon,
            headline,
            environment: "sbx-pr-42",
            state: state.as_str(),
            operation,
            environment_url: env_url,
            workflow_url: Some("https://argo.example.com/workflows/argo/sandbox-create-abc"),
            sha: "6dcb09b5b578",
            create_label: "create-sandbox",
        })
        .unwrap()
    }

    #[test]
    fn the_comment_starts_with_its_marker_and_says_how_to_delete() {
        let text = render(
            Operation::Create,
            State::Success,
            Some("https://sbx-pr-42.example.com/"),
        );
        assert!(
            text.starts_with("<!-- argo-sandbox:sbx-pr-42 -->\n"),
            "{text}"
        );
        assert!(text.contains("`sbx-pr-42`: ready"), "{text}");
        assert!(
            text.contains("(<https://sbx-pr-42.example.com/>)"),
            "{text}"
        );
        assert!(text.contains("(<https://argo.example.com/workflows/argo/sandbox-create-abc>)"));
        assert!(text.contains("remove the `create-sandbox` label or close the pull request"));
        let deleted = render(Operation::Delete, State::Success, None);
        assert!(deleted.contains("deleted") && !deleted.contains("| Environment |"));
        assert!(deleted.contains("add the `create-sandbox` label"));
        let pending = render(Operation::Create, State::Pending, None);
        assert!(pending.contains("not available yet"));
    }

    #[test]
    fn links_cannot_break_out_of_the_markdown() {
        assert_eq!(
            parse_link("https://x.example.com/a b>)[c](d").unwrap(),
            "https://x.example.com/a%20b%3E)[c](d"
        );
        assert!(parse_link("javascript:alert(1)").is_err());
        assert!(parse_link("https://u:p@x.example.com").is_err());
        assert!(parse_link("not a url").is_err());
    }
}
