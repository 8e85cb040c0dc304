//! `pr-feedback`: tell the pull request how its sandbox is doing — a commit
//! status (context `sandbox/<environment>`) on the PR's head commit, and one
//! sticky comment (found by a hidden marker, edited in place, never posted
//! twice) with the environment's URL, the state, the workflow's link and how
//! to delete the sandbox. Rate limits are waited out by `sandbox-forge`.
//!
//! The same comment follows the sandbox through its life: creating (with
//! the time the run started and its link), ready (the sandbox's and the
//! Argo CD Application's links, the measured time to ready as a Mermaid
//! gantt and a table, see [`timeline`]), failed (the failed step and its
//! message from `{{workflow.failures}}`, see [`failures`], and what to do),
//! tests, hibernated, deleted. Sections other tasks own in the comment
//! (report-tests' `tests` summary, `sandbox_forge::put_section`) are kept.

mod failures;
mod timeline;

use crate::args::{self, EnvArgs, GithubArgs, VaultArgs};
use crate::{Context, OutputSpec, Task};
use clap::{Args, ValueEnum};
use sandbox_core::params::{Invalid, Problems};
use sandbox_core::{Outputs, TaskError};
use sandbox_forge::{Status, StatusState};
use serde::Serialize;
use std::time::SystemTime;

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
    /// The tests run against the sandbox (sandbox-test). Edits the comment
    /// only: the tests' own check run or status is report-tests'.
    Tests,
    /// The sandbox is scaled down, its data kept.
    Hibernate,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Delete => "delete",
            Operation::Tests => "tests",
            Operation::Hibernate => "hibernate",
        }
    }
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
    /// Which pipeline reports: create, delete, tests or hibernate.
    #[arg(long, env = "SANDBOX_OPERATION", value_enum, default_value_t = Operation::Create)]
    pub operation: Operation,
    /// Link of the commit status [default: --workflow-url].
    #[arg(long, env = "SANDBOX_TARGET_URL", value_name = "URL")]
    pub target_url: Option<String>,
    /// The workflow's page in the Argo Workflows UI.
    #[arg(long, env = "SANDBOX_WORKFLOW_URL", value_name = "URL")]
    pub workflow_url: Option<String>,
    /// Where the sandbox answers, shown in the comment; {environment} and {pr_number} are filled in.
    #[arg(long, env = "SANDBOX_ENVIRONMENT_URL", value_name = "URL")]
    pub environment_url: Option<String>,
    /// The sandbox's Application in the Argo CD UI, shown in the comment; {environment} and {pr_number} are filled in.
    #[arg(long, env = "SANDBOX_ARGOCD_URL", value_name = "URL")]
    pub argocd_url: Option<String>,
    /// When the event that started the pipeline happened (RFC 3339): the start of time to ready.
    #[arg(long, env = "SANDBOX_TRIGGERED_AT", value_name = "TIME")]
    pub triggered_at: Option<String>,
    /// When the pipeline started (RFC 3339, e.g. the workflow's creationTimestamp) [default: now].
    #[arg(long, env = "SANDBOX_STARTED_AT", value_name = "TIME")]
    pub started_at: Option<String>,
    /// The steps' timings, JSON: [{"step","start","end"}] with RFC 3339 times; shown as time to ready.
    #[arg(long, env = "SANDBOX_TIMINGS", value_name = "JSON")]
    pub timings: Option<String>,
    /// The failed steps, as the JSON of Argo's workflow.failures in an exit handler; shown on failure.
    #[arg(long, env = "SANDBOX_FAILURES", value_name = "JSON")]
    pub failures: Option<String>,
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
    argocd_url: Option<String>,
    triggered_at: Option<SystemTime>,
    started_at: Option<SystemTime>,
    timings: Vec<timeline::Step>,
    failures: Vec<failures::FailedStep>,
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
    // URL templates are filled with the environment's names, then checked
    // as links; an unknown placeholder is a typo to report, not to post.
    // Without a valid environment (reported already) the template is still
    // checked, with a stand-in name.
    let (name_for_urls, pr_for_urls) = env.as_ref().map_or(("sandbox", "1".to_string()), |e| {
        let pr = e.pr_number.map(|p| p.get().to_string()).unwrap_or_default();
        (e.environment.as_str(), pr)
    });
    let fill = |field: &str, value: Option<&str>, problems: &mut Problems| {
        problems.parse_opt(field, value, |t| {
            parse_link(&fill_url(t, name_for_urls, &pr_for_urls)?)
        })
    };
    let environment_url = fill(
        "environment_url",
        params.environment_url.as_deref(),
        &mut problems,
    );
    let argocd_url = fill("argocd_url", params.argocd_url.as_deref(), &mut problems);
    let triggered_at = problems.parse_opt(
        "triggered_at",
        params.triggered_at.as_deref(),
        timeline::parse_time,
    );
    let started_at = problems.parse_opt(
        "started_at",
        params.started_at.as_deref(),
        timeline::parse_time,
    );
    let timings = problems
        .parse_opt(
            "timings",
            params.timings.as_deref(),
            timeline::parse_timings,
        )
        .unwrap_or_default();
    let failures = problems
        .parse_opt(
            "failures",
            params.failures.as_deref(),
            failures::parse_failures,
        )
        .unwrap_or_default();
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
        argocd_url,
        triggered_at,
        started_at,
        timings,
        failures,
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
    operation: &'a str,
    /// The Environment row's text when there is no link to show (not
    /// available yet, asleep); no row when neither this nor a link.
    environment_row: Option<&'a str>,
    /// The sandbox's URL, when it answers.
    environment_link: Option<&'a str>,
    argocd_url: Option<&'a str>,
    workflow_url: Option<&'a str>,
    sha: &'a str,
    create_label: &'a str,
    /// `HH:MM` (UTC) the run started, for "creating".
    started: Option<String>,
    timeline: Option<timeline::Timeline>,
    failures: &'a [failures::FailedStep],
    /// Other tasks' sections of the comment, kept as they are.
    sections: String,
}

/// The hidden marker that identifies the sandbox's comment on the PR.
pub fn marker(environment: &str) -> String {
    sandbox_forge::sticky_marker(environment)
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
        (Operation::Tests, State::Pending) => ("🧪", "ready, tests running"),
        (Operation::Tests, State::Success) => ("✅", "ready, tests passed"),
        (Operation::Tests, State::Failure) => ("❌", "ready, tests failed"),
        (Operation::Tests, State::Error) => ("⚠️", "ready, tests could not run"),
        (Operation::Hibernate, State::Pending) => ("⏳", "going to sleep"),
        (Operation::Hibernate, State::Success) => ("💤", "hibernated"),
        (Operation::Hibernate, State::Failure) => ("❌", "hibernation failed"),
        (Operation::Hibernate, State::Error) => ("⚠️", "hibernation stopped with an error"),
    }
}

/// The placeholders a URL template may hold.
const PLACEHOLDERS: &[&str] = &["environment", "pr_number"];

/// Fill `{environment}` and `{pr_number}` into a URL template; any other
/// `{…}` is an error.
fn fill_url(template: &str, environment: &str, pr_number: &str) -> Result<String, Invalid> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(Invalid::one(
                "url-template",
                "a { without its }",
                "write placeholders as {environment} or {pr_number}",
            ));
        };
        match &after[..close] {
            "environment" => out.push_str(environment),
            "pr_number" if !pr_number.is_empty() => out.push_str(pr_number),
            other => {
                return Err(Invalid::one(
                    "url-template",
                    format!(
                        "unknown placeholder {{{other}}}; known: {}",
                        PLACEHOLDERS
                            .iter()
                            .map(|p| format!("{{{p}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    "write e.g. https://{environment}.sandbox.example.com",
                ));
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
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
        let plan = validate(&params, ctx.dry_run)?;
        let (state, pr, repo) = (plan.state, plan.pr, plan.repo.clone());
        let environment = plan.env.environment.as_str();
        let context = format!("sandbox/{environment}");
        let (_, headline) = headline(params.operation, state);
        let description: String = format!("Sandbox {environment}: {headline}")
            .chars()
            .take(MAX_DESCRIPTION)
            .collect();
        let target_url = plan
            .target_url
            .clone()
            .or_else(|| plan.workflow_url.clone());
        let marker = marker(environment);
        let comment_for = |sha: &str| render_for(&params, &plan, sha);
        // The sections of other tasks are kept, except on deletion: they
        // were about a sandbox that is gone.
        let keep_sections = params.operation != Operation::Delete;

        let mut out = Outputs::new();
        out.set("status_state", state.as_str());
        if ctx.dry_run {
            let body = with_sections(&comment_for("<head commit>")?, None, keep_sections);
            tracing::info!(
                repo = %repo, pr = pr.get(), %context, state = state.as_str(), %description,
                target_url = target_url.as_deref().unwrap_or(""),
                "dry run: would set this commit status on the PR's head commit"
            );
            tracing::info!("dry run: would write this comment on PR #{pr}:\n{body}");
            out.set("comment_action", "planned");
            return Ok(out);
        }

        let github = plan.github.client(&plan.vault.credentials(&ctx)).await?;
        let pull = github.pull(&repo, u64::from(pr.get())).await?;
        let sha = pull.head.sha.as_str();
        // The tests' result is report-tests' check run (or its own status):
        // reporting it again under the sandbox's context would mix the two.
        if params.operation != Operation::Tests {
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
        }
        let short = &sha[..sha.len().min(12)];
        let body = comment_for(short)?;
        let (comment, action) = github
            .sticky_comment_with(&repo, u64::from(pr.get()), &marker, |now| {
                with_sections(&body, now, keep_sections)
            })
            .await?;
        tracing::info!(id = comment.id, action = action.as_str(), url = %comment.html_url, "PR comment");
        out.set("comment_id", comment.id)
            .set("comment_action", action.as_str());
        Ok(out)
    }
}

/// Where the comment template puts the other tasks' sections.
const SECTIONS_SLOT: &str = "<!-- argo-sandbox:sections -->";

/// `body` with the sections of the comment as it is (`now`) in its slot,
/// or without them.
fn with_sections(body: &str, now: Option<&str>, keep: bool) -> String {
    let kept: Vec<String> = match (now, keep) {
        (Some(now), true) => sandbox_forge::sections(now)
            .into_iter()
            .map(|(_, whole)| whole)
            .collect(),
        _ => Vec::new(),
    };
    if kept.is_empty() {
        body.replace(SECTIONS_SLOT, "")
    } else {
        body.replace(SECTIONS_SLOT, &format!("{}\n\n", kept.join("\n\n")))
    }
}

/// The comment pr-feedback would write for a sandbox in this state (the
/// head commit shown as `sha`), without other tasks' sections: what the
/// demo prints.
pub fn comment_text(params: &Params, sha: &str) -> Result<String, TaskError> {
    let plan = validate(params, true)?;
    Ok(with_sections(&render_for(params, &plan, sha)?, None, false))
}

/// The comment of `plan`, with the slot for other tasks' sections.
fn render_for(params: &Params, plan: &Plan, sha: &str) -> Result<String, TaskError> {
    let environment = plan.env.environment.as_str();
    let (icon, headline) = headline(params.operation, plan.state);
    let creating = params.operation == Operation::Create;
    let started = (creating && plan.state == State::Pending)
        .then(|| timeline::hour_minute(plan.started_at.unwrap_or_else(SystemTime::now)));
    // Time to ready only once ready; a failed run shows where it failed.
    let timeline = (creating && plan.state == State::Success)
        .then(|| timeline::timeline(plan.triggered_at, &plan.timings))
        .flatten();
    let failures: &[failures::FailedStep] = if matches!(plan.state, State::Failure | State::Error) {
        &plan.failures
    } else {
        &[]
    };
    let url = plan.environment_url.as_deref();
    let (environment_row, environment_link) = match (params.operation, plan.state) {
        (Operation::Delete, _) => (None, None),
        (Operation::Create, State::Pending) => (Some("not available yet"), None),
        (Operation::Create, State::Failure | State::Error) => (Some("not available"), None),
        (Operation::Hibernate, _) => (Some("asleep"), None),
        // A link is shown only when given.
        (Operation::Create | Operation::Tests, _) => (None, url),
    };
    render_comment(&CommentContext {
        marker: &marker(environment),
        icon,
        headline,
        environment,
        state: plan.state.as_str(),
        operation: params.operation.as_str(),
        environment_row,
        environment_link,
        argocd_url: plan.argocd_url.as_deref(),
        workflow_url: plan.workflow_url.as_deref(),
        sha,
        create_label: &plan.label,
        started,
        timeline,
        failures,
        sections: SECTIONS_SLOT.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKFLOW: &str = "https://argo.example.com/workflows/argo/sandbox-create-abc";

    fn params(operation: Operation, state: State, env_url: Option<&str>) -> Params {
        let mut p = Params {
            state: Some(state),
            operation,
            environment_url: env_url.map(str::to_string),
            workflow_url: Some(WORKFLOW.into()),
            create_label: "create-sandbox".into(),
            ..Params::default()
        };
        p.env.pr_number = Some("42".into());
        p.env.prefix.env_prefix = "sbx-".into();
        p.github.github_repo = Some("acme/shop".into());
        p
    }

    fn render(operation: Operation, state: State, env_url: Option<&str>) -> String {
        comment_text(&params(operation, state, env_url), "6dcb09b5b578").unwrap()
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
        assert!(text.contains(&format!("(<{WORKFLOW}>)")));
        assert!(text.contains("remove the `create-sandbox` label or close the pull request"));
        assert!(!text.contains(SECTIONS_SLOT), "{text}");
        let deleted = render(Operation::Delete, State::Success, None);
        assert!(deleted.contains("deleted") && !deleted.contains("| Environment |"));
        assert!(deleted.contains("add the `create-sandbox` label"));
        let pending = render(Operation::Create, State::Pending, None);
        assert!(pending.contains("not available yet"));
    }

    #[test]
    fn pending_says_when_it_started_and_where_to_follow() {
        let mut p = params(Operation::Create, State::Pending, None);
        p.started_at = Some("2026-12-02T10:04:05Z".into());
        let text = comment_text(&p, "6dcb09b5b578").unwrap();
        assert!(
            text.contains(&format!(
                "Creating, started 10:04 UTC. Follow the run: [open in Argo Workflows](<{WORKFLOW}>)."
            )),
            "{text}"
        );
        assert!(text.contains("### ⏳ Sandbox `sbx-pr-42`: being created"));
        // Only while creating.
        let ready = render(Operation::Create, State::Success, None);
        assert!(!ready.contains("Creating, started"), "{ready}");
    }

    #[test]
    fn url_templates_are_filled_and_unknown_placeholders_refused() {
        let mut p = params(
            Operation::Create,
            State::Success,
            Some("https://{environment}.sandbox.example.com"),
        );
        p.argocd_url = Some(
            "https://argocd.example.com/applications/argocd/{environment}?pr={pr_number}".into(),
        );
        let text = comment_text(&p, "x").unwrap();
        assert!(
            text.contains(
                "[https://sbx-pr-42.sandbox.example.com/](<https://sbx-pr-42.sandbox.example.com/>)"
            ),
            "{text}"
        );
        assert!(
            text.contains("| Argo CD | [open the Application](<https://argocd.example.com/applications/argocd/sbx-pr-42?pr=42>) |"),
            "{text}"
        );
        // Each link only when given.
        let mut bare = params(Operation::Create, State::Success, None);
        bare.workflow_url = None;
        let bare = comment_text(&bare, "x").unwrap();
        assert!(
            !bare.contains("| Argo CD |")
                && !bare.contains("| Environment |")
                && !bare.contains("| Workflow |"),
            "{bare}"
        );
        let mut p = params(
            Operation::Create,
            State::Success,
            Some("https://{env}.sandbox.example.com"),
        );
        p.argocd_url = Some("https://argocd.example.com/{environment".into());
        let error = comment_text(&p, "x").unwrap_err();
        assert_eq!(error.kind, sandbox_core::ErrorKind::InvalidParams);
        let fields: Vec<(&str, &str)> = error
            .details
            .iter()
            .map(|d| (d.field.as_str(), d.rule.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("environment_url", "url-template"),
                ("argocd_url", "url-template")
            ]
        );
        assert!(
            error.details[0]
                .message
                .contains("unknown placeholder {env}")
        );
    }

    #[test]
    fn ready_shows_the_time_to_ready_as_a_gantt_and_a_collapsed_table() {
        let mut p = params(
            Operation::Create,
            State::Success,
            Some("https://{environment}.example.com"),
        );
        p.triggered_at = Some("2026-12-02T10:03:50Z".into());
        p.timings = Some(
            r#"[{"step":"check-params","start":"2026-12-02T10:04:02Z","end":"2026-12-02T10:04:08Z"},
                {"step":"wait-ready","start":"2026-12-02T10:09:00Z","end":"2026-12-02T10:11:30Z"}]"#
                .into(),
        );
        let text = comment_text(&p, "x").unwrap();
        assert!(
            text.contains("| Time to ready | **7 min 40 s** from the pull request event |"),
            "{text}"
        );
        let gantt = text.find("```mermaid\ngantt\n").expect("a gantt block");
        let details = text
            .find("<details><summary>Where the time went</summary>")
            .unwrap();
        assert!(gantt < details, "{text}");
        assert!(
            text.contains("| event to first step | +0 ms | 12 s |"),
            "{text}"
        );
        assert!(
            text.contains("| wait-ready | +5 min 10 s | 2 min 30 s |"),
            "{text}"
        );
        assert!(
            text.contains("| **time to ready** | | **7 min 40 s** |"),
            "{text}"
        );
        assert!(text.contains("</details>"));
        // A failed run shows no time to ready, even with timings.
        p.state = Some(State::Failure);
        let failed = comment_text(&p, "x").unwrap();
        assert!(
            !failed.contains("mermaid") && !failed.contains("Time to ready"),
            "{failed}"
        );
    }

    #[test]
    fn failure_names_the_step_its_message_and_what_to_do() {
        let mut p = params(
            Operation::Create,
            State::Failure,
            Some("https://{environment}.example.com"),
        );
        p.failures = Some(
            r#"[{"displayName":"sandbox-create-pr-42-x","message":"child 'sandbox-create-pr-42-x-1' failed","templateName":"create","phase":"Failed","podName":"p","finishedAt":"2026-12-02T10:12:00Z"},
                {"displayName":"wait-ready","message":"Application sbx-pr-42 is Degraded at revision 6dcb09b5b578: Deployment apps-sbx-pr-42/web is Degraded","templateName":"wait-ready","phase":"Failed","podName":"p1","finishedAt":"2026-12-02T10:11:58Z"}]"#
                .into(),
        );
        let text = comment_text(&p, "x").unwrap();
        assert!(
            text.contains("### ❌ Sandbox `sbx-pr-42`: creation failed"),
            "{text}"
        );
        assert!(
            text.contains("**Failed step:**\n\n- `wait-ready` (Failed): Application sbx-pr-42 is Degraded at revision 6dcb09b5b578: Deployment apps-sbx-pr-42/web is Degraded\n"),
            "{text}"
        );
        assert!(!text.contains("child '"), "{text}");
        assert!(
            text.contains("remove the `create-sandbox` label and add it again"),
            "{text}"
        );
        assert!(text.contains("the delete pipeline cleans up"), "{text}");
        // The sandbox's URL is not offered for a sandbox that failed.
        assert!(text.contains("| Environment | not available |"), "{text}");
        p.failures = Some("[{oops".into());
        let error = comment_text(&p, "x").unwrap_err();
        assert_eq!(error.details[0].field, "failures");
        p.failures = None;
        p.timings = Some("{}".into());
        assert_eq!(
            comment_text(&p, "x").unwrap_err().details[0].field,
            "timings"
        );
        p.timings = None;
        p.triggered_at = Some("yesterday".into());
        assert_eq!(
            comment_text(&p, "x").unwrap_err().details[0].field,
            "triggered_at"
        );
    }

    #[test]
    fn tests_and_hibernated_have_their_own_shape() {
        let tests = render(
            Operation::Tests,
            State::Failure,
            Some("https://{environment}.example.com"),
        );
        assert!(
            tests.contains("`sbx-pr-42`: ready, tests failed"),
            "{tests}"
        );
        assert!(
            tests.contains("(<https://sbx-pr-42.example.com/>)"),
            "{tests}"
        );
        let asleep = render(
            Operation::Hibernate,
            State::Success,
            Some("https://{environment}.example.com"),
        );
        assert!(
            asleep.contains("💤 Sandbox `sbx-pr-42`: hibernated"),
            "{asleep}"
        );
        assert!(asleep.contains("| Environment | asleep |"), "{asleep}");
        assert!(asleep.contains("its data is kept"), "{asleep}");
    }

    #[test]
    fn other_tasks_sections_are_kept_except_on_deletion() {
        let tests = sandbox_forge::section("tests", "12 passed");
        let now = format!("old text\n{tests}\n");
        let body = render(Operation::Create, State::Success, None)
            .replace("<sub>Kept", &format!("{SECTIONS_SLOT}<sub>Kept"));
        let kept = with_sections(&body, Some(&now), true);
        assert!(
            kept.contains(&format!("pull request.\n\n{tests}\n\n<sub>Kept")),
            "{kept}"
        );
        assert!(!kept.contains("old text"));
        let dropped = with_sections(&body, Some(&now), false);
        assert!(
            !dropped.contains("12 passed") && !dropped.contains(SECTIONS_SLOT),
            "{dropped}"
        );
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
        // A filled-in name cannot smuggle a scheme or credentials either.
        assert!(
            fill_url("{environment}", "javascript:x", "1").is_ok_and(|u| parse_link(&u).is_err())
        );
    }
}
