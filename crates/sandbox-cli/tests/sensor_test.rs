//! `sandbox sensor-test` as a binary, on every GitHub delivery in the
//! fixtures and on the upstream Sensor examples. Each filter result is
//! compared with a second, deliberately plain implementation of Argo
//! Events' data-filter semantics written here ([`model`]).

mod common;

use assert_cmd::Command;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn sandbox() -> Command {
    Command::cargo_bin("sandbox").expect("the sandbox binary")
}

fn events_dir() -> PathBuf {
    common::repo_root().join("cluster-workflow-templates/events")
}

/// Run sensor-test and parse its JSON.
fn run(sensor: &Path, event: &Path, extra: &[&str]) -> Value {
    let output = sandbox()
        .arg("sensor-test")
        .arg("--sensor")
        .arg(sensor)
        .arg("--event")
        .arg(event)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

fn sensor_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read sensor");
    let docs = sandbox_cli::yaml::parse_documents(&text).expect("YAML");
    docs.iter()
        .find(|d| d.get("kind").and_then(|k| k.as_str()) == Some("Sensor"))
        .expect("a Sensor")
        .to_json()
}

/// The second implementation: what a Sensor's data filter should give.
mod model {
    use regex::Regex;
    use serde_json::{Value, json};

    /// Event data as the GitHub event source sends it: the header list and
    /// the body with the event name copied in.
    pub(super) fn github_data(body: &Value, event: &str) -> Value {
        let mut body = body.clone();
        body["X-GitHub-Event"] = json!(event);
        body["X-GitHub-Delivery"] = json!("test");
        json!({"headers": {"X-Github-Event": [event]}, "body": body})
    }

    /// Walk a dotted path: object keys, array indexes, and a
    /// `#(key=="value")` query that picks the first matching element.
    pub(super) fn get<'a>(data: &'a Value, path: &str) -> Option<&'a Value> {
        let mut current = data;
        let mut rest = path;
        while !rest.is_empty() {
            let (part, tail) = if let Some(query) = rest.strip_prefix("#(") {
                let end = query.find(')')?;
                (
                    &rest[..end + 3],
                    query[end + 1..].strip_prefix('.').unwrap_or(""),
                )
            } else {
                rest.split_once('.').unwrap_or((rest, ""))
            };
            current = if let Some(query) = part.strip_prefix("#(").and_then(|q| q.strip_suffix(')'))
            {
                let (key, wanted) = query.split_once("==")?;
                let wanted = wanted.trim_matches('"');
                current
                    .as_array()?
                    .iter()
                    .find(|item| item[key] == wanted)?
            } else if let Ok(i) = part.parse::<usize>() {
                current.get(i).or_else(|| current.get(part))?
            } else {
                current.get(part)?
            };
            rest = tail;
        }
        Some(current)
    }

    fn text(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }

    /// Whether a data filter passes (a missing path fails it).
    pub(super) fn filter(f: &Value, data: &Value) -> bool {
        let Some(found) = get(data, f["path"].as_str().unwrap()) else {
            return false;
        };
        let values: Vec<&str> = f["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let comparator = f["comparator"].as_str().unwrap_or("=");
        match f["type"].as_str().unwrap() {
            "string" => {
                let hit = values
                    .iter()
                    .any(|v| Regex::new(v).unwrap().is_match(&text(found)));
                if comparator == "!=" { !hit } else { hit }
            }
            "number" => {
                let got = found
                    .as_f64()
                    .or_else(|| text(found).parse().ok())
                    .unwrap_or(0.0);
                values
                    .iter()
                    .map(|v| v.parse::<f64>().unwrap())
                    .any(|want| match comparator {
                        ">" => got > want,
                        ">=" => got >= want,
                        "<" => got < want,
                        "<=" => got <= want,
                        "!=" => got != want,
                        _ => got == want,
                    })
            }
            "bool" => {
                let got = found.as_bool().unwrap_or(false);
                values.iter().any(|v| v.parse::<bool>().unwrap() == got)
            }
            other => panic!("model: no type {other}"),
        }
    }
}

/// Check the tool's per-filter results against the model, and that a
/// dependency matched exactly when all its filters passed (or, with
/// dataLogicalOperator or, when one did).
fn check_against_model(sensor: &Value, result: &Value, data: &Value, context: &str) {
    let deps = sensor["spec"]["dependencies"].as_array().unwrap();
    for (dep, got) in deps.iter().zip(result["dependencies"].as_array().unwrap()) {
        assert_eq!(dep["name"], got["name"]);
        let filters = dep["filters"]["data"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut expected = Vec::new();
        for (f, g) in filters.iter().zip(got["filters"].as_array().unwrap()) {
            assert_eq!(f["path"], g["path"], "{context}");
            let want = model::filter(f, data);
            assert_eq!(
                g["result"],
                json!(want),
                "{context}: {} ({})",
                f["path"],
                g["why"]
            );
            expected.push(want);
        }
        let or = dep["filters"]["dataLogicalOperator"] == "or";
        let matched = if or {
            expected.iter().any(|x| *x)
        } else {
            expected.iter().all(|x| *x)
        };
        assert_eq!(got["matched"], json!(matched), "{context}: {}", dep["name"]);
    }
}

/// The fixture deliveries, each with the GitHub event named by its folder.
fn deliveries(fixtures: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(fixtures.join("github/webhooks"))
        .expect("webhooks")
        .flatten()
    {
        let event = dir.file_name().to_string_lossy().to_string();
        for file in std::fs::read_dir(dir.path()).expect("dir").flatten() {
            out.push((file.path(), event.clone()));
        }
    }
    out.sort();
    assert!(
        out.len() >= 15,
        "expected the fixture deliveries, found {}",
        out.len()
    );
    out
}

/// The same delivery with its "bug" label renamed create-sandbox (and the
/// label added to pull requests that have none).
fn with_sandbox_label(body: &Value) -> Value {
    let mut body = body.clone();
    if body["label"]["name"].is_string() {
        body["label"]["name"] = json!("create-sandbox");
    }
    if let Some(labels) = body["pull_request"]["labels"].as_array_mut() {
        labels.retain(|l| l["name"] != "bug");
        labels.push(json!({"name": "create-sandbox", "color": "0e8a16"}));
    }
    body
}

#[test]
fn sandbox_sensors_on_every_github_delivery() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let create = events_dir().join("sandbox-create-sensor.yaml");
    let delete = events_dir().join("sandbox-delete-sensor.yaml");
    let sensors = [
        ("create", sensor_json(&create), &create),
        ("delete", sensor_json(&delete), &delete),
    ];
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut fired: BTreeSet<(String, &str, &str)> = BTreeSet::new();
    for (file, event) in deliveries(&fixtures) {
        let original: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("JSON");
        let name = file
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches(".json")
            .to_string();
        let variants: Vec<(&str, Value)> = if original.get("pull_request").is_some() {
            vec![
                ("as recorded", original.clone()),
                ("with create-sandbox", with_sandbox_label(&original)),
            ]
        } else {
            vec![("as recorded", original.clone())]
        };
        for (variant, body) in variants {
            let path = tmp
                .path()
                .join(format!("{name}.{}.json", variant.replace(' ', "-")));
            std::fs::write(&path, body.to_string()).expect("write");
            let data = model::github_data(&body, &event);
            let action = body["action"].as_str().unwrap_or("");
            let label = body["label"]["name"].as_str().unwrap_or("");
            let has_label =
                model::get(&body, "pull_request.labels.#(name==\"create-sandbox\")").is_some();
            let open = body["pull_request"]["state"] == "open";
            let is_pr = event == "pull_request";
            for (which, sensor, sensor_path) in &sensors {
                let context = format!("{which} sensor, {event}/{name} {variant}");
                let result = run(sensor_path, &path, &["--github-event", &event]);
                check_against_model(sensor, &result, &data, &context);
                let expected = match *which {
                    "create" => {
                        is_pr
                            && open
                            && ((action == "labeled" && label == "create-sandbox")
                                || (matches!(action, "opened" | "reopened") && has_label))
                    }
                    _ => {
                        is_pr
                            && (action == "closed"
                                || (action == "unlabeled" && label == "create-sandbox"))
                    }
                };
                let trigger = &result["triggers"][0];
                assert_eq!(trigger["fires"], json!(expected), "{context}: {result:#}");
                if !expected {
                    assert_eq!(trigger["resource"], Value::Null, "{context}");
                    continue;
                }
                fired.insert((name.clone(), variant, which));
                let number = body["pull_request"]["number"].as_u64().expect("PR number");
                let resource = &trigger["resource"];
                assert_eq!(
                    resource["metadata"]["generateName"],
                    json!(format!("sandbox-{which}-pr-{number}-")),
                    "{context}"
                );
                assert_eq!(
                    resource["spec"]["workflowTemplateRef"],
                    json!({"name": format!("sandbox-{which}"), "clusterScope": true})
                );
                let params = &resource["spec"]["arguments"]["parameters"];
                assert_eq!(params[0]["name"], "pr_number");
                assert_eq!(params[0]["value"], json!(number.to_string()), "{context}");
                assert_eq!(params[1]["name"], "github_repo");
                assert_eq!(
                    params[1]["value"], body["repository"]["full_name"],
                    "{context}"
                );
            }
        }
    }
    // What the issue asks for, spelled out.
    let fires = |name: &str, variant: &str, which: &str| {
        fired.contains(&(name.to_string(), variant, which))
    };
    for name in ["labeled", "opened", "reopened"] {
        assert!(
            fires(name, "with create-sandbox", "create"),
            "{name} with the label creates"
        );
        assert!(
            !fires(name, "as recorded", "create"),
            "{name} without the label does not create"
        );
    }
    assert!(
        !fires("unlabeled", "with create-sandbox", "create"),
        "unlabeled does not create (anchored ^labeled$)"
    );
    for name in ["closed.merged", "closed.not-merged"] {
        assert!(fires(name, "as recorded", "delete"), "{name} deletes");
    }
    assert!(fires("unlabeled", "with create-sandbox", "delete"));
    assert!(
        !fires("unlabeled", "as recorded", "delete"),
        "removing another label deletes nothing"
    );
    for name in [
        "synchronize",
        "ping",
        "ping.with-app_id",
        "push",
        "push.with-new-branch",
        "edited",
    ] {
        assert!(
            fired.iter().all(|(n, _, _)| n != name),
            "nothing fires for {name}"
        );
    }
}

#[test]
fn whole_json_output() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let body: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("github/webhooks/pull_request/labeled.json"))
            .expect("read"),
    )
    .expect("JSON");
    let tmp = tempfile::tempdir().expect("tempdir");
    let event = tmp.path().join("labeled.json");
    std::fs::write(&event, with_sandbox_label(&body).to_string()).expect("write");
    let result = run(
        &events_dir().join("sandbox-create-sensor.yaml"),
        &event,
        &[],
    );
    insta::assert_json_snapshot!(result);
}

#[test]
fn upstream_github_sensor_example() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let sensor_path = fixtures.join("argo-events/sensors/github.yaml");
    let event = fixtures.join("github/webhooks/pull_request/opened.json");
    let body: Value =
        serde_json::from_str(&std::fs::read_to_string(&event).expect("read")).expect("JSON");
    let result = run(&sensor_path, &event, &[]);
    check_against_model(
        &sensor_json(&sensor_path),
        &result,
        &model::github_data(&body, "pull_request"),
        "github.yaml",
    );
    // The header is a list; the unanchored "pull_request" matches its JSON text.
    assert_eq!(result["dependencies"][0]["filters"][0]["result"], true);
    let trigger = &result["triggers"][0];
    assert_eq!(trigger["fires"], true);
    let params = &trigger["resource"]["spec"]["arguments"]["parameters"];
    assert_eq!(params[0]["value"], body["pull_request"]["title"]);
    assert_eq!(params[1]["value"], "2");
    assert_eq!(params[2]["value"], "ec26c3e");
    // append to a missing metadata.name sets it.
    assert_eq!(trigger["resource"]["metadata"]["name"], "2-ec26c3e");
}

#[test]
#[allow(clippy::approx_constant)] // 3.14 is the examples' documented payload
fn upstream_data_filter_examples() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let cases = [
        // (example, event data, dependency matches)
        (
            "filter-with-data-simple-1.yaml",
            json!({"body": {"message": "hey you"}}),
            true,
        ),
        (
            "filter-with-data-simple-1.yaml",
            json!({"body": {"message": "bye"}}),
            false,
        ),
        (
            "filter-with-data-simple-4.yaml",
            json!({"body": {"value": 60}}),
            true,
        ),
        (
            "filter-with-data-simple-4.yaml",
            json!({"body": {"value": "40"}}),
            false,
        ),
        (
            "filter-with-data-advanced.yaml",
            json!({"a": true, "b": {"c": 3.14, "d": "hello, world"}}),
            true,
        ),
        (
            "filter-with-data-advanced.yaml",
            json!({"a": true, "b": {"c": 3.15, "d": "hello, world"}}),
            false,
        ),
        (
            "filter-with-multiple-data-filters-in-or.yaml",
            json!({"a": true, "b": {"c": 3.14, "d": "hello, world"}}),
            true,
        ),
        (
            "filter-with-multiple-data-filters-in-or.yaml",
            json!({"a": false, "b": {"c": 1, "d": "x"}}),
            false,
        ),
    ];
    for (i, (example, data, matches)) in cases.iter().enumerate() {
        let sensor_path = fixtures.join("argo-events/sensors").join(example);
        let event = tmp.path().join(format!("{i}.json"));
        std::fs::write(&event, data.to_string()).expect("write");
        let result = run(&sensor_path, &event, &["--as-event-data"]);
        let context = format!("{example} on {data}");
        check_against_model(&sensor_json(&sensor_path), &result, data, &context);
        assert_eq!(
            result["dependencies"][0]["matched"],
            json!(matches),
            "{context}"
        );
        let trigger = &result["triggers"][0];
        assert_eq!(trigger["fires"], json!(matches), "{context}");
        if !matches {
            continue;
        }
        if example.starts_with("filter-with-data-simple") {
            let want = if *example == "filter-with-data-simple-1.yaml" {
                "hey you"
            } else {
                "60"
            };
            assert_eq!(
                trigger["resource"]["spec"]["arguments"]["parameters"][0]["value"], want,
                "{context}"
            );
        } else {
            // These two examples take dataKey "name", which their documented
            // payload lacks and which has no default: Argo Events fails the
            // trigger ("unable to resolve 'test-dep' parameter value").
            assert_eq!(trigger["resource"], Value::Null, "{context}");
            assert!(
                trigger["error"]
                    .as_str()
                    .unwrap()
                    .contains("unable to resolve 'test-dep'"),
                "{context}"
            );
        }
    }
}

/// Expression filters: fields by GJSON path, a govaluate expression each,
/// combined by exprLogicalOperator.
#[test]
fn expression_filters() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sensor = tmp.path().join("sensor.yaml");
    std::fs::write(
        &sensor,
        r#"apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata:
  name: exprs
spec:
  dependencies:
    - name: big-pr
      eventSourceName: github
      eventName: pull_request
      filters:
        exprs:
          - expr: number > 1 && action =~ "^(opened|reopened)$"
            fields:
              - name: number
                path: body.number
              - name: action
                path: body.action
          - expr: draft == false
            fields:
              - name: draft
                path: body.pull_request.draft
  triggers:
    - template:
        name: log
        log: {}
"#,
    )
    .expect("write");
    let event = tmp.path().join("event.json");
    let cases = [
        (
            json!({"number": 2, "action": "opened", "pull_request": {"draft": false}}),
            true,
            [true, true],
        ),
        (
            json!({"number": 2, "action": "closed", "pull_request": {"draft": false}}),
            false,
            [false, true],
        ),
        (
            json!({"number": 2, "action": "opened"}),
            false,
            [true, false],
        ),
    ];
    for (body, matched, each) in cases {
        std::fs::write(&event, body.to_string()).expect("write");
        let result = run(&sensor, &event, &[]);
        let dep = &result["dependencies"][0];
        assert_eq!(dep["matched"], json!(matched), "{result:#}");
        let got: Vec<&Value> = dep["filters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| &f["result"])
            .collect();
        assert_eq!(
            got,
            each.iter()
                .map(|b| json!(b))
                .collect::<Vec<_>>()
                .iter()
                .collect::<Vec<_>>(),
            "{result:#}"
        );
        assert_eq!(result["triggers"][0]["fires"], json!(matched));
    }
}

#[test]
fn unreadable_input_exits_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let event = tmp.path().join("event.json");
    std::fs::write(&event, "not json").expect("write");
    let sensor = events_dir().join("sandbox-create-sensor.yaml");
    sandbox()
        .arg("sensor-test")
        .arg("--sensor")
        .arg(&sensor)
        .arg("--event")
        .arg(&event)
        .assert()
        .code(2);
    sandbox()
        .args(["sensor-test", "--sensor", "/nonexistent.yaml", "--event"])
        .arg(&event)
        .assert()
        .code(2);
}
