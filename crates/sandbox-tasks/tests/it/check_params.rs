//! check-params as a process: the contract of DESIGN §3 (exit codes, one
//! JSON result line, output files) and the acceptance cases of the
//! foundation issue.

use super::support::{self, Run};
use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

fn check_params(args: &[&str], outputs: &Path) -> Run {
    let mut task = support::task("check-params").outputs_to(outputs);
    task.cmd()
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(args);
    task.run()
}

fn fields(run: &Run) -> Vec<(String, String)> {
    run.result["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["field"].as_str().unwrap().to_string(),
                d["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_independent_mistake_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let long_db = "d".repeat(70);
    let run = check_params(
        &[
            "--pr-number",
            "0",
            "--environment",
            "Sbx-pr-1",
            "--branch",
            "sbx-pr-1/..x",
            "--dest-bucket",
            "gs://a_",
            "--database-name",
            &long_db,
            "--repo-url",
            "https://deploy:hunter2@github.com/acme/infra.git",
        ],
        dir.path(),
    );
    assert_eq!(run.code, 2);
    assert_eq!(run.result["status"], "failed");
    assert_eq!(run.result["error"]["kind"], "invalid-params");
    let got = fields(&run);
    for (field, rule) in [
        ("pr_number", "positive-integer"),
        ("environment", "dns-1123-label"),
        ("branch", "git-ref-format"),
        ("dest_bucket", "gcs-bucket-name"),
        ("database_name", "length"),
        ("repo_url", "no-embedded-credentials"),
    ] {
        assert!(
            got.contains(&(field.to_string(), rule.to_string())),
            "{field}/{rule} missing from {got:?}"
        );
    }
    // The bucket breaks two rules (length and its last character): both are listed.
    assert_eq!(got.iter().filter(|(f, _)| f == "dest_bucket").count(), 2);
    // The credential is never echoed, anywhere in the result.
    assert!(!run.stdout.contains("hunter2"), "{}", run.stdout);
    // Nothing was written.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_valid_set_writes_the_derived_names() {
    let dir = tempfile::tempdir().unwrap();
    let outputs = dir.path().join("out");
    let run = check_params(
        &[
            "--pr-number",
            "42",
            "--repo-url",
            "https://github.com/acme/infra.git",
            "--dest-bucket",
            "gs://acme-sandbox-docs",
        ],
        &outputs,
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.result["task"], "check-params");
    assert_eq!(run.result["status"], "succeeded");
    let expected = [
        ("environment", "sbx-pr-42"),
        ("namespace", "apps-sbx-pr-42"),
        ("branch", "sbx-pr-42"),
        ("app_name", "sbx-pr-42"),
        ("database_name", "sbx_pr_42"),
        ("bucket_prefix", "sbx-pr-42/"),
        ("dest_bucket", "gs://acme-sandbox-docs/sbx-pr-42/"),
        ("vault_path", "secret/sandboxes/sbx-pr-42"),
    ];
    for (name, value) in expected {
        assert_eq!(
            run.result["outputs"][name], value,
            "{name} in the JSON result"
        );
        assert_eq!(
            std::fs::read_to_string(outputs.join(name)).unwrap(),
            value,
            "{name} output file"
        );
    }
    // The JSON line is the last line on stdout, and the only one.
    assert_eq!(run.stdout.lines().count(), 1);
}

#[test]
fn the_whole_result_keeps_its_shape() {
    let dir = tempfile::tempdir().unwrap();
    let run = check_params(&["--params", &example("sandbox.yaml")], dir.path());
    assert_eq!(run.code, 0, "{}", run.stdout);
    insta::assert_json_snapshot!(run.result, { ".duration_ms" => "[duration]" });
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn protected_targets_are_refused_with_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    for (args, field, rule) in [
        (
            vec!["--pr-number", "7", "--branch", "main"],
            "branch",
            "protected-branch",
        ),
        (
            vec!["--pr-number", "7", "--branch", "release/1.2"],
            "branch",
            "protected-branch",
        ),
        (
            vec!["--pr-number", "7", "--database-name", "postgres"],
            "database_name",
            "protected-database",
        ),
        (
            vec!["--pr-number", "7", "--database-name", "sbx_pr_8"],
            "database_name",
            "foreign-database",
        ),
        (
            vec![
                "--pr-number",
                "7",
                "--dest-bucket",
                "gs://shared-docs/team/",
            ],
            "dest_bucket",
            "foreign-destination",
        ),
        (
            vec![
                "--pr-number",
                "7",
                "--branch",
                "hotfix/x",
                "--protected-branches",
                "hotfix/*",
            ],
            "branch",
            "protected-branch",
        ),
    ] {
        let run = check_params(&args, dir.path());
        assert_eq!(run.code, 5, "{args:?}: {}", run.stdout);
        assert_eq!(run.result["error"]["kind"], "refused");
        assert_eq!(
            fields(&run),
            vec![(field.to_string(), rule.to_string())],
            "{args:?}"
        );
        assert!(
            run.result["error"]["message"]
                .as_str()
                .unwrap()
                .contains(rule)
        );
    }
}

#[test]
fn params_file_environment_and_flags_layer_in_that_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.json");
    std::fs::write(
        &file,
        r#"{"pr_number": 5, "base_branch": "develop", "check_remote": false}"#,
    )
    .unwrap();
    // File alone.
    let run = check_params(&["--params", file.to_str().unwrap()], &dir.path().join("a"));
    assert_eq!(run.result["outputs"]["environment"], "sbx-pr-5");
    assert_eq!(run.result["outputs"]["base_branch"], "develop");
    // A flag wins over the file.
    let run = check_params(
        &["--params", file.to_str().unwrap(), "--pr-number", "6"],
        &dir.path().join("b"),
    );
    assert_eq!(run.result["outputs"]["environment"], "sbx-pr-6");
    // So does the environment variable.
    let out = Command::cargo_bin("check-params")
        .unwrap()
        .env("SANDBOX_PR_NUMBER", "9")
        .args([
            "--params",
            file.to_str().unwrap(),
            "--outputs-dir",
            dir.path().join("c").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["outputs"]["environment"], "sbx-pr-9");
}

#[test]
fn unknown_keys_and_bad_files_are_invalid_params() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yaml");
    std::fs::write(&file, "pr_number: 5\nbase_brnach: main\nlabels: {a: b}\n").unwrap();
    let run = check_params(&["--params", file.to_str().unwrap()], &dir.path().join("o"));
    assert_eq!(run.code, 2);
    let got = fields(&run);
    assert!(
        got.contains(&("base_brnach".into(), "unknown-parameter".into())),
        "{got:?}"
    );
    assert!(
        got.contains(&("labels".into(), "unknown-parameter".into())),
        "{got:?}"
    );

    let run = check_params(
        &["--params", dir.path().join("absent.yaml").to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(run.code, 2);
    assert_eq!(fields(&run), vec![("params".into(), "params-file".into())]);

    std::fs::write(&file, "- a list\n- not an object\n").unwrap();
    assert_eq!(
        check_params(&["--params", file.to_str().unwrap()], dir.path()).code,
        2
    );

    let run = check_params(&["--pr-numbr", "5"], dir.path());
    assert_eq!(run.code, 2);
    assert_eq!(run.result["error"]["details"][0]["field"], "pr_numbr");
}

#[test]
fn a_missing_pr_number_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let run = check_params(&[], dir.path());
    assert_eq!(run.code, 2);
    assert_eq!(fields(&run), vec![("pr_number".into(), "required".into())]);
}

#[test]
fn help_goes_to_stdout_and_exits_zero() {
    let out = Command::cargo_bin("check-params")
        .unwrap()
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains("--pr-number")
            && help.contains("SANDBOX_PR_NUMBER")
            && help.contains("Exit codes")
    );
}

#[test]
fn empty_values_mean_not_given_in_the_environment_and_params_files() {
    // Argo passes unset optional inputs as "" and every value as a string.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.json");
    std::fs::write(
        &file,
        r#"{"pr_number": "8", "branch": "", "check_remote": "false", "database_name": null}"#,
    )
    .unwrap();
    let out = Command::cargo_bin("check-params")
        .unwrap()
        .env("SANDBOX_NAMESPACE", "")
        .env("SANDBOX_CHECK_REMOTE", "false")
        .args([
            "--params",
            file.to_str().unwrap(),
            "--outputs-dir",
            dir.path().join("o").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["outputs"]["branch"], "sbx-pr-8");
    assert_eq!(result["outputs"]["namespace"], "apps-sbx-pr-8");
    assert_eq!(result["outputs"]["remote_checks"], "");
    // A switch given as the string "true" is on; anything else is an error.
    std::fs::write(&file, r#"{"pr_number": "8", "check_remote": "true"}"#).unwrap();
    let run = check_params(&["--params", file.to_str().unwrap()], &dir.path().join("t"));
    assert_ne!(run.result["outputs"]["remote_checks"], "");
    std::fs::write(&file, r#"{"pr_number": "8", "check_remote": "yes"}"#).unwrap();
    let run = check_params(&["--params", file.to_str().unwrap()], &dir.path().join("y"));
    assert_eq!(run.code, 2);
    assert_eq!(
        fields(&run),
        vec![("check_remote".into(), "params-type".into())]
    );
}
