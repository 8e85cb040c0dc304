//! Failure says where: the failed steps of a run, read from Argo's
//! `{{workflow.failures}}`, which the exit handler can use.
//!
//! Its shape is argo-workflows `workflow/controller/operator.go`
//! `failedNodeStatus`: a JSON list of every node in phase Failed or Error,
//! each `{displayName, message, templateName, phase, podName, finishedAt}`
//! (set in `operate` once the workflow is complete; `docs/variables.md`,
//! "Exit Handler"). The list holds the nodes that hold the failed step too:
//! the retry node ("No more retries left", `operator.go`
//! `processNodeRetries`), the steps or DAG node ("child '…' failed",
//! `steps.go`); those say nothing new and are left out, and a retried
//! step's attempts (`<name>(<n>)`, `operator.go` `executeTemplate`) count as
//! the step once, with the last attempt's message.

use sandbox_core::params::Invalid;
use serde::{Deserialize, Serialize};

/// One failed step, as the comment shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FailedStep {
    /// The step (the DAG task's name).
    pub(crate) step: String,
    /// Argo's message: the step's error (for our tasks, the JSON result's
    /// message, through the termination log).
    pub(crate) message: String,
    /// `Failed` or `Error`.
    pub(crate) phase: String,
}

/// Parse `{{workflow.failures}}`; an empty value is no failure.
pub(crate) fn parse_failures(s: &str) -> Result<Vec<FailedStep>, Invalid> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Node {
        #[serde(default)]
        display_name: String,
        #[serde(default)]
        message: String,
        #[serde(default)]
        phase: String,
        #[serde(default)]
        finished_at: Option<String>,
    }
    let s = s.trim();
    if s.is_empty() || s == "null" {
        return Ok(Vec::new());
    }
    let nodes: Vec<Node> = serde_json::from_str(s).map_err(|e| {
        Invalid::one(
            "json",
            format!("not the JSON list Argo gives as {{{{workflow.failures}}}}: {e}"),
            "pass \"{{workflow.failures}}\" from an exit handler, or leave it empty",
        )
    })?;
    let mut nodes: Vec<Node> = nodes
        .into_iter()
        .filter(|n| {
            !n.message.starts_with("child '")
                && n.message != "No more retries left"
                && !n.display_name.is_empty()
        })
        .collect();
    nodes.sort_by(|a, b| a.finished_at.cmp(&b.finished_at));
    let mut out: Vec<FailedStep> = Vec::new();
    for n in nodes {
        let step = attempt_of(&n.display_name).to_string();
        let failed = FailedStep {
            step,
            message: one_line(&n.message),
            phase: n.phase,
        };
        match out.iter_mut().find(|f| f.step == failed.step) {
            Some(earlier) => *earlier = failed,
            None => out.push(failed),
        }
    }
    Ok(out)
}

/// `wait-ready(2)` is an attempt of `wait-ready`.
fn attempt_of(name: &str) -> &str {
    match name.strip_suffix(')').and_then(|n| n.rsplit_once('(')) {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => name,
    }
}

/// A message on one line, without Markdown that could break the comment,
/// cut at 600 characters.
fn one_line(message: &str) -> String {
    let flat: String = message
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('`', "'")
        .replace('<', "‹")
        .replace('>', "›");
    if flat.chars().count() > 600 {
        let cut: String = flat.chars().take(600).collect();
        format!("{cut}…")
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape `failedNodeStatus` marshals to, for a run whose
    /// wait-ready failed twice and was not retried a third time.
    const FAILURES: &str = r#"[
        {"displayName":"sandbox-create-pr-42-x7k2p","message":"child 'sandbox-create-pr-42-x7k2p-1234' failed","templateName":"create","phase":"Failed","podName":"sandbox-create-pr-42-x7k2p","finishedAt":"2026-12-02T10:12:00Z"},
        {"displayName":"wait-ready","message":"No more retries left","templateName":"wait-ready","phase":"Failed","podName":"sandbox-create-pr-42-x7k2p-wait-ready-1","finishedAt":"2026-12-02T10:11:59Z"},
        {"displayName":"wait-ready(0)","message":"first attempt","templateName":"wait-ready","phase":"Failed","podName":"p0","finishedAt":"2026-12-02T10:10:00Z"},
        {"displayName":"wait-ready(1)","message":"Application sbx-pr-42 is Degraded at revision 6dcb09b5b578:\n Deployment apps-sbx-pr-42/web is Degraded: `web` <crash>","templateName":"wait-ready","phase":"Failed","podName":"p1","finishedAt":"2026-12-02T10:11:58Z"}
    ]"#;

    #[test]
    fn the_failed_step_is_named_once_with_its_last_message() {
        let failed = parse_failures(FAILURES).unwrap();
        assert_eq!(
            failed,
            [FailedStep {
                step: "wait-ready".into(),
                message: "Application sbx-pr-42 is Degraded at revision 6dcb09b5b578: Deployment apps-sbx-pr-42/web is Degraded: 'web' ‹crash›".into(),
                phase: "Failed".into(),
            }]
        );
    }

    #[test]
    fn empty_and_malformed_failures() {
        assert!(parse_failures("").unwrap().is_empty());
        assert!(parse_failures("null").unwrap().is_empty());
        assert!(parse_failures("[]").unwrap().is_empty());
        assert_eq!(parse_failures("{oops").unwrap_err().0[0].rule, "json");
        assert_eq!(attempt_of("step(12)"), "step");
        assert_eq!(attempt_of("step(x)"), "step(x)");
        assert_eq!(attempt_of("step"), "step");
    }
}
