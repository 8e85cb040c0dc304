//! The workloads an overlay renders to: `kubectl kustomize` run on many
//! overlays side by side, each bounded by a timeout, and the rendered
//! stream read for its Deployments and StatefulSets (which Argo CD's
//! replicas override scales) and its CronJobs (which it cannot).

use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long `kubectl kustomize` may take for one overlay.
pub const RENDER_TIMEOUT: Duration = Duration::from_secs(120);

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
pub struct RenderJob {
    /// The caller's index of this job.
    pub index: usize,
    /// Where the tree is written out.
    pub dir: PathBuf,
    /// The overlay's path inside the tree.
    pub overlay: String,
    /// The branch it was read from (for messages).
    pub revision: String,
    /// The commit it was read from.
    pub tip: String,
}

/// How many `kubectl kustomize` run at once.
fn render_parallelism() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .clamp(1, 8)
}

/// Render every job, a few at a time, results in the jobs' order.
pub fn render_all(kubectl: &Path, jobs: &[RenderJob]) -> Vec<RenderResult> {
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
                    let result = render(kubectl, job);
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
        .map(|r| r.unwrap_or_else(|| Err(std::io::Error::other("a render did not run"))))
        .collect()
}

/// The Deployments and StatefulSets of an overlay, and its CronJobs.
pub type Rendered = (Vec<Workload>, Vec<Workload>);

/// A render: `Err` when kubectl cannot run at all (the run stops),
/// `Ok(Err(why))` when this overlay does not render (that sandbox is left
/// awake).
pub type RenderResult = Result<Result<Rendered, String>, std::io::Error>;

/// Render one job's overlay with `kubectl kustomize`.
pub fn render(kubectl: &Path, job: &RenderJob) -> RenderResult {
    let RenderJob {
        dir: tree_dir,
        overlay,
        revision,
        ..
    } = job;
    let out_dir = tempfile::Builder::new()
        .prefix("sandbox-render-")
        .tempdir()?;
    // Output to files: a pipe nobody reads while waiting would stall kubectl.
    let out_path = out_dir.path().join("stdout");
    let err_path = out_dir.path().join("stderr");
    let stdout = std::fs::File::create(&out_path)?;
    let stderr = std::fs::File::create(&err_path)?;
    let started = Instant::now();
    let mut child = Command::new(kubectl)
        .args(crate::render::RenderCheck::args(
            &tree_dir.join(overlay),
            None,
        ))
        .current_dir(out_dir.path())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot run {} (install kubectl or pass --kubectl): {e}",
                    kubectl.display()
                ),
            )
        })?;
    // Bounded by the timeout; kubectl cannot be awaited with one.
    let status = loop {
        match child.try_wait()? {
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
    let rendered = std::fs::read_to_string(&out_path)?;
    Ok(parse(&rendered).map_err(|e| {
        format!("kubectl kustomize {overlay} at {revision} printed unreadable YAML: {e}")
    }))
}

/// The Deployments and StatefulSets, and the CronJobs, of a rendered stream.
pub fn parse(rendered: &str) -> Result<Rendered, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_workloads_are_deployments_and_statefulsets_cronjobs_apart() {
        let (scaled, cron) = parse(
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
}
