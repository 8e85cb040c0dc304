//! `check-params --check-remote` checks the buckets against a real
//! fake-gcs-server: the source can be listed, the destination bucket exists.

use super::support::{self, make_bucket};
use sandbox_harness::FakeGcs;
use serde_json::Value;

fn check(endpoint: &str, source: &str, dest: &str) -> (i32, Value) {
    let run = support::task("check-params")
        .args(["--pr-number", "7", "--check-remote", "--endpoint", endpoint])
        .args(["--source-bucket", source, "--dest-bucket", dest])
        .run();
    (run.code, run.result)
}

#[test]
fn readable_source_and_existing_destination_pass() {
    let gcs = FakeGcs::start();
    make_bucket(&gcs.endpoint(), "docs-int");
    make_bucket(&gcs.endpoint(), "docs-sbx");
    let (code, json) = check(&gcs.endpoint(), "gs://docs-int/ref", "gs://docs-sbx");
    assert_eq!(code, 0, "{json}");
    let checks: Value =
        serde_json::from_str(json["outputs"]["remote_checks"].as_str().unwrap()).unwrap();
    let status = |name: &str| {
        checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .map(|c| c["status"].clone())
    };
    assert_eq!(
        status("source-bucket-readable"),
        Some("passed".into()),
        "{checks}"
    );
    assert_eq!(
        status("dest-bucket-exists"),
        Some("passed".into()),
        "{checks}"
    );
}

#[test]
fn missing_buckets_fail_with_exit_3_naming_them() {
    let gcs = FakeGcs::start();
    make_bucket(&gcs.endpoint(), "docs-int");
    let (code, json) = check(&gcs.endpoint(), "gs://no-such-docs/ref", "gs://no-such-sbx");
    assert_eq!(code, 3, "{json}");
    let details = json["error"]["details"].as_array().unwrap();
    let fields: Vec<&str> = details
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["source_bucket", "dest_bucket"]);
    let message = json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("gs://no-such-docs")
            && message.contains("gs://no-such-sbx")
            && message.contains("anonymous"),
        "{message}"
    );
}
