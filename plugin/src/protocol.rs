//! The wire format of Argo's executor plugin RPC `template.execute`, as the
//! agent speaks it (argo-workflows `pkg/plugins/executor`:
//! `ExecuteTemplateArgs`, `ExecuteTemplateReply`; `NodeResult` in
//! `pkg/apis/workflow/v1alpha1/task_set_types.go`), and our own body inside
//! the template: `plugin: {sandbox: {task, params}}`.
//!
//! Only the fields this plugin reads are declared; the rest of the resolved
//! template (inputs, outputs, metadata, retryStrategy, …) is skipped by serde
//! without being built, which keeps the "not mine" path cheap.

use crate::go_duration;
use sandbox_core::Outputs;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Duration;

/// The key of our entry under a template's `plugin:` object.
pub const PLUGIN_KEY: &str = "sandbox";

/// The request body. Go marks `workflow` and `template` required but its
/// decoder does not enforce it; we require the template (nothing can be
/// done without it) and take a missing workflow as empty names, as Argo's
/// own documentation example sends none of them but `name`.
#[derive(Debug, Deserialize)]
pub struct ExecuteTemplateArgs {
    /// Which workflow the template belongs to.
    #[serde(default)]
    pub workflow: Option<Workflow>,
    /// The fully resolved template, inputs already substituted.
    pub template: Option<Template>,
}

/// `executor.Workflow`: only the object metadata is sent.
#[derive(Debug, Default, Deserialize)]
pub struct Workflow {
    /// Name, namespace and uid of the workflow.
    #[serde(default)]
    pub metadata: Option<ObjectMeta>,
}

/// `executor.ObjectMeta`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ObjectMeta {
    /// The workflow's name (for logs).
    #[serde(default)]
    pub name: Option<String>,
    /// Its namespace (for logs).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Its uid: part of a job's identity, so two runs of one workflow name
    /// never share a job.
    #[serde(default)]
    pub uid: Option<String>,
}

/// The parts of `wfv1.Template` the plugin reads.
#[derive(Debug, Deserialize)]
pub struct Template {
    /// The template's name: part of a job's identity.
    #[serde(default)]
    pub name: Option<String>,
    /// `plugin:` — an object with exactly one key naming the plugin.
    #[serde(default)]
    pub plugin: Option<Map<String, Value>>,
}

/// What a template asks of this plugin: `plugin: {sandbox: {task, params}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSpec {
    /// A task name from `sandbox_tasks::registry::TASKS`.
    pub task: String,
    /// The same object a task binary reads with `--params`.
    #[serde(default)]
    pub params: Option<Map<String, Value>>,
}

impl ExecuteTemplateArgs {
    /// The workflow metadata, empty where it was not sent.
    pub fn metadata(&self) -> ObjectMeta {
        self.workflow
            .as_ref()
            .and_then(|w| w.metadata.clone())
            .unwrap_or_default()
    }
}

/// A node phase the plugin reports (`wfv1.NodePhase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Phase {
    /// Not started: every job slot is busy.
    Pending,
    /// Started; the agent should ask again after `requeue`.
    Running,
    /// Done, outputs attached.
    Succeeded,
    /// Done, the message says why.
    Failed,
}

/// `wfv1.NodeResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeResult {
    /// The node's phase.
    pub phase: Phase,
    /// Shown in the Argo UI next to the node.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Output parameters, for a succeeded node only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outputs: Option<NodeOutputs>,
    /// `N/M`, valid only with 0 ≤ N ≤ M and M > 0 (`wfv1.Progress.IsValid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
}

/// `wfv1.Outputs`, parameters only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeOutputs {
    /// In the order the task set them.
    pub parameters: Vec<Parameter>,
}

/// `wfv1.Parameter` as an output: name and literal value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Parameter {
    /// The output's name, as the template declares it (`valueFrom.supplied: {}`).
    pub name: String,
    /// Its value.
    pub value: String,
}

/// The response body. An empty object means "not my template"; `requeue` is
/// a Go duration string, and the agent calls again only if it is present,
/// so it is always set for Pending and Running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecuteTemplateReply {
    /// The node's result; absent when the template is not ours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeResult>,
    /// When to call again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requeue: Option<String>,
}

impl ExecuteTemplateReply {
    /// `{}`: some other plugin's template.
    pub fn not_mine() -> Self {
        ExecuteTemplateReply {
            node: None,
            requeue: None,
        }
    }

    /// Started and not finished: ask again after `requeue`.
    pub fn running(message: String, (done, total): (u64, u64), requeue: Duration) -> Self {
        // Argo drops a progress that is not valid N/M; before a task knows
        // its amount of work it reports 0/1.
        let total = total.max(1);
        let progress = format!("{}/{total}", done.min(total));
        Self::waiting(Phase::Running, message, Some(progress), requeue)
    }

    /// Not started yet: ask again after `requeue`.
    pub fn pending(message: String, requeue: Duration) -> Self {
        Self::waiting(Phase::Pending, message, None, requeue)
    }

    fn waiting(phase: Phase, message: String, progress: Option<String>, requeue: Duration) -> Self {
        ExecuteTemplateReply {
            node: Some(NodeResult {
                phase,
                message,
                outputs: None,
                progress,
            }),
            // A zero requeue would read as "do not call again": never send it.
            requeue: Some(go_duration::format(requeue.max(Duration::from_secs(1)))),
        }
    }

    /// Done, with the task's outputs.
    pub fn succeeded(message: String, outputs: &Outputs) -> Self {
        let parameters = outputs
            .iter()
            .map(|(name, value)| Parameter {
                name: name.to_string(),
                value: value.to_string(),
            })
            .collect();
        ExecuteTemplateReply {
            node: Some(NodeResult {
                phase: Phase::Succeeded,
                message,
                outputs: Some(NodeOutputs { parameters }),
                progress: None,
            }),
            requeue: None,
        }
    }

    /// Done, failed; no outputs.
    pub fn failed(message: String) -> Self {
        ExecuteTemplateReply {
            node: Some(NodeResult {
                phase: Phase::Failed,
                message,
                outputs: None,
                progress: None,
            }),
            requeue: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replies_serialize_as_the_agent_reads_them() {
        let mut out = Outputs::new();
        out.set("environment", "sbx-pr-1");
        let cases = [
            (ExecuteTemplateReply::not_mine(), json!({})),
            (
                ExecuteTemplateReply::running("running".into(), (0, 0), Duration::from_secs(5)),
                json!({"node": {"phase": "Running", "message": "running", "progress": "0/1"}, "requeue": "5s"}),
            ),
            (
                ExecuteTemplateReply::pending(String::new(), Duration::ZERO),
                json!({"node": {"phase": "Pending"}, "requeue": "1s"}),
            ),
            (
                ExecuteTemplateReply::succeeded("done".into(), &out),
                json!({"node": {"phase": "Succeeded", "message": "done",
                    "outputs": {"parameters": [{"name": "environment", "value": "sbx-pr-1"}]}}}),
            ),
            (
                ExecuteTemplateReply::failed("bad".into()),
                json!({"node": {"phase": "Failed", "message": "bad"}}),
            ),
        ];
        for (reply, want) in cases {
            assert_eq!(serde_json::to_value(&reply).unwrap(), want);
        }
    }

    #[test]
    fn progress_is_always_valid_for_argo() {
        let reply = ExecuteTemplateReply::running(String::new(), (7, 3), Duration::from_secs(5));
        assert_eq!(reply.node.unwrap().progress.as_deref(), Some("3/3"));
    }
}
