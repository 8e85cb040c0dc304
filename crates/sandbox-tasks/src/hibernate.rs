//! `hibernate`: put sandboxes to sleep the GitOps way. Each sandbox's Argo
//! CD Application file on the apps branch gets Argo CD's own override,
//! `spec.source.kustomize.replicas`, with one `count: 0` entry per
//! Deployment and StatefulSet its overlay renders to; the overrides that
//! were there are kept in an annotation for `wake`, and the Application is
//! marked `argo-sandbox.io/hibernated-at`. Argo CD then scales the
//! workloads down itself, and self-heal keeps them there; nothing is
//! committed on the environment branch, where CI keeps pushing image tags.
//!
//! Argo CD's field: `KustomizeReplica` (`name`, `count` as an int or a
//! string) in argoproj/argo-cd `pkg/apis/application/v1alpha1/types.go`;
//! the repo server applies it in `util/kustomize/kustomize.go`
//! (`kustomize.Build`) by running `kustomize edit set replicas name=count`
//! in the source directory before building, so a `count: 0` entry scales
//! the named Deployment or StatefulSet to zero. Argo CD's `kustomize.patches`
//! could suspend CronJobs, but they are not touched here: the overlay's
//! CronJobs are listed in the `not_handled` output.
//!
//! Which sandboxes: the one named by `pr_number`/`environment`, or every
//! `<apps_path>/<env_prefix>pr-<N>.yaml` on the apps branch. All of them
//! are written in one commit, pushed with fetch-reapply-retry (a concurrent
//! register-app or unregister-app is never lost) and allowed to touch only
//! the selected Application files.

use crate::args::{KubectlArgs, SleepArgs, SleepPlan};
use crate::fleet::{
    FleetArgs, Scope, Select, Skipped, check_revision, edit_error, edit_failed, open_pulls,
    push_all, sandbox_pr, tell_prs, to_json, utc,
};
use crate::gitops::{self, ACTION};
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::params::BranchName;
use sandbox_core::{Outputs, TaskError};
use sandbox_git::EditError;
use sandbox_kustomize::application::{AppInfo, hibernate};
use sandbox_kustomize::workloads::{RenderJob, Workload, render, render_all};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Put sandboxes to sleep: Argo CD scales their workloads to zero.
#[derive(Debug, Clone, Default, Args)]
#[command(
    about = "Hibernate sandboxes: write count-0 replica overrides into their Argo CD Applications"
)]
pub struct Params {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub fleet: FleetArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sleep: SleepArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub kubectl: KubectlArgs,
}

/// A commit's tree as the render walk reads it.
struct GitTree<'a, 'r>(&'a sandbox_git::TreeEdit<'r>);

impl sandbox_kustomize::render::Tree for GitTree<'_, '_> {
    type Error = sandbox_git::GitError;
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, Self::Error> {
        self.0.read(path)
    }
    fn list(&self, dir: &str) -> Result<Vec<String>, Self::Error> {
        self.0.list(dir)
    }
    fn materialize(&self, dir: &Path) -> Result<(), Self::Error> {
        self.0.materialize(dir)
    }
}

/// One entry of the `hibernated` output.
#[derive(Debug, Clone, Serialize)]
pub struct Hibernated {
    /// The sandbox.
    pub environment: String,
    /// Its Application file.
    pub app_file: String,
    /// The Deployments and StatefulSets scaled to zero, with their replicas before.
    pub workloads: Vec<Workload>,
    /// Replica-hours a week the schedules save for it (its replicas times
    /// the hours it sleeps between the hibernate and wake schedules).
    pub replica_hours_per_week: f64,
}

/// One entry of the `not_handled` output.
#[derive(Debug, Clone, Serialize)]
pub struct NotHandled {
    /// The sandbox.
    pub environment: String,
    /// The workload kind (CronJob).
    pub kind: String,
    /// Its name.
    pub name: String,
}

/// kubectl could not run at all: the run stops.
fn kubectl_failed(e: std::io::Error) -> TaskError {
    if e.kind() == std::io::ErrorKind::NotFound {
        TaskError::precondition(e.to_string())
    } else {
        TaskError::internal("cannot run kubectl kustomize").with_source(e)
    }
}

/// The task.
pub struct Hibernate;

impl Task for Hibernate {
    const NAME: &'static str = "hibernate";
    const NEEDS: &'static [crate::Need] = crate::needs::GIT;
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "hibernated",
            description: "JSON array of the sandboxes put to sleep: {\"environment\",\"app_file\",\"workloads\": [{\"kind\",\"name\",\"replicas\"}],\"replica_hours_per_week\"}.",
        },
        OutputSpec {
            name: "skipped",
            description: "JSON array of the sandboxes left as they are: {\"environment\",\"reason\",\"detail\"}.",
        },
        OutputSpec {
            name: "not_handled",
            description: "JSON array of the CronJobs of hibernated sandboxes, which keep running: {\"environment\",\"kind\",\"name\"}.",
        },
        OutputSpec {
            name: "count",
            description: "How many sandboxes were put to sleep (would be, on a dry run).",
        },
        OutputSpec {
            name: "replicas_stopped",
            description: "How many replicas the hibernated workloads had.",
        },
        OutputSpec {
            name: "replica_hours_per_week",
            description: "Replica-hours a week the schedules save for the hibernated sandboxes: their replicas times the hours between sleep_schedule and wake_schedule.",
        },
        OutputSpec {
            name: "comments",
            description: "How many pull requests' sticky comments now say the sandbox is sleeping (with --forge github).",
        },
        OutputSpec {
            name: "commit",
            description: "The commit on the apps branch (empty on a dry run or when nothing changed).",
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

    #[tracing::instrument(name = "hibernate", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let (scope, sleep) = validate(&params)?;
        let label = sleep.label.clone();
        let hours = sleep.hours_per_week;
        let creds = scope.vault.credentials(&ctx);
        let ws = scope.repo.open(&creds, scope.author.clone()).await?;
        let (ws, apps) = {
            let select = Select::of(&scope);
            gitops::blocking(move || {
                let apps = select.read(&ws)?;
                Ok((ws, apps))
            })
            .await?
        };
        let single_name = scope
            .single
            .as_ref()
            .map(|(env, _)| env.environment.to_string());
        // One listing of the open pull requests for the whole run, and
        // none when there is nothing to decide.
        let pulls = if apps.is_empty() {
            None
        } else {
            open_pulls(&scope, &ctx).await?
        };
        let pulls_for_run = pulls.clone();
        let policy = scope.policy.clone();
        let single = scope.single.is_some();
        let kubectl = params.kubectl.kubectl.clone();
        let dry_run = ctx.dry_run;
        let apps_branch = scope.apps_branch.clone();
        let now = utc(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs());
        let (mut out, notes) = gitops::blocking(move || {
            let mut skipped = Vec::new();
            let mut hibernated = Vec::new();
            let mut not_handled = Vec::new();
            let mut plans: BTreeMap<String, Vec<Workload>> = BTreeMap::new();
            // 1. Which sandboxes sleep, from their Application files.
            let mut todo = Vec::new();
            for app in &apps {
                let skip = |reason, detail: Option<String>| Skipped {
                    environment: app.environment.to_string(),
                    reason,
                    detail,
                };
                let info = match AppInfo::parse(&app.text) {
                    Ok(i) => i,
                    Err(e) => {
                        skipped.push(skip("not-an-application", Some(e)));
                        continue;
                    }
                };
                if info.hibernated {
                    skipped.push(skip("already-hibernated", None));
                    continue;
                }
                if info.keep_awake {
                    skipped.push(skip("keep-awake-annotation", None));
                    continue;
                }
                if let Some(pulls) = &pulls_for_run
                    && let Some(pr) = sandbox_pr(&policy, app.environment.as_str())
                    && pulls
                        .get(&u64::from(pr.get()))
                        .is_some_and(|p| p.has_label(&label))
                {
                    skipped.push(skip("keep-awake-label", Some(label.clone())));
                    continue;
                }
                let revision =
                    match check_revision(&policy, &app.environment, info.revision.as_deref()) {
                        Ok(b) => b,
                        Err(problem) if single => return Err(TaskError::refused(vec![problem])),
                        Err(problem) => {
                            skipped.push(skip("refused", Some(problem.message)));
                            continue;
                        }
                    };
                todo.push((app, info, revision));
            }
            // 2. Their overlays, rendered at their branches: one fetch for
            // every branch, then kubectl on all of them side by side.
            let mut revisions: Vec<BranchName> = Vec::new();
            for (_, _, r) in &todo {
                if !revisions.iter().any(|x| x.as_str() == r.as_str()) {
                    revisions.push(r.clone());
                }
            }
            let phase = Instant::now();
            let tips = ws.fetch_many(&revisions).map_err(TaskError::from)?;
            tracing::info!(branches = tips.len(), ms = phase.elapsed().as_millis() as u64, "fetched the environment branches");
            let phase = Instant::now();
            let scratch = tempfile::Builder::new()
                .prefix("sandbox-hibernate-")
                .tempdir()
                .map_err(|e| TaskError::internal("cannot make a scratch directory").with_source(e))?;
            let mut jobs: Vec<RenderJob> = Vec::new();
            for (i, (app, info, revision)) in todo.iter().enumerate() {
                let Some(tip) = tips.get(revision.as_str()) else {
                    skipped.push(Skipped {
                        environment: app.environment.to_string(),
                        reason: "no-branch",
                        detail: Some(format!("the Application deploys {revision}, which the repository does not have")),
                    });
                    continue;
                };
                let tree_dir = scratch.path().join(i.to_string());
                let overlay = info.path.clone().unwrap_or_default();
                ws.read_commit(tip, |tree| {
                    sandbox_kustomize::render::write_reachable(
                        &GitTree(tree),
                        &overlay,
                        None,
                        &tree_dir,
                    )
                    .map(drop)
                    .map_err(|e| {
                        EditError::precondition(format!("cannot write the overlay {overlay} of {revision}"))
                            .with_source(e)
                    })
                })
                .map_err(TaskError::from)?;
                let overlay = info.path.clone().unwrap_or_default();
                jobs.push(RenderJob {
                    index: i,
                    dir: tree_dir,
                    overlay,
                    revision: revision.to_string(),
                    tip: tip.clone(),
                });
            }
            tracing::info!(trees = jobs.len(), ms = phase.elapsed().as_millis() as u64, "wrote the trees to render");
            let phase = Instant::now();
            let mut rendered = render_all(&kubectl, &jobs);
            // What the overlay reaches by paths its kustomizations name
            // rendered; one that failed so is tried again from the whole tree,
            // in case it reaches more than the walk sees.
            for (job, result) in jobs.iter_mut().zip(rendered.iter_mut()) {
                if !matches!(result, Ok(Err(_))) {
                    continue;
                }
                let whole = scratch.path().join(format!("{}-whole", job.index));
                ws.read_commit(&job.tip, |tree| {
                    tree.materialize(&whole).map_err(|e| {
                        EditError::precondition("cannot write the tree to render").with_source(e)
                    })
                })
                .map_err(TaskError::from)?;
                job.dir = whole;
                *result = render(&kubectl, job);
            }
            tracing::info!(overlays = jobs.len(), ms = phase.elapsed().as_millis() as u64, "rendered the overlays");
            for (job, result) in jobs.iter().zip(rendered) {
                let (app, info, _) = &todo[job.index];
                let (mut workloads, cron) = match result.map_err(kubectl_failed)? {
                    Ok(r) => r,
                    Err(why) if single => return Err(TaskError::precondition(why)),
                    Err(why) => {
                        skipped.push(Skipped {
                            environment: app.environment.to_string(),
                            reason: "does-not-render",
                            detail: Some(why),
                        });
                        continue;
                    }
                };
                if let Some(Value::Array(old)) = &info.replicas {
                    for w in &mut workloads {
                        if let Some(count) = old
                            .iter()
                            .find(|o| o["name"] == w.name.as_str())
                            .and_then(|o| {
                                o["count"]
                                    .as_u64()
                                    .or_else(|| o["count"].as_str().and_then(|s| s.parse().ok()))
                            })
                        {
                            w.replicas = Some(count);
                        }
                    }
                }
                // The edit is checked here so a file that cannot be edited
                // stops the run before anything is pushed.
                if let Err(e) = hibernate(&app.text, &workloads, &now).map_err(|e| edit_error(&app.file, e)) {
                    if single {
                        return Err(edit_failed(e));
                    }
                    skipped.push(Skipped {
                        environment: app.environment.to_string(),
                        reason: "cannot-edit",
                        detail: Some(edit_failed(e).message),
                    });
                    continue;
                }
                for c in cron {
                    not_handled.push(NotHandled {
                        environment: app.environment.to_string(),
                        kind: c.kind,
                        name: c.name,
                    });
                }
                let replicas: u64 = workloads.iter().filter_map(|w| w.replicas).sum();
                hibernated.push(Hibernated {
                    environment: app.environment.to_string(),
                    app_file: app.file.clone(),
                    workloads: workloads.clone(),
                    replica_hours_per_week: replicas as f64 * hours,
                });
                plans.insert(app.file.clone(), workloads);
            }
            if apps.is_empty()
                && let Some(name) = single_name
            {
                skipped.push(Skipped {
                    environment: name,
                    reason: "not-registered",
                    detail: None,
                });
            }
            let replicas: u64 = hibernated
                .iter()
                .flat_map(|h| &h.workloads)
                .filter_map(|w| w.replicas)
                .sum();
            let mut out = Outputs::new();
            out.set("hibernated", to_json(&hibernated)?)
                .set("skipped", to_json(&skipped)?)
                .set("not_handled", to_json(&not_handled)?)
                .set("count", hibernated.len())
                .set("replicas_stopped", replicas)
                .set("replica_hours_per_week", format!("{:.1}", replicas as f64 * hours));
            if dry_run {
                for h in &hibernated {
                    tracing::info!(environment = %h.environment, file = %h.app_file, workloads = h.workloads.len(), "dry run: would hibernate");
                }
                out.set("commit", "").set(ACTION, "planned");
                return Ok((out, Vec::new()));
            }
            if plans.is_empty() {
                out.set("commit", "").set(ACTION, "unchanged");
                return Ok((out, Vec::new()));
            }
            let message = format!("hibernate: {} sandbox(es)", plans.len());
            let files: Vec<String> = plans.keys().cloned().collect();
            let outcome = push_all(&ws, &apps_branch, &message, files, |file, text| {
                let Ok(info) = AppInfo::parse(text) else {
                    return Ok(None);
                };
                if info.hibernated || info.keep_awake {
                    return Ok(None);
                }
                let workloads = &plans[file];
                hibernate(text, workloads, &now)
                    .map(Some)
                    .map_err(|e| edit_error(file, e))
            })?;
            out.set(
                "commit",
                if outcome.pushed() { outcome.commit() } else { "" },
            )
            .set(ACTION, if outcome.pushed() { "pushed" } else { "unchanged" });
            let notes = if outcome.pushed() {
                hibernated
                    .iter()
                    .map(|h| {
                        (
                            h.environment.clone(),
                            format!(
                                "💤 **Sleeping** since {} UTC ({}): comment `/sandbox wake` or push to this pull request to wake it. \
                                 Sleeping outside working hours saves about {:.0} replica-hours a week.",
                                &now[11..16],
                                &now[..10],
                                h.replica_hours_per_week
                            ),
                        )
                    })
                    .collect()
            } else {
                Vec::new()
            };
            Ok((out, notes))
        })
        .await?;
        let told = tell_prs(&scope, &ctx, pulls.as_ref(), notes).await;
        out.set("comments", told);
        Ok(out)
    }
}

/// Validate a hibernate run: the scope, the keep-awake label and the
/// schedules.
fn validate(p: &Params) -> Result<(Scope, SleepPlan), TaskError> {
    let mut label = None;
    let scope = p
        .fleet
        .validate(|problems| label = p.sleep.validate(problems))?;
    let plan = label.ok_or_else(|| TaskError::internal("the sleep group validated but absent"))?;
    Ok((scope, plan))
}
