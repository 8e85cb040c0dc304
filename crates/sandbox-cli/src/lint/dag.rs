//! DAG rules of Argo's validator (argo-workflows
//! `workflow/validate/validate.go` `validateDAG`, `verifyNoCycles`,
//! `validateDAGTargets`; `workflow/common/ancestry.go`
//! `GetTaskDependencies`, `ValidateTaskResults`, `GetTaskAncestry`), and the
//! dependency graph the variable-scope rules use.

use super::Out;
use crate::yaml::Node;
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

/// How a task depends on another (ancestry.go `DependencyType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DependencyType {
    /// On the task's result.
    Task,
    /// On its fan-out's items (`.AnySucceeded`, `.AllFailed`).
    Items,
}

/// A DAG's tasks and what each depends on.
pub(crate) struct Graph<'a> {
    /// Tasks by name, in document order.
    pub(crate) tasks: Vec<(&'a str, &'a Node)>,
    /// Direct dependencies of each task.
    pub(crate) deps: BTreeMap<&'a str, BTreeMap<String, DependencyType>>,
}

/// A task name, or `task.Result` (ancestry.go `taskNameRegex`; Go's and
/// Rust's regex engines both take the leftmost-first alternative).
static TASK_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"([a-zA-Z0-9][-a-zA-Z0-9]*?\.[A-Z][a-zA-Z]+)|([a-zA-Z0-9][-a-zA-Z0-9]*)")
        .expect("regex")
});

const TASK_RESULTS: &[&str] = &[
    "Succeeded",
    "Failed",
    "Errored",
    "Skipped",
    "Omitted",
    "Daemoned",
    "AnySucceeded",
    "AllFailed",
];

impl<'a> Graph<'a> {
    /// The graph of a `dag:` template.
    pub(crate) fn of(dag: &'a Node) -> Graph<'a> {
        let tasks: Vec<(&str, &Node)> = dag
            .get("tasks")
            .map(Node::items)
            .unwrap_or_default()
            .iter()
            .filter_map(|t| Some((t.get("name")?.as_str()?, t)))
            .collect();
        let mut deps = BTreeMap::new();
        for (name, task) in &tasks {
            deps.insert(*name, dependencies(task));
        }
        Graph { tasks, deps }
    }

    /// The task named `name`.
    pub(crate) fn task(&self, name: &str) -> Option<&'a Node> {
        self.tasks.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// Every task `name` depends on, directly or not (ancestry.go
    /// `GetTaskAncestry`).
    pub(crate) fn ancestry(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<String> = vec![name.to_string()];
        while let Some(current) = stack.pop() {
            for dep in self.deps.get(current.as_str()).into_iter().flatten() {
                if dep.0 != name && seen.insert(dep.0.clone()) {
                    stack.push(dep.0.clone());
                }
            }
        }
        seen
    }
}

/// A task's dependencies: the task names of `depends`, or `dependencies`.
fn dependencies(task: &Node) -> BTreeMap<String, DependencyType> {
    let mut out = BTreeMap::new();
    if let Some(depends) = task.get("depends").and_then(Node::scalar_text)
        && !depends.is_empty()
    {
        for c in TASK_NAME.captures_iter(&depends) {
            if let Some(m) = c.get(1) {
                let (name, result) = m.as_str().split_once('.').unwrap_or((m.as_str(), ""));
                if result == "AnySucceeded" || result == "AllFailed" {
                    out.insert(name.to_string(), DependencyType::Items);
                } else {
                    out.entry(name.to_string()).or_insert(DependencyType::Task);
                }
            } else if let Some(m) = c.get(2) {
                out.insert(m.as_str().to_string(), DependencyType::Task);
            }
        }
        return out;
    }
    for dep in task
        .get("dependencies")
        .map(Node::items)
        .unwrap_or_default()
    {
        if let Some(name) = dep.scalar_text() {
            out.insert(name, DependencyType::Task);
        }
    }
    out
}

fn fans_out(task: &Node) -> bool {
    task.get("withItems").is_some_and(|n| !n.items().is_empty())
        || task
            .get("withParam")
            .and_then(Node::scalar_text)
            .is_some_and(|p| !p.is_empty())
        || task.get("withSequence").is_some()
}

/// The DAG rules, all reported.
pub(crate) fn check(template: &str, dag: &Node, out: &mut Out<'_>) {
    let tasks = dag.get("tasks").map(Node::items).unwrap_or_default();
    if tasks.is_empty() {
        out.push(
            dag.line,
            "dag",
            format!("template {template}: a DAG must have at least one task"),
        );
        return;
    }
    let graph = Graph::of(dag);
    let using_depends = tasks.iter().any(|t| {
        t.get("depends")
            .and_then(Node::scalar_text)
            .is_some_and(|d| !d.is_empty())
    });
    let mut mixed = false;
    let mut continue_on = false;
    for task in tasks {
        let Some(name) = task.get("name").and_then(Node::as_str) else {
            continue;
        };
        let has_dependencies = task
            .get("dependencies")
            .is_some_and(|d| !d.items().is_empty());
        if (using_depends || has_dependencies) && name.starts_with(|c: char| c.is_ascii_digit()) {
            out.push(
                task.line,
                "dag",
                format!(
                    "task {name:?} of {template}: a task name cannot begin with a digit when the DAG uses depends or dependencies"
                ),
            );
        }
        if using_depends && has_dependencies && !mixed {
            mixed = true;
            out.push(
                task.key("dependencies").map_or(task.line, |k| k.line),
                "dag",
                format!(
                    "template {template} uses both depends and dependencies; write every task's edges with depends"
                ),
            );
        }
        if using_depends && let Some(key) = task.key("continueOn") {
            if !continue_on {
                out.push(
                    key.line,
                    "dag",
                    format!(
                        "task {name:?} of {template}: continueOn cannot be used with depends; depend on \"{name}.Failed\" / \"{name}.Errored\" instead"
                    ),
                );
            }
            continue_on = true;
        }
        if let Some(depends) = task.get("depends") {
            let text = depends.scalar_text().unwrap_or_default();
            for c in TASK_NAME.captures_iter(&text) {
                let Some(m) = c.get(1) else { continue };
                let (dep, result) = m.as_str().split_once('.').unwrap_or((m.as_str(), ""));
                if !TASK_RESULTS.contains(&result) {
                    out.push(
                        depends.line,
                        "dag",
                        format!(
                            "task {name:?}: {dep}.{result} is not a task result (one of: {})",
                            TASK_RESULTS.join(", ")
                        ),
                    );
                }
            }
        }
        let line = task
            .get("depends")
            .or(task.get("dependencies"))
            .map_or(task.line, |n| n.line);
        for (dep, kind) in graph.deps.get(name).into_iter().flatten() {
            match graph.task(dep) {
                None => out.push(
                    line,
                    "dag",
                    format!(
                        "task {name:?} of {template} depends on {dep:?}, which is not a task of this DAG"
                    ),
                ),
                Some(target) if *kind == DependencyType::Items && !fans_out(target) => out.push(
                    line,
                    "dag",
                    format!(
                        "task {name:?} uses {dep}.AnySucceeded / {dep}.AllFailed, but {dep} has no withItems, withParam or withSequence"
                    ),
                ),
                Some(_) => {}
            }
        }
    }
    if let Some(cycle) = find_cycle(&graph) {
        let first = graph.task(&cycle[0]).map_or(dag.line, |t| t.line);
        out.push(
            first,
            "dag",
            format!(
                "template {template}: dependency cycle {}",
                cycle.join(" -> ")
            ),
        );
    }
    if let Some(target) = dag.get("target").and_then(Node::scalar_text) {
        for name in target.split(' ').filter(|n| !n.is_empty()) {
            if !name.contains("{{") && graph.task(name).is_none() {
                out.push(
                    dag.get("target").map_or(dag.line, |n| n.line),
                    "dag",
                    format!("template {template}: target {name:?} is not a task of this DAG"),
                );
            }
        }
    }
}

/// A cycle, as task names from its first task back to it.
fn find_cycle(graph: &Graph<'_>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> =
        graph.tasks.iter().map(|(n, _)| (*n, Mark::New)).collect();
    fn visit<'g>(
        graph: &'g Graph<'_>,
        name: &'g str,
        marks: &mut BTreeMap<&'g str, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(name, Mark::Open);
        path.push(name.to_string());
        for dep in graph.deps.get(name).into_iter().flatten().map(|d| d.0) {
            let Some((dep, _)) = graph.tasks.iter().find(|(n, _)| n == dep) else {
                continue;
            };
            match marks.get(dep).copied() {
                Some(Mark::Open) => {
                    let start = path.iter().position(|p| p == dep).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(dep.to_string());
                    return Some(cycle);
                }
                Some(Mark::New) => {
                    if let Some(cycle) = visit(graph, dep, marks, path) {
                        return Some(cycle);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        marks.insert(name, Mark::Done);
        None
    }
    for (name, _) in &graph.tasks {
        if marks.get(name) == Some(&Mark::New)
            && let Some(cycle) = visit(graph, name, &mut marks, &mut Vec::new())
        {
            return Some(cycle);
        }
    }
    None
}
