//! The sandbox-wake Sensor under `sandbox sensor-test`, on copies of the
//! recorded issue_comment deliveries with the comment body and
//! author_association edited: it fires for `/sandbox wake` from the
//! repository's owner, members and collaborators on a pull request, and
//! not from anyone else, not for another comment, not on a plain issue.

use super::common;

use assert_cmd::Command;
use serde_json::{Value, json};
use std::path::Path;

fn sensor() -> std::path::PathBuf {
    common::repo_root().join("cluster-workflow-templates/events/sandbox-wake-sensor.yaml")
}

/// sensor-test on `body` delivered as an issue_comment.
fn run(body: &Value) -> Value {
    run_as(body, "issue_comment")
}

/// sensor-test on `body` delivered as GitHub event `event`.
fn run_as(body: &Value, event_name: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("delivery.json");
    std::fs::write(&event, serde_json::to_vec(body).unwrap()).unwrap();
    let output = Command::cargo_bin("sandbox")
        .unwrap()
        .arg("sensor-test")
        .arg("--sensor")
        .arg(sensor())
        .arg("--event")
        .arg(&event)
        .args(["--github-event", event_name, "--format", "json", "--strict"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn delivery(fixtures: &Path, name: &str, comment: &str, association: &str) -> Value {
    let text =
        std::fs::read_to_string(fixtures.join("github/webhooks/issue_comment").join(name)).unwrap();
    let mut body: Value = serde_json::from_str(&text).unwrap();
    body["comment"]["body"] = json!(comment);
    body["comment"]["author_association"] = json!(association);
    body
}

#[test]
fn wake_fires_for_a_collaborators_command_on_a_pull_request_only() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let on_pr = "created.on-pull-request.json";
    for association in ["OWNER", "MEMBER", "COLLABORATOR"] {
        for comment in ["/sandbox wake", "/sandbox wake\r\n", "  /sandbox  wake "] {
            let body = delivery(&fixtures, on_pr, comment, association);
            let result = run(&body);
            let trigger = &result["triggers"][0];
            assert_eq!(
                trigger["fires"], true,
                "{association} {comment:?}: {result:#}"
            );
            let resource = &trigger["resource"];
            assert_eq!(
                resource["spec"]["workflowTemplateRef"]["name"],
                "sandbox-wake-pr"
            );
            let params = &resource["spec"]["arguments"]["parameters"];
            assert_eq!(params[0]["value"], body["issue"]["number"].to_string());
            assert_eq!(params[1]["value"], body["repository"]["full_name"]);
            assert_eq!(
                resource["metadata"]["generateName"],
                format!("sandbox-wake-pr-{}-", body["issue"]["number"])
            );
        }
    }
    // Not from an outside user, not for another comment.
    for (comment, association) in [
        ("/sandbox wake", "CONTRIBUTOR"),
        ("/sandbox wake", "NONE"),
        ("/sandbox wake", "FIRST_TIME_CONTRIBUTOR"),
        ("trigger abc", "COLLABORATOR"),
        ("please /sandbox wake", "OWNER"),
        ("/sandbox wake now", "OWNER"),
    ] {
        let result = run(&delivery(&fixtures, on_pr, comment, association));
        assert_eq!(
            result["triggers"][0]["fires"], false,
            "{association} {comment:?}: {result:#}"
        );
    }
    // Not on a plain issue, even from its owner.
    for name in [
        "created.on-issue.json",
        "created.on-issue.with-installation.json",
    ] {
        let result = run(&delivery(&fixtures, name, "/sandbox wake", "OWNER"));
        assert_eq!(result["triggers"][0]["fires"], false, "{name}: {result:#}");
    }
    // The recorded owner's PR comment (`/build`) edited to the command fires.
    let result = run(&delivery(
        &fixtures,
        "created.on-pull-request.owner.json",
        "/sandbox wake",
        "OWNER",
    ));
    assert_eq!(result["triggers"][0]["fires"], true, "{result:#}");
}

#[test]
fn wake_fires_for_a_push_to_a_pull_request() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let read = |name: &str| -> Value {
        let path = fixtures.join("github/webhooks/pull_request").join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let body = read("synchronize.json");
    let result = run_as(&body, "pull_request");
    assert_eq!(result["triggers"][0]["fires"], false, "{result:#}");
    let trigger = &result["triggers"][1];
    assert_eq!(trigger["fires"], true, "{result:#}");
    let params = &trigger["resource"]["spec"]["arguments"]["parameters"];
    assert_eq!(
        params[0]["value"],
        body["pull_request"]["number"].to_string()
    );
    assert_eq!(params[1]["value"], body["repository"]["full_name"]);
    // Other pull request events do not wake.
    for name in ["opened.json", "labeled.json", "closed.merged.json"] {
        let result = run_as(&read(name), "pull_request");
        for t in result["triggers"].as_array().unwrap() {
            assert_eq!(t["fires"], false, "{name}: {result:#}");
        }
    }
}
