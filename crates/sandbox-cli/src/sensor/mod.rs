//! `sandbox sensor-test`: evaluate a Sensor against events the way Argo
//! Events v1.9 does (`pkg/sensors/dependencies/filter.go` for filters,
//! `pkg/sensors/listener.go` and the JetStream event bus's
//! `trigger_conn.go` for trigger conditions, `pkg/sensors/triggers/params.go`
//! for trigger parameters), and show per filter why it matched, which
//! triggers fire and what each would submit.
//!
//! Expressions (`exprs` filters, conditions) run through [`expr`], a port of
//! the govaluate version Argo Events pins. Where Argo Events needs what an
//! event file does not have or what sensor-test does not implement (Lua
//! scripts, transforms, some template actions), the result says so in text
//! starting `unsupported:` instead of guessing.

pub mod cli;
pub mod event;
pub mod expr;
mod filter;
pub mod gjson_go;
pub mod goregex;
pub mod gotemplate;
pub mod gotime;
pub mod sjson;
mod trigger;

use event::Event;
use serde::Serialize;
use serde_json::Value as Json;
use std::fmt::Write as _;

/// The whole result, in the JSON shape of DESIGN §6.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Each dependency in the Sensor's order.
    pub dependencies: Vec<DependencyResult>,
    /// Each trigger in the Sensor's order.
    pub triggers: Vec<TriggerResult>,
}

/// Whether one dependency accepts an event, filter by filter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DependencyResult {
    /// The dependency's name.
    pub name: String,
    /// Which event it was given, when there is more than one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Whether the event passes its filters.
    pub matched: bool,
    /// Each filter's result.
    pub filters: Vec<FilterResult>,
}

/// One filter's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FilterResult {
    /// The data filter's GJSON path (or `exprs[0]`, `context`, … for others).
    pub path: String,
    /// Whether it passed.
    pub result: bool,
    /// Why, in a sentence.
    pub why: String,
}

/// Whether a trigger fires, and what it submits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriggerResult {
    /// The trigger template's name.
    pub name: String,
    /// Whether its conditions hold.
    pub fires: bool,
    /// The resource it would create, parameters applied; null when it does
    /// not fire or has no Kubernetes resource.
    pub resource: Option<Json>,
    /// Why Argo Events would fail this trigger (e.g. an unresolvable parameter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What sensor-test could not evaluate (text starting `unsupported:`)
    /// and other remarks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Evaluation {
    /// Whether anything could not be evaluated: a filter's `why` or a
    /// trigger's warning or error starting `unsupported`.
    pub fn has_unsupported(&self) -> bool {
        let unsupported = |s: &str| s.starts_with("unsupported:");
        self.dependencies
            .iter()
            .flat_map(|d| &d.filters)
            .any(|f| unsupported(&f.why))
            || self.triggers.iter().any(|t| {
                t.warnings.iter().any(|w| unsupported(w))
                    || t.error.as_deref().is_some_and(unsupported)
            })
    }
}

/// Evaluate a Sensor (as JSON) against events, delivered in order: each
/// reaches the dependencies its target names (every dependency when it has
/// none).
pub fn evaluate(sensor: &Json, events: &[Event]) -> Evaluation {
    let spec = &sensor["spec"];
    let deps = spec["dependencies"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let label = events.len() > 1;
    // Shown per dependency in the Sensor's order, then per event.
    let mut per_dep: Vec<Vec<DependencyResult>> = vec![Vec::new(); deps.len()];
    // (event index, dependency name, passed) in delivery order.
    let mut deliveries: Vec<(usize, String, bool)> = Vec::new();
    for (i, event) in events.iter().enumerate() {
        for (j, dep) in deps.iter().enumerate() {
            let source = dep["eventSourceName"].as_str().unwrap_or_default();
            let event_name = dep["eventName"].as_str().unwrap_or_default();
            if event
                .target
                .as_ref()
                .is_some_and(|t| !t.reaches(source, event_name))
            {
                continue;
            }
            let name = dep["name"].as_str().unwrap_or_default().to_string();
            let (matched, filters) = filter::dependency(dep, event);
            deliveries.push((i, name.clone(), matched));
            per_dep[j].push(DependencyResult {
                name,
                event: label.then(|| event.label.clone()),
                matched,
                filters,
            });
        }
    }
    for (j, dep) in deps.iter().enumerate() {
        if per_dep[j].is_empty() {
            per_dep[j].push(DependencyResult {
                name: dep["name"].as_str().unwrap_or_default().to_string(),
                event: None,
                matched: false,
                filters: vec![FilterResult {
                    path: "event".into(),
                    result: false,
                    why: format!(
                        "no --event reaches it (eventSourceName {:?}, eventName {:?})",
                        dep["eventSourceName"].as_str().unwrap_or_default(),
                        dep["eventName"].as_str().unwrap_or_default()
                    ),
                }],
            });
        }
    }
    let dependencies = per_dep.into_iter().flatten().collect();
    let triggers = spec["triggers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|t| trigger::trigger(t, deps, &deliveries, events))
        .collect();
    Evaluation {
        dependencies,
        triggers,
    }
}

/// The human-readable form of an evaluation.
pub fn render_text(eval: &Evaluation) -> String {
    let mut out = String::new();
    for dep in &eval.dependencies {
        let event = dep
            .event
            .as_ref()
            .map(|e| format!(" (event {e})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "dependency {}{event}: {}",
            dep.name,
            if dep.matched {
                "matched"
            } else {
                "not matched"
            }
        );
        if dep.filters.is_empty() {
            let _ = writeln!(out, "  (no filters)");
        }
        for f in &dep.filters {
            let _ = writeln!(
                out,
                "  [{}] {}: {}",
                if f.result { "pass" } else { "fail" },
                f.path,
                f.why
            );
        }
    }
    for t in &eval.triggers {
        let _ = writeln!(
            out,
            "trigger {}: {}",
            t.name,
            if t.fires { "fires" } else { "does not fire" }
        );
        for w in &t.warnings {
            let _ = writeln!(out, "  warning: {w}");
        }
        if let Some(e) = &t.error {
            let _ = writeln!(out, "  error: {e}");
        }
        if let Some(resource) = &t.resource {
            let pretty = serde_json::to_string_pretty(resource).unwrap_or_default();
            let _ = writeln!(out, "  submits:");
            for line in pretty.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    out
}
