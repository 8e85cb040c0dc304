//! Rules for Workflows, CronWorkflows and (Cluster)WorkflowTemplates: what
//! steps and tasks call and pass, what `{{…}}` tags refer to, plugin steps,
//! images and expressions.

use super::Out;
use super::index::{Index, Resolved, is_required, names, template};
use crate::yaml::{Node, Value};
use regex::Regex;
use sandbox_tasks::registry;
use std::sync::LazyLock;

/// Check one document (`kind` is its kind).
pub(super) fn check(kind: &str, doc: &Node, index: &Index<'_>, out: &mut Out<'_>) {
    let spec = match kind {
        "CronWorkflow" => doc.at(&["spec", "workflowSpec"]),
        _ => doc.get("spec"),
    };
    if let Some(spec) = spec {
        check_spec(kind, spec, index, out);
    }
}

/// Check a workflow spec; also used for Workflows embedded in Sensors.
fn check_spec(kind: &str, spec: &Node, index: &Index<'_>, out: &mut Out<'_>) {
    let submitted = matches!(kind, "Workflow" | "CronWorkflow");
    if let Some(reference) = spec.get("workflowTemplateRef") {
        check_workflow_template_ref(spec, reference, index, out);
    } else if submitted {
        check_entrypoint_arguments(spec, out);
    }
    walk(spec, &mut |key, node| match key {
        "image" => check_image(node, out),
        // `{{…}}` tags in an expression (retryStrategy.expression, a hook's
        // expression, `when`) are substituted before it is evaluated
        // (argo-workflows workflow/common/util.go SubstituteParams works on
        // the whole template), so only what is left is an expression.
        "expression" | "when" => {
            if let Some(text) = node.as_str() {
                check_expression(
                    &TAG.replace_all(text, |c: &regex::Captures<'_>| {
                        if c[1].trim_start().starts_with('=') {
                            c[0].to_string()
                        } else {
                            String::new()
                        }
                    }),
                    node.line,
                    out,
                );
            }
        }
        _ => {}
    });
    let mut templates: Vec<&Node> = spec
        .get("templates")
        .map(Node::items)
        .unwrap_or_default()
        .iter()
        .collect();
    let mut i = 0;
    while i < templates.len() {
        let t = templates[i];
        for step in steps_of(t) {
            if let Some(inline) = step.get("inline") {
                templates.push(inline);
            }
        }
        check_template(spec, t, index, out);
        i += 1;
    }
}

/// The steps (all groups) or DAG tasks of a template.
fn steps_of(t: &Node) -> Vec<&Node> {
    let mut all = Vec::new();
    if let Some(groups) = t.get("steps") {
        for group in groups.items() {
            all.extend(group.items());
        }
    }
    if let Some(tasks) = t.at(&["dag", "tasks"]) {
        all.extend(tasks.items());
    }
    all
}

fn check_template(spec: &Node, t: &Node, index: &Index<'_>, out: &mut Out<'_>) {
    let name = t.get("name").and_then(Node::as_str).unwrap_or("(inline)");
    check_plugin(t, out);
    // Steps and tasks: what they call and what they pass.
    let prefix = if t.get("dag").is_some() {
        "tasks"
    } else {
        "steps"
    };
    let mut callees: Vec<(&str, Option<&Node>)> = Vec::new();
    for step in steps_of(t) {
        let step_name = step.get("name").and_then(Node::as_str).unwrap_or("?");
        let target = resolve_step(spec, step, index, out);
        if let Some((target_name, target)) = &target {
            check_arguments(step, step_name, target_name, target, out);
        }
        callees.push((step_name, target.map(|(_, t)| t)));
    }
    // References in `{{…}}` tags, outside inline templates.
    let inputs = names(t.at(&["inputs", "parameters"]));
    let input_artifacts = names(t.at(&["inputs", "artifacts"]));
    let has_steps = t.get("steps").is_some() || t.get("dag").is_some();
    strings(t, &mut |text, line| {
        for tag in TAG.captures_iter(text) {
            let content = tag[1].trim();
            if let Some(expr) = content.strip_prefix('=') {
                check_expression(expr, line, out);
                for c in EXPR_INPUT.captures_iter(expr) {
                    let param = c.get(1).or(c.get(2)).map_or("", |m| m.as_str());
                    if !param.contains('-') && !inputs.contains(&param) {
                        out.push(
                            line,
                            "unknown-reference",
                            unknown_input(name, param, &inputs),
                        );
                    }
                }
                continue;
            }
            if let Some(c) = INPUT_REF.captures(content) {
                let (list, declared) = match &c[1] {
                    "parameters" => ("parameter", &inputs),
                    _ => ("artifact", &input_artifacts),
                };
                if !declared.contains(&&c[2]) {
                    out.push(
                        line,
                        "unknown-reference",
                        format!(
                            "{{{{{content}}}}}: template {name} has no input {list} {:?} (it has: {})",
                            &c[2],
                            list_or_none(declared)
                        ),
                    );
                }
            } else if let Some(c) = STEP_REF.captures(content)
                && has_steps
                && &c[1] == prefix
            {
                let step = &c[2];
                match callees.iter().find(|(n, _)| *n == step) {
                    None => out.push(
                        line,
                        "unknown-reference",
                        format!(
                            "{{{{{content}}}}}: template {name} has no {} named {step:?} (it has: {})",
                            if prefix == "tasks" { "task" } else { "step" },
                            list_or_none(&callees.iter().map(|(n, _)| *n).collect::<Vec<_>>())
                        ),
                    ),
                    Some((_, Some(target))) => {
                        if let (Some(kind), Some(output)) = (c.get(3), c.get(4)) {
                            let declared = names(target.at(&["outputs", kind.as_str()]));
                            if !declared.contains(&output.as_str()) {
                                out.push(
                                    line,
                                    "unknown-reference",
                                    format!(
                                        "{{{{{content}}}}}: {step} calls a template with no output {} {:?} (it has: {})",
                                        kind.as_str().trim_end_matches('s'),
                                        output.as_str(),
                                        list_or_none(&declared)
                                    ),
                                );
                            }
                        }
                    }
                    Some((_, None)) => {}
                }
            }
        }
    });
}

/// What a step or task calls: (its name, the template), after reporting
/// what does not resolve.
fn resolve_step<'a>(
    spec: &'a Node,
    step: &'a Node,
    index: &Index<'a>,
    out: &mut Out<'_>,
) -> Option<(String, &'a Node)> {
    if let Some(name) = step.get("template").and_then(Node::as_str) {
        if name.contains("{{") {
            return None;
        }
        return match template(spec, name) {
            Some(t) => Some((name.to_string(), t)),
            None => {
                out.push(
                    step.get("template")?.line,
                    "template-ref",
                    format!("template {name:?} is not defined in this document"),
                );
                None
            }
        };
    }
    if let Some(reference) = step.get("templateRef") {
        let name = reference.get("name").and_then(Node::as_str)?;
        let tpl = reference.get("template").and_then(Node::as_str)?;
        if name.contains("{{") || tpl.contains("{{") {
            return None;
        }
        let cluster = matches!(
            reference.get("clusterScope").map(|n| &n.value),
            Some(Value::Bool(true))
        );
        let kind = if cluster {
            "ClusterWorkflowTemplate"
        } else {
            "WorkflowTemplate"
        };
        return match index.resolve(name, cluster) {
            Resolved::Found(other) => match template(other, tpl) {
                Some(t) => Some((format!("{name}/{tpl}"), t)),
                None => {
                    out.push(
                        reference.get("template")?.line,
                        "template-ref",
                        format!(
                            "templateRef: {kind} {name} has no template {tpl:?} (it has: {})",
                            list_or_none(&template_names(other))
                        ),
                    );
                    None
                }
            },
            Resolved::OtherScope => {
                out.push(
                    reference.line,
                    "template-ref",
                    format!(
                        "templateRef: {name} is a {}; set clusterScope: {}",
                        if cluster {
                            "WorkflowTemplate"
                        } else {
                            "ClusterWorkflowTemplate"
                        },
                        !cluster
                    ),
                );
                None
            }
            Resolved::Missing => {
                out.push(
                    reference.get("name")?.line,
                    "template-ref",
                    format!("templateRef: no {kind} named {name:?} in the files given"),
                );
                None
            }
        };
    }
    step.get("inline").map(|t| ("(inline)".to_string(), t))
}

fn template_names(spec: &Node) -> Vec<&str> {
    names(spec.get("templates"))
}

/// Arguments a step passes against the inputs of the template it calls.
fn check_arguments(
    step: &Node,
    step_name: &str,
    target_name: &str,
    target: &Node,
    out: &mut Out<'_>,
) {
    let given: Vec<&Node> = step
        .at(&["arguments", "parameters"])
        .map(Node::items)
        .unwrap_or_default()
        .iter()
        .collect();
    let inputs = target
        .at(&["inputs", "parameters"])
        .map(Node::items)
        .unwrap_or_default();
    let input_names: Vec<&str> = inputs
        .iter()
        .filter_map(|p| p.get("name").and_then(Node::as_str))
        .collect();
    for arg in &given {
        let Some(arg_name) = arg.get("name").and_then(Node::as_str) else {
            continue;
        };
        if !input_names.contains(&arg_name) {
            out.push(
                arg.line,
                "unknown-argument",
                format!(
                    "{step_name} passes {arg_name:?}, which matches no input of template {target_name} (inputs: {})",
                    list_or_none(&input_names)
                ),
            );
        }
    }
    for input in inputs.iter().filter(|p| is_required(p)) {
        let Some(input_name) = input.get("name").and_then(Node::as_str) else {
            continue;
        };
        if !given
            .iter()
            .any(|a| a.get("name").and_then(Node::as_str) == Some(input_name))
        {
            out.push(
                step.line,
                "missing-argument",
                format!("{step_name} does not pass {input_name:?}, a required input of template {target_name}"),
            );
        }
    }
}

/// A Workflow that runs a (Cluster)WorkflowTemplate: the template must exist
/// and the arguments must match its parameters.
fn check_workflow_template_ref(
    spec: &Node,
    reference: &Node,
    index: &Index<'_>,
    out: &mut Out<'_>,
) {
    let Some(name) = reference.get("name").and_then(Node::as_str) else {
        return;
    };
    let cluster = matches!(
        reference.get("clusterScope").map(|n| &n.value),
        Some(Value::Bool(true))
    );
    let kind = if cluster {
        "ClusterWorkflowTemplate"
    } else {
        "WorkflowTemplate"
    };
    let target = match index.resolve(name, cluster) {
        Resolved::Found(target) => target,
        Resolved::OtherScope => {
            return out.push(
                reference.line,
                "template-ref",
                format!(
                    "workflowTemplateRef: {name} is not a {kind}; set clusterScope: {}",
                    !cluster
                ),
            );
        }
        Resolved::Missing => {
            return out.push(
                reference.line,
                "template-ref",
                format!("workflowTemplateRef: no {kind} named {name:?} in the files given"),
            );
        }
    };
    let declared = target
        .at(&["arguments", "parameters"])
        .map(Node::items)
        .unwrap_or_default();
    // The Workflow's own entrypoint wins over the template's
    // (validate.go Workflow: `entrypoint := wf.Spec.Entrypoint`, the
    // template's only when it is empty).
    let entry = spec
        .get("entrypoint")
        .and_then(Node::as_str)
        .filter(|e| !e.is_empty())
        .or_else(|| target.get("entrypoint").and_then(Node::as_str))
        .and_then(|e| template(target, e))
        .and_then(|t| t.at(&["inputs", "parameters"]))
        .map(Node::items)
        .unwrap_or_default();
    let given: Vec<&Node> = spec
        .at(&["arguments", "parameters"])
        .map(Node::items)
        .unwrap_or_default()
        .iter()
        .collect();
    let given_names: Vec<&str> = given
        .iter()
        .filter_map(|a| a.get("name").and_then(Node::as_str))
        .collect();
    let known: Vec<&str> = declared
        .iter()
        .chain(entry)
        .filter_map(|p| p.get("name").and_then(Node::as_str))
        .collect();
    for arg in &given {
        let Some(arg_name) = arg.get("name").and_then(Node::as_str) else {
            continue;
        };
        // Argo merges the Workflow's arguments with the template's
        // (validate.go Workflow: util.MergeParameters), so an undeclared one
        // is still a workflow parameter; used as {{workflow.parameters.x}}
        // in the template it is fine, unused it is worth a warning only.
        if !known.contains(&arg_name) && !uses_workflow_parameter(target, arg_name) {
            out.warn(
                arg.line,
                "unknown-argument",
                format!(
                    "argument {arg_name:?} matches no parameter of {kind} {name} and its templates do not use {{{{workflow.parameters.{arg_name}}}}} (it has: {})",
                    list_or_none(&known)
                ),
            );
        }
    }
    let declared_names = names(target.at(&["arguments", "parameters"]));
    for p in declared
        .iter()
        .filter(|p| p.get("value").is_none() && p.get("valueFrom").is_none())
        .chain(entry.iter().filter(|p| {
            is_required(p)
                && !declared_names.contains(&p.get("name").and_then(Node::as_str).unwrap_or(""))
        }))
    {
        let Some(p_name) = p.get("name").and_then(Node::as_str) else {
            continue;
        };
        if !given_names.contains(&p_name) {
            out.push(
                reference.line,
                "missing-argument",
                format!("{kind} {name} needs argument {p_name:?}, which is not given"),
            );
        }
    }
}

/// Whether a spec refers to `workflow.parameters.<name>` anywhere.
fn uses_workflow_parameter(spec: &Node, name: &str) -> bool {
    let needle = format!("workflow.parameters.{name}");
    let mut found = false;
    strings(spec, &mut |text, _| {
        if !found && let Some(at) = text.find(&needle) {
            let next = text[at + needle.len()..].chars().next();
            found = !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        }
    });
    found
}

/// A submitted Workflow's entrypoint gets its inputs from `spec.arguments`.
fn check_entrypoint_arguments(spec: &Node, out: &mut Out<'_>) {
    let Some(entry) = spec.get("entrypoint") else {
        return;
    };
    let Some(t) = entry.as_str().and_then(|e| template(spec, e)) else {
        return;
    };
    let given = names(spec.at(&["arguments", "parameters"]));
    for input in t
        .at(&["inputs", "parameters"])
        .map(Node::items)
        .unwrap_or_default()
    {
        let Some(input_name) = input.get("name").and_then(Node::as_str) else {
            continue;
        };
        if is_required(input) && !given.contains(&input_name) {
            out.push(
                entry.line,
                "missing-argument",
                format!("the entrypoint's required input {input_name:?} is not in spec.arguments"),
            );
        }
    }
}

/// `plugin: {sandbox: {task, params}}` must name a task that accepts params.
fn check_plugin(t: &Node, out: &mut Out<'_>) {
    let Some(sandbox) = t.at(&["plugin", "sandbox"]) else {
        return;
    };
    for (key, _) in sandbox.entries() {
        if key.name != "task" && key.name != "params" {
            out.push(
                key.line,
                "plugin",
                format!(
                    "plugin.sandbox has no key {:?} (it takes task and params)",
                    key.name
                ),
            );
        }
    }
    let Some(task) = sandbox.get("task").and_then(Node::as_str) else {
        return out.push(
            sandbox.line,
            "plugin",
            format!(
                "plugin.sandbox needs a task (one of: {})",
                registry::TASKS.join(", ")
            ),
        );
    };
    let params = match sandbox.get("params").map(Node::to_json) {
        Some(serde_json::Value::Object(map)) => map,
        None | Some(serde_json::Value::Null) => serde_json::Map::new(),
        Some(_) => {
            return out.push(
                sandbox.line,
                "plugin",
                "plugin.sandbox.params must be a mapping",
            );
        }
    };
    let params = with_placeholders(task, params);
    if let Err(error) = registry::check(task, &params) {
        let unknown_task = error.details.iter().any(|p| p.rule == "unknown-task");
        let params_node = sandbox.get("params");
        // Point at the offending param's key when the problem names one.
        let param_line = error
            .details
            .iter()
            .find_map(|p| params_node.and_then(|n| n.key(&p.field)).map(|k| k.line));
        let line = if unknown_task {
            sandbox.get("task").map_or(sandbox.line, |n| n.line)
        } else {
            param_line
                .or(sandbox.key("params").map(|k| k.line))
                .unwrap_or(sandbox.line)
        };
        let detail: Vec<String> = error
            .details
            .iter()
            .map(|p| format!("{} ({})", p.message, p.fix))
            .collect();
        let message = if detail.is_empty() {
            error.full_message()
        } else {
            detail.join("; ")
        };
        out.push(line, "plugin", format!("task {task:?}: {message}"));
    }
}

/// A value such as `{{inputs.parameters.check_remote}}` is only known when
/// the workflow runs; lint checks it with the parameter's default (or its
/// first allowed value, or "1", which every string and number flag takes).
fn with_placeholders(
    task: &str,
    mut params: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    let Some(command) = registry::command(task) else {
        return params;
    };
    for (key, value) in &mut params {
        if !value.as_str().is_some_and(|v| v.contains("{{")) {
            continue;
        }
        let Some(arg) = command.get_arguments().find(|a| a.get_id().as_str() == key) else {
            continue;
        };
        let placeholder = arg
            .get_default_values()
            .first()
            .map(|d| d.to_string_lossy().into_owned())
            .or_else(|| {
                arg.get_possible_values()
                    .first()
                    .map(|p| p.get_name().to_string())
            })
            .unwrap_or_else(|| "1".to_string());
        *value = serde_json::Value::String(placeholder);
    }
    params
}

/// Images must carry a tag other than `latest`, or a digest.
fn check_image(node: &Node, out: &mut Out<'_>) {
    let Some(image) = node.as_str() else { return };
    if image.contains("{{") || image.contains('@') {
        return;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => out.push(
            node.line,
            "unpinned-image",
            format!("image {image:?} has no tag; pin a version (or a digest)"),
        ),
        Some((_, "latest")) => {
            out.push(
                node.line,
                "unpinned-image",
                format!("image {image:?} uses :latest; pin a version (or a digest)"),
            );
        }
        Some(_) => {}
    }
}

/// In an expression a hyphen is subtraction: `inputs.parameters.pr-number`
/// reads as `inputs.parameters.pr - number`.
fn check_expression(text: &str, line: usize, out: &mut Out<'_>) {
    for c in HYPHEN_IN_EXPR.captures_iter(text) {
        out.push(
            line,
            "hyphen-in-expression",
            format!(
                "{:?} in an expression reads as a subtraction; use snake_case names or {}['{}']",
                &c[0], &c[1], &c[2]
            ),
        );
    }
}

fn unknown_input(template: &str, param: &str, inputs: &[&str]) -> String {
    format!(
        "template {template} has no input parameter {param:?} (it has: {})",
        list_or_none(inputs)
    )
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// Every `key: value` pair under a node (values of any kind), skipping
/// `metadata`.
fn walk<'n>(node: &'n Node, f: &mut dyn FnMut(&str, &'n Node)) {
    match &node.value {
        Value::Map(entries) => {
            for (key, child) in entries {
                if key.name == "metadata" {
                    continue;
                }
                f(&key.name, child);
                walk(child, f);
            }
        }
        Value::Seq(items) => items.iter().for_each(|child| walk(child, f)),
        _ => {}
    }
}

/// Every string scalar under a template, skipping inline templates (their
/// tags refer to their own inputs).
fn strings(node: &Node, f: &mut dyn FnMut(&str, usize)) {
    match &node.value {
        Value::Str(s) => f(s, node.line),
        Value::Map(entries) => {
            for (key, child) in entries {
                if key.name != "inline" {
                    strings(child, f);
                }
            }
        }
        Value::Seq(items) => items.iter().for_each(|child| strings(child, f)),
        _ => {}
    }
}

static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{\{(.*?)\}\}").expect("regex"));
static INPUT_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^inputs\.(parameters|artifacts)\.([A-Za-z0-9_-]+)(?:\.path)?$").expect("regex")
});
static STEP_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(steps|tasks)\.([A-Za-z0-9_-]+)\.(?:outputs\.(?:(parameters|artifacts)\.([A-Za-z0-9_-]+)|result|exitCode)|[A-Za-z]+)")
        .expect("regex")
});
static EXPR_INPUT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\binputs\.parameters(?:\.([A-Za-z0-9_-]+)|\[['"]([^'"]+)['"]\])"#).expect("regex")
});
static HYPHEN_IN_EXPR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b((?:inputs|outputs|workflow)\.parameters|steps|tasks)\.([A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)+)",
    )
    .expect("regex")
});
