//! "Deployed → run tests": the delivery Argo CD's notification sends is
//! rendered here from the shipped template
//! (cluster-workflow-templates/notifications/argocd-notifications-cm.yaml)
//! and a real sandbox Application — the one register-app writes, with the
//! status Argo CD gives it, checked against Argo CD's Application CRD
//! schema — wrapped as the webhook EventSource does, and run through
//! `sandbox sensor-test` against the shipped sandbox-test Sensor. It fires
//! for a sandbox that deployed and is healthy, and not for another
//! application or a failed sync.

use super::common;

use assert_cmd::Command;
use serde_json::{Map, Value, json};
use std::path::Path;

fn read_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read");
    let docs = sandbox_cli::yaml::parse_documents(&text).expect("YAML");
    docs[0].to_json()
}

/// The webhook body template of the shipped notification template.
fn body_template() -> String {
    let cm = read_yaml(
        &common::repo_root()
            .join("cluster-workflow-templates/notifications/argocd-notifications-cm.yaml"),
    );
    let template = cm["data"]["template.sandbox-deployed"]
        .as_str()
        .expect("template");
    let parsed: Value = yaml_serde::from_str(template).expect("template YAML");
    parsed["webhook"]["sandbox-test"]["body"]
        .as_str()
        .expect("body")
        .to_string()
}

/// Render the body as notifications-engine does (Go text/template with
/// sprig, the Application as `.app`), for the one form the template uses:
/// `{{ .path.to.field | toJson }}`. Anything else in the template fails the
/// test, so this renderer cannot silently disagree with Go's. A missing
/// field is Go's nil, which toJson writes as `null`.
fn render(template: &str, app: &Value) -> String {
    let action =
        regex::Regex::new(r"\{\{\s*\.app((?:\.[A-Za-z0-9_]+)+)\s*\|\s*toJson\s*\}\}").unwrap();
    let rendered = action.replace_all(template, |c: &regex::Captures<'_>| {
        let mut v = app;
        for key in c[1].trim_start_matches('.').split('.') {
            v = v.get(key).unwrap_or(&Value::Null);
        }
        serde_json::to_string(v).unwrap()
    });
    assert!(
        !rendered.contains("{{"),
        "an action this renderer does not know:\n{rendered}"
    );
    rendered.into_owned()
}

/// The Application register-app writes for PR 42, with a status as Argo
/// CD's controller sets it after a sync (`phase` of the operation,
/// `status.sync`, `status.health`).
fn application(phase: &str, health: &str) -> Value {
    let mut context = tera::Context::new();
    for (k, v) in [
        ("environment", "sbx-pr-42"),
        ("app_name", "sbx-pr-42"),
        ("argocd_namespace", "argocd"),
        ("pr_number", "42"),
        ("project", "sandboxes"),
        ("repo_url", "https://github.com/acme/infra.git"),
        ("target_revision", "sbx-pr-42"),
        ("overlay_path", "overlays/sbx-pr-42"),
        ("destination_server", "https://kubernetes.default.svc"),
        ("namespace", "apps-sbx-pr-42"),
    ] {
        context.insert(k, v);
    }
    let text = sandbox_tasks::register_app::render(
        sandbox_tasks::register_app::DEFAULT_TEMPLATE,
        &context,
        "sbx-pr-42",
    )
    .expect("register-app renders");
    let mut app: Value = yaml_serde::from_str(&text).expect("YAML");
    let revision = "0ec56c0540b7a3c1f34f3b5a6e1a59b4f2d9e8a1";
    app["status"] = json!({
        "sync": {"status": "Synced", "revision": revision},
        "health": {"status": health, "lastTransitionTime": "2026-12-02T10:00:30Z"},
        "operationState": {
            "phase": phase,
            "startedAt": "2026-12-02T10:00:00Z",
            "finishedAt": "2026-12-02T10:00:20Z",
            "operation": {"sync": {"revision": revision}},
            "syncResult": {"revision": revision},
        },
    });
    app
}

/// The Application's status fields the template reads exist in Argo CD's
/// CRD schema, with these types.
fn check_against_crd(app: &Value) {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let crd = read_yaml(&fixtures.join("argo-cd/application-crd.yaml"));
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    for path in [
        "metadata",
        "spec.destination.namespace",
        "status.sync.status",
        "status.sync.revision",
        "status.health.status",
        "status.operationState.phase",
        "status.operationState.syncResult.revision",
    ] {
        let mut s = schema;
        let mut v = app;
        for key in path.split('.') {
            s = &s["properties"][key];
            v = &v[key];
            assert!(s.is_object(), "{path}: not in the CRD schema");
        }
        let ty = s["type"].as_str().unwrap_or("object");
        let ok = match ty {
            "string" => v.is_string(),
            "object" => v.is_object(),
            _ => true,
        };
        assert!(ok, "{path} is {v} but the CRD says {ty}");
    }
}

/// Event data as the webhook EventSource builds it (argo-events
/// pkg/eventsources/sources/webhook/start.go: WebhookEventData with
/// `header`, the request's header, and `body`, the JSON received).
fn delivery(app: &Value) -> Value {
    let body: Value =
        serde_json::from_str(&render(&body_template(), app)).expect("the rendered body is JSON");
    json!({
        "header": {
            "Content-Type": ["application/json"],
            "Authorization": ["Bearer test-token"],
        },
        "body": body,
    })
}

fn sensor_test(event: &Value) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("event.json");
    std::fs::write(&file, serde_json::to_vec(event).unwrap()).unwrap();
    let sensor =
        common::repo_root().join("cluster-workflow-templates/events/sandbox-test-sensor.yaml");
    let output = Command::cargo_bin("sandbox")
        .unwrap()
        .arg("sensor-test")
        .arg("--sensor")
        .arg(&sensor)
        .arg("--event")
        .arg(format!("sandbox-argocd:deployed={}", file.display()))
        .args(["--as-event-data", "--format", "json", "--strict"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn a_deployed_healthy_sandbox_runs_its_tests() {
    let app = application("Succeeded", "Healthy");
    check_against_crd(&app);
    let event = delivery(&app);
    assert_eq!(event["body"]["app"], "sbx-pr-42");
    assert_eq!(event["body"]["labels"]["argo-sandbox.io/pr-number"], "42");
    let result = sensor_test(&event);
    let trigger = &result["triggers"][0];
    assert_eq!(trigger["fires"], true, "{result:#}");
    let resource = &trigger["resource"];
    assert_eq!(
        resource["spec"]["workflowTemplateRef"]["name"],
        "sandbox-test"
    );
    let params = resource["spec"]["arguments"]["parameters"]
        .as_array()
        .unwrap();
    let by_name: Map<String, Value> = params
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["value"].clone()))
        .collect();
    assert_eq!(by_name["environment"], "sbx-pr-42");
    assert_eq!(by_name["pr_number"], "42");
    assert_eq!(resource["metadata"]["generateName"], "sandbox-test-pr-42-");
    // Every parameter the Workflow passes is one sandbox-test declares.
    let template =
        read_yaml(&common::repo_root().join("cluster-workflow-templates/sandbox-test.yaml"));
    let declared: Vec<&str> = template["spec"]["arguments"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in by_name.keys() {
        assert!(
            declared.contains(&name.as_str()),
            "sandbox-test has no parameter {name}"
        );
    }
}

#[test]
fn other_applications_and_failed_or_unhealthy_deploys_do_not() {
    // A failed sync and a degraded app (in case someone subscribes another
    // trigger to this template).
    for (phase, health) in [
        ("Failed", "Healthy"),
        ("Error", "Degraded"),
        ("Succeeded", "Degraded"),
        ("Succeeded", "Progressing"),
    ] {
        let result = sensor_test(&delivery(&application(phase, health)));
        assert_eq!(
            result["triggers"][0]["fires"], false,
            "{phase}/{health}: {result:#}"
        );
    }
    // Not ours: an application without register-app's labels, and one that
    // claims the label but has no pull request.
    let mut other = application("Succeeded", "Healthy");
    other["metadata"]["name"] = json!("shop-production");
    other["metadata"]["labels"] = json!({"app.kubernetes.io/name": "shop"});
    let result = sensor_test(&delivery(&other));
    assert_eq!(result["triggers"][0]["fires"], false, "{result:#}");
    let mut no_pr = application("Succeeded", "Healthy");
    no_pr["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("argo-sandbox.io/pr-number");
    let result = sensor_test(&delivery(&no_pr));
    assert_eq!(result["triggers"][0]["fires"], false, "{result:#}");
}

#[test]
fn register_app_subscribes_sandbox_applications_to_the_shipped_trigger() {
    let app = application("Succeeded", "Healthy");
    let cm = read_yaml(
        &common::repo_root()
            .join("cluster-workflow-templates/notifications/argocd-notifications-cm.yaml"),
    );
    let annotations = app["metadata"]["annotations"].as_object().unwrap();
    let subscriptions: Vec<&String> = annotations
        .keys()
        .filter(|k| k.starts_with("notifications.argoproj.io/subscribe."))
        .collect();
    assert_eq!(subscriptions.len(), 1, "{annotations:?}");
    // notifications.argoproj.io/subscribe.<trigger>.<service>
    let rest = subscriptions[0].trim_start_matches("notifications.argoproj.io/subscribe.");
    let (trigger, service) = rest.split_once('.').unwrap();
    assert!(
        cm["data"][format!("trigger.{trigger}")].is_string(),
        "no trigger.{trigger}"
    );
    assert!(
        cm["data"][format!("service.webhook.{service}")].is_string(),
        "no service.webhook.{service}"
    );
    // The trigger sends the template whose body the Sensor reads.
    let triggers: Value =
        yaml_serde::from_str(cm["data"][format!("trigger.{trigger}")].as_str().unwrap()).unwrap();
    assert_eq!(triggers[0]["send"], json!(["sandbox-deployed"]));
    // The same condition as Argo CD's catalog on-deployed trigger.
    let when = triggers[0]["when"].as_str().unwrap();
    assert!(
        when.contains("app.status.operationState.phase in ['Succeeded']")
            && when.contains("app.status.health.status == 'Healthy'")
    );
    assert_eq!(
        triggers[0]["oncePer"],
        "app.status.operationState?.syncResult?.revision"
    );
}
