//! Argo's validator, offline: the rules of argo-workflows
//! `workflow/validate/validate.go` (`Workflow`, `CronWorkflow`,
//! `validateTemplate`, `validateLeaf`, `validateNonLeaf`, `validateSteps`,
//! `validateInputs`, `validateOutputs`, `validateArguments`,
//! `validateWorkflowFieldNames`, …), each finding reported with its line
//! instead of stopping at the first. DAG rules are in [`super::dag`],
//! `{{…}}` scope in [`super::scope`].

use super::index::{Index, Resolved, template};
use super::{Out, dag, scope};
use crate::yaml::{Node, Value};
use regex::Regex;
use std::collections::BTreeSet;
use std::sync::LazyLock;

/// Check one Workflow, CronWorkflow, WorkflowTemplate or
/// ClusterWorkflowTemplate.
pub(super) fn check(kind: &str, doc: &Node, index: &Index<'_>, out: &mut Out<'_>) {
    let name = doc.at(&["metadata", "name"]);
    let limit = if kind == "CronWorkflow" { 52 } else { 63 };
    if let Some(text) = name.and_then(Node::as_str)
        && text.len() > limit
    {
        out.push(
            name.map_or(doc.line, |n| n.line),
            "name",
            format!(
                "{kind} name {text:?} is {} characters; at most {limit} are allowed{}",
                text.len(),
                if kind == "CronWorkflow" {
                    " (each run appends -<timestamp> to it)"
                } else {
                    ""
                }
            ),
        );
    }
    let spec = match kind {
        "CronWorkflow" => {
            if let Some(spec) = doc.get("spec") {
                check_cron(spec, out);
            }
            doc.at(&["spec", "workflowSpec"])
        }
        _ => doc.get("spec"),
    };
    let Some(spec) = spec else { return };
    check_spec(kind, spec, index, out);
}

/// CronWorkflow rules (validate.go `CronWorkflow`).
fn check_cron(spec: &Node, out: &mut Out<'_>) {
    let mut schedules: Vec<&Node> = spec
        .get("schedules")
        .map(|s| s.items().iter().collect())
        .unwrap_or_default();
    if let Some(one) = spec.get("schedule") {
        schedules.push(one);
    }
    if schedules.is_empty() {
        out.push(
            spec.line,
            "cron",
            "a CronWorkflow needs spec.schedules (or spec.schedule)",
        );
    }
    for schedule in schedules {
        let text = schedule.scalar_text().unwrap_or_default();
        if let Err(why) = cron_schedule(&text) {
            out.push(
                schedule.line,
                "cron",
                format!("schedule {text:?} is malformed: {why}"),
            );
        }
    }
    if let Some(tz) = spec.get("timezone").and_then(Node::scalar_text)
        && !tz.is_empty()
        && !timezone_exists(&tz)
    {
        out.push(
            spec.get("timezone").map_or(spec.line, |n| n.line),
            "cron",
            format!("timezone {tz:?} is not an IANA time zone (e.g. Europe/Paris, UTC)"),
        );
    }
    if let Some(policy) = spec.get("concurrencyPolicy").and_then(Node::scalar_text)
        && !matches!(policy.as_str(), "Allow" | "Forbid" | "Replace" | "")
    {
        out.push(
            spec.get("concurrencyPolicy").map_or(spec.line, |n| n.line),
            "cron",
            format!("concurrencyPolicy {policy:?} is not one of Allow, Forbid, Replace"),
        );
    }
    if let Some(node) = spec.get("startingDeadlineSeconds")
        && matches!(node.value, Value::Int(i) if i < 0)
    {
        out.push(
            node.line,
            "deadline",
            "startingDeadlineSeconds must not be negative",
        );
    }
}

/// A schedule as robfig/cron `ParseStandard` takes it: five fields or a
/// descriptor, optionally after `CRON_TZ=` / `TZ=`.
fn cron_schedule(text: &str) -> Result<(), String> {
    let mut text = text.trim();
    if let Some(rest) = text.strip_prefix("CRON_TZ=").or(text.strip_prefix("TZ=")) {
        let (tz, rest) = rest
            .split_once(' ')
            .ok_or("no schedule after the time zone")?;
        if !timezone_exists(tz) {
            return Err(format!("unknown time zone {tz:?}"));
        }
        text = rest.trim();
    }
    if let Some(descriptor) = text.strip_prefix('@') {
        return match descriptor.split_once(' ') {
            Some(("every", duration)) if go_duration(duration.trim()) => Ok(()),
            Some(("every", _)) => Err("@every needs a duration such as 1h30m".into()),
            None if matches!(
                descriptor,
                "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly"
            ) =>
            {
                Ok(())
            }
            _ => Err(format!("unrecognized descriptor @{descriptor}")),
        };
    }
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected exactly 5 fields, found {}", fields.len()));
    }
    let ranges = [
        (0, 59, &[][..]),
        (0, 23, &[][..]),
        (1, 31, &[][..]),
        (1, 12, &MONTHS[..]),
        (0, 6, &DAYS[..]),
    ];
    for (field, (min, max, names)) in fields.iter().zip(ranges) {
        for part in field.split(',') {
            cron_part(part, min, max, names).map_err(|e| format!("{field:?}: {e}"))?;
        }
    }
    Ok(())
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn cron_part(part: &str, min: u32, max: u32, names: &[&str]) -> Result<(), String> {
    let (range, step) = match part.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (part, None),
    };
    if let Some(step) = step
        && step.parse::<u32>().map_or(true, |s| s == 0)
    {
        return Err(format!("bad step {step:?}"));
    }
    if range == "*" || range == "?" {
        return Ok(());
    }
    let value = |v: &str| -> Result<u32, String> {
        let n = match v.parse::<u32>() {
            Ok(n) => n,
            Err(_) => names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(v))
                .map(|i| i as u32 + min)
                .ok_or_else(|| format!("{v:?} is not a number"))?,
        };
        // robfig/cron accepts 7 for Sunday in the day-of-week field.
        let top = if names.len() == 7 { 7 } else { max };
        if n < min || n > top {
            return Err(format!("{n} is out of range [{min}, {max}]"));
        }
        Ok(n)
    };
    match range.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (value(a)?, value(b)?);
            if a > b {
                return Err(format!("range {a}-{b} is backwards"));
            }
        }
        None => {
            value(range)?;
        }
    }
    Ok(())
}

/// A Go `time.ParseDuration` string.
fn go_duration(text: &str) -> bool {
    static DURATION: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[-+]?(?:[0-9]*\.?[0-9]+(?:ns|us|µs|ms|s|m|h))+$|^0$").expect("regex")
    });
    DURATION.is_match(text)
}

/// Whether Go's `time.LoadLocation` would find the zone: the names it
/// always knows, or a file under the system's zoneinfo (where Go looks
/// too). Without a zoneinfo directory every name is accepted.
fn timezone_exists(tz: &str) -> bool {
    if tz == "UTC" || tz == "Local" {
        return true;
    }
    if tz.starts_with('/') || tz.contains("..") {
        return false;
    }
    let dirs = [
        "/usr/share/zoneinfo",
        "/usr/lib/zoneinfo",
        "/usr/share/lib/zoneinfo",
    ];
    let Some(dir) = dirs.iter().find(|d| std::path::Path::new(d).is_dir()) else {
        return true;
    };
    std::path::Path::new(dir).join(tz).is_file()
}

/// What the templates of a spec may use, from the spec around them.
pub(crate) struct Spec {
    /// `templateDefaults` sets a container image.
    pub(crate) default_container_image: bool,
    /// `templateDefaults` sets a script image.
    pub(crate) default_script_image: bool,
}

impl Spec {
    fn of(node: &Node) -> Spec {
        let default_image = |kind: &str| {
            node.at(&["templateDefaults", kind, "image"])
                .and_then(Node::scalar_text)
                .is_some_and(|i| !i.is_empty())
        };
        Spec {
            default_container_image: default_image("container"),
            default_script_image: default_image("script"),
        }
    }
}

fn check_spec(kind: &str, spec: &Node, index: &Index<'_>, out: &mut Out<'_>) {
    let template_kind = matches!(kind, "WorkflowTemplate" | "ClusterWorkflowTemplate");
    let templates = spec.get("templates").map(Node::items).unwrap_or_default();
    let reference = spec.get("workflowTemplateRef");
    let referenced = reference.and_then(|r| {
        let name = r.get("name")?.as_str()?;
        let cluster = matches!(
            r.get("clusterScope").map(|n| &n.value),
            Some(Value::Bool(true))
        );
        match index.resolve(name, cluster) {
            Resolved::Found(spec) => Some(spec),
            _ => None,
        }
    });
    if reference.is_some() && !templates.is_empty() {
        out.push(
            spec.key("templates").map_or(spec.line, |k| k.line),
            "field-not-allowed",
            "spec.templates cannot be given with spec.workflowTemplateRef; the templates come from the referenced template",
        );
    }
    field_names(
        spec.get("templates"),
        "spec.templates",
        NameKind::Field,
        out,
    );
    // Workflow arguments may have no value when linting (validate.go
    // Workflow: allowEmptyValues is on for Opts.Lint, as `argo lint` runs
    // it); a Workflow created as written is validated without Lint and is
    // rejected, so say so without failing the run: `argo submit -p` fills
    // them in.
    if let Some(arguments) = spec.get("arguments") {
        // A CronWorkflow's runs are created as written (validate.go
        // CronWorkflow validates with Opts{}): every value is needed.
        let cron = kind == "CronWorkflow";
        check_arguments(arguments, "spec.arguments", !cron, false, out);
        if !template_kind && !cron {
            for param in arguments
                .get("parameters")
                .map(Node::items)
                .unwrap_or_default()
            {
                if param.get("value").is_none_or(|v| v.value == Value::Null)
                    && param.get("valueFrom").is_none()
                {
                    let name = param
                        .get("name")
                        .and_then(Node::scalar_text)
                        .unwrap_or_default();
                    out.warn(
                        param.line,
                        "arguments",
                        format!("spec.arguments.parameters {name} has no value: the Workflow is rejected unless it is submitted with -p {name}=…"),
                    );
                }
            }
        }
    }
    // Entrypoint and onExit name a template.
    let own_entry = spec
        .get("entrypoint")
        .filter(|e| e.scalar_text().is_some_and(|t| !t.is_empty()));
    let target_spec = referenced.unwrap_or(spec);
    let entry = own_entry.or_else(|| referenced.and_then(|r| r.get("entrypoint")));
    match entry.and_then(Node::as_str) {
        None if !template_kind && (reference.is_none() || referenced.is_some()) => out.push(
            spec.line,
            "entrypoint",
            "spec.entrypoint is required: name the template the workflow starts with",
        ),
        Some(name)
            if !name.contains("{{")
                && (reference.is_none() || referenced.is_some())
                && template(target_spec, name).is_none() =>
        {
            out.push(
                entry.map_or(spec.line, |n| n.line),
                "entrypoint",
                format!(
                    "entrypoint {name:?} names no template (templates: {})",
                    template_list(target_spec)
                ),
            );
        }
        _ => {}
    }
    if let Some(on_exit) = spec.get("onExit")
        && let Some(name) = on_exit.as_str()
        && !name.is_empty()
        && !name.contains("{{")
        && (reference.is_none() || referenced.is_some())
        && template(target_spec, name).is_none()
    {
        out.push(
            on_exit.line,
            "entrypoint",
            format!(
                "onExit {name:?} names no template (templates: {})",
                template_list(target_spec)
            ),
        );
    }
    check_hooks(spec.get("hooks"), "spec.hooks", out);
    if let Some(pod_gc) = spec.get("podGC") {
        check_pod_gc(pod_gc, out);
    }
    if let Some(resources) = spec.get("podResources") {
        check_pod_resources(resources, "spec.podResources", out);
    }
    if let Some(seconds) = spec.get("activeDeadlineSeconds")
        && matches!(seconds.value, Value::Int(i) if i < 0)
    {
        out.push(
            seconds.line,
            "deadline",
            "spec.activeDeadlineSeconds must not be negative",
        );
    }
    let ctx = Spec::of(spec);
    let mut all: Vec<&Node> = templates.iter().collect();
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
    scope::check(spec, referenced, template_kind, index, out);
}

/// The line of `key` in a mapping (a block mapping's own line is that of
/// its first key, one below).
fn key_line(node: &Node, key: &str) -> usize {
    node.key(key).map_or(node.line, |k| k.line)
}

fn template_list(spec: &Node) -> String {
    let names = super::index::names(spec.get("templates"));
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// The steps (all groups) and DAG tasks of a template.
pub(crate) fn steps_of(t: &Node) -> Vec<&Node> {
    let mut all = Vec::new();
    for group in t.get("steps").map(Node::items).unwrap_or_default() {
        all.extend(group.items());
    }
    all.extend(t.at(&["dag", "tasks"]).map(Node::items).unwrap_or_default());
    all
}

/// The template's type, when it has exactly one.
pub(crate) fn template_type(t: &Node) -> Option<&'static str> {
    let types: Vec<&str> = TYPES
        .iter()
        .copied()
        .filter(|k| t.get(k).is_some_and(|n| n.value != Value::Null))
        .collect();
    match types.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

const TYPES: &[&str] = &[
    "container",
    "containerSet",
    "steps",
    "script",
    "resource",
    "dag",
    "suspend",
    "data",
    "http",
    "plugin",
];

/// validate.go `IsLeaf`: templates that run something themselves.
pub(crate) fn is_leaf(kind: Option<&str>) -> bool {
    matches!(
        kind,
        Some("container" | "containerSet" | "script" | "resource" | "data" | "http" | "plugin")
    )
}

fn is_pod(kind: Option<&str>) -> bool {
    matches!(
        kind,
        Some("container" | "containerSet" | "script" | "resource" | "data")
    )
}

fn check_template(ctx: &Spec, t: &Node, out: &mut Out<'_>) {
    let name = t.get("name").and_then(Node::as_str).unwrap_or("(inline)");
    let present: Vec<&str> = TYPES
        .iter()
        .copied()
        .filter(|k| t.get(k).is_some_and(|n| n.value != Value::Null))
        .collect();
    let kind = match present.as_slice() {
        [] => {
            out.push(
                t.line,
                "template-type",
                format!("template {name} has no type: give it one of container, containerSet, steps, script, resource, dag, suspend, data, http, plugin"),
            );
            None
        }
        [one] => Some(*one),
        many => {
            out.push(
                t.line,
                "template-type",
                format!(
                    "template {name} has several types ({}); a template has exactly one",
                    many.join(", ")
                ),
            );
            None
        }
    };
    let leaf = is_leaf(kind);
    if let Some(resources) = t.get("podResources") {
        if matches!(kind, Some("http" | "plugin")) {
            out.push(key_line(t, "podResources"), "field-not-allowed", format!("template {name}: podResources is not supported for {} templates (they run on the shared agent pod)", kind.unwrap_or("")));
        } else {
            check_pod_resources(resources, &format!("templates.{name}.podResources"), out);
        }
    }
    // Inputs (validateInputs).
    for art in io_names_and_paths("inputs", name, kind, t, out) {
        let art_name = art.get("name").and_then(Node::as_str).unwrap_or("?");
        if let Some(from) = art.get("from") {
            out.push(from.line, "field-not-allowed", format!("template {name}: inputs.artifacts.{art_name}.from is not valid in inputs (pass it as an argument)"));
        }
        check_artifact_location(
            art,
            &format!("templates.{name}.inputs.artifacts.{art_name}"),
            out,
        );
    }
    for c in t.get("initContainers").map(Node::items).unwrap_or_default() {
        if c.get("name")
            .and_then(Node::scalar_text)
            .is_none_or(|n| n.is_empty())
        {
            out.push(
                c.line,
                "name",
                format!("template {name}: every initContainer needs a name"),
            );
        }
    }
    if let Some(claims) = t.get("resourceClaims")
        && !claims.items().is_empty()
        && kind.is_some()
        && !is_pod(kind)
    {
        out.push(
            key_line(t, "resourceClaims"),
            "field-not-allowed",
            format!(
                "template {name}: resourceClaims need a pod; {} templates do not create one",
                kind.unwrap_or("")
            ),
        );
    }
    if let Some(timeout) = t.get("timeout") {
        if kind.is_some() && !leaf {
            out.push(
                timeout.line,
                "field-not-allowed",
                format!(
                    "template {name}: {} templates do not support timeout",
                    kind.unwrap_or("")
                ),
            );
        } else if matches!(timeout.value, Value::Int(_))
            || timeout.as_str().is_some_and(|s| s.parse::<i64>().is_ok())
        {
            out.push(timeout.line, "deadline", format!("template {name}: timeout needs a unit (e.g. \"30s\", \"10m\"), not a bare number"));
        }
    }
    if let Some(pending) = t.get("pendingTimeout")
        && kind.is_some()
        && !leaf
    {
        out.push(
            pending.line,
            "field-not-allowed",
            format!(
                "template {name}: {} templates do not support pendingTimeout",
                kind.unwrap_or("")
            ),
        );
    }
    if let Some(policy) = t.at(&["retryStrategy", "retryPolicy"])
        && let Some(text) = policy.scalar_text()
        && !matches!(
            text.as_str(),
            "Always" | "OnError" | "OnFailure" | "OnTransientError" | ""
        )
    {
        out.push(policy.line, "retry-policy", format!("template {name}: retryPolicy {text:?} is not one of Always, OnError, OnFailure, OnTransientError"));
    }
    match kind {
        Some("steps" | "dag") => {
            if let Some(deadline) = t.get("activeDeadlineSeconds") {
                out.push(deadline.line, "field-not-allowed", format!("template {name}: activeDeadlineSeconds is only valid for leaf templates (container, script, resource, …)"));
            }
            if kind == Some("steps") {
                check_steps(name, t, out);
            } else if let Some(d) = t.get("dag") {
                check_tasks(name, d, out);
                dag::check(name, d, out);
            }
        }
        Some(_) => check_leaf(ctx, name, kind, t, out),
        None => {}
    }
    check_outputs(name, kind, t, out);
    if let Some(location) = t.get("archiveLocation") {
        check_artifact_location(location, &format!("templates.{name}.archiveLocation"), out);
    }
    for metric in t
        .at(&["metrics", "prometheus"])
        .map(Node::items)
        .unwrap_or_default()
    {
        check_metric(name, metric, out);
    }
}

fn check_leaf(ctx: &Spec, name: &str, kind: Option<&str>, t: &Node, out: &mut Out<'_>) {
    if let Some(container) = t.get("container") {
        let mut mounts: Vec<(String, String)> = Vec::new();
        for mount in container
            .get("volumeMounts")
            .map(Node::items)
            .unwrap_or_default()
        {
            let path = mount
                .get("mountPath")
                .and_then(Node::scalar_text)
                .unwrap_or_default();
            let what = format!(
                "volume {}",
                mount
                    .get("name")
                    .and_then(Node::scalar_text)
                    .unwrap_or_default()
            );
            mount_once(&mut mounts, name, path, what, mount.line, out);
        }
        for art in t
            .at(&["inputs", "artifacts"])
            .map(Node::items)
            .unwrap_or_default()
        {
            let path = art
                .get("path")
                .and_then(Node::scalar_text)
                .unwrap_or_default();
            let what = format!(
                "input artifact {}",
                art.get("name")
                    .and_then(Node::scalar_text)
                    .unwrap_or_default()
            );
            let line = art.get("path").map_or(art.line, |p| p.line);
            mount_once(&mut mounts, name, path, what, line, out);
        }
        if container
            .get("image")
            .and_then(Node::scalar_text)
            .is_none_or(|i| i.is_empty())
            && !ctx.default_container_image
        {
            out.push(key_line(t, "container"), "image", format!("template {name}: container.image may not be empty (set it, or spec.templateDefaults.container.image)"));
        }
    }
    if let Some(script) = t.get("script")
        && script
            .get("image")
            .and_then(Node::scalar_text)
            .is_none_or(|i| i.is_empty())
        && !ctx.default_script_image
    {
        out.push(key_line(t, "script"), "image", format!("template {name}: script.image may not be empty (set it, or spec.templateDefaults.script.image)"));
    }
    if let Some(set) = t.get("containerSet") {
        check_container_set(name, t, set, out);
    }
    for sidecar in t.get("sidecars").map(Node::items).unwrap_or_default() {
        if let Some(n) = sidecar.get("name").and_then(Node::as_str)
            && reserved_container(n)
        {
            out.push(sidecar.line, "name", format!("template {name}: sidecar name {n:?} is reserved by Argo (wait, supervisor, artifact-plugin-*)"));
        }
    }
    if let Some(resource) = t.get("resource") {
        check_resource(name, t, resource, out);
    }
    if let Some(deadline) = t.get("activeDeadlineSeconds") {
        let bad = match &deadline.value {
            Value::Int(i) => *i < 0,
            Value::Str(s) => {
                !(s.parse::<i64>().is_ok_and(|i| i >= 0)
                    || PARAMETER.is_match(s)
                    || s.contains("{{"))
            }
            Value::Float(_) | Value::Bool(_) => true,
            _ => false,
        };
        if bad {
            out.push(deadline.line, "deadline", format!("template {name}: activeDeadlineSeconds must be a positive integer or an Argo variable"));
        }
    }
    if let Some(parallelism) = t.get("parallelism") {
        out.push(
            parallelism.line,
            "field-not-allowed",
            format!(
                "template {name}: parallelism is only valid for steps and dag templates, not {}",
                kind.unwrap_or("")
            ),
        );
    }
}

fn mount_once(
    mounts: &mut Vec<(String, String)>,
    template: &str,
    path: String,
    what: String,
    line: usize,
    out: &mut Out<'_>,
) {
    if let Some((_, prev)) = mounts.iter().find(|(p, _)| *p == path) {
        out.push(
            line,
            "volume-mount",
            format!("template {template}: {what} uses path {path:?}, already mounted by {prev}"),
        );
    } else {
        mounts.push((path, what));
    }
}

/// validate.go / common.go `IsArgoSidecar`.
fn reserved_container(name: &str) -> bool {
    name == "wait" || name == "supervisor" || name.starts_with("artifact-plugin-")
}

fn check_container_set(name: &str, t: &Node, set: &Node, out: &mut Out<'_>) {
    let containers = set.get("containers").map(Node::items).unwrap_or_default();
    if containers.is_empty() {
        out.push(
            key_line(t, "containerSet"),
            "container-set",
            format!("template {name}: containerSet needs at least one container"),
        );
    }
    field_names(
        set.get("containers"),
        &format!("templates.{name}.containerSet.containers"),
        NameKind::Field,
        out,
    );
    let mut mounts = Vec::new();
    for mount in set.get("volumeMounts").map(Node::items).unwrap_or_default() {
        let path = mount
            .get("mountPath")
            .and_then(Node::scalar_text)
            .unwrap_or_default();
        let what = format!(
            "volume {}",
            mount
                .get("name")
                .and_then(Node::scalar_text)
                .unwrap_or_default()
        );
        mount_once(&mut mounts, name, path, what, mount.line, out);
    }
    let names: Vec<&str> = containers
        .iter()
        .filter_map(|c| c.get("name").and_then(Node::as_str))
        .collect();
    for c in containers {
        let c_name = c.get("name").and_then(Node::as_str).unwrap_or("?");
        for dep in c.get("dependencies").map(Node::items).unwrap_or_default() {
            if let Some(d) = dep.as_str()
                && !names.contains(&d)
            {
                out.push(dep.line, "container-set", format!("template {name}: container {c_name} depends on {d:?}, which is not a container of the set"));
            }
        }
        if reserved_container(c_name) {
            out.push(
                c.line,
                "container-set",
                format!("template {name}: container name {c_name:?} is reserved by Argo"),
            );
        }
    }
    // Cycles among the containers' dependencies.
    let deps = |n: &str| -> Vec<String> {
        containers
            .iter()
            .find(|c| c.get("name").and_then(Node::as_str) == Some(n))
            .map(|c| {
                c.get("dependencies")
                    .map(Node::items)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(Node::scalar_text)
                    .collect()
            })
            .unwrap_or_default()
    };
    for start in &names {
        let mut stack = deps(start);
        let mut seen = BTreeSet::new();
        while let Some(n) = stack.pop() {
            if n == *start {
                out.push(
                    key_line(t, "containerSet"),
                    "container-set",
                    format!("template {name}: containerSet dependency cycle through {start}"),
                );
                stack.clear();
                break;
            }
            if seen.insert(n.clone()) {
                stack.extend(deps(&n));
            }
        }
    }
    let needs_main = t
        .at(&["inputs", "artifacts"])
        .is_some_and(|a| !a.items().is_empty())
        || t.at(&["outputs", "parameters"])
            .is_some_and(|a| !a.items().is_empty())
        || t.at(&["outputs", "artifacts"])
            .is_some_and(|a| !a.items().is_empty());
    if needs_main && !names.contains(&"main") {
        out.push(key_line(t, "containerSet"), "container-set", format!("template {name}: a containerSet with input artifacts or outputs needs a container named \"main\""));
    }
}

fn check_resource(name: &str, t: &Node, resource: &Node, out: &mut Out<'_>) {
    let action = resource
        .get("action")
        .and_then(Node::scalar_text)
        .unwrap_or_default();
    if !action.contains("{{")
        && !matches!(
            action.as_str(),
            "get" | "create" | "apply" | "delete" | "replace" | "patch"
        )
    {
        out.push(
            resource.get("action").map_or(resource.line, |n| n.line),
            "resource",
            format!("template {name}: resource.action {action:?} is not one of get, create, apply, delete, replace, patch"),
        );
    }
    if action == "delete" || action == "get" {
        return;
    }
    let manifest = resource
        .get("manifest")
        .and_then(Node::scalar_text)
        .filter(|m| !m.is_empty());
    let from = resource.get("manifestFrom");
    match (&manifest, from) {
        (None, None) => out.push(
            key_line(t, "resource"),
            "resource",
            format!("template {name}: resource needs manifest or manifestFrom"),
        ),
        (Some(_), Some(_)) => out.push(
            key_line(resource, "manifestFrom"),
            "resource",
            format!("template {name}: resource has both manifest and manifestFrom; keep one"),
        ),
        _ => {}
    }
    if let Some(art) = from
        .and_then(|f| f.at(&["artifact", "name"]))
        .and_then(Node::scalar_text)
    {
        let inputs = super::index::names(t.at(&["inputs", "artifacts"]));
        if !inputs.contains(&art.as_str()) {
            out.push(key_line(resource, "manifestFrom"), "resource", format!("template {name}: manifestFrom.artifact {art:?} is not an input artifact of the template"));
        }
    }
    if let Some(text) = manifest {
        // validate.go substitutes `{{=…}}` with placeholders before parsing;
        // the other tags have been substituted by then too.
        let replaced = TAG.replace_all(&text, "placeholder");
        if crate::yaml::parse_documents(&replaced).is_err() {
            out.push(
                resource.get("manifest").map_or(resource.line, |n| n.line),
                "resource",
                format!("template {name}: resource.manifest is not valid YAML"),
            );
        }
    }
}

/// The names of a template's `inputs` or `outputs` parameters and
/// artifacts, and an artifact `path` outside container/script templates
/// (validateInputs / validateOutputs); returns the artifacts for the
/// checks of that side.
fn io_names_and_paths<'n>(
    side: &str,
    name: &str,
    kind: Option<&str>,
    t: &'n Node,
    out: &mut Out<'_>,
) -> &'n [Node] {
    for what in ["parameters", "artifacts"] {
        field_names(
            t.at(&[side, what]),
            &format!("templates.{name}.{side}.{what}"),
            NameKind::Param,
            out,
        );
    }
    let artifacts = t
        .at(&[side, "artifacts"])
        .map(Node::items)
        .unwrap_or_default();
    for art in artifacts {
        let art_name = art.get("name").and_then(Node::as_str).unwrap_or("?");
        if kind.is_some()
            && !is_leaf(kind)
            && let Some(path) = art.get("path")
        {
            out.push(path.line, "field-not-allowed", format!("template {name}: {side}.artifacts.{art_name}.path is only valid in container/script templates"));
        }
    }
    artifacts
}

fn check_outputs(name: &str, kind: Option<&str>, t: &Node, out: &mut Out<'_>) {
    for art in io_names_and_paths("outputs", name, kind, t, out) {
        global_name(name, art, out);
    }
    for param in t
        .at(&["outputs", "parameters"])
        .map(Node::items)
        .unwrap_or_default()
    {
        let p = param.get("name").and_then(Node::as_str).unwrap_or("?");
        let value_from = param.get("valueFrom");
        let value = param.get("value");
        let vf_line = key_line(param, "valueFrom");
        match (value, value_from) {
            (Some(_), Some(_)) => out.push(
                vf_line,
                "outputs",
                format!(
                    "template {name}: output parameter {p} has both value and valueFrom; choose one"
                ),
            ),
            (None, None) => out.push(
                param.line,
                "outputs",
                format!("template {name}: output parameter {p} needs value or valueFrom"),
            ),
            (None, Some(vf)) => {
                let sources: Vec<&str> = [
                    "path",
                    "jqFilter",
                    "jsonPath",
                    "parameter",
                    "expression",
                    "supplied",
                ]
                .into_iter()
                .filter(|k| {
                    vf.get(k).is_some_and(|n| {
                        k == &"supplied" || n.scalar_text().is_some_and(|s| !s.is_empty())
                    })
                })
                .collect();
                match sources.len() {
                    0 => out.push(vf_line, "outputs", format!("template {name}: output parameter {p}: valueFrom needs one of path, jqFilter, jsonPath, parameter, expression, supplied")),
                    1 => {}
                    _ => out.push(vf_line, "outputs", format!("template {name}: output parameter {p}: valueFrom has several sources ({}); choose one", sources.join(", "))),
                }
                let has = |k: &str| sources.contains(&k);
                match kind {
                    Some("container" | "containerSet" | "script") if !has("path") => out.push(vf_line, "outputs", format!("template {name}: output parameter {p}: valueFrom.path is required for {} templates", kind.unwrap_or(""))),
                    Some("resource") if !has("jqFilter") && !has("jsonPath") => out.push(vf_line, "outputs", format!("template {name}: output parameter {p}: valueFrom.jqFilter or jsonPath is required for resource templates")),
                    Some("steps" | "dag") if !has("parameter") && !has("expression") => out.push(vf_line, "outputs", format!("template {name}: output parameter {p}: valueFrom.parameter or expression is required for {} templates", kind.unwrap_or(""))),
                    _ => {}
                }
            }
            (Some(_), None) => {}
        }
        global_name(name, param, out);
    }
}

fn global_name(template: &str, item: &Node, out: &mut Out<'_>) {
    if let Some(global) = item.get("globalName")
        && let Some(text) = global.scalar_text()
        && !PARAMETER.is_match(&text)
        && !PARAM_NAME.is_match(&text)
    {
        out.push(global.line, "name", format!("template {template}: globalName {text:?} may only hold letters, digits, '_' and '-'"));
    }
}

/// validate.go `validateArguments`: names, and each parameter's value.
pub(crate) fn check_arguments(
    arguments: &Node,
    prefix: &str,
    allow_empty: bool,
    step: bool,
    out: &mut Out<'_>,
) {
    field_names(
        arguments.get("parameters"),
        &format!("{prefix}.parameters"),
        NameKind::Param,
        out,
    );
    field_names(
        arguments.get("artifacts"),
        &format!("{prefix}.artifacts"),
        NameKind::Param,
        out,
    );
    for param in arguments
        .get("parameters")
        .map(Node::items)
        .unwrap_or_default()
    {
        let name = param
            .get("name")
            .and_then(Node::scalar_text)
            .unwrap_or_default();
        let value = param.get("value").filter(|v| v.value != Value::Null);
        let value_from = param.get("valueFrom");
        if value.is_none() && value_from.is_none() && !allow_empty {
            out.push(
                param.line,
                "arguments",
                if step {
                    format!("{prefix}.parameters {name}: give it a value (or valueFrom)")
                } else {
                    format!("{prefix}.parameters {name} has no value: the workflows it creates need one (or valueFrom)")
                },
            );
        }
        if let Some(vf) = value_from {
            let allowed = ["configMapKeyRef", "event", "supplied", "default"];
            let meaningless: Vec<&str> =
                ["path", "jsonPath", "parameter", "expression", "jqFilter"]
                    .into_iter()
                    .filter(|k| {
                        vf.get(k)
                            .and_then(Node::scalar_text)
                            .is_some_and(|v| !v.is_empty())
                    })
                    .collect();
            let has_source = ["configMapKeyRef", "event", "supplied"]
                .iter()
                .any(|k| vf.get(k).is_some());
            if !meaningless.is_empty() || !has_source {
                out.push(
                    key_line(param, "valueFrom"),
                    "arguments",
                    format!(
                        "{prefix}.parameters {name}: {} an argument's valueFrom only takes {}",
                        if meaningless.is_empty() {
                            "valueFrom has no source;".to_string()
                        } else {
                            format!("valueFrom.{} means nothing here;", meaningless.join(", "))
                        },
                        allowed.join(", ")
                    ),
                );
            }
        }
        if let Some(e) = param.get("enum") {
            let values: Vec<String> = e.items().iter().filter_map(Node::scalar_text).collect();
            if values.is_empty() {
                out.push(
                    key_line(param, "enum"),
                    "arguments",
                    format!("{prefix}.parameters {name}: enum must list at least one value"),
                );
            } else if let Some(v) = value.and_then(Node::scalar_text) {
                if !values.contains(&v) {
                    out.push(
                        value.map_or(param.line, |n| n.line),
                        "arguments",
                        format!(
                            "{prefix}.parameters {name}: value {v:?} is not in its enum ({})",
                            values.join(", ")
                        ),
                    );
                }
            } else if !allow_empty {
                out.push(
                    param.line,
                    "arguments",
                    format!("{prefix}.parameters {name}: a parameter with an enum needs a value"),
                );
            }
        }
    }
    for art in arguments
        .get("artifacts")
        .map(Node::items)
        .unwrap_or_default()
    {
        let name = art
            .get("name")
            .and_then(Node::scalar_text)
            .unwrap_or_default();
        let from = art
            .get("from")
            .and_then(Node::scalar_text)
            .filter(|f| !f.is_empty());
        let from_expression = art
            .get("fromExpression")
            .and_then(Node::scalar_text)
            .filter(|f| !f.is_empty());
        if from.is_none() && from_expression.is_none() && !has_location(art) {
            out.push(
                art.line,
                "arguments",
                format!("{prefix}.artifacts {name}: needs from, an artifact location or a key"),
            );
        }
        if from.is_some() && from_expression.is_some() {
            out.push(
                art.line,
                "arguments",
                format!("{prefix}.artifacts {name}: has both from and fromExpression; choose one"),
            );
        }
    }
}

/// Artifact.HasLocationOrKey: a location of any kind, or a key.
fn has_location(art: &Node) -> bool {
    const LOCATIONS: &[&str] = &[
        "s3",
        "git",
        "http",
        "artifactory",
        "hdfs",
        "raw",
        "oss",
        "gcs",
        "azure",
        "plugin",
        "key",
        "artifactRepositoryRef",
    ];
    LOCATIONS.iter().any(|k| art.get(k).is_some())
}

fn check_artifact_location(art: &Node, prefix: &str, out: &mut Out<'_>) {
    if let Some(git) = art.get("git")
        && git
            .get("repo")
            .and_then(Node::scalar_text)
            .is_none_or(|r| r.is_empty())
    {
        out.push(
            key_line(art, "git"),
            "arguments",
            format!("{prefix}.git.repo is required"),
        );
    }
}

fn check_steps(name: &str, t: &Node, out: &mut Out<'_>) {
    let mut seen: Vec<String> = Vec::new();
    for group in t.get("steps").map(Node::items).unwrap_or_default() {
        for step in group.items() {
            let step_name = step
                .get("name")
                .and_then(Node::scalar_text)
                .unwrap_or_default();
            if step_name.is_empty() {
                out.push(
                    step.line,
                    "name",
                    format!("template {name}: every step needs a name"),
                );
            } else if seen.contains(&step_name) {
                out.push(
                    step.line,
                    "name",
                    format!("template {name}: step name {step_name:?} is not unique"),
                );
            } else {
                if let Some(why) = field_name_problem(&PLACEHOLDER_TAG.replace_all(&step_name, "x"))
                {
                    out.push(
                        step.line,
                        "name",
                        format!("template {name}: step name {step_name:?} {why}"),
                    );
                }
                seen.push(step_name.clone());
            }
            check_call(name, &step_name, step, "steps", out);
        }
    }
}

fn check_tasks(name: &str, d: &Node, out: &mut Out<'_>) {
    field_names(
        d.get("tasks"),
        &format!("templates.{name}.dag.tasks"),
        NameKind::Field,
        out,
    );
    for task in d.get("tasks").map(Node::items).unwrap_or_default() {
        let task_name = task
            .get("name")
            .and_then(Node::scalar_text)
            .unwrap_or_default();
        check_call(name, &task_name, task, "tasks", out);
    }
}

/// A step or task: loops, arguments, template reference, hooks.
fn check_call(template: &str, name: &str, step: &Node, what: &str, out: &mut Out<'_>) {
    let loops: Vec<&str> = ["withItems", "withParam", "withSequence"]
        .into_iter()
        .filter(|k| match step.get(k) {
            Some(n) if *k == "withItems" => !n.items().is_empty(),
            Some(n) if *k == "withParam" => n.scalar_text().is_some_and(|p| !p.is_empty()),
            Some(_) => true,
            None => false,
        })
        .collect();
    if loops.len() > 1 {
        out.push(step.line, "loop", format!("{template}.{what}.{name}: only one of withItems, withParam, withSequence may be given (found {})", loops.join(", ")));
    }
    if let Some(seq) = step.get("withSequence")
        && seq.get("count").is_some()
        && seq.get("end").is_some()
    {
        out.push(
            key_line(step, "withSequence"),
            "loop",
            format!("{template}.{what}.{name}: withSequence takes count or end, not both"),
        );
    }
    if let Some(arguments) = step.get("arguments") {
        check_arguments(
            arguments,
            &format!("templates.{template}.{what}.{name}.arguments"),
            false,
            true,
            out,
        );
    }
    if let Some(reference) = step.get("templateRef") {
        if step.get("template").is_some() {
            out.push(
                reference.line,
                "template-ref",
                format!(
                    "{template}.{what}.{name}: template and templateRef are exclusive; keep one"
                ),
            );
        }
        for key in ["name", "template"] {
            if reference
                .get(key)
                .and_then(Node::scalar_text)
                .is_none_or(|v| v.is_empty())
            {
                out.push(
                    reference.line,
                    "template-ref",
                    format!("{template}.{what}.{name}: templateRef.{key} is required"),
                );
            }
        }
    }
    check_hooks(
        step.get("hooks"),
        &format!("{template}.{what}.{name}.hooks"),
        out,
    );
}

/// validate.go `validateHooks`: every hook but `exit` needs an expression.
fn check_hooks(hooks: Option<&Node>, prefix: &str, out: &mut Out<'_>) {
    for (key, hook) in hooks.map(Node::entries).unwrap_or_default() {
        if key.name != "exit"
            && hook
                .get("expression")
                .and_then(Node::scalar_text)
                .is_none_or(|e| e.is_empty())
        {
            out.push(
                key.line,
                "hook",
                format!(
                    "{prefix}.{}: a hook other than exit needs an expression",
                    key.name
                ),
            );
        }
    }
}

fn check_pod_gc(pod_gc: &Node, out: &mut Out<'_>) {
    if let Some(strategy) = pod_gc.get("strategy")
        && let Some(text) = strategy.scalar_text()
        && !matches!(
            text.as_str(),
            "" | "OnPodCompletion" | "OnPodSuccess" | "OnWorkflowCompletion" | "OnWorkflowSuccess"
        )
    {
        out.push(strategy.line, "pod-gc", format!("podGC.strategy {text:?} is not one of OnPodCompletion, OnPodSuccess, OnWorkflowCompletion, OnWorkflowSuccess"));
    }
    if let Some(selector) = pod_gc.get("labelSelector") {
        check_label_selector(selector, "podGC.labelSelector", out);
    }
}

/// apimachinery `LabelSelectorAsSelector`: operators and their values,
/// label keys and values.
fn check_label_selector(selector: &Node, prefix: &str, out: &mut Out<'_>) {
    for (key, value) in selector
        .get("matchLabels")
        .map(Node::entries)
        .unwrap_or_default()
    {
        if !label_key(&key.name) {
            out.push(
                key.line,
                "pod-gc",
                format!("{prefix}: {:?} is not a valid label key", key.name),
            );
        }
        if let Some(v) = value.scalar_text()
            && !label_value(&v)
        {
            out.push(
                value.line,
                "pod-gc",
                format!("{prefix}: {v:?} is not a valid label value"),
            );
        }
    }
    for expr in selector
        .get("matchExpressions")
        .map(Node::items)
        .unwrap_or_default()
    {
        let op = expr
            .get("operator")
            .and_then(Node::scalar_text)
            .unwrap_or_default();
        let values = expr.get("values").map(Node::items).unwrap_or_default();
        let line = expr.get("operator").map_or(expr.line, |n| n.line);
        match op.as_str() {
            "In" | "NotIn" if values.is_empty() => out.push(line, "pod-gc", format!("{prefix}: operator {op} needs values")),
            "Exists" | "DoesNotExist" if !values.is_empty() => out.push(line, "pod-gc", format!("{prefix}: operator {op} takes no values")),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            _ => out.push(line, "pod-gc", format!("{prefix}: {op:?} is not a label-selector operator (In, NotIn, Exists, DoesNotExist)")),
        }
        if let Some(key) = expr.get("key").and_then(Node::scalar_text)
            && !label_key(&key)
        {
            out.push(
                expr.line,
                "pod-gc",
                format!("{prefix}: {key:?} is not a valid label key"),
            );
        }
    }
}

fn label_key(key: &str) -> bool {
    static NAME: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$").expect("regex"));
    static PREFIX: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
            .expect("regex")
    });
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    name.len() <= 63
        && NAME.is_match(name)
        && prefix.is_none_or(|p| p.len() <= 253 && PREFIX.is_match(p))
}

fn label_value(value: &str) -> bool {
    static VALUE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$").expect("regex")
    });
    value.len() <= 63 && VALUE.is_match(value)
}

fn check_pod_resources(resources: &Node, prefix: &str, out: &mut Out<'_>) {
    if resources.get("claims").is_some() {
        out.push(
            key_line(resources, "claims"),
            "field-not-allowed",
            format!("{prefix}.claims is not supported for pod-level resources"),
        );
    }
    for list in ["limits", "requests"] {
        for (key, _) in resources.get(list).map(Node::entries).unwrap_or_default() {
            if key.name != "cpu" && key.name != "memory" && !key.name.starts_with("hugepages-") {
                out.push(key.line, "field-not-allowed", format!("{prefix}.{list}: {:?} is not a pod-level resource (cpu, memory, hugepages-*)", key.name));
            }
        }
    }
}

fn check_metric(template: &str, metric: &Node, out: &mut Out<'_>) {
    let name = metric
        .get("name")
        .and_then(Node::scalar_text)
        .unwrap_or_default();
    if !METRIC_NAME.is_match(&name) {
        out.push(
            metric.line,
            "metric",
            format!(
                "template {template}: metric name {name:?} may only hold letters, digits and '_'"
            ),
        );
    }
    for label in metric.get("labels").map(Node::items).unwrap_or_default() {
        if let Some(key) = label.get("key").and_then(Node::scalar_text)
            && !METRIC_NAME.is_match(&key)
        {
            out.push(label.line, "metric", format!("template {template}: metric label {key:?} may only hold letters, digits and '_'"));
        }
    }
    if metric
        .get("help")
        .and_then(Node::scalar_text)
        .is_none_or(|h| h.is_empty())
    {
        out.push(
            metric.line,
            "metric",
            format!("template {template}: metric {name:?} needs a help string"),
        );
    }
    for kind in ["gauge", "counter", "histogram"] {
        if let Some(m) = metric.get(kind) {
            let value = m
                .get("value")
                .and_then(Node::scalar_text)
                .unwrap_or_default();
            if value.is_empty() {
                out.push(
                    key_line(metric, kind),
                    "metric",
                    format!("template {template}: metric {name:?} needs {kind}.value"),
                );
            } else if kind == "gauge"
                && matches!(m.get("realtime").map(|r| &r.value), Some(Value::Bool(true)))
                && value.contains("resourcesDuration.")
            {
                out.push(key_line(metric, kind), "metric", format!("template {template}: metric {name:?}: resourcesDuration.* cannot be used in a realtime gauge"));
            }
        }
    }
}

/// How a list's names are checked (validate.go `validateWorkflowFieldNames`).
#[derive(Clone, Copy)]
enum NameKind {
    /// Templates, steps, tasks, containers: DNS-label-like, ≤ 128.
    Field,
    /// Parameters and artifacts: letters, digits, `_`, `-`.
    Param,
}

/// Names of a list: required, valid, unique.
fn field_names(list: Option<&Node>, prefix: &str, kind: NameKind, out: &mut Out<'_>) {
    let mut seen: Vec<String> = Vec::new();
    for (i, item) in list.map(Node::items).unwrap_or_default().iter().enumerate() {
        let name = item
            .get("name")
            .and_then(Node::scalar_text)
            .unwrap_or_default();
        let line = item.get("name").map_or(item.line, |n| n.line);
        if name.is_empty() {
            out.push(line, "name", format!("{prefix}[{i}].name is required"));
            continue;
        }
        let problem = match kind {
            NameKind::Field => field_name_problem(&name),
            NameKind::Param => (!PARAM_NAME.is_match(&name)).then(|| {
                "may only hold letters, digits, '_' and '-' (e.g. my_param_1)".to_string()
            }),
        };
        if let Some(why) = problem {
            out.push(line, "name", format!("{prefix}: name {name:?} {why}"));
        }
        if seen.contains(&name) {
            out.push(
                line,
                "name",
                format!("{prefix}: name {name:?} is not unique"),
            );
        }
        seen.push(name);
    }
}

fn field_name_problem(name: &str) -> Option<String> {
    if name.len() > 128 {
        return Some(format!(
            "is {} characters; at most 128 are allowed",
            name.len()
        ));
    }
    (!FIELD_NAME.is_match(name))
        .then(|| "must be letters, digits and '-', starting with a letter or digit".to_string())
}

static FIELD_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$").expect("regex"));
static PARAM_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[-a-zA-Z0-9_]+$").expect("regex"));
static METRIC_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z_][a-zA-Z0-9_]*$").expect("regex"));
/// validate.go `paramRegex`: a whole `{{a.b.c}}` tag somewhere in the text.
pub(crate) static PARAMETER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{[-a-zA-Z0-9]+(\.[-a-zA-Z0-9_]+)*\}\}").expect("regex"));
static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{\{.*?\}\}").expect("regex"));
/// A tag Argo substitutes before checking a step name (validate.go
/// `isValidStepName`).
static PLACEHOLDER_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{[^}]*\}\}").expect("regex"));
