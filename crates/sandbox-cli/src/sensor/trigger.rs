//! Triggers: when they fire and what they submit.
//!
//! - The dependency expression (`pkg/sensors/listener.go`
//!   `getDependencyExpression`): the `conditions` with every `-` read as `_`
//!   when names are looked up, dependency and group names replaced by the
//!   dependency's name; without conditions, every dependency joined by `&&`.
//!   It is then parsed by govaluate with `-` escaped.
//! - Firing (`pkg/eventbus/jetstream/sensor/trigger_conn.go`
//!   `processDependency`): without a `&` in the expression every event that
//!   passes a dependency's filters fires the trigger alone; otherwise the
//!   dependencies met so far are kept, the expression is evaluated on each
//!   new one, and when true the trigger fires with those events and they
//!   are cleared.
//! - Parameters (`pkg/sensors/triggers/params.go` `ApplyParams`,
//!   `ResolveParamValue`, `ConstructPayload`).

use super::event::Event;
use super::expr::{self, V};
use super::gotemplate;
use super::{TriggerResult, gjson_go, sjson};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Trigger kinds whose request is built from `payload` parameters.
const PAYLOAD_KINDS: &[&str] = &[
    "http",
    "awsLambda",
    "kafka",
    "nats",
    "azureEventHubs",
    "azureServiceBus",
    "pulsar",
    "openWhisk",
    "email",
];

pub(crate) fn trigger(
    t: &Json,
    deps: &[Json],
    deliveries: &[(usize, String, bool)],
    events: &[Event],
) -> TriggerResult {
    let template = &t["template"];
    let mut result = TriggerResult {
        name: template["name"].as_str().unwrap_or_default().to_string(),
        fires: false,
        resource: None,
        error: None,
        warnings: Vec::new(),
    };
    let conditions = template["conditions"].as_str().unwrap_or_default();
    let expression = match dependency_expression(conditions, deps) {
        Ok(e) => e,
        Err(e) => {
            result.error = Some(format!(
                "conditions {conditions:?}: {e} (Argo Events never runs this trigger)"
            ));
            return result;
        }
    };
    let parsed = match expr::parse(&expression.replace('-', "\\-")) {
        Ok(p) => p,
        Err(e) => {
            result.error = Some(format!(
                "dependency expression {expression:?}: {e} (Argo Events never runs this trigger)"
            ));
            return result;
        }
    };
    let mut vars: Vec<String> = Vec::new();
    for v in &parsed.vars {
        if !vars.contains(v) {
            vars.push(v.clone());
        }
    }
    if let Some(unknown) = vars
        .iter()
        .find(|v| !deps.iter().any(|d| d["name"] == v.as_str()))
    {
        result.error = Some(format!(
            "dependency expression {expression:?} names {unknown:?}, which is not a dependency (Argo Events never runs this trigger)"
        ));
        return result;
    }
    let requires_and = expression.contains('&');
    let mut firings: Vec<BTreeMap<String, usize>> = Vec::new();
    let mut saved: BTreeMap<String, usize> = BTreeMap::new();
    for (event, dep, passed) in deliveries {
        if !passed || !vars.contains(dep) {
            continue;
        }
        if !requires_and {
            firings.push([(dep.clone(), *event)].into());
            continue;
        }
        saved.insert(dep.clone(), *event);
        let params: BTreeMap<String, V> = vars
            .iter()
            .map(|v| (v.clone(), V::Bool(saved.contains_key(v))))
            .collect();
        match parsed.evaluate(&params) {
            Ok(V::Bool(true)) => firings.push(std::mem::take(&mut saved)),
            Ok(_) => {}
            Err(e) => {
                result.error = Some(format!(
                    "failed to evaluate dependency expression {expression:?}: {e}"
                ));
                return result;
            }
        }
    }
    let Some(first) = firings.first() else {
        if !saved.is_empty() {
            result.warnings.push(format!(
                "waiting: {expression:?} is not yet true with {} met",
                saved.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        return result;
    };
    result.fires = true;
    if firings.len() > 1 {
        result.warnings.push(format!(
            "fires {} times ({expression:?} has no `&&`: each passing event fires it alone, or the conditions became true again); shown is the first",
            firings.len()
        ));
    }
    // Each event with the context its dependency received it with.
    let owned: BTreeMap<&str, Event> = first
        .iter()
        .map(|(name, i)| {
            let dep = deps.iter().find(|d| d["name"] == name.as_str());
            let field = |k: &str| dep.and_then(|d| d[k].as_str()).unwrap_or_default();
            let mut event = events[*i].clone();
            event.context = event
                .context
                .for_dependency(field("eventSourceName"), field("eventName"));
            (name.as_str(), event)
        })
        .collect();
    let events: BTreeMap<&str, &Event> = owned.iter().map(|(k, v)| (*k, v)).collect();
    submission(t, &events, &mut result);
    result
}

/// `getDependencyExpression`.
fn dependency_expression(conditions: &str, deps: &[Json]) -> Result<String, String> {
    if conditions.is_empty() {
        return Ok(deps
            .iter()
            .map(|d| d["name"].as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("&&"));
    }
    // Later dependencies win a clash, as in the Go map.
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for dep in deps {
        let name = dep["name"].as_str().unwrap_or_default();
        names.insert(name.replace('-', "_"), name.to_string());
    }
    let mut out = String::new();
    let mut expect_operand = true;
    let mut depth = 0_i32;
    let chars: Vec<char> = conditions.replace('-', "_").chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if expect_operand {
            if c == '(' {
                depth += 1;
                out.push('(');
                i += 1;
                continue;
            }
            if c.is_alphanumeric() || c == '_' {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                let dep = names
                    .get(&name)
                    .ok_or_else(|| format!("unknown name {name} (not a dependency)"))?;
                out.push_str(dep);
                expect_operand = false;
                continue;
            }
            return Err(format!("unexpected {c:?}"));
        }
        if c == ')' {
            depth -= 1;
            if depth < 0 {
                return Err("unexpected )".into());
            }
            out.push(')');
            i += 1;
            continue;
        }
        let pair: String = chars[i..chars.len().min(i + 2)].iter().collect();
        if pair == "&&" || pair == "||" {
            out.push_str(&pair);
            expect_operand = true;
            i += 2;
            continue;
        }
        return Err(format!("unexpected {c:?}"));
    }
    if expect_operand || depth != 0 {
        return Err("incomplete expression".into());
    }
    Ok(out)
}

/// Apply the parameters and show the resource or payload.
fn submission(t: &Json, events: &BTreeMap<&str, &Event>, result: &mut TriggerResult) {
    let mut template = t["template"].clone();
    if let Err(e) = apply_params(&mut template, &t["parameters"], events) {
        result.error = Some(e);
        return;
    }
    if let Some(kind) = ["k8s", "argoWorkflow"]
        .into_iter()
        .find(|k| template.get(*k).is_some_and(Json::is_object))
    {
        let source = &template[kind]["source"];
        let mut resource = if source["resource"].is_object() {
            source["resource"].clone()
        } else if let Some(inline) = source["inline"].as_str() {
            match crate::yaml::parse_documents(inline) {
                Ok(docs) if !docs.is_empty() => docs[0].to_json(),
                _ => {
                    result.error = Some("source.inline is not a YAML document".into());
                    return;
                }
            }
        } else {
            result.warnings.push(format!(
                "unsupported: {kind}.source is not a resource or inline manifest; sensor-test does not fetch it"
            ));
            return;
        };
        if let Err(e) = apply_params(&mut resource, &template[kind]["parameters"], events) {
            result.error = Some(e);
            return;
        }
        result.resource = Some(resource);
        return;
    }
    if let Some(kind) = PAYLOAD_KINDS
        .iter()
        .find(|k| template.get(**k).is_some_and(Json::is_object))
    {
        match construct_payload(&template[*kind]["payload"], events) {
            Ok(Some(payload)) => {
                result.resource =
                    Some(serde_json::from_str(&payload).unwrap_or(Json::String(payload)));
            }
            Ok(None) => {}
            Err(e) => result.error = Some(e),
        }
        return;
    }
    result.warnings.push(
        "only k8s, argoWorkflow and payload triggers (http, kafka, …) have a request to show"
            .into(),
    );
}

/// `ConstructPayload`: the request body built from `payload` parameters.
fn construct_payload(
    params: &Json,
    events: &BTreeMap<&str, &Event>,
) -> Result<Option<String>, String> {
    let mut payload: Option<Json> = None;
    for (i, param) in params
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let Some((value, typ)) = resolve_param(&param["src"], events)? else {
            continue;
        };
        let dest = param["dest"].as_str().unwrap_or_default();
        if dest.is_empty() {
            return Ok(Some(value));
        }
        let obj = payload.get_or_insert_with(|| Json::Object(serde_json::Map::new()));
        set_param(obj, param, value, typ).map_err(|e| format!("payload parameter {i}: {e}"))?;
    }
    Ok(payload.map(|p| p.to_string()))
}

/// Set a resolved value at the parameter's `dest`: raw JSON when
/// `useRawData` and the value is not a plain string (`sjson.SetRawBytes`),
/// else a string (`sjson.SetBytes`).
fn set_param(obj: &mut Json, param: &Json, value: String, typ: &str) -> Result<(), String> {
    let raw = param["src"]["useRawData"].as_bool() == Some(true);
    let new = if typ != "String" && raw {
        serde_json::from_str(&value).map_err(|e| format!("raw value is not JSON: {e}"))?
    } else {
        Json::String(value)
    };
    sjson::set(obj, param["dest"].as_str().unwrap_or_default(), new)
}

/// `ApplyParams`.
fn apply_params(
    obj: &mut Json,
    params: &Json,
    events: &BTreeMap<&str, &Event>,
) -> Result<(), String> {
    for (i, param) in params
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let dest = param["dest"].as_str().unwrap_or_default();
        let Some((mut value, mut typ)) = resolve_param(&param["src"], events)? else {
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
        set_param(obj, param, value, typ).map_err(|e| format!("parameter {i}: {e}"))?;
    }
    Ok(())
}

/// `ResolveParamValue`: the value and its GJSON type name; `None` when the
/// dependency has no event and there is no default.
fn resolve_param(
    src: &Json,
    events: &BTreeMap<&str, &Event>,
) -> Result<Option<(String, &'static str)>, String> {
    let dep = src["dependencyName"].as_str().unwrap_or_default();
    let default = src["value"].as_str().map(str::to_string);
    let key = |k: &str| src[k].as_str().filter(|s| !s.is_empty());
    let Some(event) = events.get(dep) else {
        return Ok(default.map(|v| (v, "String")));
    };
    let (context_key, context_template) = (key("contextKey"), key("contextTemplate"));
    let (data_key, data_template) = (key("dataKey"), key("dataTemplate"));
    if context_key.is_none()
        && data_key.is_none()
        && data_template.is_none()
        && context_template.is_none()
    {
        return Ok(Some(match default {
            Some(v) => (v, "String"),
            None => (whole_event(event)?, "String"),
        }));
    }
    // The data part wins when both are given.
    let (payload, tmpl, data_key) = if data_key.is_some() || data_template.is_some() {
        let payload = if event.context.data_content_type == "application/json" {
            if gjson::valid(&event.data) {
                Ok(event.data.clone())
            } else {
                Err("event data is not valid JSON".to_string())
            }
        } else {
            Err(format!(
                "unsupported: event content type {:?} (sensor-test reads JSON event data)",
                event.context.data_content_type
            ))
        };
        (payload, data_template, data_key)
    } else {
        let context = event.context.clone();
        let payload = context.to_go_json().ok_or_else(|| {
            "unsupported: the event's context type is not known (give the event as {\"context\": {…}, \"data\": …})".to_string()
        });
        (payload, context_template, context_key)
    };
    let payload = match payload {
        Ok(p) => p,
        Err(e) if e.starts_with("unsupported:") => return Err(e),
        Err(e) => {
            return match default {
                Some(v) => Ok(Some((v, "String"))),
                None => Err(e),
            };
        }
    };
    let mut last_error = String::new();
    if let Some(tmpl) = tmpl {
        let input: Json = serde_json::from_str(&payload).unwrap_or(Json::Null);
        match gotemplate::render(tmpl, &input) {
            Ok(out) if !out.is_empty() && out != "<no value>" => return Ok(Some((out, "String"))),
            Ok(_) => {
                last_error = format!("template evaluated to empty string or no value: {tmpl}");
            }
            Err(e @ gotemplate::TemplateError::Unsupported(_)) => {
                return Err(format!("{e} (template {tmpl:?})"));
            }
            Err(e) => last_error = e.to_string(),
        }
    }
    if let Some(k) = data_key {
        if let Some(found) = gjson_go::get(&payload, k) {
            return Ok(Some(match found.type_name {
                "JSON" | "Null" => (found.raw, found.type_name),
                t => (found.string, t),
            }));
        }
        last_error = format!("key {k} does not exist to in the event payload");
    }
    match default {
        Some(v) => Ok(Some((v, "String"))),
        None => Err(format!(
            "unable to resolve '{dep}' parameter value. err: {last_error}"
        )),
    }
}

/// `json.Marshal(&event)`: the context, and the data as base64 (a Go
/// `[]byte`).
fn whole_event(event: &Event) -> Result<String, String> {
    use base64::Engine as _;
    let context = event.context.to_go_json().ok_or(
        "unsupported: the whole event is used and its context type is not known (give the event as {\"context\": {…}, \"data\": …})",
    )?;
    Ok(format!(
        "{{\"context\":{context},\"data\":\"{}\"}}",
        base64::engine::general_purpose::STANDARD.encode(event.data.as_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dependency_expressions() {
        let deps = [
            json!({"name": "dep-1"}),
            json!({"name": "dep_1a"}),
            json!({"name": "dep-2"}),
        ];
        assert_eq!(
            dependency_expression("", &deps).unwrap(),
            "dep-1&&dep_1a&&dep-2"
        );
        // `-` and `_` name the same dependency.
        assert_eq!(
            dependency_expression("(dep_1 || dep-1a) && dep-2", &deps).unwrap(),
            "(dep-1||dep_1a)&&dep-2"
        );
        assert!(
            dependency_expression("dep-1 && dep-9", &deps)
                .unwrap_err()
                .contains("unknown name dep_9")
        );
        assert!(dependency_expression("dep-1 &&", &deps).is_err());
        assert!(dependency_expression("!dep-1", &deps).is_err());
        assert!(dependency_expression("(dep-1", &deps).is_err());
        // A later dependency wins a clash of spellings, as in the Go map.
        let clash = [json!({"name": "a-b"}), json!({"name": "a_b"})];
        assert_eq!(dependency_expression("a-b", &clash).unwrap(), "a_b");
    }
}
