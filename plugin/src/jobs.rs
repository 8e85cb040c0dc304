//! The job table: tasks run in the background and the agent polls for them.
//!
//! Argo's agent calls `template.execute` once, and again after the reply's
//! `requeue` for as long as the node is Pending or Running, with the same
//! body each time. A job is therefore identified by what the body says —
//! workflow uid, template name, task and params — so the poll finds the job
//! the first call started, and identical calls arriving together share one
//! job instead of running the task twice.
//!
//! Every task goes through here, fast or slow: the caller waits up to a
//! short budget for the job, so a task that finishes in microseconds
//! (check-params) is answered in the same call, and a long one is answered
//! Running with its progress. One path keeps deduplication, the deadline and
//! the concurrency bound true for every task.
//!
//! Forgetting: a succeeded job is remembered for a TTL (a repeated call gets
//! the same outputs without running again; at most `max_finished` are kept).
//! A failed job is forgotten once its failure has been answered, so a retry
//! of the node (`retryStrategy`) runs the task again instead of reading the
//! old failure; an unclaimed failure is forgotten after the TTL.

use crate::metrics::Metrics;
use sandbox_core::{Outputs, TaskError};
use sandbox_tasks::{Context, Progress};
use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::AbortHandle;

/// A running task, as a dispatcher returns it.
pub type TaskFuture = Pin<Box<dyn Future<Output = Result<Outputs, TaskError>> + Send>>;

/// A job from start to recorded result.
type JobFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Hands a job that outlived its first call to a background task — when
/// the call's wait is over, or when the call itself is dropped.
struct Handoff {
    future: Option<JobFuture>,
    job: Arc<Job>,
}

impl Drop for Handoff {
    fn drop(&mut self) {
        let Some(future) = self.future.take() else {
            return;
        };
        // Outside a runtime (the process is ending) there is nothing to run
        // it on; the agent's next call starts the job again.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let handle = runtime.spawn(future).abort_handle();
            *self.job.abort.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        }
    }
}

/// A future whose panic becomes an `Err`, so a job driven inline or in the
/// background always ends with a result.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Pin::new(&mut *inner).poll(cx)
        })) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(value)) => std::task::Poll::Ready(Ok(value)),
            Err(panic) => std::task::Poll::Ready(Err(panic)),
        }
    }
}

/// Runs a task by name. The plugin uses [`Registry`]; tests inject their own
/// (a slow task, a task that counts its runs) without touching the
/// production registry.
pub trait Dispatch: Send + Sync + 'static {
    /// Start task `task` with `params`.
    fn run(&self, task: String, params: Map<String, Value>, ctx: Context) -> TaskFuture;
}

/// Every task of `sandbox_tasks::registry`: a task registered there is
/// served by the plugin with no change here.
#[derive(Debug, Clone, Copy, Default)]
pub struct Registry;

impl Dispatch for Registry {
    fn run(&self, task: String, params: Map<String, Value>, ctx: Context) -> TaskFuture {
        Box::pin(async move { sandbox_tasks::registry::run(&task, &params, ctx).await })
    }
}

/// How jobs are bounded.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most tasks running at once; beyond it calls are answered Pending.
    pub max_running: usize,
    /// How long a task may run before it is stopped and reported failed.
    pub deadline: Duration,
    /// Per-task deadlines that override `deadline`.
    pub task_deadlines: HashMap<String, Duration>,
    /// How long a finished job's result is kept for a call to collect it.
    pub ttl: Duration,
    /// Most finished jobs kept; the oldest are forgotten first.
    pub max_finished: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_running: 16,
            deadline: Duration::from_secs(3600),
            task_deadlines: HashMap::new(),
            ttl: Duration::from_secs(600),
            max_finished: 4096,
        }
    }
}

/// What identifies a job: the same workflow run, template, task and params.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobKey {
    workflow_uid: String,
    template: String,
    task: String,
    /// The params as canonical JSON (keys sorted), hashed by the table: the
    /// whole text rather than a digest, so two different parameter sets can
    /// never collide into one job.
    params: String,
}

impl JobKey {
    /// The key of a call.
    pub fn new(
        workflow_uid: &str,
        template: &str,
        task: &str,
        params: &Map<String, Value>,
    ) -> Self {
        let mut canonical = String::new();
        write_canonical(&mut canonical, &Value::Object(params.clone()));
        JobKey {
            workflow_uid: workflow_uid.to_string(),
            template: template.to_string(),
            task: task.to_string(),
            params: canonical,
        }
    }
}

/// JSON with object keys sorted, so the agent's key order never matters.
fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(out, v);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, v);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The result of a finished job.
#[derive(Debug, Clone)]
pub enum Finished {
    /// The task's outputs.
    Succeeded {
        /// Output parameters.
        outputs: Outputs,
        /// How long it ran.
        took: Duration,
    },
    /// Why it failed, already redacted.
    Failed {
        /// The node's message.
        message: String,
    },
}

/// What a call is answered.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Every slot is busy; nothing was started.
    Pending {
        /// Jobs running now.
        running: usize,
    },
    /// Running.
    Running {
        /// The task.
        task: String,
        /// `(done, total)` as the task reports it.
        progress: (u64, u64),
        /// Since it started.
        elapsed: Duration,
    },
    /// Finished.
    Done {
        /// The task.
        task: String,
        /// Its result.
        result: Finished,
    },
}

/// The plugin is shutting down and starts no new job.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the plugin is shutting down and starts no new task; call again")]
pub struct Draining;

/// What a call asks for.
#[derive(Debug, Clone)]
pub struct JobRequest {
    /// The job's identity.
    pub key: JobKey,
    /// The task to run.
    pub task: String,
    /// Its params.
    pub params: Map<String, Value>,
    /// For logs: `namespace/name` of the workflow.
    pub workflow: String,
}

#[derive(Debug)]
struct Job {
    /// Tells this job from a later one under the same key.
    id: u64,
    task: String,
    progress: Progress,
    started: Instant,
    /// `None` while running; the result once finished.
    done: watch::Sender<Option<Finished>>,
    /// To stop the task when the plugin shuts down, once it runs in the
    /// background.
    abort: Mutex<Option<AbortHandle>>,
}

#[derive(Debug, Default)]
struct Table {
    jobs: HashMap<JobKey, Arc<Job>>,
    running: usize,
    /// Finished jobs, oldest first, to forget them by age and by count.
    finished: VecDeque<(JobKey, u64, Instant)>,
    next_id: u64,
}

/// The job table and the tasks it runs.
pub struct Jobs {
    dispatch: Arc<dyn Dispatch>,
    limits: Limits,
    metrics: Arc<Metrics>,
    table: Mutex<Table>,
    draining: AtomicBool,
    /// The number of running jobs, for shutdown to wait on.
    running: watch::Sender<usize>,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Jobs {
    /// An empty table running tasks through `dispatch`.
    pub fn new(dispatch: Arc<dyn Dispatch>, limits: Limits, metrics: Arc<Metrics>) -> Self {
        Jobs {
            dispatch,
            limits,
            metrics,
            table: Mutex::new(Table::default()),
            draining: AtomicBool::new(false),
            running: watch::Sender::new(0),
        }
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        *self.running.borrow()
    }

    /// True once [`Jobs::drain`] has begun: no new task starts.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Jobs in the table, running or finished.
    pub fn len(&self) -> usize {
        self.lock().jobs.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock leaves the table consistent enough
        // to keep serving (each update is a few assignments).
        match self.table.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Answer a call: find its job or start one, then wait up to `wait` for
    /// it to finish.
    ///
    /// A job this call starts is driven by this call itself for up to
    /// `wait`, and only handed to a background task if it is not done by
    /// then: a task that finishes in microseconds costs no spawn and no
    /// wake-up of another thread, which is most of its latency on a busy
    /// machine. If the call goes away first (the agent's client timed out),
    /// the job is handed off all the same.
    pub async fn execute(
        self: &Arc<Self>,
        request: JobRequest,
        wait: Duration,
    ) -> Result<Answer, Draining> {
        let (job, driver) = match self.find_or_start(&request)? {
            Ok(found) => found,
            Err(running) => return Ok(Answer::Pending { running }),
        };
        if let Some(driver) = driver {
            let mut handoff = Handoff {
                future: Some(driver),
                job: Arc::clone(&job),
            };
            if let Some(future) = handoff.future.as_mut()
                && tokio::time::timeout(wait, future).await.is_ok()
            {
                handoff.future = None;
            }
            // Dropping the guard spawns the job if it is still running.
        } else {
            let mut done = job.done.subscribe();
            // Timing out only means "still running"; the job goes on.
            let _ = tokio::time::timeout(wait, done.wait_for(Option::is_some)).await;
        }
        let finished = job.done.borrow().clone();
        Ok(match finished {
            None => Answer::Running {
                task: job.task.clone(),
                progress: job.progress.get(),
                elapsed: job.started.elapsed(),
            },
            Some(result) => {
                if matches!(result, Finished::Failed { .. }) {
                    self.forget(&request.key, job.id);
                }
                Answer::Done {
                    task: job.task.clone(),
                    result,
                }
            }
        })
    }

    /// The job for `request` — with the future that runs it when this call
    /// created it — or the number of running jobs when there is no slot.
    #[allow(clippy::type_complexity)] // one private call site
    fn find_or_start(
        self: &Arc<Self>,
        request: &JobRequest,
    ) -> Result<Result<(Arc<Job>, Option<JobFuture>), usize>, Draining> {
        let mut table = self.lock();
        self.sweep(&mut table, Instant::now());
        if let Some(job) = table.jobs.get(&request.key) {
            return Ok(Ok((Arc::clone(job), None)));
        }
        if self.draining.load(Ordering::SeqCst) {
            return Err(Draining);
        }
        if table.running >= self.limits.max_running {
            return Ok(Err(table.running));
        }
        table.next_id += 1;
        let job = Arc::new(Job {
            id: table.next_id,
            task: request.task.clone(),
            progress: Progress::default(),
            started: Instant::now(),
            done: watch::Sender::new(None),
            abort: Mutex::new(None),
        });
        table.jobs.insert(request.key.clone(), Arc::clone(&job));
        table.running += 1;
        self.running.send_replace(table.running);
        drop(table);
        let future = self.job_future(request, &job);
        Ok(Ok((job, Some(future))))
    }

    /// The whole life of a job: run the task under its deadline, catch a
    /// panic, record the result.
    fn job_future(self: &Arc<Self>, request: &JobRequest, job: &Arc<Job>) -> JobFuture {
        self.metrics.job_started();
        let deadline = self
            .limits
            .task_deadlines
            .get(&request.task)
            .copied()
            .unwrap_or(self.limits.deadline);
        let ctx = Context {
            progress: job.progress.clone(),
            ..Context::default()
        };
        let redactor = ctx.redactor.clone();
        tracing::debug!(task = %request.task, workflow = %request.workflow, job = job.id, "task started");
        let task = self
            .dispatch
            .run(request.task.clone(), request.params.clone(), ctx);
        let this = Arc::clone(self);
        let (key, job, name) = (request.key.clone(), Arc::clone(job), request.task.clone());
        let workflow = request.workflow.clone();
        Box::pin(async move {
            // Dropping the task at the deadline cancels it.
            let result = match tokio::time::timeout(deadline, CatchUnwind(task)).await {
                Ok(Ok(Ok(outputs))) => Finished::Succeeded {
                    outputs,
                    took: job.started.elapsed(),
                },
                Ok(Ok(Err(error))) => Finished::Failed {
                    message: failure_message(&name, &error, &redactor),
                },
                // A panic is a bug in the task; the job must still end.
                // (Release builds abort on panic: the agent's re-sent call
                // then starts the task again in the restarted plugin.)
                Ok(Err(_panic)) => Finished::Failed {
                    message: format!("{name} failed (internal): the task panicked; this is a bug"),
                },
                Err(_) => Finished::Failed {
                    message: format!(
                        "{name} did not finish within {} (the plugin's deadline for it) and was stopped",
                        crate::go_duration::format(deadline)
                    ),
                },
            };
            this.finish(key, &job, &workflow, result);
        })
    }

    fn finish(&self, key: JobKey, job: &Job, workflow: &str, result: Finished) {
        let took = job.started.elapsed();
        let took_ms = took.as_millis() as u64;
        let succeeded = matches!(result, Finished::Succeeded { .. });
        match &result {
            Finished::Succeeded { .. } => {
                tracing::info!(task = %job.task, %workflow, job = job.id, took_ms, "task succeeded");
            }
            Finished::Failed { message } => {
                tracing::warn!(task = %job.task, %workflow, job = job.id, took_ms, "task failed: {message}");
            }
        }
        self.metrics.job_finished(&job.task, succeeded, took);
        let mut table = self.lock();
        table.running = table.running.saturating_sub(1);
        self.running.send_replace(table.running);
        let now = Instant::now();
        table.finished.push_back((key, job.id, now));
        self.sweep(&mut table, now);
        drop(table);
        job.done.send_replace(Some(result));
    }

    /// Forget finished jobs past the TTL or beyond `max_finished`.
    fn sweep(&self, table: &mut Table, now: Instant) {
        while let Some((_, _, at)) = table.finished.front() {
            let expired = now.duration_since(*at) >= self.limits.ttl;
            if !expired && table.finished.len() <= self.limits.max_finished {
                break;
            }
            if let Some((key, id, _)) = table.finished.pop_front()
                && table.jobs.get(&key).is_some_and(|j| j.id == id)
            {
                table.jobs.remove(&key);
            }
        }
    }

    fn forget(&self, key: &JobKey, id: u64) {
        let mut table = self.lock();
        if table.jobs.get(key).is_some_and(|j| j.id == id) {
            table.jobs.remove(key);
        }
    }

    /// Shutdown: start no new job, give running ones up to `grace` to
    /// finish, then stop the rest. A stopped job is simply gone: the agent's
    /// next call (to this plugin restarted) starts it again, which is safe
    /// because every task is idempotent.
    pub async fn drain(&self, grace: Duration) {
        self.draining.store(true, Ordering::SeqCst);
        let mut running = self.running.subscribe();
        let waited = tokio::time::timeout(grace, running.wait_for(|n| *n == 0)).await;
        if waited.is_ok() {
            return;
        }
        let table = self.lock();
        for job in table.jobs.values() {
            if job.done.borrow().is_none() {
                tracing::warn!(task = %job.task, job = job.id, "task stopped by shutdown; a re-sent call starts it again");
                if let Some(handle) = job.abort.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                    handle.abort();
                }
            }
        }
    }
}

/// A task's failure as the node's message: what failed, and every problem
/// with its fix (the Argo UI shows only this message, not the task's JSON
/// details), redacted: it ends up in the workflow's status.
pub fn failure_message(
    task: &str,
    error: &TaskError,
    redactor: &sandbox_core::redact::Redactor,
) -> String {
    let mut message = format!("{task} failed ({}): ", error.kind);
    if error.details.is_empty() {
        message.push_str(&error.full_message());
    } else {
        let problems: Vec<String> = error
            .details
            .iter()
            .map(|p| format!("{}: {} (fix: {})", p.field, p.message, p.fix))
            .collect();
        message.push_str(&problems.join("; "));
    }
    redactor.mask(&message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_ignores_the_order_of_params() {
        let a = json!({"b": 1, "a": {"y": [1, 2], "x": "s"}});
        let b = json!({"a": {"x": "s", "y": [1, 2]}, "b": 1});
        let key = |v: &Value| JobKey::new("uid", "t", "check-params", v.as_object().unwrap());
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), key(&json!({"b": 2, "a": {"y": [1, 2], "x": "s"}})));
        assert_ne!(
            key(&a),
            JobKey::new("uid2", "t", "check-params", a.as_object().unwrap())
        );
    }

    #[test]
    fn failure_message_lists_every_problem_and_masks_secrets() {
        let problem = |field: &str, message: &str| sandbox_core::Problem {
            field: field.into(),
            rule: "r".into(),
            message: message.into(),
            value: None,
            fix: "f".into(),
        };
        let error = TaskError::invalid(vec![
            problem("pr_number", "must be a positive integer"),
            problem("repo_url", "https://u:hunter22@h/r has a password"),
        ]);
        let message = failure_message("check-params", &error, &Default::default());
        assert!(
            message.starts_with("check-params failed (invalid-params): pr_number: must"),
            "{message}"
        );
        assert!(message.contains("; repo_url: "), "{message}");
        assert!(message.contains("https://***@h/r"), "{message}");
        assert!(!message.contains("hunter22"), "{message}");
    }
}
