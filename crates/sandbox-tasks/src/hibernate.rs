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

use crate::args::{
    self, AppsArgs, AuthorArgs, EnvArgs, EnvPlan, Forge, ForgeArgs, GithubArgs, GithubPlan,
    KubectlArgs, Refusals, RepoArgs, RepoPlan, SleepArgs, VaultArgs, VaultPlan,
};
use crate::gitops::{self, ACTION};
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::params::{BranchName, EnvironmentName, GithubRepo, PrNumber, Problems, RepoPath};
use sandbox_core::policy::Policy;
use sandbox_core::{Outputs, TaskError};
use sandbox_git::{Author, EditError, PushOutcome, Workspace};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use yaml_edit::{Document, Mapping, ScalarValue};

/// Marks a hibernated Application: when it was put to sleep (UTC).
pub const HIBERNATED_AT: &str = "argo-sandbox.io/hibernated-at";
/// What `spec.source.kustomize` held before hibernation (JSON), for wake.
pub const SAVED_OVERRIDES: &str = "argo-sandbox.io/hibernated-overrides";
/// An Application annotated `"true"` is never hibernated.
pub const KEEP_AWAKE: &str = "argo-sandbox.io/keep-awake";

/// How long `kubectl kustomize` may take for one overlay.
const RENDER_TIMEOUT: Duration = Duration::from_secs(120);

/// Put sandboxes to sleep: Argo CD scales their workloads to zero.
#[derive(Debug, Clone, Default, Args)]
#[command(
    about = "Hibernate sandboxes: write count-0 replica overrides into their Argo CD Applications"
)]
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
    pub forge: ForgeArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub github: GithubArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sleep: SleepArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub kubectl: KubectlArgs,
}

/// What both hibernate and wake validate: which sandboxes, where, and how
/// their pull requests are looked up.
pub(crate) struct Scope {
    pub(crate) policy: Policy,
    /// One sandbox, or every one under the apps path.
    pub(crate) single: Option<(EnvPlan, String)>,
    pub(crate) apps_path: RepoPath,
    pub(crate) apps_branch: BranchName,
    pub(crate) repo: RepoPlan,
    pub(crate) author: Author,
    pub(crate) github: Option<(GithubPlan, GithubRepo)>,
    pub(crate) vault: VaultPlan,
}

/// The shared argument groups of hibernate and wake.
pub(crate) struct ScopeArgs<'a> {
    pub(crate) env: &'a EnvArgs,
    pub(crate) repo: &'a RepoArgs,
    pub(crate) author: &'a AuthorArgs,
    pub(crate) apps: &'a AppsArgs,
    pub(crate) forge: &'a ForgeArgs,
    pub(crate) github: &'a GithubArgs,
    pub(crate) vault: &'a VaultArgs,
}

impl ScopeArgs<'_> {
    /// Validate; `extra` adds a task's own fields' problems. Exit 2 on any
    /// problem, then exit 5 on a refusal.
    pub(crate) fn validate(&self, extra: impl FnOnce(&mut Problems)) -> Result<Scope, TaskError> {
        let mut problems = Problems::new();
        let one = self.env.pr_number.is_some() || self.env.environment.is_some();
        let prefix = self.env.prefix.validate(&mut problems);
        let env = if one {
            self.env.validate(None, &mut problems)
        } else {
            None
        };
        let name = env.as_ref().map(|e| &e.environment);
        let scope = self.vault.scope(&mut problems);
        let repo = self.repo.validate(true, name, &scope, &mut problems);
        let author = self.author.validate(&mut problems);
        let apps = if one {
            self.apps
                .validate(env.as_ref(), &mut problems)
                .map(|a| (a.apps_path.clone(), a.apps_branch.clone(), Some(a)))
        } else {
            if let Some(app) = &self.apps.app_name {
                problems.push(sandbox_core::Problem {
                    field: "app_name".into(),
                    rule: "one-sandbox".into(),
                    message: "app_name names one sandbox's Application; without pr_number or environment every sandbox is selected".into(),
                    value: Some(app.clone()),
                    fix: "pass --pr-number N with --app-name, or leave --app-name out".into(),
                });
            }
            self.apps
                .dir
                .validate(&mut problems)
                .map(|(p, b)| (p, b, None))
        };
        let github = match self.forge.forge {
            Forge::Github => {
                if self.github.github_repo.is_none() {
                    problems.missing(
                        "github_repo",
                        "pass --github-repo owner/name, or --forge none",
                    );
                }
                self.github.validate(false, name, &scope, &mut problems)
            }
            Forge::None => None,
        };
        extra(&mut problems);
        let vault = self.vault.plan(
            scope,
            name,
            repo.iter()
                .flat_map(RepoPlan::references)
                .chain(github.iter().flat_map(GithubPlan::references)),
            &mut problems,
        );
        let (Some(prefix), Some(repo), Some(author), Some((apps_path, apps_branch, app)), true) =
            (prefix, repo, author, apps, problems.is_empty())
        else {
            return Err(args::invalid(problems));
        };
        let github = match github {
            Some(g) => {
                let Some(r) = g.repo.clone() else {
                    return Err(TaskError::internal("github_repo validated but absent"));
                };
                Some((g, r))
            }
            None => None,
        };
        let single = match (env, app) {
            (Some(env), Some(app)) => {
                let mut refusals = Refusals::new();
                env.refusals(&mut refusals);
                app.refusals(&env, &mut refusals);
                refusals.finish()?;
                Some((env, app.app_file))
            }
            _ => None,
        };
        let policy = match &single {
            Some((env, _)) => env.policy.clone(),
            None => {
                Policy::new(prefix).protect_branches(self.env.protected_branches.iter().cloned())
            }
        };
        Ok(Scope {
            policy,
            single,
            apps_path,
            apps_branch,
            repo,
            author,
            github,
            vault,
        })
    }
}

/// One sandbox's Application file on the apps branch.
#[derive(Debug, Clone)]
pub(crate) struct AppFile {
    pub(crate) environment: EnvironmentName,
    pub(crate) file: String,
    pub(crate) text: String,
}

/// What the Application file says.
#[derive(Debug, Clone, Default)]
pub(crate) struct AppInfo {
    pub(crate) hibernated: bool,
    pub(crate) keep_awake: bool,
    pub(crate) revision: Option<String>,
    pub(crate) path: Option<String>,
    /// `spec.source.kustomize.replicas` as it is.
    pub(crate) replicas: Option<Value>,
}

impl AppInfo {
    pub(crate) fn parse(text: &str) -> Result<AppInfo, String> {
        let doc: Value = yaml_serde::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
        if doc["kind"] != "Application" {
            return Err("not an Argo CD Application".into());
        }
        let annotations = &doc["metadata"]["annotations"];
        let source = &doc["spec"]["source"];
        if !source.is_object() {
            return Err("has no spec.source (multi-source Applications are not handled)".into());
        }
        Ok(AppInfo {
            hibernated: annotations.get(HIBERNATED_AT).is_some(),
            keep_awake: annotations[KEEP_AWAKE] == "true",
            revision: source["targetRevision"].as_str().map(str::to_string),
            path: source["path"].as_str().map(str::to_string),
            replicas: source["kustomize"].get("replicas").cloned(),
        })
    }
}

/// `<prefix>pr-<N>` with N written canonically, else `None`.
pub(crate) fn sandbox_pr(policy: &Policy, name: &str) -> Option<PrNumber> {
    let digits = name
        .strip_prefix(policy.prefix().as_str())?
        .strip_prefix("pr-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pr = PrNumber::parse(digits).ok()?;
    let env = policy.environment_for(pr).ok()?;
    (env.as_str() == name && policy.check_environment(&env).is_ok()).then_some(pr)
}

/// Which Application files to read: what [`Scope`] selects, sendable to
/// a blocking thread.
#[derive(Debug, Clone)]
pub(crate) struct Select {
    single: Option<(EnvironmentName, String)>,
    policy: Policy,
    apps_path: String,
    apps_branch: BranchName,
}

impl Select {
    pub(crate) fn of(scope: &Scope) -> Select {
        Select {
            single: scope
                .single
                .as_ref()
                .map(|(env, file)| (env.environment.clone(), file.clone())),
            policy: scope.policy.clone(),
            apps_path: scope.apps_path.to_string(),
            apps_branch: scope.apps_branch.clone(),
        }
    }

    /// The selected Application files (absent ones left out).
    pub(crate) fn read(&self, ws: &Workspace) -> Result<Vec<AppFile>, TaskError> {
        ws.read_branch(&self.apps_branch, |tree| {
            let mut files = Vec::new();
            match &self.single {
                Some((environment, file)) => {
                    if let Some(text) = tree.read_string(file)? {
                        files.push(AppFile {
                            environment: environment.clone(),
                            file: file.clone(),
                            text,
                        });
                    }
                }
                None => {
                    for name in tree.list(&self.apps_path)? {
                        let Some(stem) = name.strip_suffix(".yaml") else {
                            continue;
                        };
                        if sandbox_pr(&self.policy, stem).is_none() {
                            continue;
                        }
                        let Ok(environment) = EnvironmentName::parse(stem) else {
                            continue;
                        };
                        let file = format!("{}/{name}", self.apps_path);
                        if let Some(text) = tree.read_string(&file)? {
                            files.push(AppFile {
                                environment,
                                file,
                                text,
                            });
                        }
                    }
                }
            }
            Ok(files)
        })
        .map_err(TaskError::from)
    }
}

/// The guard rail on an Application's source: its revision must be the
/// sandbox's own, unprotected branch.
pub(crate) fn check_revision(
    policy: &Policy,
    env: &EnvironmentName,
    revision: Option<&str>,
) -> Result<BranchName, sandbox_core::Problem> {
    let value = revision.unwrap_or_default();
    let branch = BranchName::parse(value).map_err(|_| sandbox_core::Problem {
        field: "spec.source.targetRevision".into(),
        rule: "environment-branch".into(),
        message: format!("the Application of {env} does not deploy a branch"),
        value: Some(value.to_string()),
        fix: "register the sandbox with register-app".into(),
    })?;
    policy
        .check_branch(&branch, env)
        .map_err(|r| r.into_problem("spec.source.targetRevision", value))?;
    Ok(branch)
}

/// A workload of a rendered overlay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workload {
    /// Deployment, StatefulSet or CronJob.
    pub kind: String,
    /// Its rendered name.
    pub name: String,
    /// Its replicas before hibernation (the override's count if one was
    /// set, else the manifest's, else 1); absent for a CronJob.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u64>,
}

/// One overlay to render: the tree written out at `dir`.
struct RenderJob {
    index: usize,
    dir: std::path::PathBuf,
    overlay: String,
    revision: String,
    tip: String,
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

/// How many `kubectl kustomize` run at once.
fn render_parallelism() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .clamp(1, 8)
}

/// Render every job, a few at a time, results in the jobs' order.
fn render_all(kubectl: &Path, jobs: &[RenderJob]) -> Vec<RenderResult> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<RenderResult>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..render_parallelism().min(jobs.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let result = render_workloads(kubectl, job);
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(result);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(TaskError::internal("a render did not run"))))
        .collect()
}

/// The Deployments and StatefulSets of an overlay, and its CronJobs.
type Rendered = (Vec<Workload>, Vec<Workload>);

/// A render: `Err` when kubectl cannot run at all (the run stops),
/// `Ok(Err(why))` when this overlay does not render (that sandbox is left
/// awake).
type RenderResult = Result<Result<Rendered, String>, TaskError>;

/// Render one job's overlay with `kubectl kustomize`.
fn render_workloads(kubectl: &Path, job: &RenderJob) -> RenderResult {
    let RenderJob {
        dir: tree_dir,
        overlay,
        revision,
        ..
    } = job;
    let out_dir = tempfile::Builder::new()
        .prefix("sandbox-render-")
        .tempdir()
        .map_err(|e| TaskError::internal("cannot make a scratch directory").with_source(e))?;
    // Output to files: a pipe nobody reads while waiting would stall kubectl.
    let out_path = out_dir.path().join("stdout");
    let err_path = out_dir.path().join("stderr");
    let io = |e: std::io::Error| TaskError::internal("cannot run kubectl").with_source(e);
    let stdout = std::fs::File::create(&out_path).map_err(io)?;
    let stderr = std::fs::File::create(&err_path).map_err(io)?;
    let started = Instant::now();
    let mut child = Command::new(kubectl)
        .args(sandbox_kustomize::render::RenderCheck::args(
            &tree_dir.join(overlay),
            None,
        ))
        .current_dir(out_dir.path())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|e| {
            TaskError::precondition(format!(
                "cannot run {} (install kubectl or pass --kubectl)",
                kubectl.display()
            ))
            .with_source(e)
        })?;
    // Bounded by the timeout; kubectl cannot be awaited with one.
    let status = loop {
        match child.try_wait().map_err(io)? {
            Some(status) => break status,
            None if started.elapsed() < RENDER_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(5));
            }
            None => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(Err(format!(
                    "kubectl kustomize {overlay} at {revision} did not finish in {}s",
                    RENDER_TIMEOUT.as_secs()
                )));
            }
        }
    };
    if !status.success() {
        let message = std::fs::read_to_string(&err_path).unwrap_or_default();
        let message = message.replace(&format!("{}/", tree_dir.display()), "");
        return Ok(Err(format!(
            "the overlay {overlay} at {revision} does not render: {}",
            message.trim().chars().take(2000).collect::<String>()
        )));
    }
    let rendered = std::fs::read_to_string(&out_path).map_err(io)?;
    Ok(parse_workloads(&rendered).map_err(|e| {
        format!("kubectl kustomize {overlay} at {revision} printed unreadable YAML: {e}")
    }))
}

/// The Deployments and StatefulSets, and the CronJobs, of a rendered stream.
fn parse_workloads(rendered: &str) -> Result<Rendered, String> {
    use serde::Deserialize;
    let mut scaled = Vec::new();
    let mut cron = Vec::new();
    for doc in yaml_serde::Deserializer::from_str(rendered) {
        let value = Value::deserialize(doc).map_err(|e| e.to_string())?;
        let kind = value["kind"].as_str().unwrap_or_default();
        let Some(name) = value["metadata"]["name"].as_str() else {
            continue;
        };
        match kind {
            "Deployment" | "StatefulSet" => scaled.push(Workload {
                kind: kind.into(),
                name: name.into(),
                replicas: Some(value["spec"]["replicas"].as_u64().unwrap_or(1)),
            }),
            "CronJob" => cron.push(Workload {
                kind: kind.into(),
                name: name.into(),
                replicas: None,
            }),
            _ => {}
        }
    }
    Ok((scaled, cron))
}

/// An edit refused before anything is pushed, as the task's error.
pub(crate) fn edit_failed(e: EditError) -> TaskError {
    TaskError::from(sandbox_git::GitError::from(e))
}

/// Why an Application file could not be edited.
fn edit_error(file: &str, what: impl std::fmt::Display) -> EditError {
    EditError::precondition(format!("cannot edit {file}: {what}"))
}

fn mapping(m: &Mapping, key: &str) -> Option<Mapping> {
    m.get(key).and_then(|n| n.as_mapping().cloned())
}

/// The indentation of the mapping entries under `parent_key` in `text`
/// (two spaces unless the file says otherwise).
fn indent_unit(text: &str) -> usize {
    text.lines()
        .find(|l| !l.trim().is_empty() && l.starts_with(' ') && !l.trim_start().starts_with('#'))
        .map_or(2, |l| l.len() - l.trim_start().len())
}

/// A mapping parsed from text, so yaml-edit keeps its block layout.
fn block_mapping(key: &str, body: &str) -> Result<Mapping, String> {
    let doc = Document::from_str(&format!("{key}:\n{body}")).map_err(|e| e.to_string())?;
    doc.as_mapping()
        .and_then(|m| mapping(&m, key))
        .ok_or_else(|| format!("{key} is not a mapping"))
}

/// What hibernate keeps for wake: whether `spec.source.kustomize` and
/// `metadata.annotations` existed, and the replicas override that was set.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize)]
pub(crate) struct Saved {
    /// `metadata.annotations` existed.
    pub(crate) annotations: bool,
    /// `spec.source.kustomize` existed.
    pub(crate) kustomize: bool,
    /// `spec.source.kustomize.replicas` as it was.
    pub(crate) replicas: Option<Value>,
}

/// Hibernate one Application file: `count: 0` for every workload, the old
/// override saved, the mark set. The result is checked to wake back to
/// `text` byte for byte.
pub(crate) fn hibernate_text(
    file: &str,
    text: &str,
    workloads: &[Workload],
    at: &str,
) -> Result<String, EditError> {
    let info = AppInfo::parse(text).map_err(|e| edit_error(file, e))?;
    let doc = Document::from_str(text).map_err(|e| edit_error(file, e))?;
    let root = doc
        .as_mapping()
        .ok_or_else(|| edit_error(file, "not a mapping"))?;
    let unit = indent_unit(text);
    let pad = |n: usize| " ".repeat(unit * n);
    let metadata = mapping(&root, "metadata").ok_or_else(|| edit_error(file, "no metadata"))?;
    let source = mapping(&root, "spec")
        .and_then(|s| mapping(&s, "source"))
        .ok_or_else(|| edit_error(file, "no spec.source"))?;
    let saved = Saved {
        annotations: metadata.get("annotations").is_some(),
        kustomize: source.get("kustomize").is_some(),
        replicas: info.replicas.clone(),
    };
    let saved_json = serde_json::to_string(&saved).map_err(|e| edit_error(file, e))?;
    let mut entries = String::new();
    for w in workloads {
        entries.push_str(&format!(
            "{}- name: {}\n{}  count: 0\n",
            pad(1),
            serde_json::to_string(&w.name).map_err(|e| edit_error(file, e))?,
            pad(1)
        ));
    }
    match mapping(&metadata, "annotations") {
        Some(a) => {
            a.set(HIBERNATED_AT, ScalarValue::double_quoted(at));
            a.set(SAVED_OVERRIDES, ScalarValue::single_quoted(&saved_json));
        }
        None => {
            let body = format!(
                "{p}{HIBERNATED_AT}: \"{at}\"\n{p}{SAVED_OVERRIDES}: '{}'\n",
                saved_json.replace('\'', "''"),
                p = pad(1)
            );
            let a = block_mapping("annotations", &body).map_err(|e| edit_error(file, e))?;
            metadata.set_with_field_order(
                "annotations",
                a,
                ["name", "namespace", "labels", "annotations", "finalizers"],
            );
        }
    }
    let replicas = yaml_seq(&entries).map_err(|e| edit_error(file, e))?;
    match mapping(&source, "kustomize") {
        Some(k) => {
            k.set("replicas", replicas);
        }
        None => {
            let k = block_mapping("kustomize", &format!("{}replicas:\n{entries}", pad(1)))
                .map_err(|e| edit_error(file, e))?;
            source.set_with_field_order(
                "kustomize",
                k,
                ["repoURL", "targetRevision", "path", "kustomize"],
            );
        }
    }
    let out = doc.to_string();
    let back = wake_text(file, &out)?;
    if back != text {
        return Err(edit_error(
            file,
            "its hibernated form would not wake back to the same bytes; edit its kustomize block into block style",
        ));
    }
    Ok(out)
}

fn yaml_seq(entries: &str) -> Result<yaml_edit::Sequence, String> {
    let doc = Document::from_str(&format!("replicas:\n{entries}")).map_err(|e| e.to_string())?;
    doc.as_mapping()
        .and_then(|m| m.get_sequence("replicas"))
        .ok_or_else(|| "replicas is not a sequence".into())
}

/// Wake one Application file: the override that was there before
/// hibernation is back, the annotations gone. An Application that is not
/// hibernated is returned as it is.
pub(crate) fn wake_text(file: &str, text: &str) -> Result<String, EditError> {
    let doc = Document::from_str(text).map_err(|e| edit_error(file, e))?;
    let root = doc
        .as_mapping()
        .ok_or_else(|| edit_error(file, "not a mapping"))?;
    let metadata = mapping(&root, "metadata").ok_or_else(|| edit_error(file, "no metadata"))?;
    let Some(annotations) = mapping(&metadata, "annotations") else {
        return Ok(text.to_string());
    };
    if annotations.get(HIBERNATED_AT).is_none() {
        return Ok(text.to_string());
    }
    let saved: Saved = annotations
        .get(SAVED_OVERRIDES)
        .and_then(|n| n.as_scalar().map(|s| s.as_string()))
        .and_then(|s| serde_json::from_str(&s).ok())
        .ok_or_else(|| {
            edit_error(
                file,
                format!("it is hibernated but {SAVED_OVERRIDES} is missing or unreadable; restore spec.source.kustomize by hand and remove {HIBERNATED_AT}"),
            )
        })?;
    let source = mapping(&root, "spec")
        .and_then(|s| mapping(&s, "source"))
        .ok_or_else(|| edit_error(file, "no spec.source"))?;
    if !saved.kustomize {
        source.remove("kustomize");
    } else if let Some(k) = mapping(&source, "kustomize") {
        match &saved.replicas {
            None => {
                k.remove("replicas");
            }
            Some(v) => {
                let unit = indent_unit(text);
                let entries = replicas_block(v, unit).map_err(|e| edit_error(file, e))?;
                let seq = yaml_seq(&entries).map_err(|e| edit_error(file, e))?;
                k.set("replicas", seq);
            }
        }
    }
    if saved.annotations {
        annotations.remove(HIBERNATED_AT);
        annotations.remove(SAVED_OVERRIDES);
    } else {
        metadata.remove("annotations");
    }
    Ok(doc.to_string())
}

/// A saved replicas list as block YAML entries.
fn replicas_block(v: &Value, unit: usize) -> Result<String, String> {
    let pad = " ".repeat(unit);
    let items = v.as_array().ok_or("the saved replicas are not a list")?;
    let mut out = String::new();
    for item in items {
        let name = item["name"].as_str().ok_or("a saved replica has no name")?;
        let count = match &item["count"] {
            Value::Number(n) => n.to_string(),
            Value::String(s) => format!("\"{s}\""),
            _ => return Err("a saved replica has no count".into()),
        };
        out.push_str(&format!("{pad}- name: {name}\n{pad}  count: {count}\n"));
    }
    Ok(out)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
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
}

/// One entry of the `skipped` output.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// The sandbox.
    pub environment: String,
    /// Why: already-hibernated, keep-awake-label, keep-awake-annotation,
    /// refused, no-branch, does-not-render, cannot-edit,
    /// not-an-application, not-registered, not-hibernated, pr-closed.
    pub reason: &'static str,
    /// More about it, when there is more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
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

/// A list as one JSON line, for an output.
pub(crate) fn to_json<T: Serialize>(items: &[T]) -> Result<String, TaskError> {
    serde_json::to_string(items)
        .map_err(|e| TaskError::internal("cannot serialize a list").with_source(e))
}

/// The open pull requests (one paginated listing), when a forge is asked.
pub(crate) async fn open_pulls(
    scope: &Scope,
    ctx: &Context,
) -> Result<Option<BTreeMap<u64, sandbox_forge::PullDetails>>, TaskError> {
    let Some((github, repo)) = &scope.github else {
        return Ok(None);
    };
    let creds = scope.vault.credentials(ctx);
    let client = github.client(&creds).await?;
    Ok(Some(client.open_pulls(repo).await?))
}

/// Push `edits` (file → new text, recomputed from the file as it is at
/// each attempt) in one commit that may touch only those files.
pub(crate) fn push_all(
    ws: &Workspace,
    branch: &BranchName,
    message: &str,
    files: Vec<String>,
    mut edit: impl FnMut(&str, &str) -> Result<Option<String>, EditError>,
) -> Result<PushOutcome, TaskError> {
    ws.commit_and_push_only(branch, message, &files, |tree| {
        for file in &files {
            // Unregistered meanwhile: nothing to write.
            let Some(text) = tree.read_string(file)? else {
                continue;
            };
            if let Some(new) = edit(file, &text)?
                && new != text
            {
                tree.write(file, new.into_bytes());
            }
        }
        Ok(())
    })
    .map_err(TaskError::from)
}

/// The task.
pub struct Hibernate;

impl Task for Hibernate {
    const NAME: &'static str = "hibernate";
    const NEEDS: &'static [crate::Need] = crate::needs::GIT;
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "hibernated",
            description: "JSON array of the sandboxes put to sleep: {\"environment\",\"app_file\",\"workloads\": [{\"kind\",\"name\",\"replicas\"}]}.",
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
        let (scope, label) = validate(&params)?;
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
        let policy = scope.policy.clone();
        let single = scope.single.is_some();
        let kubectl = params.kubectl.kubectl.clone();
        let dry_run = ctx.dry_run;
        let apps_branch = scope.apps_branch.clone();
        let now = utc(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs());
        gitops::blocking(move || {
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
                if let Some(pulls) = &pulls
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
                *result = render_workloads(&kubectl, job);
            }
            tracing::info!(overlays = jobs.len(), ms = phase.elapsed().as_millis() as u64, "rendered the overlays");
            for (job, result) in jobs.iter().zip(rendered) {
                let (app, info, _) = &todo[job.index];
                let (mut workloads, cron) = match result? {
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
                if let Err(e) = hibernate_text(&app.file, &app.text, &workloads, &now) {
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
                hibernated.push(Hibernated {
                    environment: app.environment.to_string(),
                    app_file: app.file.clone(),
                    workloads: workloads.clone(),
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
                .set("replicas_stopped", replicas);
            if dry_run {
                for h in &hibernated {
                    tracing::info!(environment = %h.environment, file = %h.app_file, workloads = h.workloads.len(), "dry run: would hibernate");
                }
                out.set("commit", "").set(ACTION, "planned");
                return Ok(out);
            }
            if plans.is_empty() {
                out.set("commit", "").set(ACTION, "unchanged");
                return Ok(out);
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
                hibernate_text(file, text, workloads, &now).map(Some)
            })?;
            out.set(
                "commit",
                if outcome.pushed() { outcome.commit() } else { "" },
            )
            .set(ACTION, if outcome.pushed() { "pushed" } else { "unchanged" });
            Ok(out)
        })
        .await
    }
}

/// Validate a hibernate run: the scope and the keep-awake label.
fn validate(p: &Params) -> Result<(Scope, String), TaskError> {
    let mut label = None;
    let scope = ScopeArgs {
        env: &p.env,
        repo: &p.repo,
        author: &p.author,
        apps: &p.apps,
        forge: &p.forge,
        github: &p.github,
        vault: &p.vault,
    }
    .validate(|problems| label = p.sleep.validate(problems))?;
    let label =
        label.ok_or_else(|| TaskError::internal("keep_awake_label validated but absent"))?;
    Ok((scope, label))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = "# Written by register-app\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: sbx-pr-7\n  namespace: argocd\n  labels:\n    argo-sandbox.io/pr-number: \"7\"\n  finalizers:\n    - resources-finalizer.argocd.argoproj.io\nspec:\n  project: default\n  source:\n    repoURL: \"git://x/infra.git\"\n    targetRevision: \"sbx-pr-7\"\n    path: \"overlays/sbx-pr-7\"\n  destination:\n    namespace: apps-sbx-pr-7\n";

    fn workloads(names: &[&str]) -> Vec<Workload> {
        names
            .iter()
            .map(|n| Workload {
                kind: "Deployment".into(),
                name: (*n).into(),
                replicas: Some(1),
            })
            .collect()
    }

    fn replicas_of(text: &str) -> Value {
        let v: Value = yaml_serde::from_str(text).unwrap();
        v["spec"]["source"]["kustomize"]["replicas"].clone()
    }

    #[test]
    fn a_plain_application_hibernates_and_wakes_back_byte_for_byte() {
        let h = hibernate_text(
            "f",
            PLAIN,
            &workloads(&["web", "db"]),
            "2026-12-02T20:00:00Z",
        )
        .unwrap();
        assert_eq!(
            replicas_of(&h),
            serde_json::json!([{"name": "web", "count": 0}, {"name": "db", "count": 0}]),
            "{h}"
        );
        let info = AppInfo::parse(&h).unwrap();
        assert!(info.hibernated);
        assert!(h.contains("# Written by register-app\n"), "{h}");
        assert_eq!(wake_text("f", &h).unwrap(), PLAIN);
        // Waking what is awake changes nothing.
        assert_eq!(wake_text("f", PLAIN).unwrap(), PLAIN);
    }

    #[test]
    fn existing_overrides_and_annotations_are_kept_and_restored() {
        let text = PLAIN.replace(
            "  finalizers:",
            "  annotations:\n    team: payments\n  finalizers:",
        ) .replace(
            "    path: \"overlays/sbx-pr-7\"\n",
            "    path: \"overlays/sbx-pr-7\"\n    kustomize:\n      namePrefix: a-\n      replicas:\n        - name: web\n          count: 3\n",
        );
        let h = hibernate_text("f", &text, &workloads(&["web", "worker"]), "t").unwrap();
        assert_eq!(
            replicas_of(&h),
            serde_json::json!([{"name": "web", "count": 0}, {"name": "worker", "count": 0}]),
            "{h}"
        );
        let v: Value = yaml_serde::from_str(&h).unwrap();
        assert_eq!(v["metadata"]["annotations"]["team"], "payments");
        assert_eq!(v["spec"]["source"]["kustomize"]["namePrefix"], "a-");
        let saved: Saved = serde_json::from_str(
            v["metadata"]["annotations"][SAVED_OVERRIDES]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            saved.replicas,
            Some(serde_json::json!([{"name": "web", "count": 3}]))
        );
        assert_eq!(wake_text("f", &h).unwrap(), text);
    }

    #[test]
    fn rendered_workloads_are_deployments_and_statefulsets_cronjobs_apart() {
        let (scaled, cron) = parse_workloads(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n---\nkind: StatefulSet\nmetadata:\n  name: db\n---\nkind: CronJob\nmetadata:\n  name: nightly\n",
        )
        .unwrap();
        assert_eq!(
            scaled
                .iter()
                .map(|w| (w.name.as_str(), w.replicas))
                .collect::<Vec<_>>(),
            [("web", Some(2)), ("db", Some(1))]
        );
        assert_eq!(cron.len(), 1);
    }

    #[test]
    fn utc_formats_a_known_instant() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_796_241_600), "2026-12-02T20:00:00Z");
    }
}
