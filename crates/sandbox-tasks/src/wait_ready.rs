//! `wait-ready`: a sandbox is ready when Argo CD says so — its Application
//! is `Synced` at the environment branch's commit and `Healthy` — not when
//! the create pipeline's last step ended. Polls the Application through
//! the Kubernetes API (the pod's service account; `get` on
//! applications.argoproj.io in Argo CD's namespace) until then, with a
//! deadline.
//!
//! Exit 3 when the Application is `Degraded` at the commit (the failing
//! resources named), when the deadline passes (what the last poll saw:
//! another revision, a failed sync and what it could not apply, a missing
//! Application), or when the API refuses the token (401) or the right
//! (403). The verdict is `sandbox_argocd::verdict`; this module only
//! validates and reports. Read-only: a dry run validates and says what it
//! would wait for.

use crate::args::{self, AppsArgs, ArgoCdArgs, EnvArgs, KubeArgs, Refusals};
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_argocd::{WaitError, WaitOptions, wait_ready};
use sandbox_core::params::{Invalid, Problems, parse_commit, parse_duration};
use sandbox_core::{Outputs, TaskError};
use std::time::Duration;

/// Wait until the sandbox's Argo CD Application is Synced at a commit and Healthy.
#[derive(Debug, Clone, Default, Args)]
#[command(
    about = "Wait until the sandbox's Argo CD Application is Synced at the environment branch's commit and Healthy"
)]
pub struct Params {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub env: EnvArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub apps: AppsArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub kube: KubeArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub argocd: ArgoCdArgs,
    /// The environment branch's commit Argo CD must have synced (patch-kustomize's `commit` output), 40 or 64 hex digits.
    #[arg(long, env = "SANDBOX_REVISION", value_name = "SHA")]
    pub revision: Option<String>,
    /// How long to wait for the Application at most.
    #[arg(
        long,
        env = "SANDBOX_READY_TIMEOUT",
        value_name = "DURATION",
        default_value = "15m"
    )]
    pub ready_timeout: String,
    /// Pause between two reads of the Application (e.g. 10s, 500ms).
    #[arg(
        long,
        env = "SANDBOX_POLL_INTERVAL",
        value_name = "DURATION",
        default_value = "10s"
    )]
    pub poll_interval: String,
}

/// The task.
pub struct WaitReady;

/// A validated run.
struct Plan {
    namespace: String,
    app_name: String,
    revision: String,
    kube: args::KubePlan,
    options: WaitOptions,
}

/// A duration of [`parse_duration`], or milliseconds (`500ms`) for short
/// polls.
fn parse_interval(s: &str) -> Result<Duration, Invalid> {
    let d =
        match s.strip_suffix("ms") {
            Some(ms) if !ms.is_empty() && ms.bytes().all(|b| b.is_ascii_digit()) => {
                Duration::from_millis(ms.parse().map_err(|_| {
                    Invalid::one("duration", format!("{s:?} is too large"), "e.g. 10s")
                })?)
            }
            _ => parse_duration(s)?,
        };
    if d.is_zero() {
        return Err(Invalid::one(
            "positive-duration",
            "the interval must be longer than zero",
            "e.g. 10s",
        ));
    }
    Ok(d)
}

fn validate(params: &Params) -> Result<Plan, TaskError> {
    let mut problems = Problems::new();
    let env = params.env.validate(None, &mut problems);
    let apps = params.apps.validate(env.as_ref(), &mut problems);
    let kube = params.kube.validate(&mut problems);
    let namespace = params.argocd.validate(&mut problems);
    let revision = problems.parse_opt("revision", params.revision.as_deref(), parse_commit);
    if params.revision.is_none() {
        problems.missing(
            "revision",
            "pass --revision <sha>: the commit output of patch-kustomize",
        );
    }
    let deadline = problems.parse("ready_timeout", &params.ready_timeout, parse_interval);
    let interval = problems.parse("poll_interval", &params.poll_interval, parse_interval);
    let (
        Some(env),
        Some(apps),
        Some(kube),
        Some(namespace),
        Some(revision),
        Some(deadline),
        Some(interval),
        true,
    ) = (
        env,
        apps,
        kube,
        namespace,
        revision,
        deadline,
        interval,
        problems.is_empty(),
    )
    else {
        return Err(args::invalid(problems));
    };
    env.check(None)?;
    let mut refusals = Refusals::new();
    apps.refusals(&env, &mut refusals);
    refusals.finish()?;
    Ok(Plan {
        namespace: namespace.to_string(),
        app_name: apps.app_name,
        revision,
        kube,
        options: WaitOptions { deadline, interval },
    })
}

impl Task for WaitReady {
    const NAME: &'static str = "wait-ready";
    const NEEDS: &'static [crate::Need] = crate::needs::KUBERNETES_API;
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "app_name",
            description: "The Application waited for.",
        },
        OutputSpec {
            name: "revision",
            description: "The commit it is Synced at.",
        },
        OutputSpec {
            name: "health",
            description: "The Application's health when the wait ended (Healthy on success; empty on a dry run).",
        },
        OutputSpec {
            name: "polls",
            description: "How many times the Application was read.",
        },
        OutputSpec {
            name: "waited_seconds",
            description: "How long the wait took, in seconds.",
        },
    ];
    type Params = Params;

    fn validate(params: &Params) -> Result<(), TaskError> {
        validate(params).map(drop)
    }

    #[tracing::instrument(name = "wait-ready", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let plan = validate(&params)?;
        let mut out = Outputs::new();
        out.set("app_name", &plan.app_name)
            .set("revision", &plan.revision);
        if ctx.dry_run {
            tracing::info!(
                namespace = %plan.namespace, app = %plan.app_name, revision = %plan.revision,
                deadline_s = plan.options.deadline.as_secs(),
                "dry run: would wait for the Application to be Synced at the revision and Healthy"
            );
            out.set("polls", 0).set("waited_seconds", 0);
            return Ok(out);
        }
        // One request may take at most one interval, and no more than 30 s.
        let timeout = plan
            .options
            .interval
            .clamp(Duration::from_secs(5), Duration::from_secs(30));
        let kube = plan.kube.client(timeout)?;
        tracing::info!(
            api = kube.api(), namespace = %plan.namespace, app = %plan.app_name, revision = %plan.revision,
            "waiting for the Application to be Synced at the revision and Healthy"
        );
        let result = wait_ready(
            &kube,
            &plan.namespace,
            &plan.app_name,
            &plan.revision,
            plan.options,
            |poll, seen| tracing::info!(poll, "{seen}"),
        )
        .await;
        match result {
            Ok(ready) => {
                tracing::info!(
                    polls = ready.polls,
                    waited_s = ready.waited.as_secs(),
                    "the Application is Synced and Healthy"
                );
                out.set("health", ready.application.status.health.status.as_str())
                    .set("polls", ready.polls)
                    .set("waited_seconds", ready.waited.as_secs());
                Ok(out)
            }
            Err(WaitError::Kube { source, .. }) => Err(TaskError::from(source)),
            Err(e) => Err(TaskError::from(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_take_milliseconds_and_durations() {
        assert_eq!(parse_interval("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_interval("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_interval("1m30s").unwrap(), Duration::from_secs(90));
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("ms").is_err());
        assert!(parse_interval("soon").is_err());
    }

    #[test]
    fn only_a_full_commit_name_is_a_revision() {
        let sha = "6DCB09B5B57875F334F61AEBED695E2E4193DB5E";
        assert_eq!(parse_commit(sha).unwrap(), sha.to_lowercase());
        assert!(parse_commit("6dcb09b").is_err());
        assert!(parse_commit("sbx-pr-42").is_err());
        assert!(parse_commit(&"g".repeat(40)).is_err());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let params = Params {
            env: EnvArgs {
                pr_number: Some("42".into()),
                ..EnvArgs::default()
            },
            revision: Some("main".into()),
            ready_timeout: "forever".into(),
            poll_interval: "0s".into(),
            argocd: ArgoCdArgs {
                argocd_namespace: "Argo_CD".into(),
            },
            kube: KubeArgs {
                kube_api_url: Some("ftp://k8s".into()),
                ..KubeArgs::default()
            },
            ..Params::default()
        };
        let error = validate(&params).err().unwrap();
        assert_eq!(error.kind, sandbox_core::ErrorKind::InvalidParams);
        let mut fields: Vec<&str> = error.details.iter().map(|p| p.field.as_str()).collect();
        fields.sort();
        fields.dedup();
        assert_eq!(
            fields,
            [
                "argocd_namespace",
                "kube_api_url",
                "poll_interval",
                "ready_timeout",
                "revision"
            ],
            "{:?}",
            error.details
        );
    }
}
