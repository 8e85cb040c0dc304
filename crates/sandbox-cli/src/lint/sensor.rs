//! Rules for Sensors: string data filters must be anchored regexes, and the
//! Workflows their triggers submit are linted like any Workflow.

use super::Out;
use super::index::Index;
use crate::schema::{self, Mode, Problem};
use crate::yaml::Node;

/// Check one Sensor.
pub(super) fn check(doc: &Node, index: &Index<'_>, out: &mut Out<'_>) {
    for dep in doc
        .at(&["spec", "dependencies"])
        .map(Node::items)
        .unwrap_or_default()
    {
        for filter in dep
            .at(&["filters", "data"])
            .map(Node::items)
            .unwrap_or_default()
        {
            if filter.get("type").and_then(Node::as_str) != Some("string") {
                continue;
            }
            let path = filter.get("path").and_then(Node::as_str).unwrap_or("?");
            for value in filter.get("value").map(Node::items).unwrap_or_default() {
                let Some(text) = value.scalar_text() else {
                    continue;
                };
                if !(text.starts_with('^') && text.ends_with('$')) {
                    out.push(
                        value.line,
                        "unanchored-filter",
                        format!(
                            "filter on {path}: {text:?} is matched as an unanchored regex (it matches any value containing it); write \"^{}$\"",
                            text.trim_start_matches('^').trim_end_matches('$')
                        ),
                    );
                }
            }
        }
    }
    for trigger in doc
        .at(&["spec", "triggers"])
        .map(Node::items)
        .unwrap_or_default()
    {
        for kind in ["k8s", "argoWorkflow"] {
            let Some(resource) = trigger.at(&["template", kind, "source", "resource"]) else {
                continue;
            };
            let Some(resource_kind) = resource.get("kind").and_then(Node::as_str) else {
                continue;
            };
            if !matches!(
                resource_kind,
                "Workflow" | "CronWorkflow" | "WorkflowTemplate" | "ClusterWorkflowTemplate"
            ) {
                continue;
            }
            if let Some((schema, root)) = schema::for_kind(resource_kind) {
                for problem in schema.check(root, resource, Mode::Lenient) {
                    let rule = match problem {
                        Problem::UnknownKey { .. } => "unknown-key",
                        _ => "wrong-type",
                    };
                    out.push(
                        problem.line(),
                        rule,
                        format!("in the trigger's {resource_kind}: {problem}"),
                    );
                }
            }
            super::workflow::check(resource_kind, resource, index, out);
        }
    }
}
