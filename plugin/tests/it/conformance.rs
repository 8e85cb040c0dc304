//! Conformance against Argo's own OpenAPI schema (the swagger.json of
//! argo-workflows, read from `$SANDBOX_FIXTURES`, default
//! `../shared/fixtures`): every field plugin.yaml sets is one Argo knows —
//! the controller decodes the sidecar container strictly and would refuse
//! the whole plugin over one misspelt key — and every field of our replies'
//! outputs is one of `wfv1.Outputs` / `wfv1.Parameter`.

use crate::common::{TOKEN, TestTasks, agent_body, args, sandbox, token_dir};
use axum::body::Body;
use axum::http::{Request, header};
use sandbox_plugin::manifest::PLUGIN_YAML;
use sandbox_plugin::{AppState, app};
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

/// Argo's schema; `None` outside CI when the fixtures are absent (the
/// harness says so), a failure under CI.
fn swagger() -> Option<Value> {
    let path = sandbox_harness::fixtures::path("argo/swagger.json")?;
    Some(serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap())
}

/// Every key of `value` is a property of the schema `name` (following
/// `$ref`s, arrays and maps), or a problem naming its path.
fn unknown_fields(
    defs: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
    problems: &mut Vec<String>,
) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/definitions/");
        return unknown_fields(defs, &defs[name], value, at, problems);
    }
    match value {
        Value::Object(map) => {
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (key, v) in map {
                    match properties.get(key) {
                        Some(s) => unknown_fields(defs, s, v, &format!("{at}.{key}"), problems),
                        None => problems.push(format!("{at}.{key}")),
                    }
                }
            } else if let Some(values) = schema.get("additionalProperties") {
                for (key, v) in map {
                    unknown_fields(defs, values, v, &format!("{at}.{key}"), problems);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    unknown_fields(defs, item, v, &format!("{at}[{i}]"), problems);
                }
            }
        }
        _ => {}
    }
}

#[test]
fn every_field_of_plugin_yaml_is_one_argo_knows() {
    let Some(swagger) = swagger() else { return };
    let defs = &swagger["definitions"];
    let plugin: Value = yaml_serde::from_str(PLUGIN_YAML).unwrap();
    let mut problems = Vec::new();
    let schema = json!({"$ref": "#/definitions/io.argoproj.workflow.v1alpha1.ExecutorPluginSpec"});
    unknown_fields(defs, &schema, &plugin["spec"], "spec", &mut problems);
    let schema = json!({"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"});
    unknown_fields(
        defs,
        &schema,
        &plugin["metadata"],
        "metadata",
        &mut problems,
    );
    assert!(
        problems.is_empty(),
        "fields Argo does not know: {problems:?}"
    );

    // The checker itself catches a misspelt field.
    let mut typo = plugin["spec"].clone();
    typo["sidecar"]["container"]["securityContext"]["readOnlyRootFileSystem"] = json!(true);
    let mut problems = Vec::new();
    let schema = json!({"$ref": "#/definitions/io.argoproj.workflow.v1alpha1.ExecutorPluginSpec"});
    unknown_fields(defs, &schema, &typo, "spec", &mut problems);
    assert_eq!(
        problems,
        ["spec.sidecar.container.securityContext.readOnlyRootFileSystem"]
    );
}

#[tokio::test]
async fn succeeded_outputs_are_argo_outputs() {
    let Some(swagger) = swagger() else { return };
    let (_dir, token) = token_dir();
    let state = AppState::new(&args(token), Arc::new(TestTasks::default()));
    let body = agent_body(
        "u",
        "check",
        sandbox("check-params", json!({"pr_number": "5"})),
    );
    let request = Request::post("/api/v1/template.execute")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app(state).oneshot(request).await.unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let reply: Value = serde_json::from_slice(&bytes).unwrap();
    let outputs = &reply["node"]["outputs"];
    assert!(
        !outputs["parameters"].as_array().unwrap().is_empty(),
        "{reply}"
    );
    let mut problems = Vec::new();
    let schema = json!({"$ref": "#/definitions/io.argoproj.workflow.v1alpha1.Outputs"});
    unknown_fields(
        &swagger["definitions"],
        &schema,
        outputs,
        "outputs",
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems:?}");
}
