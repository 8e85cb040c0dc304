//! `sandbox lint` as a binary: the broken copies under tests/lint/broken
//! each fail at the line marked `# expect: <rule>`, the valid inputs and
//! the upstream Argo examples are clean, and the shipped YAML lints clean.

use super::common;

use assert_cmd::Command;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn sandbox() -> Command {
    Command::cargo_bin("sandbox").expect("the sandbox binary")
}

fn lint_dir() -> PathBuf {
    common::crate_dir().join("tests/lint")
}

/// `(line, rule)` for every `# expect: rule` marker of a file.
fn expected(file: &Path) -> BTreeSet<(usize, String)> {
    std::fs::read_to_string(file)
        .expect("read test input")
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            line.split_once("# expect: ")
                .map(|(_, rule)| (i + 1, rule.trim().to_string()))
        })
        .collect()
}

/// `(line, rule)` of the findings printed for `file`.
fn found(stdout: &str, file: &str) -> BTreeSet<(usize, String)> {
    stdout
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(file)?.strip_prefix(':')?;
            let (line_no, rest) = rest.split_once(": ")?;
            let (rule, _) = rest.split_once(": ")?;
            Some((line_no.parse().ok()?, rule.to_string()))
        })
        .collect()
}

#[test]
fn each_broken_copy_fails_at_the_marked_line() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(lint_dir().join("broken"))
        .expect("broken dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 5);
    for file in files {
        let name = format!("broken/{}", file.file_name().unwrap().to_string_lossy());
        let output = sandbox()
            .current_dir(lint_dir())
            .args(["lint", "ok", &name])
            .output()
            .expect("run");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{name}: {stdout}");
        let want = expected(&file);
        assert!(!want.is_empty(), "{name} has no # expect: marker");
        assert_eq!(found(&stdout, &name), want, "{name}:\n{stdout}");
        // Nothing is reported in the valid inputs it was linted with.
        assert!(stdout.lines().all(|l| l.starts_with(&name)), "{stdout}");
    }
}

#[test]
fn whole_output_on_the_broken_copies() {
    let output = sandbox()
        .current_dir(lint_dir())
        .args(["lint", "ok", "broken"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!(String::from_utf8_lossy(&output.stdout));
}

#[test]
fn valid_inputs_are_clean() {
    sandbox()
        .current_dir(lint_dir())
        .args(["lint", "ok"])
        .assert()
        .success()
        .stdout("");
}

#[test]
fn skipped_rules_are_not_reported() {
    sandbox()
        .current_dir(lint_dir())
        .args([
            "lint",
            "--skip",
            "unpinned-image",
            "ok",
            "broken/unpinned-image.yaml",
        ])
        .assert()
        .success()
        .stdout("");
}

#[test]
fn unreadable_input_exits_2() {
    sandbox()
        .args(["lint", "/nonexistent/sandbox.yaml"])
        .assert()
        .code(2);
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "kind: Workflow\nspec: [unclosed\n").expect("write");
    let output = sandbox().arg("lint").arg(&bad).output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("bad.yaml:"),
        "{output:?}"
    );
}

/// The shipped library lints clean: every templateRef resolves, every
/// argument matches an input, every plugin step is a task sandbox-tasks
/// accepts.
#[test]
fn shipped_yaml_lints_clean() {
    let library = common::repo_root().join("cluster-workflow-templates");
    let output = sandbox().arg("lint").arg(&library).output().expect("run");
    assert_eq!(
        output.status.code(),
        Some(0),
        "lint findings in cluster-workflow-templates/:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// No false positives on the upstream examples: every structural rule is
/// clean; the only findings are their untagged `busybox` images, which the
/// unpinned-image rule exists to catch.
#[test]
fn upstream_argo_examples_have_no_false_positives() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let examples = fixtures.join("argo/examples");
    sandbox()
        .arg("lint")
        .arg("--skip")
        .arg("unpinned-image")
        .arg(&examples)
        .assert()
        .success()
        .stdout("");
    let output = sandbox().arg("lint").arg(&examples).output().expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.is_empty());
    for line in stdout.lines() {
        assert!(
            line.contains(": unpinned-image: image \"busybox\" has no tag"),
            "{line}"
        );
    }
}

/// The upstream Argo Events examples: structurally clean; their string
/// filters are unanchored and their images untagged, as lint reports.
#[test]
fn upstream_argo_events_examples_are_structurally_clean() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    sandbox()
        .arg("lint")
        .args(["--skip", "unpinned-image", "--skip", "unanchored-filter"])
        .arg(fixtures.join("argo-events"))
        .assert()
        .success()
        .stdout("");
}

/// What Argo accepts with a remark is a warning: printed, but the run
/// passes. Argo merges a Workflow's arguments with the referenced
/// template's (validate.go `Workflow`: `util.MergeParameters`), and `argo
/// lint` allows a Workflow argument without a value (`Opts.Lint`).
#[test]
fn argo_accepted_oddities_are_warnings_that_do_not_fail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("run.yaml");
    std::fs::write(
        &file,
        "apiVersion: argoproj.io/v1alpha1\n\
         kind: Workflow\n\
         metadata:\n  generateName: demo-run-\n\
         spec:\n\
         \x20 workflowTemplateRef:\n    name: demo-pipeline\n\
         \x20 arguments:\n\
         \x20   parameters:\n\
         \x20     - name: pr_number\n        value: \"7\"\n\
         \x20     - name: unused\n        value: x\n\
         \x20     - name: later\n",
    )
    .expect("write");
    let output = sandbox()
        .current_dir(lint_dir())
        .arg("lint")
        .arg("ok")
        .arg(&file)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let warnings: Vec<&str> = stdout.lines().collect();
    assert_eq!(warnings.len(), 3, "{stdout}");
    assert!(
        warnings[0].contains(":12: unknown-argument: warning: argument \"unused\""),
        "{stdout}"
    );
    assert!(
        warnings[1].contains(":14: arguments: warning: spec.arguments.parameters later"),
        "{stdout}"
    );
    assert!(
        warnings[2].contains(":14: unknown-argument: warning: argument \"later\""),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("0 finding(s) and 3 warning(s)"),
        "{output:?}"
    );
}

/// go-yaml (what kubectl and Argo read YAML with) accepts a flow sequence
/// or quoted scalar whose closing line sits at the key's indentation, as in
/// argo-workflows `examples/sidecar.yaml`; a real syntax error still exits 2.
#[test]
fn go_yaml_indentation_is_read_and_real_errors_still_fail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ok = dir.path().join("ok.yaml");
    std::fs::write(
        &ok,
        "apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata:\n  name: demo-go-yaml\n\
         spec:\n  templates:\n  - name: main\n    container:\n      image: alpine:3.20\n\
         \x20     args: [\"\n        echo hi\n      \"]\n",
    )
    .expect("write");
    sandbox().arg("lint").arg(&ok).assert().success().stdout("");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "kind: Workflow\nspec: {a: [1, 2}\n").expect("write");
    sandbox().arg("lint").arg(&bad).assert().code(2);
}
