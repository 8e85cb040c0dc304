//! What the create pipeline tells the pull request, in the demo: the
//! comment pr-feedback would post (the demo has no GitHub), rendered by the
//! task's own code (`sandbox_tasks::pr_feedback::comment_text`) from the
//! demo's own step timings and failures, as sandbox-create passes them
//! (`timings` from the DAG tasks' startedAt/finishedAt, `failures` as
//! Argo's `workflow.failures` JSON).

use sandbox_tasks::pr_feedback::{self, PrFeedback};
use sandbox_tasks::runner;
use serde_json::{Map, Value, json};
use std::time::SystemTime;

/// The sandbox's URL, as sandbox-create's `environment_url` default.
pub const ENVIRONMENT_URL: &str = "https://{environment}.sandbox.example.com";
/// Its Application, as sandbox-create's `argocd_url` default.
pub const ARGOCD_URL: &str = "https://argocd.example.com/applications/argocd/{environment}";

/// One pipeline run's feedback.
pub struct Feedback {
    /// The pull request.
    pub pr: u32,
    /// The "event": when the demo started the pipeline.
    pub triggered_at: SystemTime,
    /// This run's page, as sandbox-create builds it.
    pub workflow_url: String,
    /// Each step that ran: name, start, end.
    pub timings: Vec<(String, SystemTime, SystemTime)>,
}

impl Feedback {
    /// A run of PR `pr` triggered now.
    pub fn new(pr: u32) -> Self {
        Feedback {
            pr,
            triggered_at: SystemTime::now(),
            workflow_url: format!(
                "https://argo.example.com/workflows/argo/sandbox-create-pr-{pr}-demo"
            ),
            timings: Vec::new(),
        }
    }

    /// The comment as the run starts ("creating").
    pub fn pending(&self) -> Result<String, String> {
        self.comment(json!({
            "state": "pending",
            "started_at": rfc3339(self.triggered_at),
        }))
    }

    /// The comment once the sandbox is ready: its links and the time to
    /// ready from the event, step by step.
    pub fn ready(&self) -> Result<String, String> {
        let timings: Vec<Value> = self
            .timings
            .iter()
            .map(|(step, start, end)| {
                json!({"step": step, "start": rfc3339(*start), "end": rfc3339(*end)})
            })
            .collect();
        self.comment(json!({
            "state": "success",
            "environment_url": ENVIRONMENT_URL,
            "argocd_url": ARGOCD_URL,
            "triggered_at": rfc3339(self.triggered_at),
            "timings": Value::Array(timings).to_string(),
        }))
    }

    /// The comment after `step` failed with `message`.
    pub fn failed(&self, step: &str, message: &str) -> Result<String, String> {
        let failures = json!([{
            "displayName": step,
            "message": message,
            "templateName": step,
            "phase": "Failed",
            "podName": "",
            "finishedAt": rfc3339(SystemTime::now()),
        }]);
        self.comment(json!({
            "state": "failure",
            "environment_url": ENVIRONMENT_URL,
            "failures": failures.to_string(),
        }))
    }

    fn comment(&self, extra: Value) -> Result<String, String> {
        let mut params: Map<String, Value> = Map::new();
        params.insert("pr_number".into(), json!(self.pr.to_string()));
        params.insert("github_repo".into(), json!("acme/shop"));
        params.insert("workflow_url".into(), json!(self.workflow_url));
        if let Value::Object(extra) = extra {
            params.extend(extra);
        }
        let (params, _) =
            runner::params_from_object::<PrFeedback>(&params).map_err(|e| e.full_message())?;
        pr_feedback::comment_text(&params, "<head commit>").map_err(|e| e.full_message())
    }
}

/// RFC 3339 in UTC, to the millisecond: Argo writes seconds, but the
/// demo's steps take milliseconds.
fn rfc3339(t: SystemTime) -> String {
    let millis = t
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_millis();
    let secs = sandbox_core::time::rfc3339(t);
    format!("{}.{millis:03}Z", secs.trim_end_matches('Z'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_three_comments_of_a_run() {
        let mut f = Feedback::new(42);
        let t0 = f.triggered_at;
        f.timings.push((
            "check-params".into(),
            t0 + Duration::from_secs(2),
            t0 + Duration::from_secs(3),
        ));
        f.timings.push((
            "register-app".into(),
            t0 + Duration::from_secs(3),
            t0 + Duration::from_secs(65),
        ));
        let pending = f.pending().unwrap();
        assert!(pending.contains("being created") && pending.contains("Creating, started"));
        let ready = f.ready().unwrap();
        assert!(
            ready.contains("(<https://sbx-pr-42.sandbox.example.com/>)"),
            "{ready}"
        );
        assert!(
            ready.contains("| Time to ready | **1 min 05 s**"),
            "{ready}"
        );
        assert!(ready.contains("    register-app :"), "{ready}");
        let failed = f.failed("restore-db", "cannot connect").unwrap();
        assert!(
            failed.contains("- `restore-db` (Failed): cannot connect"),
            "{failed}"
        );
    }
}
