//! `sandbox demo`: the whole pipeline on a local world, no cluster. Builds
//! an infrastructure repository, an integration bucket and a nightly backup
//! in a directory, runs the create pipeline for a sample pull request in the
//! order of the ClusterWorkflowTemplates and through the same task code
//! (`sandbox_tasks::registry`), shows what each step did, then runs the
//! delete pipeline and proves nothing of the sandbox is left.

pub mod cli;
pub mod feedback;
pub mod postgres;
pub mod world;

use sandbox_tasks::{Context, registry};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};
use world::World;

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The world or a local service could not be set up.
    #[error("{0}")]
    Setup(String),
    /// Writing the report failed.
    #[error("cannot write the report")]
    Output(#[source] std::io::Error),
}

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The world's directory (default: a new one under the temp dir).
    pub world: Option<PathBuf>,
    /// Stop after the create pipeline.
    pub keep: bool,
    /// Only run the delete pipeline, against a world an earlier run built.
    pub delete_only: bool,
    /// The PR the sample sandbox is for.
    pub pr_number: u32,
    /// Where restore-db restores into, when it can run.
    pub database: Database,
}

/// Whether and where the demo restores the backup.
#[derive(Debug, Clone)]
pub enum Database {
    /// A server URL (no password) given by the user or started by the demo.
    Url(String),
    /// restore-db is skipped, for this reason.
    Skipped(String),
}

/// How one step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It did its work.
    Succeeded,
    /// It could not run here; why and how to enable it.
    Skipped(String),
    /// It failed with this message.
    Failed(String),
}

/// One step of a pipeline as the report shows it.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// `create` or `delete`.
    pub pipeline: &'static str,
    /// The task or stand-in.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it took.
    pub duration: Duration,
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every step, in order.
    pub steps: Vec<StepReport>,
    /// What the final check found left of the sandbox (empty: nothing).
    pub leftovers: Vec<String>,
    /// Whether the delete pipeline ran.
    pub deleted: bool,
    /// The world's directory.
    pub world: PathBuf,
    /// How restore-db made the sandbox's database, when it ran.
    pub restore: Option<RestoreTiming>,
}

/// restore-db's step beside what a restore of the same backup took.
#[derive(Debug, Clone)]
pub struct RestoreTiming {
    /// The strategy restore-db used (pool, template or restore).
    pub strategy: String,
    /// restore-db's time.
    pub duration: Duration,
    /// What restoring the same backup took (prepare-db filling the warm
    /// pool in the world's setup), when it ran.
    pub restore_duration: Option<Duration>,
    /// Why the faster strategies were skipped, when they were.
    pub fallback_reason: String,
}

impl Report {
    /// Each step's time as JSON (`sandbox demo --timings json`): the
    /// world's setup, then the create and delete pipelines, in order.
    pub fn timings_json(&self) -> Value {
        let ms = |d: Duration| (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| {
                json!({
                    "pipeline": s.pipeline,
                    "step": s.name,
                    "outcome": match &s.outcome {
                        Outcome::Succeeded => "succeeded",
                        Outcome::Skipped(_) => "skipped",
                        Outcome::Failed(_) => "failed",
                    },
                    "ms": ms(s.duration),
                })
            })
            .collect();
        let restore = self.restore.as_ref().map(|t| {
            json!({
                "strategy": t.strategy,
                "ms": ms(t.duration),
                "restore_ms": t.restore_duration.map(ms),
                "fallback_reason": t.fallback_reason,
            })
        });
        json!({ "steps": steps, "restore_db": restore })
    }
}

impl Report {
    /// True when no step failed and, if the delete pipeline ran, nothing is left.
    pub fn ok(&self) -> bool {
        self.steps
            .iter()
            .all(|s| !matches!(s.outcome, Outcome::Failed(_)))
            && self.leftovers.is_empty()
    }
}

struct Runner<'a, W: Write> {
    out: &'a mut W,
    steps: Vec<StepReport>,
    pipeline: &'static str,
    /// The step that failed, if one did: like an Argo DAG, the rest of the
    /// pipeline depends on it and does not run.
    failed: Option<String>,
    /// restore-db's strategy and time, for the report.
    restore: Option<RestoreTiming>,
    /// What the pull request is told, from the steps' own timings and the
    /// failed step's message.
    feedback: feedback::Feedback,
    /// The failed step's message.
    failure: Option<String>,
}

impl<W: Write> Runner<'_, W> {
    fn say(&mut self, text: &str) -> Result<(), DemoError> {
        writeln!(self.out, "{text}").map_err(DemoError::Output)
    }

    /// Run `task` with `params`; print its outcome and return its outputs.
    async fn task(
        &mut self,
        task: &str,
        params: Value,
    ) -> Result<Option<Map<String, Value>>, DemoError> {
        self.run_task(task, params, false).await
    }

    /// Run `task` with `--dry-run` (what needs GitHub is only said).
    async fn dry_run(
        &mut self,
        task: &str,
        params: Value,
    ) -> Result<Option<Map<String, Value>>, DemoError> {
        self.run_task(task, params, true).await
    }

    async fn run_task(
        &mut self,
        task: &str,
        params: Value,
        dry_run: bool,
    ) -> Result<Option<Map<String, Value>>, DemoError> {
        let params = match params {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        if let Some(failed) = &self.failed {
            let why = format!("not run: {failed} failed before it");
            self.record(task, Outcome::Skipped(why), Duration::ZERO)?;
            return Ok(None);
        }
        let started = Instant::now();
        let wall_start = SystemTime::now();
        let ctx = Context {
            dry_run,
            ..Context::default()
        };
        let result = registry::run(task, &params, ctx).await;
        let duration = started.elapsed();
        if self.pipeline == "create" {
            self.feedback
                .timings
                .push((task.to_string(), wall_start, SystemTime::now()));
        }
        let (outcome, outputs) = match result {
            Ok(outputs) => {
                let map: Map<String, Value> = outputs
                    .iter()
                    .map(|(k, v)| (k.to_string(), Value::from(v)))
                    .collect();
                (Outcome::Succeeded, Some(map))
            }
            Err(error) => {
                self.failed = Some(task.to_string());
                self.failure = Some(error.full_message());
                (
                    Outcome::Failed(format!("{} ({})", error.full_message(), error.kind)),
                    None,
                )
            }
        };
        self.record(task, outcome, duration)?;
        Ok(outputs)
    }

    fn record(
        &mut self,
        name: &str,
        outcome: Outcome,
        duration: Duration,
    ) -> Result<(), DemoError> {
        let line = match &outcome {
            Outcome::Succeeded => format!("  ✔ {name:<17} {:>6} ms", duration.as_millis()),
            Outcome::Skipped(why) => format!("  – {name:<17} skipped: {why}"),
            Outcome::Failed(why) => format!("  ✘ {name:<17} failed: {why}"),
        };
        self.say(&line)?;
        self.steps.push(StepReport {
            pipeline: self.pipeline,
            name: name.to_string(),
            outcome,
            duration,
        });
        Ok(())
    }

    fn detail(&mut self, text: &str) -> Result<(), DemoError> {
        for line in text.lines() {
            self.say(&format!("      │ {line}"))?;
        }
        Ok(())
    }

    /// Show the comment pr-feedback would post (the demo has no GitHub).
    fn comment(&mut self, state: &str, text: Result<String, String>) -> Result<(), DemoError> {
        match text {
            Ok(text) => {
                self.say(&format!(
                    "  – pr-feedback       {state}: no GitHub in the demo; the comment it would post:"
                ))?;
                self.detail(&text)
            }
            Err(e) => self.record("pr-feedback", Outcome::Failed(e), Duration::ZERO),
        }
    }

    /// The comment of a create pipeline that stopped at a failed step.
    fn comment_on_failure(&mut self) -> Result<(), DemoError> {
        if let (Some(step), Some(message)) = (self.failed.clone(), self.failure.clone()) {
            let text = self.feedback.failed(&step, &message);
            self.comment("failure", text)?;
        }
        Ok(())
    }
}

/// sandbox-test on the demo sandbox: a small suite checks the sandbox's own
/// data (its documents, its database, its Application) and writes JUnit
/// XML as a test runner does; report-tests reads it as in a cluster, on a
/// dry run (no GitHub: it says what it would publish).
async fn smoke_suite<W: Write>(
    r: &mut Runner<'_, W>,
    world: &world::World,
    environment: &str,
    database_url: Option<&str>,
) -> Result<(), DemoError> {
    let mut cases: Vec<(&str, Result<String, String>)> = Vec::new();
    let ours = walk_count(&world.sandbox_bucket.join(environment));
    cases.push((
        "test_every_document_is_seeded",
        if ours == world.documents && ours > 0 {
            Ok(format!("{ours} documents"))
        } else {
            Err(format!(
                "{ours} documents in the sandbox, {} in integration",
                world.documents
            ))
        },
    ));
    if let Some(url) = database_url {
        let rows = psql(
            &with_database(url, &environment.replace('-', "_")),
            "select count(*) from orders",
        );
        cases.push((
            "test_orders_are_restored",
            match rows {
                Ok(n) if n.trim().parse::<u64>().is_ok_and(|n| n > 0) => {
                    Ok(format!("{} orders", n.trim()))
                }
                Ok(n) => Err(format!("orders holds {} rows", n.trim())),
                Err(e) => Err(e),
            },
        ));
    }
    let app = world.git(&["show", &format!("main:apps/sandboxes/{environment}.yaml")]);
    cases.push((
        "test_application_is_registered",
        match app {
            Ok(text) if text.contains("kind: Application") => Ok("registered".into()),
            Ok(_) => Err("not an Application".into()),
            Err(e) => Err(e.to_string()),
        },
    ));
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<testsuites><testsuite name=\"smoke\" tests=\"{}\">\n",
        cases.len()
    );
    for (name, result) in &cases {
        let case = format!(
            "  <testcase classname=\"tests.test_smoke\" name=\"{name}\" file=\"tests/test_smoke.py\""
        );
        match result {
            Ok(_) => xml.push_str(&format!("{case}/>\n")),
            Err(why) => xml.push_str(&format!(
                "{case}><failure message=\"{}\"/></testcase>\n",
                why.replace('&', "&amp;")
                    .replace('"', "&quot;")
                    .replace('<', "&lt;")
            )),
        }
    }
    xml.push_str("</testsuite></testsuites>\n");
    let reports = world.root.join("reports");
    std::fs::create_dir_all(&reports).map_err(DemoError::Output)?;
    std::fs::write(reports.join("junit.xml"), xml).map_err(DemoError::Output)?;
    let reported = r
        .dry_run(
            "report-tests",
            json!({
                "pr_number": environment.rsplit('-').next().unwrap_or_default(),
                "github_repo": "acme/shop",
                "junit_path": reports.display().to_string(),
            }),
        )
        .await?;
    if reported.is_some() {
        r.detail(&format!(
            "sandbox-test's smoke suite on the sandbox's own data wrote JUnit XML: {} passed, {} failed; the check run sandbox/tests it would publish: {}",
            output(&reported, "tests_passed"),
            output(&reported, "tests_failed"),
            output(&reported, "conclusion")
        ))?;
    }
    Ok(())
}

/// How many files are under `dir` (0 when it does not exist).
fn walk_count(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| {
            let path = e.path();
            if path.is_dir() { walk_count(&path) } else { 1 }
        })
        .sum()
}

/// The sandbox-hibernate and sandbox-wake CronWorkflows on the demo
/// sandbox: `hibernate` writes count-0 overrides into its Application
/// (rendering the overlay with kubectl to find the workloads), `wake` puts
/// the file back as it was.
async fn sleep_and_wake<W: Write>(
    r: &mut Runner<'_, W>,
    world: &world::World,
    git: &impl Fn(Value) -> Value,
    app_file: &str,
) -> Result<(), DemoError> {
    r.pipeline = "sleep";
    r.say("\nNight shutdown (sandbox-hibernate at 20:00, sandbox-wake at 07:30):")?;
    if !on_path("kubectl") {
        for task in ["hibernate", "wake"] {
            r.record(
                task,
                Outcome::Skipped("kubectl is not on PATH (it renders the overlay)".into()),
                Duration::ZERO,
            )?;
        }
        return Ok(());
    }
    let before = world.git(&["show", &format!("main:{app_file}")])?;
    let params = |extra: Value| {
        let mut p = git(json!({ "apps_path": "apps/sandboxes", "forge": "none" }));
        if let (Value::Object(p), Value::Object(extra)) = (&mut p, extra) {
            p.extend(extra);
        }
        p
    };
    let slept = r.task("hibernate", params(json!({}))).await?;
    if slept.is_some() {
        let hibernated: Vec<Value> =
            serde_json::from_str(output(&slept, "hibernated")).unwrap_or_default();
        let workloads: Vec<String> = hibernated
            .iter()
            .flat_map(|h| h["workloads"].as_array().cloned().unwrap_or_default())
            .map(|w| {
                format!(
                    "{} {} ({} → 0)",
                    w["kind"].as_str().unwrap_or("?"),
                    w["name"].as_str().unwrap_or("?"),
                    w["replicas"]
                )
            })
            .collect();
        let during = world.git(&["show", &format!("main:{app_file}")])?;
        let added: Vec<&str> = during
            .lines()
            .filter(|l| !before.lines().any(|b| b == *l))
            .collect();
        r.detail(&format!(
            "{} stopped, {} replica-hours a week saved; the Application now says:\n{}",
            workloads.join(", "),
            output(&slept, "replica_hours_per_week"),
            added.join("\n")
        ))?;
    }
    let woken = r.task("wake", params(json!({}))).await?;
    if woken.is_some() {
        let after = world.git(&["show", &format!("main:{app_file}")])?;
        r.detail(if after == before {
            "the Application is back byte for byte; Argo CD scales the workloads up again"
        } else {
            "the Application differs from before hibernate"
        })?;
    }
    Ok(())
}

fn output<'m>(outputs: &'m Option<Map<String, Value>>, name: &str) -> &'m str {
    outputs
        .as_ref()
        .and_then(|o| o.get(name))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// True when `program` is on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// Run psql against `url` (a demo-local server, no password), returning
/// unaligned output.
fn psql(url: &str, sql: &str) -> Result<String, String> {
    let out = Command::new(sandbox_db::pgbin::bin("psql"))
        .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The same server with another database in the path.
fn with_database(url: &str, database: &str) -> String {
    match url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{database}"),
        None => url.to_string(),
    }
}

/// Build the world and run both pipelines, reporting to `out`.
pub async fn run(options: &Options, out: &mut impl Write) -> Result<Report, DemoError> {
    let root = match &options.world {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("sandbox-demo-{}", std::process::id())),
    };
    let world = if options.delete_only {
        World::open(&root)?
    } else {
        World::build(&root)?
    };
    let pr = options.pr_number;
    let environment = format!("sbx-pr-{pr}");
    // The names every step derives (check-params outputs the same ones).
    let names = sandbox_core::params::EnvironmentName::parse(&environment)
        .ok()
        .and_then(|env| sandbox_core::names::SandboxNames::derive(&env).ok())
        .ok_or_else(|| {
            DemoError::Setup(format!("{environment} is not a valid environment name"))
        })?;
    let branch = names.branch.to_string();
    let database_name = names.database_name.to_string();
    let dest_bucket = format!("file://{}/{environment}/", world.sandbox_bucket.display());
    let overlay = "overlays/sandbox";
    let mut r = Runner {
        out,
        steps: Vec::new(),
        pipeline: "create",
        failed: None,
        restore: None,
        feedback: feedback::Feedback::new(pr),
        failure: None,
    };
    r.say(&format!("World: {}", world.root.display()))?;
    r.say(&format!(
        "  infrastructure repository {}\n  integration bucket {} ({} documents)\n  nightly backups {}",
        world.repo_url, world.source_bucket, world.documents, world.backup_url
    ))?;
    let database_url = match &options.database {
        Database::Url(url) => {
            r.say(&format!("  database server {url}"))?;
            Some(url.clone())
        }
        Database::Skipped(_) => None,
    };
    // The nightly job, in the world: a warm pool of one database restored
    // from the backup, so the create pipeline's restore-db claims it.
    let mut restore_duration = None;
    if let (false, Some(url)) = (options.delete_only, &database_url) {
        restore_duration = prepare_pool(&mut r, &world, url).await?;
    }
    let git = |extra: Value| {
        let mut p = json!({ "repo_url": world.repo_url, "pr_number": pr.to_string() });
        if let (Value::Object(p), Value::Object(extra)) = (&mut p, extra) {
            p.extend(extra);
        }
        p
    };
    if !options.delete_only {
        r.say(&format!(
            "\nCreate pipeline for pull request #{pr} (sandbox-create, then its child sandbox-init):"
        ))?;

        let mut check = json!({
            "pr_number": pr.to_string(),
            "repo_url": world.repo_url,
            "overlay_path": overlay,
            "images_from": "overlays/integration",
            "source_bucket": world.source_bucket,
            "dest_bucket": dest_bucket,
            "backup_url": world.backup_url,
        });
        if let Some(url) = &database_url {
            check["database_url"] = json!(url);
        }
        // sandbox-create's first step: the PR hears its sandbox is coming.
        let pending = r.feedback.pending();
        r.comment("pending", pending)?;
        let checked = r.task("check-params", check).await?;
        let Some(checked) = checked else {
            r.comment_on_failure()?;
            return finish(r, world, Vec::new(), false);
        };
        let checked = Some(checked);
        r.detail(&format!(
            "environment {environment}, namespace {}, branch {branch}, database {database_name}",
            output(&checked, "namespace")
        ))?;

        let created = r
            .task("create-branch", git(json!({ "base_branch": "main" })))
            .await?;
        if created.is_some() {
            r.detail(&format!(
                "{} {branch} at {}",
                output(&created, "action"),
                output(&created, "commit")
                    .chars()
                    .take(12)
                    .collect::<String>()
            ))?;
        }
        let verify = on_path("kubectl");
        let patched = r
            .task(
                "patch-kustomize",
                git(json!({ "overlay_path": overlay, "images_from": "overlays/integration", "verify_render": verify })),
            )
            .await?;
        if patched.is_some() {
            let diff = world.git(&[
                "diff",
                "main",
                &branch,
                "--",
                &format!("{overlay}/kustomization.yaml"),
            ])?;
            r.detail(&format!(
                "overlay diff on {branch}{}:\n{diff}",
                if verify {
                    " (rendered with kubectl kustomize before the push)"
                } else {
                    ""
                }
            ))?;
        }
        // The child workflow: terraform apply is a stand-in here (nothing to
        // create locally), then the documents and the database.
        r.record(
            "terraform apply",
            Outcome::Skipped(
                "stand-in: the demo has no cloud; the sandbox's bucket is a directory".into(),
            ),
            Duration::ZERO,
        )?;
        let seeded = r
            .task(
                "seed-bucket",
                json!({ "pr_number": pr.to_string(), "source_bucket": world.source_bucket, "dest_bucket": dest_bucket }),
            )
            .await?;
        if seeded.is_some() {
            r.detail(&format!(
                "{} objects copied ({} bytes), {} skipped, into {dest_bucket}",
                output(&seeded, "objects_copied"),
                output(&seeded, "bytes_copied"),
                output(&seeded, "objects_skipped")
            ))?;
        }
        match &options.database {
            Database::Url(url) => {
                let restored = r
                    .task(
                        "restore-db",
                        json!({ "pr_number": pr.to_string(), "backup_url": world.backup_url, "database_url": url, "strategy": "auto" }),
                    )
                    .await?;
                if restored.is_some() {
                    let rows = psql(
                        &with_database(url, &database_name),
                        "select count(*) from orders",
                    )
                    .unwrap_or_else(|e| e);
                    let took = r.steps.last().map(|s| s.duration).unwrap_or_default();
                    let timing = RestoreTiming {
                        strategy: output(&restored, "strategy").to_string(),
                        duration: took,
                        restore_duration,
                        fallback_reason: output(&restored, "fallback_reason").to_string(),
                    };
                    let how = match (timing.strategy.as_str(), restore_duration) {
                        ("pool", Some(full)) => format!(
                            "claimed {} from the warm pool in {} ms; restoring the same backup took {} ms (prepare-db, before anyone asked)",
                            output(&restored, "pool_database"),
                            took.as_millis(),
                            full.as_millis()
                        ),
                        ("template", _) => format!(
                            "copied the template {} in {} ms",
                            output(&restored, "template_database"),
                            took.as_millis()
                        ),
                        _ => format!(
                            "{} tables restored from {} ({} bytes read){}",
                            output(&restored, "tables_restored"),
                            output(&restored, "backup_object"),
                            output(&restored, "bytes_read"),
                            if timing.fallback_reason.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", timing.fallback_reason)
                            }
                        ),
                    };
                    r.detail(&format!("{how}; orders now holds {rows} rows"))?;
                    r.restore = Some(timing);
                }
            }
            Database::Skipped(why) => {
                r.record("restore-db", Outcome::Skipped(why.clone()), Duration::ZERO)?
            }
        }
        let registered = r
            .task(
                "register-app",
                git(json!({ "overlay_path": overlay, "apps_path": "apps/sandboxes" })),
            )
            .await?;
        if registered.is_some() {
            let app = world.git(&["show", &format!("main:{}", output(&registered, "app_file"))])?;
            r.detail(&format!(
                "Argo CD Application on main, {}:\n{app}",
                output(&registered, "app_file")
            ))?;
        }
        if registered.is_some() {
            r.record(
                "wait-ready",
                Outcome::Skipped(format!(
                    "stand-in: the demo has no Argo CD; in a cluster it waits until Application {environment} is Synced at {} and Healthy",
                    output(&patched, "commit").chars().take(12).collect::<String>()
                )),
                Duration::ZERO,
            )?;
        }
        // The last step (or the exit handler): ready with the links and the
        // measured time to ready, or the failed step and what to do.
        if r.failed.is_some() {
            r.comment_on_failure()?;
        } else {
            let ready = r.feedback.ready();
            r.comment("success", ready)?;
            smoke_suite(&mut r, &world, &environment, database_url.as_deref()).await?;
        }

        // Night shutdown: the sandbox sleeps through Argo CD's own replica
        // override in its Application, and wakes back to the same file.
        if registered.is_some() {
            sleep_and_wake(&mut r, &world, &git, output(&registered, "app_file")).await?;
        }

        if options.keep {
            r.say(&format!(
                "\n--keep: the sandbox stays; run the demo again without --keep, or delete {}",
                world.root.display()
            ))?;
            return finish(r, world, Vec::new(), false);
        }
    }

    // The delete pipeline runs whatever the create pipeline got to.
    r.pipeline = "delete";
    r.failed = None;
    r.say(&format!(
        "\nDelete pipeline for pull request #{pr} (sandbox-delete):"
    ))?;
    r.task(
        "unregister-app",
        git(json!({ "apps_path": "apps/sandboxes" })),
    )
    .await?;
    // drop-db and cleanup-bucket run side by side in sandbox-delete; here
    // one after the other. They remove what a killed create left too: the
    // staging copies of a killed restore (ending its sessions first), the
    // documents of a killed copy.
    let dest_dir = world.sandbox_bucket.join(&environment);
    match &database_url {
        Some(url) => {
            let dropped = r
                .task(
                    "drop-db",
                    json!({ "pr_number": pr.to_string(), "database_url": url }),
                )
                .await?;
            if dropped.is_some() {
                let names: Vec<String> =
                    serde_json::from_str(output(&dropped, "databases_dropped")).unwrap_or_default();
                r.detail(&if names.is_empty() {
                    format!("no database of {environment} left to drop")
                } else {
                    format!(
                        "dropped {} (ended {} session(s))",
                        names.join(", "),
                        output(&dropped, "sessions_ended")
                    )
                })?;
            }
        }
        None => r.record(
            "drop-db",
            Outcome::Skipped("no database server (--database-url)".into()),
            Duration::ZERO,
        )?,
    }
    let cleaned = r
        .task(
            "cleanup-bucket",
            json!({ "pr_number": pr.to_string(), "dest_bucket": dest_bucket }),
        )
        .await?;
    if cleaned.is_some() {
        r.detail(&format!(
            "{} objects deleted ({} bytes) from {}",
            output(&cleaned, "objects_deleted"),
            output(&cleaned, "bytes_found"),
            output(&cleaned, "dest_bucket")
        ))?;
    }
    r.record(
        "terraform destroy",
        Outcome::Skipped(
            "stand-in: the demo has no cloud; in a cluster it destroys the sandbox's resources and state"
                .into(),
        ),
        Duration::ZERO,
    )?;
    r.record(
        "cleanup-secrets",
        Outcome::Skipped(
            "no Vault in the demo world; in a cluster it deletes secret/sandboxes/<environment>"
                .into(),
        ),
        Duration::ZERO,
    )?;
    r.task(
        "cleanup-branch",
        git(json!({ "branch": branch, "forge": "none" })),
    )
    .await?;

    // Nothing of the sandbox may be left, checked independently of the tasks.
    let mut leftovers = Vec::new();
    let heads = world.git(&["for-each-ref", "--format=%(refname:short)", "refs/heads/"])?;
    if heads.lines().any(|h| h == branch) {
        leftovers.push(format!("branch {branch} still exists"));
    }
    let apps = world.git(&["ls-tree", "--name-only", "main", "apps/sandboxes/"])?;
    if apps.lines().any(|f| f.contains(&environment)) {
        leftovers.push(format!(
            "an Application file of {environment} is still on main"
        ));
    }
    if dest_dir.exists() {
        leftovers.push(format!("documents left in {}", dest_dir.display()));
    }
    if let Some(url) = &database_url {
        // The database and its staging and retired copies, by their whole
        // names: another sandbox's database is not this one's leftover.
        match psql(
            url,
            &format!(
                "select string_agg(datname, ',') from pg_database \
                 where datname = '{database_name}' \
                 or datname ~ '^{database_name}_(stg|old)_[0-9a-f]{{8}}$'"
            ),
        ) {
            Ok(found) if found.is_empty() => {}
            Ok(found) => leftovers.push(format!("databases left: {found}")),
            Err(e) => leftovers.push(format!("cannot check databases: {e}")),
        }
    }
    finish(r, world, leftovers, true)
}

/// Fill a warm pool of one database from the world's backup (prepare-db,
/// the nightly job), shown as a step of the world's setup; its time is
/// what a restore of the backup takes. A failure is shown and skipped:
/// restore-db then restores.
async fn prepare_pool<W: Write>(
    r: &mut Runner<'_, W>,
    world: &World,
    url: &str,
) -> Result<Option<Duration>, DemoError> {
    let params = json!({ "backup_url": world.backup_url, "database_url": url, "pool_size": "1" });
    let Value::Object(params) = params else {
        return Ok(None);
    };
    let pipeline = std::mem::replace(&mut r.pipeline, "world");
    let started = Instant::now();
    let result = registry::run("prepare-db", &params, Context::default()).await;
    let duration = started.elapsed();
    let prepared = match result {
        Ok(outputs) => {
            r.record("prepare-db", Outcome::Succeeded, duration)?;
            let databases = outputs.get("databases").unwrap_or_default();
            r.detail(&format!(
                "warm pool {databases} restored from the backup (the nightly job, before anyone asks)"
            ))?;
            Some(duration)
        }
        Err(error) => {
            let why = format!(
                "the warm pool could not be prepared ({}); restore-db restores instead",
                error.full_message()
            );
            r.record("prepare-db", Outcome::Skipped(why), duration)?;
            None
        }
    };
    r.pipeline = pipeline;
    Ok(prepared)
}

fn finish<W: Write>(
    mut r: Runner<'_, W>,
    world: World,
    leftovers: Vec<String>,
    deleted: bool,
) -> Result<Report, DemoError> {
    let report = Report {
        steps: r.steps.clone(),
        leftovers,
        deleted,
        world: world.root.clone(),
        restore: r.restore.clone(),
    };
    r.say("\nSummary:")?;
    for pipeline in ["create", "sleep", "delete"] {
        let steps: Vec<&StepReport> = report
            .steps
            .iter()
            .filter(|s| s.pipeline == pipeline)
            .collect();
        if steps.is_empty() {
            continue;
        }
        let count = |f: fn(&Outcome) -> bool| steps.iter().filter(|s| f(&s.outcome)).count();
        let total: Duration = steps.iter().map(|s| s.duration).sum();
        r.say(&format!(
            "  {pipeline}: {} succeeded, {} skipped, {} failed in {} ms",
            count(|o| matches!(o, Outcome::Succeeded)),
            count(|o| matches!(o, Outcome::Skipped(_))),
            count(|o| matches!(o, Outcome::Failed(_))),
            total.as_millis()
        ))?;
    }
    if deleted {
        if report.leftovers.is_empty() {
            r.say("  nothing of the sandbox is left: no branch, no Application, no documents, no database")?;
        } else {
            for leftover in &report.leftovers {
                r.say(&format!("  LEFT BEHIND: {leftover}"))?;
            }
        }
    }
    Ok(report)
}
