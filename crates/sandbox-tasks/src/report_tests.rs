//! `report-tests`: publish the sandbox's regression suite on the pull
//! request. Reads the JUnit XML reports at `junit_path` (`sandbox-junit`),
//! then, authenticated as a GitHub App, creates one completed check run
//! (`check_name`, default `sandbox/tests`) on `head_sha` with the
//! conclusion, a summary (counts, duration, slowest tests, failures) and
//! one annotation per failed or errored test, 50 per request. With only
//! `github_token`, which cannot create check runs, it sets a commit status
//! of that name instead and, given `pr_number`, writes the summary in the
//! `tests` section of the sandbox's sticky comment.
//!
//! The conclusion is `failure` when a test failed or errored, when a
//! report cannot be read (named, with the reason) or when no report or no
//! test is found: never green by accident. Failing tests do not fail the
//! task (exit 0): the check is the verdict; `conclusion` says it too.

use crate::args::{self, EnvArgs, GithubAppArgs, GithubArgs, JunitArgs, VaultArgs};
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::params::{Invalid, Problems, parse_commit};
use sandbox_core::{Outputs, Problem, TaskError};
use sandbox_forge::{
    Annotation, AnnotationLevel, CheckRun, Conclusion, GitHub, Status, StatusState,
};
use sandbox_junit::{Results, summary};

/// GitHub cuts status descriptions at 140 characters.
const MAX_DESCRIPTION: usize = 140;
/// The section of the sticky comment this task owns.
pub const COMMENT_SECTION: &str = "tests";

/// Publish a test run's JUnit reports on the pull request.
#[derive(Debug, Clone, Args)]
#[command(
    about = "Publish JUnit XML test reports on the pull request: a check run with annotations (GitHub App), or a commit status and the sticky comment"
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
    pub app: GithubAppArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub junit: JunitArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
    /// The commit the tests ran against [default: the pull request's head].
    #[arg(long, env = "SANDBOX_HEAD_SHA", value_name = "SHA")]
    pub head_sha: Option<String>,
    /// The check run's name (or the commit status's context without an app).
    #[arg(
        long,
        env = "SANDBOX_CHECK_NAME",
        value_name = "NAME",
        default_value = "sandbox/tests"
    )]
    pub check_name: String,
    /// The check run's details link (the test workflow's page in the Argo Workflows UI).
    #[arg(long, env = "SANDBOX_DETAILS_URL", value_name = "URL")]
    pub details_url: Option<String>,
    /// Where the tests ran; removed from absolute paths in the reports so annotations name repository files.
    #[arg(long, env = "SANDBOX_SOURCE_ROOT", value_name = "DIR")]
    pub source_root: Option<String>,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            env: EnvArgs::default(),
            github: GithubArgs::default(),
            app: GithubAppArgs::default(),
            junit: JunitArgs::default(),
            vault: VaultArgs::default(),
            head_sha: None,
            check_name: "sandbox/tests".into(),
            details_url: None,
            source_root: None,
        }
    }
}

/// A validated run.
struct Plan {
    env: args::EnvPlan,
    github: args::GithubPlan,
    repo: sandbox_core::params::GithubRepo,
    app: Option<args::GithubAppPlan>,
    vault: args::VaultPlan,
    junit_path: String,
    head_sha: Option<String>,
    check_name: String,
    details_url: Option<String>,
    source_root: Option<String>,
}

fn parse_check_name(s: &str) -> Result<String, Invalid> {
    let s = s.trim();
    if s.is_empty() || s.len() > 255 || s.chars().any(char::is_control) {
        return Err(Invalid::one(
            "check-name",
            "check_name must be 1-255 characters on one line",
            "keep the default sandbox/tests",
        ));
    }
    Ok(s.to_string())
}

fn parse_link(s: &str) -> Result<String, Invalid> {
    let fix = "give the workflow's http(s) URL without credentials";
    let url = url::Url::parse(s).map_err(|_| Invalid::one("url", "not a URL", fix))?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(Invalid::one(
            "url",
            "only http(s) links without credentials",
            fix,
        ));
    }
    Ok(url.to_string())
}

fn parse_root(s: &str) -> Result<String, Invalid> {
    if !s.starts_with('/') || s.chars().any(char::is_control) {
        return Err(Invalid::one(
            "absolute-path",
            "source_root must be an absolute directory",
            "give the directory the tests ran in, e.g. /workspace",
        ));
    }
    Ok(format!("{}/", s.trim_end_matches('/')))
}

fn validate(p: &Params, dry_run: bool) -> Result<Plan, TaskError> {
    let mut problems = Problems::new();
    let env = p.env.validate(None, &mut problems);
    let name = env.as_ref().map(|e| &e.environment);
    let scope = p.vault.scope(&mut problems);
    let github = p.github.validate(true, name, &scope, &mut problems);
    let app = p.app.validate(name, &scope, &mut problems);
    let junit_path = p.junit.validate(&mut problems);
    let head_sha = problems.parse_opt("head_sha", p.head_sha.as_deref(), parse_commit);
    if p.head_sha.is_none() && p.env.pr_number.is_none() {
        problems.missing(
            "head_sha",
            "pass --head-sha <commit>, or --pr-number N to report on the pull request's head",
        );
    }
    let check_name = problems.parse("check_name", &p.check_name, parse_check_name);
    let details_url = problems.parse_opt("details_url", p.details_url.as_deref(), parse_link);
    let source_root = problems.parse_opt("source_root", p.source_root.as_deref(), parse_root);
    let no_credentials = p.github.github_token.is_none() && p.app.github_app_id.is_none();
    if no_credentials && !dry_run {
        problems.push(Problem {
            field: "github_token".into(),
            rule: "required".into(),
            message: "report-tests needs a GitHub App (check runs) or github_token (a commit status)".into(),
            value: None,
            fix: "pass --github-app-id, --github-app-key and --github-installation-id, or --github-token file:<path>, env:<VAR> or vault://<mount>/<path>#<key>".into(),
        });
    }
    let references: Vec<_> = github
        .iter()
        .flat_map(args::GithubPlan::references)
        .chain(app.iter().flat_map(args::GithubAppPlan::references))
        .cloned()
        .collect();
    let vault = p.vault.plan(scope, name, references.iter(), &mut problems);
    let (Some(env), Some(github), Some(junit_path), Some(check_name), true) =
        (env, github, junit_path, check_name, problems.is_empty())
    else {
        return Err(args::invalid(problems));
    };
    let Some(repo) = github.repo.clone() else {
        return Err(TaskError::internal("github_repo validated but absent"));
    };
    env.check(None)?;
    Ok(Plan {
        env,
        github,
        repo,
        app,
        vault,
        junit_path,
        head_sha,
        check_name,
        details_url,
        source_root,
    })
}

/// The task.
pub struct ReportTests;

/// The check's conclusion: success only when reports were read, tests
/// ran, and none failed or errored.
pub fn conclusion(results: &Results) -> Conclusion {
    if results.passed() && results.counts().total() > 0 {
        Conclusion::Success
    } else {
        Conclusion::Failure
    }
}

/// One annotation per failed or errored test: at its location when known,
/// else on the report itself (line 1) so it is never dropped.
pub fn annotations(results: &Results, source_root: Option<&str>) -> Vec<Annotation> {
    results
        .problems()
        .map(|t| {
            let (path, line) = match &t.location {
                Some(l) => (l.path.clone(), l.line),
                None => (t.report.display().to_string(), 1),
            };
            let path = match source_root {
                Some(root) => path.strip_prefix(root).unwrap_or(&path).to_string(),
                None => path,
            };
            let message = summary::first_line(&t.message, &t.details);
            Annotation {
                path: path.trim_start_matches('/').to_string(),
                start_line: line,
                end_line: line,
                annotation_level: AnnotationLevel::Failure,
                message: if message.is_empty() {
                    format!("{} {}", t.full_name(), t.outcome.as_str())
                } else {
                    message.to_string()
                },
                title: Some(format!("{} {}", t.full_name(), t.outcome.as_str())),
                raw_details: (!t.details.trim().is_empty()).then(|| t.details.clone()),
            }
        })
        .collect()
}

impl Task for ReportTests {
    const NAME: &'static str = "report-tests";
    const NEEDS: &'static [crate::Need] = crate::needs::VAULT;
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "tests_passed",
            description: "Tests that passed.",
        },
        OutputSpec {
            name: "tests_failed",
            description: "Tests that failed (an assertion).",
        },
        OutputSpec {
            name: "tests_errored",
            description: "Tests that errored (could not run to their end).",
        },
        OutputSpec {
            name: "tests_skipped",
            description: "Tests skipped.",
        },
        OutputSpec {
            name: "conclusion",
            description: "success, or failure when a test failed or errored, a report was unreadable or no test ran.",
        },
        OutputSpec {
            name: "check_run_url",
            description: "The check run's page (empty without a GitHub App, or on a dry run).",
        },
    ];
    type Params = Params;

    fn validate(params: &Params) -> Result<(), TaskError> {
        validate(params, false).map(drop)
    }

    #[tracing::instrument(name = "report-tests", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let plan = validate(&params, ctx.dry_run)?;
        let files = sandbox_junit::find_reports(&plan.junit_path).map_err(|e| {
            TaskError::precondition(format!("cannot list the reports at junit_path: {e}"))
        })?;
        let results = Results::read(&files);
        for b in &results.broken {
            tracing::warn!(file = %b.file.display(), reason = %b.reason, "unreadable JUnit report");
        }
        let counts = results.counts();
        let conclusion = conclusion(&results);
        let headline = summary::headline(&results);
        tracing::info!(
            reports = results.files.len(),
            passed = counts.passed,
            failed = counts.failed,
            errored = counts.errored,
            skipped = counts.skipped,
            conclusion = conclusion.as_str(),
            "{headline}"
        );
        let mut out = Outputs::new();
        out.set("tests_passed", counts.passed)
            .set("tests_failed", counts.failed)
            .set("tests_errored", counts.errored)
            .set("tests_skipped", counts.skipped)
            .set("conclusion", conclusion.as_str());
        let markdown = summary::markdown(&results, &plan.junit_path, summary::Limits::default());
        let annotations = annotations(&results, plan.source_root.as_deref());
        if ctx.dry_run {
            let how = if plan.app.is_some() {
                format!(
                    "a check run {:?} with {} annotation(s)",
                    plan.check_name,
                    annotations.len()
                )
            } else {
                format!("a commit status {:?}", plan.check_name)
            };
            tracing::info!(
                "dry run: would publish {how}, {}:\n{markdown}",
                conclusion.as_str()
            );
            return Ok(out);
        }
        publish(
            &plan,
            &ctx,
            conclusion,
            &headline,
            markdown,
            annotations,
            &mut out,
        )
        .await?;
        Ok(out)
    }
}

async fn head_sha(plan: &Plan, github: &GitHub) -> Result<String, TaskError> {
    if let Some(sha) = &plan.head_sha {
        return Ok(sha.clone());
    }
    let Some(pr) = plan.env.pr_number else {
        return Err(TaskError::internal(
            "neither head_sha nor pr_number after validation",
        ));
    };
    Ok(github.pull(&plan.repo, u64::from(pr.get())).await?.head.sha)
}

async fn publish(
    plan: &Plan,
    ctx: &Context,
    conclusion: Conclusion,
    headline: &str,
    markdown: String,
    annotations: Vec<Annotation>,
    out: &mut Outputs,
) -> Result<(), TaskError> {
    let creds = plan.vault.credentials(ctx);
    let api = plan.github.api_url.as_str();
    if let Some(app) = &plan.app {
        let installation = app.installation(api, &creds).await?;
        let github = installation.client().await?;
        let sha = head_sha(plan, &github).await?;
        let run = CheckRun {
            name: plan.check_name.clone(),
            head_sha: sha.clone(),
            conclusion,
            details_url: plan.details_url.clone(),
            title: headline.to_string(),
            summary: markdown,
            annotations,
        };
        let published = github.create_check_run(&plan.repo, &run).await?;
        tracing::info!(
            id = published.id,
            url = %published.html_url,
            requests = published.requests,
            annotations = published.annotations,
            sha,
            "check run published"
        );
        out.set("check_run_url", published.html_url);
        return Ok(());
    }
    let github = plan.github.client(&creds).await?;
    let sha = head_sha(plan, &github).await?;
    let state = match conclusion {
        Conclusion::Success => StatusState::Success,
        _ => StatusState::Failure,
    };
    let description: String = format!("Tests: {headline}")
        .chars()
        .take(MAX_DESCRIPTION)
        .collect();
    github
        .create_status(
            &plan.repo,
            &sha,
            &Status {
                state,
                target_url: plan.details_url.as_deref(),
                description: &description,
                context: &plan.check_name,
            },
        )
        .await?;
    tracing::info!(context = %plan.check_name, sha, "commit status set (no GitHub App: no check run)");
    if let Some(pr) = plan.env.pr_number {
        let marker = sandbox_forge::sticky_marker(plan.env.environment.as_str());
        let section = format!("#### Tests: `{}`\n\n{markdown}", plan.check_name);
        let action = github
            .sticky_section(
                &plan.repo,
                u64::from(pr.get()),
                &marker,
                COMMENT_SECTION,
                &section,
            )
            .await?;
        tracing::info!(action = action.as_str(), "tests summary in the PR comment");
    }
    Ok(())
}
