//! Counters for `GET /metrics`, written in the Prometheus text format by
//! hand: a handful of series does not justify a metrics crate and its
//! dependencies in a sidecar that should start in milliseconds.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How a `template.execute` call was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 200 `{}`: another plugin's template.
    NotMine,
    /// 200, node Pending: no free job slot.
    Pending,
    /// 200, node Running.
    Running,
    /// 200, node Succeeded.
    Succeeded,
    /// 200, node Failed.
    Failed,
    /// 400: the body is not a request.
    BadRequest,
    /// 403: no or wrong token.
    Forbidden,
    /// 503: shutting down, call again.
    Unavailable,
}

impl Outcome {
    const ALL: [Outcome; 8] = [
        Outcome::NotMine,
        Outcome::Pending,
        Outcome::Running,
        Outcome::Succeeded,
        Outcome::Failed,
        Outcome::BadRequest,
        Outcome::Forbidden,
        Outcome::Unavailable,
    ];

    fn label(self) -> &'static str {
        match self {
            Outcome::NotMine => "not_mine",
            Outcome::Pending => "pending",
            Outcome::Running => "running",
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::BadRequest => "bad_request",
            Outcome::Forbidden => "forbidden",
            Outcome::Unavailable => "unavailable",
        }
    }
}

/// Upper bounds (seconds) of the task duration histogram: from a
/// validation in microseconds to a database restore in an hour.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.025, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Every series the plugin exports.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: [AtomicU64; Outcome::ALL.len()],
    jobs_started: AtomicU64,
    /// Per task and result (`succeeded`/`failed`): finished jobs are rare,
    /// so a lock here costs nothing.
    durations: Mutex<BTreeMap<(String, &'static str), Histogram>>,
}

impl Metrics {
    /// Count one answered call.
    pub fn request(&self, outcome: Outcome) {
        self.requests[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Count one started job.
    pub fn job_started(&self) {
        self.jobs_started.fetch_add(1, Ordering::Relaxed);
    }

    /// Jobs started since the plugin started.
    pub fn jobs_started(&self) -> u64 {
        self.jobs_started.load(Ordering::Relaxed)
    }

    /// Record a finished job.
    pub fn job_finished(&self, task: &str, succeeded: bool, took: Duration) {
        let result = if succeeded { "succeeded" } else { "failed" };
        let secs = took.as_secs_f64();
        let mut map = match self.durations.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let h = map.entry((task.to_string(), result)).or_default();
        for (bound, count) in BUCKETS.iter().zip(h.counts.iter_mut()) {
            if secs <= *bound {
                *count += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// The Prometheus text exposition of every series; `running` is the
    /// number of jobs running now.
    pub fn render(&self, running: usize) -> String {
        let mut out = String::with_capacity(2048);
        out.push_str("# HELP sandbox_plugin_requests_total template.execute calls by how they were answered.\n");
        out.push_str("# TYPE sandbox_plugin_requests_total counter\n");
        for outcome in Outcome::ALL {
            let n = self.requests[outcome as usize].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "sandbox_plugin_requests_total{{outcome=\"{}\"}} {n}",
                outcome.label()
            );
        }
        out.push_str("# HELP sandbox_plugin_jobs_running Tasks running now.\n");
        out.push_str("# TYPE sandbox_plugin_jobs_running gauge\n");
        let _ = writeln!(out, "sandbox_plugin_jobs_running {running}");
        out.push_str("# HELP sandbox_plugin_jobs_started_total Tasks started.\n");
        out.push_str("# TYPE sandbox_plugin_jobs_started_total counter\n");
        let _ = writeln!(
            out,
            "sandbox_plugin_jobs_started_total {}",
            self.jobs_started()
        );
        out.push_str("# HELP sandbox_plugin_task_duration_seconds How long finished tasks took.\n");
        out.push_str("# TYPE sandbox_plugin_task_duration_seconds histogram\n");
        let map = match self.durations.lock() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        for ((task, result), h) in &map {
            let labels = format!("task=\"{}\",result=\"{result}\"", escape(task));
            for (bound, count) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "sandbox_plugin_task_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "sandbox_plugin_task_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "sandbox_plugin_task_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "sandbox_plugin_task_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out
    }
}

/// Label values escape `\`, `"` and newlines.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauge_and_cumulative_buckets() {
        let m = Metrics::default();
        m.request(Outcome::NotMine);
        m.request(Outcome::NotMine);
        m.request(Outcome::Forbidden);
        m.job_started();
        m.job_finished("check-params", true, Duration::from_millis(3));
        let text = m.render(2);
        assert!(
            text.contains("sandbox_plugin_requests_total{outcome=\"not_mine\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("sandbox_plugin_requests_total{outcome=\"forbidden\"} 1\n"));
        assert!(text.contains("sandbox_plugin_jobs_running 2\n"));
        assert!(text.contains("sandbox_plugin_jobs_started_total 1\n"));
        let bucket = |le: &str| {
            format!(
                "sandbox_plugin_task_duration_seconds_bucket{{task=\"check-params\",result=\"succeeded\",le=\"{le}\"}}"
            )
        };
        assert!(text.contains(&format!("{} 0\n", bucket("0.001"))));
        assert!(text.contains(&format!("{} 1\n", bucket("0.005"))));
        assert!(text.contains(&format!("{} 1\n", bucket("+Inf"))));
    }
}
