//! Which `{{…}}` variables a template may use where, as Argo's validator
//! decides (argo-workflows `workflow/validate/validate.go`
//! `resolveAllVariables`, `addOutputsToScope`, `addItemsToScope`,
//! `validateSteps`, `validateDAG`, `validateDAGTaskArgumentDependency`):
//! a step sees the steps before it, a task the tasks it depends on,
//! `workflow.failures` needs an onExit handler, and `workflow.*` names
//! what the workflow defines. `{{=…}}` expressions are not checked here
//! (Argo does not either); references to inputs and to outputs a template
//! does not declare are the `unknown-reference` rule's.

use super::Out;
use super::dag::Graph;
use super::index::{Index, Resolved, names, template};
use super::validate::{PARAMETER, is_leaf, steps_of, template_type};
use crate::yaml::{Node, Value};
use std::collections::{BTreeSet, HashSet};

/// Variables in scope: exact names, and prefixes under which anything goes.
#[derive(Clone, Default)]
struct Scope {
    exact: HashSet<String>,
    prefixes: Vec<String>,
}

impl Scope {
    fn add(&mut self, name: impl Into<String>) {
        self.exact.insert(name.into());
    }

    fn allow_prefix(&mut self, prefix: impl Into<String>) {
        self.prefixes.push(prefix.into());
    }

    fn has(&self, tag: &str) -> bool {
        self.exact.contains(tag) || self.prefixes.iter().any(|p| tag.starts_with(p.as_str()))
    }

    fn extend(&mut self, other: &Scope) {
        self.exact.extend(other.exact.iter().cloned());
        self.prefixes.extend(other.prefixes.iter().cloned());
    }
}

/// validate.go `checkValidWorkflowVariablePrefix` (common.go
/// `GlobalVarValidWorkflowVariablePrefix`): only these tags are checked.
const CHECKED: &[&str] = &[
    "item.",
    "steps.",
    "inputs.",
    "outputs.",
    "pod.",
    "workflow.",
    "tasks.",
];

/// What a spec's templates may call: its own templates, or the referenced
/// template's, and other documents through the index.
struct Ctx<'a, 'i> {
    spec: &'a Node,
    index: &'i Index<'a>,
    globals: Scope,
}

/// Check every template of a spec.
pub(super) fn check<'a>(
    spec: &'a Node,
    referenced: Option<&'a Node>,
    template_kind: bool,
    index: &Index<'a>,
    out: &mut Out<'_>,
) {
    let ctx = Ctx {
        spec,
        index,
        globals: globals(spec, referenced, template_kind, index),
    };
    let mut all: Vec<&Node> = spec
        .get("templates")
        .map(Node::items)
        .unwrap_or_default()
        .iter()
        .collect();
    let mut i = 0;
    while i < all.len() {
        let t = all[i];
        for step in steps_of(t) {
            if let Some(inline) = step.get("inline") {
                all.push(inline);
            }
        }
        check_template(&ctx, t, out);
        i += 1;
    }
}

/// validate.go `Workflow`: the global parameters.
fn globals<'a>(
    spec: &'a Node,
    referenced: Option<&'a Node>,
    template_kind: bool,
    index: &Index<'a>,
) -> Scope {
    let mut scope = Scope::default();
    for name in [
        "workflow.name",
        "workflow.namespace",
        "workflow.mainEntrypoint",
        "workflow.serviceAccountName",
        "workflow.uid",
        "workflow.status",
        "workflow.annotations",
        "workflow.labels",
    ] {
        scope.add(name);
    }
    // Labels and annotations: those of the object, its workflowMetadata and
    // the controller's workflowDefaults, which lint cannot see; any name.
    scope.allow_prefix("workflow.labels.");
    scope.allow_prefix("workflow.annotations.");
    // Runtime values Argo lets through by prefix.
    for prefix in [
        "workflow.creationTimestamp",
        "workflow.scheduledTime",
        "workflow.duration",
        "tasks.name",
        "steps.name",
        "node.name",
        "outputs.",
    ] {
        scope.allow_prefix(prefix);
    }
    let specs: Vec<&Node> = std::iter::once(spec).chain(referenced).collect();
    let mut params: Vec<&str> = Vec::new();
    for s in &specs {
        params.extend(names(s.at(&["arguments", "parameters"])));
    }
    if !params.is_empty() {
        scope.add("workflow.parameters");
        scope.add("workflow.parameters.json");
    }
    for p in params {
        scope.add(format!("workflow.parameters.{p}"));
    }
    if template_kind {
        // A template's parameters may come from the Workflow that runs it.
        scope.allow_prefix("workflow.parameters");
    }
    if spec.get("priority").is_some() {
        scope.add("workflow.priority");
    }
    if specs.iter().any(|s| {
        s.get("onExit")
            .and_then(Node::scalar_text)
            .is_some_and(|e| !e.is_empty())
    }) {
        scope.add("workflow.failures");
    }
    // Global outputs: any globalName set by a template of the workflow or
    // of a template it references.
    let mut templates: Vec<&Node> = Vec::new();
    for s in &specs {
        templates.extend(s.get("templates").map(Node::items).unwrap_or_default());
    }
    let mut referenced_specs: Vec<&Node> = Vec::new();
    for t in &templates {
        for step in steps_of(t) {
            if let Some(reference) = step.get("templateRef")
                && let Some(other) = referenced_spec(reference, index)
                && !referenced_specs.iter().any(|s| std::ptr::eq(*s, other))
            {
                referenced_specs.push(other);
            }
        }
    }
    for other in referenced_specs {
        templates.extend(other.get("templates").map(Node::items).unwrap_or_default());
    }
    for t in templates {
        for (list, prefix) in [
            ("parameters", "workflow.outputs.parameters."),
            ("artifacts", "workflow.outputs.artifacts."),
        ] {
            for item in t
                .at(&["outputs", list])
                .map(Node::items)
                .unwrap_or_default()
            {
                if let Some(global) = item.get("globalName").and_then(Node::scalar_text) {
                    if PARAMETER.is_match(&global) {
                        scope.allow_prefix(prefix);
                    } else {
                        scope.add(format!("{prefix}{global}"));
                    }
                }
            }
        }
    }
    scope
}

fn referenced_spec<'a>(reference: &Node, index: &Index<'a>) -> Option<&'a Node> {
    let name = reference.get("name")?.as_str()?;
    let cluster = matches!(
        reference.get("clusterScope").map(|n| &n.value),
        Some(Value::Bool(true))
    );
    match index.resolve(name, cluster) {
        Resolved::Found(spec) => Some(spec),
        _ => None,
    }
}

/// What a step or task calls; `None` when lint cannot know (a reference to
/// a document not given, or a name that is itself a variable).
fn callee<'a>(ctx: &Ctx<'a, '_>, step: &'a Node) -> Option<&'a Node> {
    if let Some(name) = step.get("template").and_then(Node::as_str) {
        if name.contains("{{") {
            return None;
        }
        return template(ctx.spec, name);
    }
    if let Some(reference) = step.get("templateRef") {
        let tpl = reference.get("template")?.as_str()?;
        return template(referenced_spec(reference, ctx.index)?, tpl);
    }
    step.get("inline")
}

/// The template's own scope (validate.go `validateInputs`,
/// `validateTemplate`): inputs, pod name, retries, output paths.
fn local_scope(t: &Node) -> Scope {
    let mut scope = Scope::default();
    let kind = template_type(t);
    let leaf = is_leaf(kind);
    let params = names(t.at(&["inputs", "parameters"]));
    for p in &params {
        scope.add(format!("inputs.parameters.{p}"));
    }
    if !params.is_empty() {
        scope.add("inputs.parameters");
    }
    for a in names(t.at(&["inputs", "artifacts"])) {
        scope.add(format!("inputs.artifacts.{a}"));
        if leaf {
            scope.add(format!("inputs.artifacts.{a}.path"));
        }
    }
    if matches!(
        kind,
        Some("container" | "containerSet" | "script" | "resource" | "data")
    ) {
        scope.add("pod.name");
    }
    scope
}

/// validate.go `addOutputsToScope`.
fn add_outputs(
    scope: &mut Scope,
    what: &str,
    name: &str,
    callee: Option<&Node>,
    aggregate: bool,
    ancestor: bool,
) {
    let base = format!("{what}.{name}");
    for key in ["id", "startedAt", "finishedAt", "hostNodeName"] {
        scope.add(format!("{base}.{key}"));
    }
    if ancestor {
        scope.add(format!("{base}.status"));
    }
    let Some(t) = callee else {
        // Lint cannot see the template: accept what it might output.
        scope.allow_prefix(format!("{base}."));
        return;
    };
    let kind = template_type(t);
    if matches!(t.get("daemon").map(|d| &d.value), Some(Value::Bool(true))) {
        scope.add(format!("{base}.ip"));
    }
    let has_main = t
        .at(&["containerSet", "containers"])
        .map(Node::items)
        .unwrap_or_default()
        .iter()
        .any(|c| c.get("name").and_then(Node::as_str) == Some("main"));
    if matches!(
        kind,
        Some("container" | "script" | "data" | "http" | "plugin")
    ) || has_main
    {
        scope.add(format!("{base}.outputs.result"));
        scope.add(format!("{base}.exitCode"));
    }
    for p in names(t.at(&["outputs", "parameters"])) {
        scope.add(format!("{base}.outputs.parameters.{p}"));
    }
    for a in names(t.at(&["outputs", "artifacts"])) {
        scope.add(format!("{base}.outputs.artifacts.{a}"));
    }
    if aggregate {
        if matches!(kind, Some("script" | "containerSet")) {
            scope.add(format!("{base}.outputs.result"));
            scope.add(format!("{base}.exitCode"));
        }
        scope.add(format!("{base}.outputs.parameters"));
    }
}

/// validate.go `addItemsToScope`.
fn add_items(scope: &mut Scope, step: &Node) {
    if let Some(items) = step.get("withItems") {
        for item in items.items() {
            match &item.value {
                Value::Map(entries) => {
                    for (k, _) in entries {
                        scope.add(format!("item.{}", k.name));
                    }
                }
                Value::Seq(list) => {
                    for i in 0..list.len() {
                        scope.add(format!("item.[{i}]"));
                    }
                }
                _ => {}
            }
        }
    }
    if step
        .get("withParam")
        .and_then(Node::scalar_text)
        .is_some_and(|p| !p.is_empty())
    {
        scope.allow_prefix("item.");
    }
}

fn fans_out(step: &Node) -> bool {
    step.get("withItems").is_some_and(|n| !n.items().is_empty())
        || step
            .get("withParam")
            .and_then(Node::scalar_text)
            .is_some_and(|p| !p.is_empty())
}

fn check_template(ctx: &Ctx<'_, '_>, t: &Node, out: &mut Out<'_>) {
    let name = t.get("name").and_then(Node::as_str).unwrap_or("(inline)");
    let mut scope = local_scope(t);
    scope.extend(&ctx.globals);
    match template_type(t) {
        Some("steps") => check_steps(ctx, name, t, scope, out),
        Some("dag") => check_dag(ctx, name, t, scope, out),
        Some(_) => {
            tags(t, true, &mut |tag, line| {
                report(&scope, &scope, "", tag, line, name, out);
            });
        }
        None => {}
    }
}

fn check_steps(ctx: &Ctx<'_, '_>, name: &str, t: &Node, mut scope: Scope, out: &mut Out<'_>) {
    // Everything the steps could define: to tell "before it ran" from
    // "does not exist" (the latter is unknown-reference's).
    let mut full = scope.clone();
    for step in steps_of(t) {
        if let Some(s) = step.get("name").and_then(Node::as_str) {
            full.add(format!("steps.{s}.status"));
            add_outputs(
                &mut full,
                "steps",
                s,
                callee(ctx, step),
                fans_out(step),
                false,
            );
        }
    }
    for group in t.get("steps").map(Node::items).unwrap_or_default() {
        for step in group.items() {
            let Some(s) = step.get("name").and_then(Node::as_str) else {
                continue;
            };
            scope.add(format!("steps.{s}.status"));
            // An exit hook runs after the step, so it may use the step's
            // outputs (validate.go validateSteps: HasExitHook).
            let exit_hook = step
                .get("onExit")
                .and_then(Node::scalar_text)
                .is_some_and(|e| !e.is_empty())
                || step.at(&["hooks", "exit"]).is_some();
            if exit_hook {
                add_outputs(&mut scope, "steps", s, callee(ctx, step), false, false);
            }
            add_items(&mut scope, step);
            let mut step_scope = scope.clone();
            if let Some(inline) = step.get("inline") {
                for p in names(inline.at(&["inputs", "parameters"])) {
                    step_scope.add(format!("inputs.parameters.{p}"));
                }
            }
            tags(step, false, &mut |tag, line| {
                report(&step_scope, &full, "steps", tag, line, name, out);
            });
            add_outputs(
                &mut scope,
                "steps",
                s,
                callee(ctx, step),
                fans_out(step),
                false,
            );
        }
    }
    if let Some(outputs) = t.get("outputs") {
        tags(outputs, false, &mut |tag, line| {
            report(&scope, &full, "steps", tag, line, name, out)
        });
    }
}

fn check_dag(ctx: &Ctx<'_, '_>, name: &str, t: &Node, mut scope: Scope, out: &mut Out<'_>) {
    let Some(d) = t.get("dag") else { return };
    let graph = Graph::of(d);
    let mut full = scope.clone();
    for (task_name, task) in &graph.tasks {
        // Argo puts every task's outputs (not its status) in the DAG's scope.
        add_outputs(
            &mut scope,
            "tasks",
            task_name,
            callee(ctx, task),
            fans_out(task),
            false,
        );
        add_outputs(
            &mut full,
            "tasks",
            task_name,
            callee(ctx, task),
            fans_out(task),
            true,
        );
        full.allow_prefix("item.");
    }
    if let Some(target) = d.get("target") {
        tags(target, false, &mut |tag, line| {
            report(&scope, &full, "tasks", tag, line, name, out)
        });
    }
    for (task_name, task) in &graph.tasks {
        let mut task_scope = scope.clone();
        if task.get("hooks").is_some() {
            task_scope.add(format!("tasks.{task_name}.status"));
        }
        let ancestry: BTreeSet<String> = graph.ancestry(task_name);
        for ancestor in &ancestry {
            if let Some(a) = graph.task(ancestor) {
                add_outputs(
                    &mut task_scope,
                    "tasks",
                    ancestor,
                    callee(ctx, a),
                    fans_out(a),
                    true,
                );
            }
        }
        if let Some(inline) = task.get("inline") {
            for p in names(inline.at(&["inputs", "parameters"])) {
                task_scope.add(format!("inputs.parameters.{p}"));
            }
        }
        add_items(&mut task_scope, task);
        tags(task, false, &mut |tag, line| {
            report(&task_scope, &full, "tasks", tag, line, name, out);
        });
        // validate.go validateDAGTaskArgumentDependency: an argument taken
        // from another task needs that task as an ancestor.
        let args = task.get("arguments");
        let from_tasks = args
            .and_then(|a| a.get("parameters"))
            .map(Node::items)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.get("value"))
            .chain(
                args.and_then(|a| a.get("artifacts"))
                    .map(Node::items)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|a| a.get("from")),
            );
        for value in from_tasks {
            let Some(text) = value.scalar_text() else {
                continue;
            };
            let Some(rest) = text.strip_prefix("{{tasks.") else {
                continue;
            };
            let other = rest.split('.').next().unwrap_or_default();
            if !ancestry.contains(other) && graph.task(other).is_some() {
                out.push(
                    value.line,
                    "variable-scope",
                    format!(
                        "task {task_name:?} of {name} uses {text}, but does not depend on {other:?}: add it to depends (or dependencies)"
                    ),
                );
            }
        }
    }
    if let Some(outputs) = t.get("outputs") {
        let mut all = scope.clone();
        all.extend(&full);
        tags(outputs, false, &mut |tag, line| {
            report(&all, &all, "tasks", tag, line, name, out)
        });
    }
}

/// Report a tag not in `scope`; `full` is every name the template could
/// define, to say why.
fn report(
    scope: &Scope,
    full: &Scope,
    own: &str,
    tag: &str,
    line: usize,
    template: &str,
    out: &mut Out<'_>,
) {
    let tag = tag.trim();
    if !CHECKED.iter().any(|p| tag.starts_with(p)) || scope.has(tag) {
        return;
    }
    // Inputs, and steps/tasks or outputs that do not exist at all, are
    // the unknown-reference rule's.
    if tag.starts_with("inputs.") {
        return;
    }
    let message = if let Some(rest) = tag.strip_prefix("steps.") {
        if !full.has(tag) {
            return unknown_node(tag, rest, own == "steps", template, out, line);
        }
        let step = rest.split('.').next().unwrap_or_default();
        format!(
            "{{{{{tag}}}}} in {template}: step {step:?} has not run yet at this point (only earlier steps' results are available)"
        )
    } else if let Some(rest) = tag.strip_prefix("tasks.") {
        if !full.has(tag) {
            return unknown_node(tag, rest, own == "tasks", template, out, line);
        }
        let task = rest.split('.').next().unwrap_or_default();
        format!(
            "{{{{{tag}}}}} in {template}: the task does not depend on {task:?}; add it to depends (or dependencies)"
        )
    } else if tag == "workflow.failures" {
        format!(
            "{{{{{tag}}}}} in {template}: workflow.failures is only set for an onExit handler; give the workflow spec.onExit"
        )
    } else if tag.starts_with("workflow.parameters.") {
        format!(
            "{{{{{tag}}}}} in {template}: the workflow declares no parameter {:?} in spec.arguments.parameters",
            tag.trim_start_matches("workflow.parameters.")
        )
    } else if tag.starts_with("item.") {
        format!("{{{{{tag}}}}} in {template}: no withItems / withParam defines it here")
    } else {
        format!("{{{{{tag}}}}} in {template}: Argo cannot resolve this variable here")
    };
    out.push(line, "variable-scope", message);
}

/// A `steps.X…` / `tasks.X…` tag that names nothing the template defines.
/// In a steps (`own`) or DAG template, unknown-reference reports a missing
/// step or output; other attributes, and such tags elsewhere, are reported
/// here.
fn unknown_node(tag: &str, rest: &str, own: bool, template: &str, out: &mut Out<'_>, line: usize) {
    let mut parts = rest.splitn(2, '.');
    let _node = parts.next();
    let attribute = parts.next().unwrap_or_default();
    if own
        && (attribute.starts_with("outputs.parameters.")
            || attribute.starts_with("outputs.artifacts.")
            || attribute.is_empty())
    {
        return;
    }
    out.push(
        line,
        "variable-scope",
        format!("{{{{{tag}}}}} in {template}: no such variable (the step or task does not exist here, or its template does not produce {attribute})"),
    );
}

/// Every `{{…}}` tag in the strings under a node (not expressions), with
/// its line; `whole` includes everything, otherwise inline templates are
/// left to their own check.
fn tags(node: &Node, whole: bool, f: &mut dyn FnMut(&str, usize)) {
    match &node.value {
        Value::Str(s) => {
            let mut rest = s.as_str();
            while let Some(start) = rest.find("{{") {
                let after = &rest[start + 2..];
                let Some(end) = after.find("}}") else { break };
                let tag = &after[..end];
                if !tag.trim_start().starts_with('=') {
                    f(tag, node.line);
                }
                rest = &after[end + 2..];
            }
        }
        Value::Map(entries) => {
            for (key, child) in entries {
                if whole || key.name != "inline" {
                    tags(child, whole, f);
                }
            }
        }
        Value::Seq(items) => items.iter().for_each(|child| tags(child, whole, f)),
        _ => {}
    }
}
