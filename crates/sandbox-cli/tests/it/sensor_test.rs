//! `sandbox sensor-test` as a binary, on every GitHub delivery in the
//! fixtures and on the upstream Sensor examples. Each filter result is
//! compared with a second, deliberately plain implementation of Argo
//! Events' data-filter semantics written here ([`model`]).

use super::common;

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
    // The time to ready starts at the delivery's updated_at (the label's time).
    let params = &result["triggers"][0]["resource"]["spec"]["arguments"]["parameters"];
    assert_eq!(params[2]["name"], "triggered_at");
    assert_eq!(params[2]["value"], body["pull_request"]["updated_at"]);
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

/// Run sensor-test on a Sensor given as YAML text and events given as
/// (`SOURCE:NAME` or none, file text); the JSON result and the exit code.
fn run_inline(sensor: &str, events: &[(Option<&str>, &str)], extra: &[&str]) -> (Value, i32) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sensor_path = tmp.path().join("sensor.yaml");
    std::fs::write(&sensor_path, sensor).expect("write");
    let mut cmd = sandbox();
    cmd.arg("sensor-test")
        .arg("--sensor")
        .arg(&sensor_path)
        .args(["--format", "json"]);
    for (i, (target, text)) in events.iter().enumerate() {
        let path = tmp.path().join(format!("event{i}.json"));
        std::fs::write(&path, text).expect("write");
        let arg = match target {
            Some(t) => format!("{t}={}", path.display()),
            None => path.display().to_string(),
        };
        cmd.arg("--event").arg(arg);
    }
    let output = cmd.args(extra).output().expect("run");
    let code = output.status.code().expect("exit code");
    assert!(
        code == 0 || code == 3,
        "exit {code}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        serde_json::from_slice(&output.stdout).expect("JSON output"),
        code,
    )
}

/// A Sensor with one dependency per (name, filters YAML) and a k8s trigger
/// whose ConfigMap takes `parameters` (YAML list items, indented for it).
fn sensor_yaml(deps: &[(&str, &str)], conditions: &str, parameters: &str) -> String {
    let mut out = String::from(
        "apiVersion: argoproj.io/v1alpha1\nkind: Sensor\nmetadata:\n  name: s\nspec:\n  dependencies:\n",
    );
    for (name, filters) in deps {
        out.push_str(&format!(
            "    - name: {name}\n      eventSourceName: src-{name}\n      eventName: ev-{name}\n"
        ));
        if !filters.is_empty() {
            out.push_str("      filters:\n");
            for line in filters.lines() {
                out.push_str(&format!("        {line}\n"));
            }
        }
    }
    out.push_str("  triggers:\n    - template:\n        name: t\n");
    if !conditions.is_empty() {
        out.push_str(&format!("        conditions: \"{conditions}\"\n"));
    }
    out.push_str(
        "        k8s:\n          operation: create\n          source:\n            resource:\n              apiVersion: v1\n              kind: ConfigMap\n              metadata:\n                name: x\n",
    );
    if !parameters.is_empty() {
        out.push_str("          parameters:\n");
        for line in parameters.lines() {
            out.push_str(&format!("            {line}\n"));
        }
    }
    out
}

/// `{"context": …, "data": …}` with the data text verbatim.
fn envelope(context: &Value, data: &str) -> String {
    format!("{{\"context\": {context}, \"data\": {data}}}")
}

fn dep<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no dependency {name} in {result:#}"))
}

/// govaluate as Argo Events' pinned version runs it (Knetic/govaluate
/// 9aa49832a739: parsing.go readToken/tryParseTime, EvaluableExpression.go
/// evaluateStage), one dependency per rule.
#[test]
fn expressions_follow_govaluate() {
    let expr = |e: &str, fields: &[&str]| {
        let mut f = format!(
            "exprs:\n  - expr: '{}'\n    fields:\n",
            e.replace('\'', "''")
        );
        for field in fields {
            f.push_str(&format!("      - name: {field}\n        path: {field}\n"));
        }
        f
    };
    let cases: Vec<(&str, String, bool, &str)> = vec![
        // (dependency, filters, matched, text in why)
        (
            "or-skips-missing",
            expr(r#"a == "x" || missing == 1"#, &["a"]),
            true,
            "is true",
        ),
        (
            "and-skips-missing",
            expr(r#"a == "y" && missing == 1"#, &["a"]),
            false,
            "is false",
        ),
        (
            "and-needs-missing",
            expr(r#"a == "x" && missing == 1"#, &["a"]),
            false,
            "No parameter 'missing' found",
        ),
        (
            "escaped-quote",
            expr(r"title == 'it\'s'", &["title"]),
            true,
            "is true",
        ),
        (
            "either-quote-ends",
            expr(r#"title == "it's""#, &["title"]),
            false,
            "error",
        ),
        (
            "backslash-eaten",
            expr(r"num =~ '^\d+$'", &["num"]),
            false,
            "is false",
        ),
        (
            "backslash-escaped",
            expr(r"num =~ '^\\d+$'", &["num"]),
            true,
            "is true",
        ),
        (
            "date-literal-is-unix-time",
            expr("created > '2023-11-14'", &["created"]),
            true,
            "is true",
        ),
        (
            "date-string-vs-date-literal",
            expr("day == '2023-11-14'", &["day"]),
            false,
            "is false",
        ),
        ("upper-in", expr("a IN ('w', 'x')", &["a"]), true, "is true"),
        (
            "ternary",
            expr("(draft ? 'skip' : 'run') == 'run'", &["draft"]),
            true,
            "is true",
        ),
        (
            "coalesce",
            expr("(label ?? 'none') == 'none'", &["label"]),
            true,
            "is true",
        ),
        (
            "no-functions",
            expr("len(title) > 1", &["title"]),
            false,
            "Undefined function len",
        ),
        (
            "symbol-run",
            expr("num ==-1", &["num"]),
            false,
            "Invalid token",
        ),
    ];
    let deps: Vec<(&str, &str)> = cases.iter().map(|(n, f, _, _)| (*n, f.as_str())).collect();
    let data = r#"{"a": "x", "title": "it's", "num": "42", "created": 1700000000, "day": "2023-11-14", "draft": false, "label": null}"#;
    let (result, code) = run_inline(
        &sensor_yaml(&deps, "", ""),
        &[(None, data)],
        &["--as-event-data", "--strict"],
    );
    assert_eq!(code, 0, "{result:#}");
    for (name, _, matched, why) in &cases {
        let d = dep(&result, name);
        assert_eq!(d["matched"], json!(matched), "{name}: {d:#}");
        let text = d["filters"][0]["why"].as_str().unwrap();
        assert!(text.contains(why), "{name}: {text}");
        assert!(!text.starts_with("unsupported"), "{name}: {text}");
    }
}

/// listener.go getDependencyExpression: a `-` in the conditions is looked
/// up as `_`, so `pr_opened` names the dependency `pr-opened`; the
/// expression is then evaluated by govaluate as the event bus does.
#[test]
fn conditions_read_dashes_as_underscores() {
    let sensor = sensor_yaml(
        &[("pr-opened", ""), ("push_event", "")],
        "pr_opened || push-event",
        "",
    );
    let (result, _) = run_inline(
        &sensor,
        &[(Some("src-pr-opened:ev-pr-opened"), "{}")],
        &["--as-event-data"],
    );
    let t = &result["triggers"][0];
    assert_eq!(t["fires"], true, "{result:#}");
    assert!(t.get("error").is_none(), "{t:#}");
    let sensor = sensor_yaml(&[("pr-opened", "")], "pr-opened && nope", "");
    let (result, _) = run_inline(&sensor, &[(None, "{}")], &["--as-event-data"]);
    let t = &result["triggers"][0];
    assert_eq!(t["fires"], false);
    assert!(
        t["error"].as_str().unwrap().contains("unknown name nope"),
        "{t:#}"
    );
}

/// Several events: each reaches the dependencies of its event source and
/// name; `a && b` fires only once both have passed, with both events'
/// parameters (pkg/eventbus/jetstream/sensor/trigger_conn.go).
#[test]
fn several_events_meet_and_conditions() {
    let params = "- src:\n    dependencyName: a\n    dataKey: who\n  dest: data.a\n- src:\n    dependencyName: b\n    dataKey: who\n    value: nobody\n  dest: data.b\n";
    let sensor = sensor_yaml(&[("a", ""), ("b", "")], "a && b", params);
    let only_a = [(Some("src-a:ev-a"), r#"{"who": "alice"}"#)];
    let (result, _) = run_inline(&sensor, &only_a, &["--as-event-data"]);
    assert_eq!(result["triggers"][0]["fires"], false, "{result:#}");
    assert_eq!(dep(&result, "b")["matched"], false);
    assert!(
        dep(&result, "b")["filters"][0]["why"]
            .as_str()
            .unwrap()
            .contains("no --event reaches it")
    );
    let both = [
        (Some("src-a:ev-a"), r#"{"who": "alice"}"#),
        (Some("src-b"), r#"{"who": "bob"}"#),
    ];
    let (result, _) = run_inline(&sensor, &both, &["--as-event-data"]);
    let t = &result["triggers"][0];
    assert_eq!(t["fires"], true, "{result:#}");
    assert_eq!(t["resource"]["data"], json!({"a": "alice", "b": "bob"}));
    let label = dep(&result, "a")["event"].as_str().expect("event label");
    assert!(label.starts_with("src-a:ev-a="), "{label}");
    // A bare event reaches every dependency.
    let (result, _) = run_inline(
        &sensor,
        &[(None, r#"{"who": "carol"}"#)],
        &["--as-event-data"],
    );
    assert_eq!(
        result["triggers"][0]["resource"]["data"],
        json!({"a": "carol", "b": "carol"})
    );
    // Without `&&` each passing event fires the trigger alone.
    let sensor = sensor_yaml(&[("a", ""), ("b", "")], "a || b", params);
    let (result, _) = run_inline(&sensor, &both, &["--as-event-data"]);
    let t = &result["triggers"][0];
    assert_eq!(
        t["resource"]["data"],
        json!({"a": "alice", "b": "nobody"}),
        "{t:#}"
    );
    assert!(
        t["warnings"][0].as_str().unwrap().contains("fires 2 times"),
        "{t:#}"
    );
}

/// Go's regexp (RE2): `\d`, `\w`, `\s` and `\b` are ASCII only.
#[test]
fn regular_expressions_are_go_re2() {
    let filter = |value: &str| {
        format!("data:\n  - path: s\n    type: string\n    value:\n      - '{value}'\n")
    };
    let digits = filter(r"^\d+$");
    let word = filter(r"^\w+$");
    let boundary = filter(r"\bfix\b");
    let sensor = sensor_yaml(
        &[
            ("digits", &digits),
            ("word", &word),
            ("boundary", &boundary),
        ],
        "digits",
        "",
    );
    // Arabic-Indic digits, Cyrillic letters: Unicode classes would match.
    let (result, _) = run_inline(&sensor, &[(None, r#"{"s": "٣٤"}"#)], &["--as-event-data"]);
    assert_eq!(dep(&result, "digits")["matched"], false, "{result:#}");
    let (result, _) = run_inline(&sensor, &[(None, r#"{"s": "жук"}"#)], &["--as-event-data"]);
    assert_eq!(dep(&result, "word")["matched"], false, "{result:#}");
    let (result, _) = run_inline(
        &sensor,
        &[(None, r#"{"s": "éfixé"}"#)],
        &["--as-event-data"],
    );
    assert_eq!(
        dep(&result, "boundary")["matched"],
        true,
        "é is no ASCII word character: {result:#}"
    );
    let (result, _) = run_inline(&sensor, &[(None, r#"{"s": "2024"}"#)], &["--as-event-data"]);
    assert_eq!(dep(&result, "digits")["matched"], true);
}

/// Parameters read the event's bytes as received: gjson's String() of a
/// number is its raw text for integers (however large) and Go's float
/// formatting otherwise; useRawData inserts the raw JSON.
#[test]
fn parameters_read_the_raw_event() {
    let params = "- src:\n    dependencyName: d\n    dataKey: big\n  dest: data.big\n- src:\n    dependencyName: d\n    dataKey: price\n  dest: data.price\n- src:\n    dependencyName: d\n    dataKey: hundred\n  dest: data.hundred\n- src:\n    dependencyName: d\n    dataKey: id\n    useRawData: true\n  dest: data.id\n- src:\n    dependencyName: d\n    dataKey: nested\n    useRawData: true\n  dest: data.nested\n";
    let sensor = sensor_yaml(&[("d", "")], "", params);
    let data = r#"{"big": 123456789012345678901234567890, "price": 1.50, "hundred": 1e2, "id": 9007199254740993, "nested": {"k": [1, "two"]}}"#;
    let (result, _) = run_inline(&sensor, &[(None, data)], &["--as-event-data"]);
    let got = &result["triggers"][0]["resource"]["data"];
    assert_eq!(got["big"], "123456789012345678901234567890", "{result:#}");
    assert_eq!(got["price"], "1.5");
    assert_eq!(got["hundred"], "100");
    assert_eq!(got["id"], json!(9_007_199_254_740_993_u64));
    assert_eq!(got["nested"], json!({"k": [1, "two"]}));
}

/// filter.go filterContext and filterTime on the event's context; a
/// timezone is read from the zoneinfo files as time.LoadLocation does.
#[test]
fn context_and_time_filters() {
    let ctx = json!({"type": "webhook", "source": "hooks", "subject": "push", "time": "2024-07-15T14:00:00Z"});
    let deps = [
        ("ctx-ok", "context:\n  type: webhook\n  source: hooks\n"),
        ("ctx-no", "context:\n  subject: pull\n"),
        (
            "utc-window",
            "time:\n  start: \"13:00:00\"\n  stop: \"15:00:00\"\n",
        ),
        (
            "overnight",
            "time:\n  start: \"22:00:00\"\n  stop: \"06:00:00\"\n",
        ),
        (
            "bad-time",
            "time:\n  start: \"9:0\"\n  stop: \"15:00:00\"\n",
        ),
        (
            "new-york",
            "time:\n  start: \"09:00:00\"\n  stop: \"11:00:00\"\n  timezone: America/New_York\n",
        ),
        (
            "no-zone",
            "time:\n  start: \"09:00:00\"\n  stop: \"11:00:00\"\n  timezone: Nowhere/Atlantis\n",
        ),
    ];
    let sensor = sensor_yaml(&deps, "ctx-ok", "");
    let (result, _) = run_inline(&sensor, &[(None, &envelope(&ctx, "{}"))], &[]);
    for (name, matched) in [
        ("ctx-ok", true),
        ("ctx-no", false),
        ("utc-window", true),
        ("overnight", false),
        ("bad-time", false),
        ("no-zone", false),
    ] {
        assert_eq!(
            dep(&result, name)["matched"],
            json!(matched),
            "{name}: {result:#}"
        );
    }
    assert!(
        dep(&result, "bad-time")["filters"][0]["why"]
            .as_str()
            .unwrap()
            .starts_with("error")
    );
    let ny = &dep(&result, "new-york")["filters"][0];
    if !ny["why"].as_str().unwrap().starts_with("unsupported") {
        // 14:00 UTC is 10:00 EDT.
        assert_eq!(ny["result"], true, "{ny:#}");
    }
    // Without a context in the file, source and subject are the
    // dependency's; the type is unknown and said so.
    let sensor = sensor_yaml(
        &[
            ("d", "context:\n  source: src-d\n  subject: ev-d\n"),
            ("t", "context:\n  type: github\n"),
        ],
        "d",
        "",
    );
    let (result, code) = run_inline(&sensor, &[(None, "{}")], &["--as-event-data", "--strict"]);
    assert_eq!(dep(&result, "d")["matched"], true, "{result:#}");
    assert!(
        dep(&result, "t")["filters"][0]["why"]
            .as_str()
            .unwrap()
            .starts_with("unsupported:")
    );
    assert_eq!(code, 3);
}

/// params.go ResolveParamValue with contextKey, contextTemplate, and no key
/// at all (the whole event, its data base64 as a Go []byte marshals).
#[test]
fn context_parameters() {
    let params = "- src:\n    dependencyName: d\n    contextKey: subject\n  dest: data.subject\n- src:\n    dependencyName: d\n    contextTemplate: '{{ .Input.type | upper }}'\n  dest: data.type\n- src:\n    dependencyName: d\n  dest: data.whole\n";
    let sensor = sensor_yaml(&[("d", "")], "", params);
    let ctx = json!({"id": "1", "type": "webhook", "source": "hooks", "subject": "push", "specversion": "1.0", "datacontenttype": "application/json", "time": "2024-07-15T14:00:00Z"});
    let (result, _) = run_inline(&sensor, &[(None, &envelope(&ctx, r#"{"x": 1}"#))], &[]);
    let got = &result["triggers"][0]["resource"]["data"];
    assert_eq!(got["subject"], "push", "{result:#}");
    assert_eq!(got["type"], "WEBHOOK");
    let whole: Value = serde_json::from_str(got["whole"].as_str().unwrap()).unwrap();
    assert_eq!(whole["context"]["time"], "2024-07-15T14:00:00Z");
    assert_eq!(
        whole["data"], "eyJ4IjogMX0=",
        "base64 of the bytes as received"
    );
}

/// The sprig functions Argo Events templates use.
#[test]
fn sprig_functions_in_templates() {
    let param = |i: usize, tmpl: &str| {
        format!(
            "- src:\n    dependencyName: d\n    dataTemplate: '{}'\n  dest: data.p{i}\n",
            tmpl.replace('\'', "''")
        )
    };
    let templates = [
        "{{ .Input.msg | b64enc }}",
        "{{ b64dec .Input.enc }}",
        "{{ .Input.obj | toJson }}",
        "{{ .Input.title | quote }}",
        r#"{{ .Input.title | trimPrefix "WIP: " | lower | replace " " "-" }}"#,
        r#"{{ contains "WIP" .Input.title }}"#,
        "{{ index .Input.labels 1 }}",
        "{{ .Input.big }}",
    ];
    let params: String = templates
        .iter()
        .enumerate()
        .map(|(i, t)| param(i, t))
        .collect();
    let sensor = sensor_yaml(&[("d", "")], "", &params);
    let data = r#"{"msg": "hi", "enc": "aGVsbG8=", "obj": {"b": 1.0, "a": "<x>"}, "title": "WIP: Fix It", "labels": ["x", "y"], "big": 1234567}"#;
    let (result, code) = run_inline(&sensor, &[(None, data)], &["--as-event-data", "--strict"]);
    assert_eq!(code, 0, "{result:#}");
    let got = &result["triggers"][0]["resource"]["data"];
    assert_eq!(got["p0"], "aGk=", "{result:#}");
    assert_eq!(got["p1"], "hello");
    // json.Marshal: sorted keys, float64 1 as 1, HTML characters escaped.
    assert_eq!(got["p2"], r#"{"a":"\u003cx\u003e","b":1}"#);
    assert_eq!(got["p3"], r#""WIP: Fix It""#);
    assert_eq!(got["p4"], "fix-it");
    assert_eq!(got["p5"], "true");
    assert_eq!(got["p6"], "y");
    // A JSON number is a float64 in the template.
    assert_eq!(got["p7"], "1.234567e+06");
}

/// What sensor-test cannot evaluate is said, starting `unsupported:`, and
/// --strict turns it into exit 3.
#[test]
fn unsupported_is_said_and_strict_exits_3() {
    let sensor = sensor_yaml(&[("lua", "script: return true\n")], "", "");
    let (result, code) = run_inline(&sensor, &[(None, "{}")], &["--as-event-data"]);
    assert_eq!(code, 0);
    assert!(
        dep(&result, "lua")["filters"][0]["why"]
            .as_str()
            .unwrap()
            .starts_with("unsupported:")
    );
    let (_, code) = run_inline(&sensor, &[(None, "{}")], &["--as-event-data", "--strict"]);
    assert_eq!(code, 3);
    let params = "- src:\n    dependencyName: d\n    dataTemplate: '{{ range .Input.l }}{{ . }}{{ end }}'\n  dest: data.x\n";
    let sensor = sensor_yaml(&[("d", "")], "", params);
    let (result, code) = run_inline(
        &sensor,
        &[(None, r#"{"l": [1]}"#)],
        &["--as-event-data", "--strict"],
    );
    assert_eq!(code, 3);
    assert!(
        result["triggers"][0]["error"]
            .as_str()
            .unwrap()
            .starts_with("unsupported:"),
        "{result:#}"
    );
    let sensor = sensor_yaml(&[("d", "")], "", "");
    let (_, code) = run_inline(&sensor, &[(None, "{}")], &["--as-event-data", "--strict"]);
    assert_eq!(code, 0);
    // Argo Events' own error for a type it does not know is a verdict
    // (the event is discarded), not something sensor-test cannot evaluate.
    let filters = "data:\n  - path: a\n    type: integer\n    value: [\"1\"]\n";
    let sensor = sensor_yaml(&[("d", filters)], "", "");
    let (result, code) = run_inline(
        &sensor,
        &[(None, r#"{"a": 1}"#)],
        &["--as-event-data", "--strict"],
    );
    assert_eq!(code, 0, "{result:#}");
    let why = dep(&result, "d")["filters"][0]["why"].as_str().unwrap();
    assert!(
        why.starts_with("error: unsupported JSON type 'integer'"),
        "{why}"
    );
}
