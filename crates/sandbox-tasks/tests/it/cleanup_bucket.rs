//! `cleanup-bucket` against fake-gcs-server, checked with curl against the
//! JSON API (an independent client): 3,000 objects (three listing pages)
//! under the environment's prefix go, across a dry run, an interrupted run
//! (SIGKILL) and its rerun; PR 420's and PR 4's prefixes, look-alike names and the
//! source prefix stay, object for object.

use super::support::{self, Run, curl, enc, make_bucket};
use sandbox_harness::FakeGcs;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Upload small objects with one curl process per 500, 16 at a time.
fn put_all(endpoint: &str, bucket: &str, names: &[String]) {
    let dir = tempfile::tempdir().unwrap();
    for chunk in names.chunks(500) {
        let mut config = String::new();
        for (i, name) in chunk.iter().enumerate() {
            let file = dir.path().join(format!("body-{i}"));
            std::fs::write(&file, format!("document {name}\n")).unwrap();
            config.push_str(&format!(
                "next\nrequest = \"POST\"\nheader = \"content-type: text/plain\"\ndata-binary = \"@{}\"\nurl = \"{endpoint}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={}\"\noutput = \"/dev/null\"\nfail\n",
                file.display(),
                enc(name)
            ));
        }
        let config_file = dir.path().join("curl.cfg");
        std::fs::write(&config_file, config.trim_start_matches("next\n")).unwrap();
        curl(&[
            "--parallel",
            "--parallel-max",
            "16",
            "-K",
            &config_file.to_string_lossy(),
        ]);
    }
}

/// Every object name in `bucket` under `prefix`, paged through the JSON API.
fn listing(endpoint: &str, bucket: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let url = format!(
            "{endpoint}/storage/v1/b/{bucket}/o?prefix={}&maxResults=1000{}",
            enc(prefix),
            if token.is_empty() {
                String::new()
            } else {
                format!("&pageToken={}", enc(&token))
            }
        );
        let page: Value = serde_json::from_slice(&curl(&[&url])).unwrap();
        for item in page["items"].as_array().cloned().unwrap_or_default() {
            out.push(item["name"].as_str().unwrap().to_string());
        }
        match page["nextPageToken"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_string(),
            _ => break,
        }
    }
    out.sort();
    out
}

/// The first object name under `prefix`, if any: one cheap request.
fn first(endpoint: &str, bucket: &str, prefix: &str) -> Option<String> {
    let url = format!(
        "{endpoint}/storage/v1/b/{bucket}/o?prefix={}&maxResults=1",
        enc(prefix)
    );
    let page: Value = serde_json::from_slice(&curl(&[&url])).unwrap();
    page["items"][0]["name"].as_str().map(str::to_string)
}

fn cleanup(endpoint: &str, args: &[&str]) -> Run {
    support::task("cleanup-bucket")
        .args(["--endpoint", endpoint])
        .args(args)
        .run()
}

const OURS: usize = 3_000;

fn ours() -> Vec<String> {
    (0..OURS)
        .map(|i| format!("sbx-pr-42/{:02}/doc-{i:05}.txt", i % 7))
        .collect()
}

/// Everything in the shared bucket that is not PR 42's: the neighbours
/// whose names extend or shorten the environment's, look-alikes outside
/// its prefix, and the source documents.
fn theirs() -> Vec<String> {
    let mut names = Vec::new();
    for prefix in ["sbx-pr-420/", "sbx-pr-4/", "ref/", "sbx-pr-42-old/"] {
        for i in 0..40 {
            names.push(format!("{prefix}doc-{i:03}.txt"));
        }
    }
    names.extend(["sbx-pr-42".to_string(), "sbx-pr-42.txt".to_string()]);
    names.sort();
    names
}

#[test]
fn deletes_exactly_the_environments_prefix_across_an_interruption() {
    let gcs = FakeGcs::start();
    let e = gcs.endpoint();
    make_bucket(&e, "docs");
    put_all(&e, "docs", &theirs());
    put_all(&e, "docs", &ours());
    let all = listing(&e, "docs", "");
    assert_eq!(all.len(), OURS + theirs().len());
    let args = [
        "--dest-bucket",
        "gs://docs",
        "--source-bucket",
        "gs://docs/ref/",
        "--pr-number",
        "42",
    ];

    // Dry run: counts, deletes nothing.
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let run = cleanup(&e, &dry);
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.output("dest_bucket"), "gs://docs/sbx-pr-42/");
    assert_eq!(run.output("objects_found"), OURS.to_string());
    assert_eq!(run.output("objects_deleted"), "0");
    assert_eq!(listing(&e, "docs", ""), all, "a dry run deletes nothing");

    // Interrupted: killed once a hundred objects are gone.
    let outputs = tempfile::tempdir().unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("cleanup-bucket"))
        .env_remove("STORAGE_EMULATOR_HOST")
        .env_remove("SANDBOX_PARAMS")
        .args([
            "--endpoint",
            &e,
            "--delete-concurrency",
            "2",
            "--outputs-dir",
        ])
        .arg(outputs.path())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        // Deletes go in name order, so the first name left tells how far.
        let head = first(&e, "docs", "sbx-pr-42/");
        let gone = ours().iter().position(|n| Some(n) == head.as_ref());
        if gone.is_none_or(|k| k >= 100) || head.is_none() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no delete started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let left = listing(&e, "docs", "sbx-pr-42/").len();
    assert!(
        left > 0 && left < OURS,
        "{left} objects left: the run was not interrupted mid-way; make it bigger"
    );

    // The rerun finishes.
    let run = cleanup(&e, &args);
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    let deleted: usize = run.output("objects_deleted").parse().unwrap();
    assert!(
        deleted >= left.saturating_sub(2) && deleted <= left,
        "deleted {deleted} of {left}"
    );
    assert!(listing(&e, "docs", "sbx-pr-42/").is_empty());
    assert_eq!(
        listing(&e, "docs", ""),
        theirs(),
        "PR 420's, PR 4's, the look-alikes and the source are untouched"
    );

    // Idempotent: nothing left, exit 0.
    let again = cleanup(&e, &args);
    assert_eq!(again.code, 0, "{}", again.result);
    assert_eq!(again.output("objects_found"), "0");
    assert_eq!(again.output("objects_deleted"), "0");
}

#[test]
fn foreign_destinations_are_refused_and_nothing_is_deleted() {
    let gcs = FakeGcs::start();
    let e = gcs.endpoint();
    make_bucket(&e, "docs");
    make_bucket(&e, "docs-sbx-pr-420");
    put_all(&e, "docs", &theirs());
    put_all(&e, "docs-sbx-pr-420", &["x/doc.txt".to_string()]);
    for (dest, source, rule) in [
        ("gs://docs/sbx-pr-420/", None, "foreign-destination"),
        ("gs://docs/sbx-pr-4/", None, "foreign-destination"),
        ("gs://docs/ref/", None, "foreign-destination"),
        ("gs://docs-sbx-pr-420/x/", None, "foreign-destination"),
        (
            "gs://docs/ref/sbx-pr-42/",
            Some("gs://docs/ref/"),
            "destination-overlaps-source",
        ),
    ] {
        let mut args = vec!["--dest-bucket", dest, "--pr-number", "42"];
        if let Some(source) = source {
            args.extend(["--source-bucket", source]);
        }
        let run = cleanup(&e, &args);
        assert_eq!(run.code, 5, "{dest}: {}", run.result);
        assert_eq!(run.result["error"]["details"][0]["rule"], rule, "{dest}");
        assert_eq!(run.result["error"]["details"][0]["field"], "dest_bucket");
    }
    // Another environment's run does not reach PR 42's names either: PR 4
    // deletes its own prefix only.
    let run = cleanup(&e, &["--dest-bucket", "gs://docs", "--pr-number", "4"]);
    assert_eq!(run.code, 0, "{}", run.result);
    assert_eq!(run.output("objects_deleted"), "40");
    let expected: Vec<String> = theirs()
        .into_iter()
        .filter(|n| !n.starts_with("sbx-pr-4/"))
        .collect();
    assert_eq!(listing(&e, "docs", ""), expected);
    assert_eq!(listing(&e, "docs-sbx-pr-420", ""), ["x/doc.txt"]);

    // Bad input: exit 2 naming the parameter.
    let run = cleanup(&e, &["--pr-number", "42", "--delete-concurrency", "0"]);
    assert_eq!(run.code, 2, "{}", run.result);
    let fields: Vec<&str> = run.result["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"dest_bucket") && fields.contains(&"delete_concurrency"),
        "{fields:?}"
    );
    // A bucket that is gone (destroyed already): nothing left, exit 0.
    let run = cleanup(
        &e,
        &["--dest-bucket", "gs://no-such-sbx", "--pr-number", "42"],
    );
    assert_eq!(run.code, 0, "{}", run.result);
    assert_eq!(run.output("objects_found"), "0");
}

#[test]
fn file_locations_are_emptied_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("buckets");
    for key in [
        "sbx-pr-42/a/1.pdf",
        "sbx-pr-42/b.pdf",
        "sbx-pr-42/.sandbox-partial-1-2",
        "sbx-pr-420/a/1.pdf",
        "sbx-pr-4/b.pdf",
    ] {
        let path = root.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, key).unwrap();
    }
    let dest = format!("file://{}/sbx-pr-42/", root.display());
    let run = cleanup(
        "http://127.0.0.1:1",
        &["--dest-bucket", &dest, "--pr-number", "42"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.output("objects_deleted"), "2");
    assert!(!root.join("sbx-pr-42").exists(), "the directory is gone");
    assert!(root.join("sbx-pr-420/a/1.pdf").exists() && root.join("sbx-pr-4/b.pdf").exists());
    let again = cleanup(
        "http://127.0.0.1:1",
        &["--dest-bucket", &dest, "--pr-number", "42"],
    );
    assert_eq!(again.code, 0, "{}", again.result);
    assert_eq!(again.output("objects_found"), "0");
    let foreign = format!("file://{}/sbx-pr-420/", root.display());
    let run = cleanup(
        "http://127.0.0.1:1",
        &["--dest-bucket", &foreign, "--pr-number", "42"],
    );
    assert_eq!(run.code, 5, "{}", run.result);
    assert!(root.join("sbx-pr-420/a/1.pdf").exists());
}
