//! `sandbox sensor-test`: evaluate a Sensor against one event the way Argo
//! Events v1.9 does (`pkg/sensors/dependencies/filter.go` for filters,
//! `pkg/sensors/listener.go` for trigger conditions,
//! `pkg/sensors/triggers/params.go` for trigger parameters), and show per
//! filter why it matched, which triggers fire and what each would submit.
//!
//! Expression filters (`exprs`) run through the govaluate subset in
//! [`expr`]. Where Argo Events needs what an event file does not have (the
//! event's cloudevent context, the time) or what sensor-test does not
//! implement (Lua scripts, transforms, govaluate ternaries and functions),
//! the result says "unsupported" instead of guessing.

pub mod cli;
pub mod event;
pub mod expr;
pub mod gjson_go;
pub mod gotemplate;
pub mod sjson;

use gotemplate::TemplateError;
use regex::Regex;
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The whole result, in the JSON shape of DESIGN §6.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Each dependency in the Sensor's order.
    pub dependencies: Vec<DependencyResult>,
    /// Each trigger in the Sensor's order.
    pub triggers: Vec<TriggerResult>,
}

/// Whether one dependency accepts the event, filter by filter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DependencyResult {
    /// The dependency's name.
    pub name: String,
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
    /// What sensor-test could not evaluate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Evaluate a Sensor (as JSON) against event data (`{"headers", "body"}`).
pub fn evaluate(sensor: &Json, data: &Json) -> Evaluation {
    let data_text = data.to_string();
    let spec = &sensor["spec"];
    let dependencies: Vec<DependencyResult> = spec["dependencies"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|dep| dependency(dep, &data_text))
        .collect();
    let matched: BTreeMap<&str, bool> = dependencies
        .iter()
        .map(|d| (d.name.as_str(), d.matched))
        .collect();
    let triggers = spec["triggers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|t| trigger(t, &matched, &data_text))
        .collect();
    Evaluation {
        dependencies,
        triggers,
    }
}

fn dependency(dep: &Json, data: &str) -> DependencyResult {
    let name = dep["name"].as_str().unwrap_or_default().to_string();
    let filters = &dep["filters"];
    let mut results = Vec::new();
    if !filters.is_object() {
        return DependencyResult {
            name,
            matched: true,
            filters: results,
        };
    }
    // Each kind of filter gives (present, passed).
    let mut parts: Vec<(bool, bool)> = Vec::new();

    let data_filters = filters["data"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let or = filters["dataLogicalOperator"].as_str() == Some("or");
    let outcomes: Vec<(bool, bool)> = data_filters
        .iter()
        .map(|f| {
            let (outcome, why) = data_filter(f, data);
            results.push(FilterResult {
                path: f["path"].as_str().unwrap_or_default().to_string(),
                result: outcome == Ok(true),
                why: match &outcome {
                    Err(e) => format!("error: {e}; the event is discarded"),
                    Ok(_) => why,
                },
            });
            (outcome.is_err(), outcome == Ok(true))
        })
        .collect();
    let data_pass = if data_filters.is_empty() {
        true
    } else if or {
        outcomes.iter().any(|(_, ok)| *ok)
    } else {
        outcomes.iter().all(|(err, ok)| !err && *ok)
    };
    parts.push((filters.get("data").is_some_and(|d| !d.is_null()), data_pass));

    if let Some(exprs) = filters.get("exprs").and_then(Json::as_array) {
        let or = filters["exprLogicalOperator"].as_str() == Some("or");
        let pass = expr_filters(exprs, or, data, &mut results);
        parts.push((true, pass));
    }

    for (key, what) in [
        (
            "context",
            "context filters (the event file has no cloudevent context)",
        ),
        (
            "time",
            "time filters (they depend on when the event arrives)",
        ),
        ("script", "Lua script filters"),
    ] {
        let present = filters.get(key).is_some_and(|v| !v.is_null() && v != "");
        if present {
            results.push(FilterResult {
                path: key.to_string(),
                result: false,
                why: format!(
                    "unsupported: sensor-test does not evaluate {what}; counted as not passing"
                ),
            });
        }
        parts.push((present, !present));
    }
    if dep.get("transform").is_some_and(|t| !t.is_null()) {
        results.push(FilterResult {
            path: "transform".into(),
            result: true,
            why:
                "unsupported: the transform is not applied; filters ran on the untransformed event"
                    .into(),
        });
    }
    let matched = if dep["filtersLogicalOperator"].as_str() == Some("or") {
        parts.iter().any(|(present, pass)| *present && *pass)
    } else {
        parts.iter().all(|(_, pass)| *pass)
    };
    DependencyResult {
        name,
        matched,
        filters: results,
    }
}

/// Expression filters (filterExpr): each one's fields are looked up with
/// GJSON and its govaluate expression must be true. A filter whose fields
/// are all empty is skipped; a missing path or an evaluation error fails it.
fn expr_filters(exprs: &[Json], or: bool, data: &str, results: &mut Vec<FilterResult>) -> bool {
    let mut outcomes = Vec::new();
    for (i, filter) in exprs.iter().enumerate() {
        let text = filter["expr"].as_str().unwrap_or_default();
        let path = format!("exprs[{i}]");
        let mut params = BTreeMap::new();
        let mut missing = None;
        for field in filter["fields"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let field_path = field["path"].as_str().unwrap_or_default();
            match gjson_go::get(data, field_path) {
                Some(found) => {
                    let value =
                        serde_json::from_str(&found.raw).unwrap_or(Json::String(found.string));
                    params.insert(
                        field["name"].as_str().unwrap_or_default().to_string(),
                        value,
                    );
                }
                None => {
                    missing = Some(field_path.to_string());
                    break;
                }
            }
        }
        let shown = params
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let (outcome, why) = if let Some(field_path) = missing {
            (
                Err(()),
                format!("error: path '{field_path}' does not exist"),
            )
        } else if params.is_empty() {
            (Ok(None), format!("{text:?} has no fields; skipped"))
        } else {
            match expr::evaluate(text, &params) {
                Ok(v) => (Ok(Some(v)), format!("{text:?} is {v} with {shown}")),
                Err(e) if e.starts_with("unsupported") => {
                    (Err(()), format!("{e}; counted as not passing"))
                }
                Err(e) => (
                    Err(()),
                    format!("error evaluating {text:?} with {shown}: {e}"),
                ),
            }
        };
        results.push(FilterResult {
            path,
            result: matches!(outcome, Ok(Some(true) | None)),
            why,
        });
        outcomes.push(outcome);
    }
    if or {
        outcomes.contains(&Ok(Some(true)))
    } else {
        outcomes.iter().all(|o| matches!(o, Ok(Some(true) | None)))
    }
}

/// One data filter: Ok(passed) or Err(why Argo Events reports an error),
/// and a sentence on why.
fn data_filter(f: &Json, data: &str) -> (Result<bool, String>, String) {
    let path = f["path"].as_str().unwrap_or_default();
    let Some(mut found) = gjson_go::get(data, path) else {
        return (Err(format!("path '{path}' does not exist")), String::new());
    };
    let values: Vec<String> = f["value"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|v| match v {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    if values.is_empty() {
        return (Err("no values specified".into()), String::new());
    }
    if let Some(template) = f["template"].as_str().filter(|t| !t.is_empty()) {
        match gotemplate::render(template, &Json::String(found.string.clone())) {
            Ok(out) if out.is_empty() || out == "<no value>" => {
                return (
                    Err(format!(
                        "template '{template}' evaluated to empty string or no value"
                    )),
                    String::new(),
                );
            }
            Ok(out) => {
                found = gjson_go::string_result(out);
            }
            Err(e @ TemplateError::Unsupported(_)) => return (Err(e.to_string()), String::new()),
            Err(TemplateError::Failed(e)) => return (Err(e), String::new()),
        }
    }
    let comparator = f["comparator"].as_str().unwrap_or_default();
    let shown = if found.type_name == "String" {
        format!("{:?}", found.string)
    } else {
        found.string.clone()
    };
    match f["type"].as_str().unwrap_or_default() {
        "bool" => {
            for value in &values {
                match gjson_go::parse_go_bool(value) {
                    None => {
                        return (
                            Err(format!(
                                "strconv.ParseBool: parsing {value:?}: invalid syntax"
                            )),
                            String::new(),
                        );
                    }
                    Some(v) if v == found.boolean => {
                        return (
                            Ok(true),
                            format!("{shown} (as bool {}) equals {value}", found.boolean),
                        );
                    }
                    Some(_) => {}
                }
            }
            (
                Ok(false),
                format!(
                    "{shown} (as bool {}) equals none of {}",
                    found.boolean,
                    values.join(", ")
                ),
            )
        }
        "number" => {
            let op = if comparator.is_empty() {
                "="
            } else {
                comparator
            };
            for value in &values {
                let Some(wanted) = gjson_go::parse_go_float(value) else {
                    return (
                        Err(format!(
                            "strconv.ParseFloat: parsing {value:?}: invalid syntax"
                        )),
                        String::new(),
                    );
                };
                let got = found.float;
                #[allow(clippy::float_cmp)] // Argo Events compares float64s exactly
                let pass = match op {
                    ">=" => got >= wanted,
                    ">" => got > wanted,
                    "<" => got < wanted,
                    "<=" => got <= wanted,
                    "!=" => got != wanted,
                    "=" => got == wanted,
                    _ => false,
                };
                if pass {
                    return (Ok(true), format!("{shown} {op} {value}"));
                }
            }
            (
                Ok(false),
                format!("{shown} is not {op} any of {}", values.join(", ")),
            )
        }
        "string" => {
            let negate = comparator == "!=";
            for value in &values {
                let re = match Regex::new(value) {
                    Ok(re) => re,
                    Err(e) => {
                        return (
                            Err(format!("error parsing regexp {value:?}: {e}")),
                            String::new(),
                        );
                    }
                };
                let matches = re.is_match(&found.string);
                let pass = match comparator {
                    "" | "=" => matches,
                    "!=" => !matches,
                    _ => false,
                };
                if pass {
                    let verb = if negate { "does not match" } else { "matches" };
                    let anchored = value.starts_with('^') && value.ends_with('$');
                    let note = if !negate && !anchored && &found.string != value {
                        " (unanchored: a substring match)"
                    } else {
                        ""
                    };
                    return (Ok(true), format!("{shown} {verb} {value:?}{note}"));
                }
            }
            let verb = if negate {
                "matches one of"
            } else {
                "matches none of"
            };
            (
                Ok(false),
                format!("{shown} {verb} {}", quoted_list(&values)),
            )
        }
        other => (
            Err(format!("unsupported JSON type '{other}'")),
            String::new(),
        ),
    }
}

fn quoted_list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn trigger(t: &Json, matched: &BTreeMap<&str, bool>, data: &str) -> TriggerResult {
    let template = &t["template"];
    let name = template["name"].as_str().unwrap_or_default().to_string();
    let mut result = TriggerResult {
        name,
        fires: false,
        resource: None,
        error: None,
        warnings: Vec::new(),
    };
    let conditions = template["conditions"].as_str().unwrap_or_default();
    result.fires = if conditions.trim().is_empty() {
        // Without conditions every dependency must be met.
        matched.values().all(|m| *m)
    } else {
        match conditions::evaluate(conditions, matched) {
            Ok(fires) => fires,
            Err(e) => {
                result.error = Some(format!("conditions {conditions:?}: {e}"));
                false
            }
        }
    };
    if !result.fires {
        return result;
    }
    // The events the trigger sees: one per dependency that matched.
    let events: BTreeMap<&str, &str> = matched
        .iter()
        .filter(|(_, m)| **m)
        .map(|(n, _)| (*n, data))
        .collect();
    let mut template = template.clone();
    if let Err(e) = apply_params(
        &mut template,
        &t["parameters"],
        &events,
        &mut result.warnings,
    ) {
        result.error = Some(e);
        return result;
    }
    let Some(kind) = ["k8s", "argoWorkflow"]
        .into_iter()
        .find(|k| template.get(*k).is_some_and(Json::is_object))
    else {
        result
            .warnings
            .push("only k8s and argoWorkflow triggers have a resource to show".into());
        return result;
    };
    let source = &template[kind]["source"];
    let mut resource = if source["resource"].is_object() {
        source["resource"].clone()
    } else if let Some(inline) = source["inline"].as_str() {
        match crate::yaml::parse_documents(inline) {
            Ok(docs) if !docs.is_empty() => docs[0].to_json(),
            _ => {
                result.error = Some("source.inline is not a YAML document".into());
                return result;
            }
        }
    } else {
        result.warnings.push(format!(
            "{kind}.source is not a resource or inline manifest; sensor-test cannot fetch it"
        ));
        return result;
    };
    if let Err(e) = apply_params(
        &mut resource,
        &template[kind]["parameters"],
        &events,
        &mut result.warnings,
    ) {
        result.error = Some(e);
        return result;
    }
    result.resource = Some(resource);
    result
}

/// Apply trigger parameters to an object (ApplyParams).
fn apply_params(
    obj: &mut Json,
    params: &Json,
    events: &BTreeMap<&str, &str>,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    for (i, param) in params
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let dest = param["dest"].as_str().unwrap_or_default();
        let Some((mut value, mut typ)) = resolve_param(&param["src"], events, warnings, i)? else {
            continue;
        };
        match param["operation"].as_str().unwrap_or_default() {
            op @ ("append" | "prepend") => {
                if let Some(current) = gjson_go::get(&obj.to_string(), dest) {
                    typ = "String";
                    value = if op == "append" {
                        current.string + &value
                    } else {
                        value + &current.string
                    };
                }
            }
            "" | "overwrite" => {}
            other => return Err(format!("unsupported trigger parameter operation: {other}")),
        }
        let raw = param["src"]["useRawData"].as_bool() == Some(true);
        let new = if typ != "String" && raw {
            serde_json::from_str(&value)
                .map_err(|e| format!("parameter {i}: raw value is not JSON: {e}"))?
        } else {
            Json::String(value)
        };
        sjson::set(obj, dest, new).map_err(|e| format!("parameter {i}: {e}"))?;
    }
    Ok(())
}

/// ResolveParamValue: the value and its GJSON type name, None when the
/// dependency has no event and there is no default.
fn resolve_param(
    src: &Json,
    events: &BTreeMap<&str, &str>,
    warnings: &mut Vec<String>,
    i: usize,
) -> Result<Option<(String, &'static str)>, String> {
    let dep = src["dependencyName"].as_str().unwrap_or_default();
    let default = src["value"].as_str().map(str::to_string);
    let key = |k: &str| src[k].as_str().filter(|s| !s.is_empty());
    let Some(data) = events.get(dep) else {
        return Ok(default.map(|v| (v, "String")));
    };
    if key("contextKey").is_none()
        && key("dataKey").is_none()
        && key("dataTemplate").is_none()
        && key("contextTemplate").is_none()
    {
        return Ok(Some(match default {
            Some(v) => (v, "String"),
            None => {
                warnings.push(format!("parameter {i}: the whole event (context and data) is used; sensor-test shows only its data"));
                ((*data).to_string(), "String")
            }
        }));
    }
    let (tmpl, data_key) = if key("dataKey").is_some() || key("dataTemplate").is_some() {
        (key("dataTemplate"), key("dataKey"))
    } else {
        warnings.push(format!("parameter {i}: contextKey/contextTemplate are unsupported (the event file has no context)"));
        return match default {
            Some(v) => Ok(Some((v, "String"))),
            None => Err(format!(
                "parameter {i}: unable to resolve '{dep}' parameter value from the event context"
            )),
        };
    };
    if let Some(tmpl) = tmpl {
        let input: Json = serde_json::from_str(data).unwrap_or(Json::Null);
        match gotemplate::render(tmpl, &input) {
            Ok(out) if !out.is_empty() && out != "<no value>" => return Ok(Some((out, "String"))),
            Ok(_) => warnings.push(format!(
                "parameter {i}: dataTemplate {tmpl:?} evaluated to empty string or no value"
            )),
            Err(e) => warnings.push(format!("parameter {i}: dataTemplate {tmpl:?}: {e}")),
        }
    }
    if let Some(k) = data_key {
        if let Some(found) = gjson_go::get(data, k) {
            return Ok(Some(match found.type_name {
                "JSON" | "Null" => (found.raw, found.type_name),
                t => (found.string, t),
            }));
        }
        warnings.push(format!(
            "parameter {i}: key {k} does not exist in the event payload"
        ));
    }
    match default {
        Some(v) => Ok(Some((v, "String"))),
        None => Err(format!(
            "parameter {i}: unable to resolve '{dep}' parameter value"
        )),
    }
}

/// Trigger conditions: dependency names with `&&`, `||` and parentheses.
mod conditions {
    use std::collections::BTreeMap;

    pub(super) fn evaluate(text: &str, deps: &BTreeMap<&str, bool>) -> Result<bool, String> {
        let tokens = tokens(text)?;
        let mut pos = 0;
        let value = or(&tokens, &mut pos, deps)?;
        if pos != tokens.len() {
            return Err(format!("unexpected {:?}", tokens[pos]));
        }
        Ok(value)
    }

    fn tokens(text: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(&c) = chars.peek() {
            match c {
                ' ' | '\t' | '\n' => {
                    chars.next();
                }
                '(' | ')' => {
                    out.push(c.to_string());
                    chars.next();
                }
                '&' | '|' => {
                    chars.next();
                    if chars.next() != Some(c) {
                        return Err(format!("expected {c}{c}"));
                    }
                    out.push(format!("{c}{c}"));
                }
                _ if c.is_alphanumeric() || c == '-' || c == '_' || c == '.' => {
                    let mut name = String::new();
                    while let Some(&c) = chars
                        .peek()
                        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
                    {
                        name.push(c);
                        chars.next();
                    }
                    out.push(name);
                }
                other => return Err(format!("unexpected character {other:?}")),
            }
        }
        Ok(out)
    }

    fn or(t: &[String], pos: &mut usize, deps: &BTreeMap<&str, bool>) -> Result<bool, String> {
        let mut value = and(t, pos, deps)?;
        while t.get(*pos).is_some_and(|s| s == "||") {
            *pos += 1;
            value |= and(t, pos, deps)?;
        }
        Ok(value)
    }

    fn and(t: &[String], pos: &mut usize, deps: &BTreeMap<&str, bool>) -> Result<bool, String> {
        let mut value = atom(t, pos, deps)?;
        while t.get(*pos).is_some_and(|s| s == "&&") {
            *pos += 1;
            value &= atom(t, pos, deps)?;
        }
        Ok(value)
    }

    fn atom(t: &[String], pos: &mut usize, deps: &BTreeMap<&str, bool>) -> Result<bool, String> {
        let token = t.get(*pos).ok_or("unexpected end of conditions")?;
        *pos += 1;
        if token == "(" {
            let value = or(t, pos, deps)?;
            if t.get(*pos).map(String::as_str) != Some(")") {
                return Err("missing )".into());
            }
            *pos += 1;
            return Ok(value);
        }
        deps.get(token.as_str())
            .copied()
            .ok_or_else(|| format!("no dependency named {token:?}"))
    }
}

/// The human-readable form of an evaluation.
pub fn render_text(eval: &Evaluation) -> String {
    let mut out = String::new();
    for dep in &eval.dependencies {
        let _ = writeln!(
            out,
            "dependency {}: {}",
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
