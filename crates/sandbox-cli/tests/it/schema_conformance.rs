//! Every document we ship validates against the upstream JSON schemas in
//! the fixtures, unknown keys forbidden and required keys enforced (the
//! schemas' int-or-string types widened, see the schema module). The
//! Workflows the Sensors submit are validated against the Argo schema too.

use super::common;

use sandbox_cli::schema::{Family, Mode, Schema};
use sandbox_cli::yaml::{self, Node};
use std::path::{Path, PathBuf};

fn schema(fixtures: &Path, family: Family) -> Schema {
    let text =
        std::fs::read_to_string(fixtures.join(family.fixture_schema())).expect("read schema");
    Schema::from_json_schema(family, &serde_json::from_str(&text).expect("JSON")).expect("derive")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(yaml_files(&path));
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn shipped_documents_validate_against_the_fixture_schemas() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let schemas = [
        schema(&fixtures, Family::Argo),
        schema(&fixtures, Family::Events),
    ];
    let validate = |kind: &str, node: &Node, what: &str, problems: &mut Vec<String>| {
        let Some((schema, root)) = schemas
            .iter()
            .find_map(|s| s.roots.get(kind).map(|r| (s, r)))
        else {
            return false;
        };
        for p in schema.check(root, node, Mode::Strict) {
            problems.push(format!("{what}:{}: {p}", p.line()));
        }
        true
    };
    let mut problems = Vec::new();
    let mut checked = 0;
    let files = yaml_files(&common::repo_root().join("cluster-workflow-templates"));
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        for doc in yaml::parse_documents(&text).expect("YAML") {
            let Some(kind) = doc.get("kind").and_then(Node::as_str) else {
                continue;
            };
            let what = file.display().to_string();
            if validate(kind, &doc, &what, &mut problems) {
                checked += 1;
            }
            for trigger in doc
                .at(&["spec", "triggers"])
                .map(Node::items)
                .unwrap_or_default()
            {
                if let Some(resource) = trigger.at(&["template", "k8s", "source", "resource"]) {
                    let kind = resource
                        .get("kind")
                        .and_then(Node::as_str)
                        .unwrap_or_default();
                    assert!(
                        validate(kind, resource, &what, &mut problems),
                        "{what}: trigger resource of kind {kind:?}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 5, "only {checked} documents checked");
    assert!(
        problems.is_empty(),
        "schema problems:\n{}",
        problems.join("\n")
    );
}

/// The validator itself: it rejects unknown keys and wrong types, and
/// accepts the upstream Sensor examples, as Python's jsonschema does.
#[test]
fn the_validator_agrees_with_upstream_examples() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let events = schema(&fixtures, Family::Events);
    for file in yaml_files(&fixtures.join("argo-events/sensors")) {
        let doc = yaml::parse_documents(&std::fs::read_to_string(&file).expect("read"))
            .expect("YAML")
            .remove(0);
        let problems = events.check(&events.roots["Sensor"], &doc, Mode::Strict);
        assert!(problems.is_empty(), "{}: {problems:?}", file.display());
    }
    let bad = yaml::parse_documents("apiVersion: argoproj.io/v1alpha1\nkind: Sensor\nmetadata: {name: x}\nspec:\n  dependencies: 3\n  triggerz: []\n")
        .expect("YAML")
        .remove(0);
    let problems: Vec<String> = events
        .check(&events.roots["Sensor"], &bad, Mode::Strict)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        problems,
        [
            "spec.dependencies must be a list",
            "unknown key spec.triggerz (SensorSpec has no such key; did you mean \"triggers\"?)",
            "spec.triggers is required in SensorSpec",
        ]
    );
}

// ---------------------------------------------------------------------------
// install/: what docs/install.md applies.

use serde_json::Value as Json;

/// A strict check of `value` against an OpenAPI v3 schema as CRDs and the
/// Argo Events JSON schema write them: `$ref` into `defs`, `properties`,
/// `required`, `type`, `items`, `additionalProperties`, `anyOf`,
/// `x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`.
/// A key the schema does not name is a problem (the API server would prune
/// or reject it), except below `metadata`, which Kubernetes validates itself.
fn check_openapi(schema: &Json, defs: &Json, value: &Json, at: &str, problems: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Json::as_str) {
        let name = r.trim_start_matches("#/definitions/");
        match defs.get(name) {
            Some(def) => check_openapi(def, defs, value, at, problems),
            None => problems.push(format!("{at}: no definition {name}")),
        }
        return;
    }
    if schema.get("x-kubernetes-int-or-string") == Some(&Json::Bool(true)) {
        if !(value.is_i64() || value.is_u64() || value.is_string()) {
            problems.push(format!("{at}: must be an integer or a string"));
        }
        return;
    }
    if let Some(any) = schema.get("anyOf").and_then(Json::as_array) {
        let fits = any.iter().any(|s| {
            let mut p = Vec::new();
            check_openapi(s, defs, value, at, &mut p);
            p.is_empty()
        });
        if !fits {
            problems.push(format!("{at}: matches none of anyOf"));
        }
        return;
    }
    let ty = schema.get("type").and_then(Json::as_str).unwrap_or("");
    let ok = match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    };
    if !ok {
        problems.push(format!("{at}: must be of type {ty}"));
        return;
    }
    if let Some(items) = schema.get("items") {
        for (i, item) in value.as_array().into_iter().flatten().enumerate() {
            check_openapi(items, defs, item, &format!("{at}[{i}]"), problems);
        }
    }
    let Some(object) = value.as_object() else {
        return;
    };
    if at.ends_with("metadata") && schema.get("properties").is_none() {
        return;
    }
    let preserve = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Json::Bool(true));
    let properties = schema.get("properties").and_then(Json::as_object);
    for key in schema
        .get("required")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
    {
        if !object.contains_key(key) {
            problems.push(format!("{at}.{key} is required"));
        }
    }
    for (key, v) in object {
        let path = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        if let Some(s) = properties.and_then(|p| p.get(key)) {
            check_openapi(s, defs, v, &path, problems);
        } else if let Some(extra) = schema.get("additionalProperties") {
            if extra.is_object() {
                check_openapi(extra, defs, v, &path, problems);
            }
        } else if !preserve {
            problems.push(format!("unknown key {path}"));
        }
    }
}

/// The root schema of a CRD's first served version.
fn crd_schema(fixtures: &Path, file: &str) -> Json {
    let text = std::fs::read_to_string(fixtures.join(file)).expect("read CRD");
    let crd = yaml::parse_documents(&text)
        .expect("YAML")
        .remove(0)
        .to_json();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// `kubectl kustomize install/`, parsed.
fn rendered_install() -> (String, Vec<Json>) {
    let out = std::process::Command::new(sandbox_harness::tool("kubectl"))
        .arg("kustomize")
        .arg(common::repo_root().join("install"))
        .output()
        .expect("run kubectl kustomize");
    assert!(
        out.status.success(),
        "kubectl kustomize install/ failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let docs = yaml::parse_documents(&text)
        .expect("YAML")
        .iter()
        .map(Node::to_json)
        .collect();
    (text, docs)
}

/// Everything docs/install.md applies renders with `kubectl kustomize
/// install/` and validates against the upstream schemas, unknown keys
/// forbidden: Argo's and Argo Events' (fixtures `argo/schema.json`,
/// `argo-events/schema.json`) and Argo CD's Application and AppProject CRDs
/// (fixtures `argo-cd/`). Only core Kubernetes kinds are left unchecked.
#[test]
fn the_install_manifests_render_and_validate_against_upstream_schemas() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let argo = [
        schema(&fixtures, Family::Argo),
        schema(&fixtures, Family::Events),
    ];
    let events_doc: Json = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("argo-events/schema.json")).unwrap(),
    )
    .unwrap();
    let events_defs = &events_doc["definitions"];
    let application = crd_schema(&fixtures, "argo-cd/application-crd.yaml");
    let project = crd_schema(&fixtures, "argo-cd/appproject-crd.yaml");

    let (text, docs) = rendered_install();
    let nodes = yaml::parse_documents(&text).expect("YAML");
    let mut problems = Vec::new();
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for (doc, node) in docs.iter().zip(&nodes) {
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        let what = format!("{kind} {}", doc["metadata"]["name"]);
        *kinds.entry(kind.clone()).or_default() += 1;
        let mut found = Vec::new();
        match kind.as_str() {
            "Application" => check_openapi(&application, &Json::Null, doc, "", &mut found),
            "AppProject" => check_openapi(&project, &Json::Null, doc, "", &mut found),
            "EventBus" => check_openapi(
                &events_defs["io.argoproj.events.v1alpha1.EventBus"],
                events_defs,
                doc,
                "",
                &mut found,
            ),
            "ServiceAccount" | "Secret" | "Role" | "RoleBinding" | "ClusterRole"
            | "ClusterRoleBinding" | "ConfigMap" => {}
            _ => {
                let Some((s, root)) = argo.iter().find_map(|s| s.roots.get(&kind).map(|r| (s, r)))
                else {
                    panic!("{what}: no schema for kind {kind}");
                };
                found.extend(
                    s.check(root, node, Mode::Strict)
                        .iter()
                        .map(|p| format!("line {}: {p}", p.line())),
                );
            }
        }
        problems.extend(found.into_iter().map(|p| format!("{what}: {p}")));
    }
    for kind in [
        "Application",
        "AppProject",
        "EventBus",
        "EventSource",
        "Sensor",
        "ClusterWorkflowTemplate",
        "CronWorkflow",
        "ConfigMap",
    ] {
        assert!(
            kinds.contains_key(kind),
            "install/ renders no {kind}: {kinds:?}"
        );
    }
    assert!(
        problems.is_empty(),
        "schema problems:\n{}",
        problems.join("\n")
    );
    // The parent app-of-apps prunes, or unregister-app never removes an
    // Application.
    let parent = docs
        .iter()
        .find(|d| d["kind"] == "Application")
        .expect("the parent Application");
    assert_eq!(parent["spec"]["syncPolicy"]["automated"]["prune"], true);
    // The CRD check is strict: a misspelt key and a wrong type are caught.
    let mut bad = parent.clone();
    bad["spec"]["syncPolicy"]["automated"]["prunez"] = Json::Bool(true);
    bad["spec"]["source"]["path"] = Json::from(3);
    let mut found = Vec::new();
    check_openapi(&application, &Json::Null, &bad, "", &mut found);
    assert_eq!(
        found,
        [
            "spec.source.path: must be of type string",
            "unknown key spec.syncPolicy.automated.prunez"
        ]
    );
    // Vault's address is set where every pipeline reads it.
    for d in docs.iter().filter(|d| {
        d["kind"] == "CronWorkflow"
            || (d["kind"] == "ClusterWorkflowTemplate"
                && ["sandbox-create", "sandbox-delete"]
                    .contains(&d["metadata"]["name"].as_str().unwrap_or("")))
    }) {
        let spec = if d["kind"] == "CronWorkflow" {
            &d["spec"]["workflowSpec"]
        } else {
            &d["spec"]
        };
        let first = &spec["arguments"]["parameters"][0];
        assert_eq!(first["name"], "vault_addr", "{}", d["metadata"]["name"]);
        assert_ne!(first["value"], "https://vault.example.com:8200");
    }
}

/// The rendered install passes `sandbox lint`. The two removers the task
/// library gains separately (drop-db, cleanup-bucket) may be unresolved
/// until their generated templates exist; nothing else may be reported.
#[test]
fn the_install_manifests_pass_sandbox_lint() {
    let (text, _) = rendered_install();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("install.yaml");
    std::fs::write(&file, text).unwrap();
    let out = assert_cmd::Command::cargo_bin("sandbox")
        .unwrap()
        .arg("lint")
        .arg(&file)
        .output()
        .expect("run sandbox lint");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tasks = common::repo_root().join("cluster-workflow-templates/tasks");
    let pending: Vec<&str> = ["sandbox-drop-db", "sandbox-cleanup-bucket"]
        .into_iter()
        .filter(|t| !tasks.join(format!("{t}.yaml")).is_file())
        .collect();
    let findings: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(": ") && l.contains(".yaml:"))
        .filter(|l| {
            !pending
                .iter()
                .any(|p| l.contains(&format!("named \"{p}\"")))
        })
        .collect();
    assert!(
        findings.is_empty(),
        "sandbox lint findings on the rendered install/:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if pending.is_empty() {
        assert_eq!(out.status.code(), Some(0), "{stdout}");
    } else {
        // Lint did run over the pipelines: it saw the unresolved calls.
        for p in &pending {
            assert!(stdout.contains(p), "{stdout}");
        }
    }
}
