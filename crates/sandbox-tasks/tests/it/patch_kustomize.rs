//! `patch-kustomize` against the harness's git servers, checked with the git
//! CLI and `kubectl kustomize` as independent clients.

use assert_cmd::Command;
use sandbox_harness::git::git;
use sandbox_harness::{GitDaemon, GitHttp, GitRoot, tool};
use serde_json::Value;
use std::path::Path;

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: 2
  selector:
    matchLabels:
      app: shop
  template:
    metadata:
      labels:
        app: shop
    spec:
      containers:
        - name: shop
          image: ghcr.io/acme/shop:0.0.1
          envFrom:
            - configMapRef:
                name: shop-config
        - name: worker
          image: ghcr.io/acme/worker:0.0.1
"#;

const SERVICE: &str = r#"apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector:
    app: shop
  ports:
    - port: 80
      targetPort: 8080
"#;

const BASE: &str = r#"apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
  - service.yaml
configMapGenerator:
  - name: shop-config
    literals:
      - LOG_LEVEL=info
"#;

const INTEGRATION: &str = r#"apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: integration
resources:
- ../../base
images:
- name: ghcr.io/acme/shop
  newTag: "1.4.2"
- name: ghcr.io/acme/worker
  newName: eu.gcr.io/acme-mirror/worker
  newTag: v7.3.0
"#;

const SANDBOX: &str = r#"# Sandbox overlay: patch-kustomize sets the namespace and images
# for each environment branch.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization

namespace: apps-placeholder   # set per sandbox

resources:
  - ../../base

labels:
  - pairs:
      sandbox: "true"
    includeSelectors: false

images:
  # Storefront; quoted so a tag like 1.10 stays a string.
  - name: ghcr.io/acme/shop
    newTag: "0.0.1"
  - {name: ghcr.io/acme/worker, newTag: '0.0.1'}

configMapGenerator:
  - name: shop-config
    behavior: merge
    literals:
      - LOG_LEVEL=debug   # sandboxes log more

secretGenerator:
  - name: shop-secrets
    literals:
      - API_TOKEN=placeholder
"#;

const TEMPLATE: &str = r#"# Rendered by patch-kustomize for {{ environment }}.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {{ namespace }}
resources:
  - ../../base
images:
{%- for i in images %}
  - name: {{ i.name }}
    {%- if i.newName %}
    newName: {{ i.newName }}
    {%- endif %}
    newTag: "{{ i.newTag }}"
{%- endfor %}
"#;

const BROKEN_TEMPLATE: &str = r#"apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {{ namespace }}
resources:
  - ../../base
  - missing.yaml
"#;

const BRANCH: &str = "sbx-pr-7";

/// A bare repository with the base, two overlays and templates, and the
/// environment branch at the same commit as main.
fn seed(root: &GitRoot) -> std::path::PathBuf {
    let bare = root.create_with_files(
        "infra",
        &[
            ("base/deployment.yaml", DEPLOYMENT),
            ("base/service.yaml", SERVICE),
            ("base/kustomization.yaml", BASE),
            ("overlays/integration/kustomization.yaml", INTEGRATION),
            ("overlays/sandbox/kustomization.yaml", SANDBOX),
            ("templates/sandbox.yaml.tera", TEMPLATE),
            ("templates/broken.yaml.tera", BROKEN_TEMPLATE),
        ],
    );
    git(&bare, &["branch", BRANCH, "main"], None);
    bare
}

fn rev(bare: &Path, rev: &str) -> String {
    git(bare, &["rev-parse", rev], None)
}

fn show(bare: &Path, rev: &str, path: &str) -> String {
    git(bare, &["show", &format!("{rev}:{path}")], None)
}

/// Run the binary; returns (exit code, result JSON, outputs dir).
fn run(args: &[&str], envs: &[(&str, &str)]) -> (i32, Value, tempfile::TempDir) {
    let outputs = tempfile::tempdir().unwrap();
    let mut cmd = Command::cargo_bin("patch-kustomize").unwrap();
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SANDBOX_LOG_FORMAT", "text")
        .arg("--outputs-dir")
        .arg(outputs.path())
        .args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let json: Value = serde_json::from_str(last).unwrap_or_else(|e| {
        panic!(
            "last stdout line is not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json, outputs)
}

/// The tree of `rev` written out, as a person would check it out.
fn checkout(bare: &Path, rev: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let archive = std::process::Command::new("git")
        .current_dir(bare)
        .args(["archive", "--format=tar", rev])
        .output()
        .unwrap();
    assert!(archive.status.success());
    let mut tar = std::process::Command::new("tar")
        .current_dir(dir.path())
        .args(["-xf", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    tar.stdin
        .take()
        .unwrap()
        .write_all(&archive.stdout)
        .unwrap();
    assert!(tar.wait().unwrap().success());
    dir
}

/// `kubectl kustomize` of an overlay at `rev`, as parsed objects.
fn render(bare: &Path, rev: &str, overlay: &str) -> Vec<Value> {
    use serde::Deserialize;
    let tree = checkout(bare, rev);
    let out = std::process::Command::new(tool("kubectl"))
        .arg("kustomize")
        .arg(tree.path().join(overlay))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl kustomize failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    yaml_serde::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .collect()
}

fn images_of(objects: &[Value]) -> Vec<String> {
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["image"].as_str().unwrap().to_string())
        .collect()
}

/// Lines removed and added between two texts.
fn changed_lines(old: &str, new: &str) -> (Vec<String>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), old).unwrap();
    std::fs::write(dir.path().join("b"), new).unwrap();
    let out = std::process::Command::new("git")
        .current_dir(dir.path())
        .args(["diff", "--no-index", "-U0", "a", "b"])
        .output()
        .unwrap();
    let diff = String::from_utf8_lossy(&out.stdout);
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    for line in diff.lines() {
        if line.starts_with("---") || line.starts_with("+++") {
            continue;
        }
        if let Some(l) = line.strip_prefix('-') {
            removed.push(l.to_string());
        } else if let Some(l) = line.strip_prefix('+') {
            added.push(l.to_string());
        }
    }
    (removed, added)
}

#[test]
fn with_no_edit_flag_it_sets_the_namespace_and_the_integration_images() {
    let root = GitRoot::new();
    let bare = seed(&root);
    let daemon = GitDaemon::start(&root);
    let before = rev(&bare, BRANCH);
    let main = rev(&bare, "main");
    let workdir = tempfile::tempdir().unwrap();
    let args = [
        "--repo-url",
        &daemon.url("infra"),
        "--pr-number",
        "7",
        "--overlay-path",
        "overlays/sandbox",
        "--images-from",
        "overlays/integration",
        "--verify-render",
        "--workdir",
        workdir.path().to_str().unwrap(),
    ];
    let (code, json, outputs) = run(&args, &[]);
    assert_eq!(code, 0, "{json}");
    let after = rev(&bare, BRANCH);
    assert_ne!(after, before);
    assert_eq!(json["outputs"]["commit"], after.as_str());
    assert_eq!(json["outputs"]["changed"], "true");
    assert_eq!(json["outputs"]["overlay_path"], "overlays/sandbox");
    assert_eq!(
        std::fs::read_to_string(outputs.path().join("commit")).unwrap(),
        after
    );
    assert_eq!(
        rev(&bare, &format!("{after}^")),
        before,
        "one commit on the old tip"
    );
    assert_eq!(rev(&bare, "main"), main, "main untouched");

    // Only the asked values changed.
    let new = show(&bare, BRANCH, "overlays/sandbox/kustomization.yaml");
    assert_eq!(
        changed_lines(SANDBOX, &format!("{new}\n")),
        (
            vec![
                "namespace: apps-placeholder   # set per sandbox".to_string(),
                "    newTag: \"0.0.1\"".to_string(),
                "  - {name: ghcr.io/acme/worker, newTag: '0.0.1'}".to_string(),
            ],
            vec![
                "namespace: apps-sbx-pr-7   # set per sandbox".to_string(),
                "    newTag: \"1.4.2\"".to_string(),
                "  - {name: ghcr.io/acme/worker, newName: eu.gcr.io/acme-mirror/worker, newTag: 'v7.3.0'}".to_string(),
            ]
        )
    );
    let files = git(&bare, &["diff", "--name-only", &before, &after], None);
    assert_eq!(files, "overlays/sandbox/kustomization.yaml");

    // kubectl renders it with the new namespace and tags.
    let objects = render(&bare, BRANCH, "overlays/sandbox");
    assert!(objects.len() >= 4, "{objects:?}");
    for o in &objects {
        assert_eq!(o["metadata"]["namespace"], "apps-sbx-pr-7", "{o}");
    }
    assert_eq!(
        images_of(&objects),
        [
            "ghcr.io/acme/shop:1.4.2",
            "eu.gcr.io/acme-mirror/worker:v7.3.0"
        ]
    );

    // A rerun (warm workdir) is already done: no new commit.
    let (code, json, _) = run(&args, &[]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["outputs"]["changed"], "false");
    assert_eq!(json["outputs"]["commit"], after.as_str());
    assert_eq!(rev(&bare, BRANCH), after);
}

#[test]
fn ci_bumps_one_image_over_smart_http_with_basic_auth() {
    let root = GitRoot::new();
    let bare = seed(&root);
    let http = GitHttp::start(&root, "ci", "s3cr3t-token");
    let before = rev(&bare, BRANCH);
    let (code, json, _) = run(
        &[
            "--repo-url",
            &http.url("infra"),
            "--git-user",
            "ci",
            "--git-token",
            "env:INFRA_TOKEN",
            "--environment",
            BRANCH,
            "--overlay-path",
            "overlays/sandbox",
            "--set-image",
            "ghcr.io/acme/shop:1.5.0",
        ],
        &[("INFRA_TOKEN", "s3cr3t-token")],
    );
    assert_eq!(code, 0, "{json}");
    assert!(!json.to_string().contains("s3cr3t-token"));
    let after = rev(&bare, BRANCH);
    assert_eq!(rev(&bare, &format!("{after}^")), before);
    let new = show(&bare, BRANCH, "overlays/sandbox/kustomization.yaml");
    assert_eq!(
        changed_lines(SANDBOX, &format!("{new}\n")),
        (
            vec!["    newTag: \"0.0.1\"".to_string()],
            vec!["    newTag: \"1.5.0\"".to_string()]
        ),
        "only the image tag changes; the namespace is left alone"
    );
    let objects = render(&bare, BRANCH, "overlays/sandbox");
    assert_eq!(
        images_of(&objects),
        ["ghcr.io/acme/shop:1.5.0", "ghcr.io/acme/worker:0.0.1"]
    );

    // A wrong token is a precondition failure, and is never printed.
    let (code, json, _) = run(
        &[
            "--repo-url",
            &http.url("infra"),
            "--git-user",
            "ci",
            "--git-token",
            "env:INFRA_TOKEN",
            "--environment",
            BRANCH,
            "--overlay-path",
            "overlays/sandbox",
            "--set-image",
            "ghcr.io/acme/shop:1.6.0",
        ],
        &[("INFRA_TOKEN", "wrong-token-value")],
    );
    assert_eq!(code, 3, "{json}");
    assert!(!json.to_string().contains("wrong-token-value"), "{json}");
    assert_eq!(rev(&bare, BRANCH), after);
}

#[test]
fn hostile_paths_are_invalid_and_nothing_is_pushed() {
    let root = GitRoot::new();
    let bare = seed(&root);
    let daemon = GitDaemon::start(&root);
    let before = rev(&bare, BRANCH);
    let url = daemon.url("infra");
    for (flag, value) in [
        ("--overlay-path", "../outside"),
        ("--overlay-path", "overlays/../../etc"),
        ("--overlay-path", "/etc/kubernetes"),
        ("--images-from", "../../integration"),
        ("--overlay-template", "/etc/passwd"),
        ("--overlay-path", ".git/hooks"),
    ] {
        let mut args = vec![
            "--repo-url",
            &url,
            "--pr-number",
            "7",
            "--overlay-path",
            "overlays/sandbox",
        ];
        args.extend([flag, value]);
        let (code, json, _) = run(&args, &[]);
        assert_eq!(code, 2, "{flag} {value}: {json}");
        assert_eq!(json["error"]["kind"], "invalid-params");
    }
    // Every problem at once.
    let (code, json, _) = run(
        &[
            "--repo-url",
            &url,
            "--pr-number",
            "7",
            "--overlay-path",
            "../x",
            "--set-image",
            "Bad:tag",
            "--label",
            "no-equals",
        ],
        &[],
    );
    assert_eq!(code, 2);
    let fields: Vec<_> = json["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap().to_string())
        .collect();
    for f in ["overlay_path", "set_image", "label"] {
        assert!(fields.iter().any(|x| x == f), "{f} missing in {fields:?}");
    }
    assert_eq!(rev(&bare, BRANCH), before, "nothing pushed");
}

#[test]
fn protected_branches_and_foreign_namespaces_are_refused() {
    let root = GitRoot::new();
    let bare = seed(&root);
    let daemon = GitDaemon::start(&root);
    let main = rev(&bare, "main");
    let url = daemon.url("infra");
    let (code, json, _) = run(
        &[
            "--repo-url",
            &url,
            "--pr-number",
            "7",
            "--branch",
            "main",
            "--overlay-path",
            "overlays/sandbox",
        ],
        &[],
    );
    assert_eq!(code, 5, "{json}");
    let (code, json, _) = run(
        &[
            "--repo-url",
            &url,
            "--pr-number",
            "7",
            "--namespace",
            "kube-system",
            "--overlay-path",
            "overlays/sandbox",
        ],
        &[],
    );
    assert_eq!(code, 5, "{json}");
    assert_eq!(rev(&bare, "main"), main);
}

#[test]
fn an_overlay_that_does_not_render_is_refused_before_pushing() {
    let root = GitRoot::new();
    let bare = seed(&root);
    let daemon = GitDaemon::start(&root);
    let before = rev(&bare, BRANCH);
    let (code, json, _) = run(
        &[
            "--repo-url",
            &daemon.url("infra"),
            "--pr-number",
            "7",
            "--overlay-path",
            "overlays/sandbox",
            "--overlay-template",
            "templates/broken.yaml.tera",
            "--verify-render",
        ],
        &[],
    );
    assert_eq!(code, 3, "{json}");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(message.contains("does not render"), "{message}");
    assert!(message.contains("missing.yaml"), "{message}");
    assert_eq!(rev(&bare, BRANCH), before, "nothing pushed");
}

/// Regression: `--verify-render` could never pass an overlay with
/// `helmCharts`, which kubectl renders only with `--enable-helm` (kustomize
/// `api/internal/builtins/HelmChartInflationGenerator.go`, `Config`). With
/// no helm on PATH it is refused (exit 3) naming helm, and nothing is
/// pushed. Issue 12, "Real repositories".
#[test]
fn an_overlay_with_helm_charts_and_no_helm_is_refused_naming_helm() {
    let root = GitRoot::new();
    let bare = root.create_with_files(
        "charts",
        &[
            ("base/deployment.yaml", DEPLOYMENT),
            ("base/kustomization.yaml", BASE),
            (
                "overlays/sandbox/kustomization.yaml",
                "resources:\n  - ../../base\nhelmCharts:\n  - name: redis\n    releaseName: cache\n    version: 1.0.0\n",
            ),
        ],
    );
    git(&bare, &["branch", BRANCH, "main"], None);
    let daemon = GitDaemon::start(&root);
    let before = rev(&bare, BRANCH);
    // Only kubectl on PATH: no helm.
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(sandbox_harness::tool("kubectl"), bin.path().join("kubectl"))
        .unwrap();
    let (code, json, _) = run(
        &[
            "--repo-url",
            &daemon.url("charts"),
            "--pr-number",
            "7",
            "--overlay-path",
            "overlays/sandbox",
            "--set-image",
            "shop:2.0",
            "--verify-render",
        ],
        &[("PATH", bin.path().to_str().unwrap())],
    );
    assert_eq!(code, 3, "{json}");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("helm")
            && message.contains("helmCharts")
            && message.contains("nothing pushed"),
        "{message}"
    );
    assert_eq!(rev(&bare, BRANCH), before, "nothing pushed");
}

#[test]
fn a_template_renders_the_overlay() {
    let root = GitRoot::new();
    let bare = seed(&root);
    let daemon = GitDaemon::start(&root);
    let (code, json, _) = run(
        &[
            "--repo-url",
            &daemon.url("infra"),
            "--pr-number",
            "7",
            "--overlay-path",
            "overlays/sandbox",
            "--overlay-template",
            "templates/sandbox.yaml.tera",
            "--images-from",
            "overlays/integration",
            "--verify-render",
        ],
        &[],
    );
    assert_eq!(code, 0, "{json}");
    assert_eq!(
        show(&bare, BRANCH, "overlays/sandbox/kustomization.yaml") + "\n",
        "# Rendered by patch-kustomize for sbx-pr-7.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: apps-sbx-pr-7
resources:
  - ../../base
images:
  - name: ghcr.io/acme/shop
    newTag: \"1.4.2\"
  - name: ghcr.io/acme/worker
    newName: eu.gcr.io/acme-mirror/worker
    newTag: \"v7.3.0\"
"
    );
    let objects = render(&bare, BRANCH, "overlays/sandbox");
    assert!(
        objects
            .iter()
            .all(|o| o["metadata"]["namespace"] == "apps-sbx-pr-7")
    );
}

#[test]
fn dry_run_reports_the_diff_and_pushes_nothing() {
    let root = GitRoot::new();
    let bare = seed(&root);
    let daemon = GitDaemon::start(&root);
    let before = rev(&bare, BRANCH);
    let (code, json, outputs) = run(
        &[
            "--repo-url",
            &daemon.url("infra"),
            "--pr-number",
            "7",
            "--overlay-path",
            "overlays/sandbox",
            "--set-image",
            "ghcr.io/acme/shop:2.0.0",
            "--set-literal",
            "shop-secrets/API_TOKEN=very-secret-value",
            "--set-literal",
            "shop-config/LOG_LEVEL=trace",
            "--dry-run",
            "--verify-render",
        ],
        &[],
    );
    assert_eq!(code, 0, "{json}");
    let diff = json["outputs"]["diff"].as_str().unwrap();
    assert!(
        diff.contains("-    newTag: \"0.0.1\"\n+    newTag: \"2.0.0\""),
        "{diff}"
    );
    assert!(
        diff.contains("+      - LOG_LEVEL=trace   # sandboxes log more"),
        "{diff}"
    );
    assert!(
        !json.to_string().contains("very-secret-value"),
        "secret echoed: {json}"
    );
    assert_eq!(
        std::fs::read_to_string(outputs.path().join("diff")).unwrap(),
        diff
    );
    assert_eq!(json["outputs"]["changed"], "true");
    assert_eq!(json["outputs"]["commit"], before.as_str());
    assert_eq!(rev(&bare, BRANCH), before, "nothing pushed");
}

#[test]
fn a_missing_overlay_or_generator_is_a_precondition() {
    let root = GitRoot::new();
    let bare = seed(&root);
    let daemon = GitDaemon::start(&root);
    let before = rev(&bare, BRANCH);
    let url = daemon.url("infra");
    for extra in [
        &["--overlay-path", "overlays/nope"][..],
        &[
            "--overlay-path",
            "overlays/sandbox",
            "--set-literal",
            "nope/K=v",
        ][..],
        &[
            "--overlay-path",
            "overlays/sandbox",
            "--images-from",
            "overlays/nope",
        ][..],
    ] {
        let mut args = vec!["--repo-url", url.as_str(), "--pr-number", "7"];
        args.extend(extra);
        let (code, json, _) = run(&args, &[]);
        assert_eq!(code, 3, "{extra:?}: {json}");
    }
    let (code, json, _) = run(
        &[
            "--repo-url",
            &url,
            "--pr-number",
            "8",
            "--overlay-path",
            "overlays/sandbox",
        ],
        &[],
    );
    assert_eq!(code, 3, "absent branch: {json}");
    assert_eq!(rev(&bare, BRANCH), before);
}

#[test]
fn racing_writers_each_get_their_edit_in_and_history_stays_linear() {
    let root = GitRoot::new();
    let bare = seed(&root);
    let daemon = GitDaemon::start(&root);
    let before = rev(&bare, BRANCH);
    let url = daemon.url("infra");
    let bin = assert_cmd::cargo::cargo_bin("patch-kustomize");
    let outputs = tempfile::tempdir().unwrap();
    // Four CI jobs bump four different things on the same branch at once.
    let edits = [
        ["--set-image", "ghcr.io/acme/shop:3.0.0"],
        ["--set-image", "ghcr.io/acme/worker:3.0.1"],
        ["--label", "pr=7"],
        ["--set-literal", "shop-config/FEATURE=on"],
    ];
    let children: Vec<_> = edits
        .iter()
        .enumerate()
        .map(|(i, edit)| {
            let out = outputs.path().join(i.to_string());
            std::process::Command::new(&bin)
                .args(["--repo-url", &url, "--pr-number", "7"])
                .args(["--overlay-path", "overlays/sandbox"])
                .arg("--outputs-dir")
                .arg(&out)
                .args(edit)
                .env("SANDBOX_LOG_FORMAT", "json")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let log = git(
        &bare,
        &["rev-list", "--parents", &format!("{before}..{BRANCH}")],
        None,
    );
    let commits: Vec<_> = log.lines().collect();
    assert_eq!(commits.len(), 4, "{log}");
    assert!(
        commits.iter().all(|c| c.split(' ').count() == 2),
        "no merges: {log}"
    );
    let text = show(&bare, BRANCH, "overlays/sandbox/kustomization.yaml");
    for want in [
        "    newTag: \"3.0.0\"",
        "newTag: '3.0.1'",
        "      pr: '7'",
        "      - FEATURE=on",
    ] {
        assert!(text.contains(want), "{want:?} missing in\n{text}");
    }
}

#[test]
fn params_come_from_a_file_as_from_the_plugin() {
    let root = GitRoot::new();
    let bare = seed(&root);
    let daemon = GitDaemon::start(&root);
    let dir = tempfile::tempdir().unwrap();
    let params = dir.path().join("params.json");
    std::fs::write(
        &params,
        serde_json::json!({
            "repo_url": daemon.url("infra"),
            "pr_number": "7",
            "overlay_path": "overlays/sandbox",
            "set_image": ["ghcr.io/acme/shop:4.0.0", "ghcr.io/acme/worker:4.0.1"],
            "label": ["pr=7"],
        })
        .to_string(),
    )
    .unwrap();
    let (code, json, _) = run(&["--params", params.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{json}");
    let objects = render(&bare, BRANCH, "overlays/sandbox");
    assert_eq!(
        images_of(&objects),
        ["ghcr.io/acme/shop:4.0.0", "ghcr.io/acme/worker:4.0.1"]
    );
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    assert_eq!(deployment["metadata"]["labels"]["pr"], "7");
    assert_eq!(
        deployment["metadata"]["namespace"], "apps-placeholder",
        "an edit flag given: the namespace is left as it was"
    );
}
