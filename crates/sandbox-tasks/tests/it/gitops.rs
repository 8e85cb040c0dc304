//! The GitOps task binaries against real git servers (git daemon, smart HTTP
//! with basic auth) and a GitHub API double, checked with the git CLI.

use super::support::{self, Run};
use sandbox_harness::git::git;
use sandbox_harness::{GitDaemon, GitHttp, GitRoot};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn run_task(name: &str, args: &[&str], envs: &[(&str, &str)]) -> Run {
    support::task(name).args(args).envs(envs).run()
}

fn rev(bare: &Path, r: &str) -> String {
    git(bare, &["rev-parse", r], None)
}

fn refs(bare: &Path) -> String {
    git(
        bare,
        &["for-each-ref", "--format=%(refname) %(objectname)"],
        None,
    )
}

fn ls_remote(url: &str) -> String {
    let out = std::process::Command::new("git")
        .args(["ls-remote", "--heads", url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn infra(root: &GitRoot) -> PathBuf {
    root.create_with_files(
        "infra",
        &[
            ("apps/sandboxes/.keep", ""),
            (
                "overlays/integration/kustomization.yaml",
                "resources:\n  - ../../base\n",
            ),
            ("base/kustomization.yaml", "resources: []\n"),
        ],
    )
}

#[test]
fn create_branch_over_smart_http_with_a_token_file() {
    let root = GitRoot::new();
    let bare = infra(&root);
    let http = GitHttp::start(&root, "tester", "tok-8a7f2c");
    let secrets = tempfile::tempdir().unwrap();
    let token = secrets.path().join("token");
    std::fs::write(&token, "tok-8a7f2c\n").unwrap();
    let token_ref = format!("file:{}", token.display());
    let url = http.url("infra");
    let args = [
        "--repo-url",
        &url,
        "--git-token",
        &token_ref,
        "--git-user",
        "tester",
        "--pr-number",
        "7",
    ];

    let run = run_task("create-branch", &args, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    let main = rev(&bare, "main");
    assert_eq!(run.result["outputs"]["branch"], "sbx-pr-7");
    assert_eq!(run.result["outputs"]["commit"], main.as_str());
    assert_eq!(run.result["outputs"]["action"], "created");
    // The git CLI, as an independent client, sees the new branch at main's tip.
    let heads = ls_remote(&http.url_with_credentials("infra"));
    assert!(
        heads.contains(&format!("{main}\trefs/heads/sbx-pr-7")),
        "{heads}"
    );

    let again = run_task("create-branch", &args, &[]);
    assert_eq!(again.code, 0, "{}", again.result);
    assert_eq!(again.result["outputs"]["action"], "reused");
    let mut fail = args.to_vec();
    fail.extend(["--if-exists", "fail"]);
    let run = run_task("create-branch", &fail, &[]);
    assert_eq!(run.code, 3, "{}", run.result);
    assert!(
        run.result["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );

    // A wrong token: a clear precondition error, and the token never printed.
    std::fs::write(&token, "wrong-token-123\n").unwrap();
    let run = run_task("create-branch", &args, &[]);
    assert_eq!(run.code, 3, "{}", run.result);
    let message = run.result["error"]["message"].as_str().unwrap();
    assert!(message.contains("HTTPS token was rejected"), "{message}");
    assert!(
        !run.stderr.contains("wrong-token-123")
            && !run.result.to_string().contains("wrong-token-123")
    );
    assert!(!message.contains("too many"), "{message}");

    // No credentials at all: says which flag to pass.
    let run = run_task(
        "create-branch",
        &["--repo-url", &url, "--pr-number", "8"],
        &[],
    );
    assert_eq!(run.code, 3, "{}", run.result);
    assert!(
        run.result["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--git-token")
    );
}

/// The repository token read from Vault (a real OpenBao, KV v2): the same
/// push, with the token never in the output; a reference outside the Vault
/// base is refused (exit 2) before anything is fetched.
#[test]
fn the_git_token_can_come_from_vault() {
    let root = GitRoot::new();
    let bare = infra(&root);
    let http = GitHttp::start(&root, "tester", "v4ult-git-tok-5521");
    let bao = sandbox_harness::OpenBao::start();
    bao.run(&[
        "kv",
        "put",
        "-mount=secret",
        "sandboxes/shared/git",
        "token=v4ult-git-tok-5521",
    ]);
    let url = http.url("infra");
    let vault_addr = bao.addr();
    let args = |reference: &str| {
        vec![
            "--repo-url".to_string(),
            url.clone(),
            "--git-token".into(),
            reference.to_string(),
            "--git-user".into(),
            "tester".into(),
            "--pr-number".into(),
            "9".into(),
            "--vault-auth".into(),
            "token".into(),
            "--vault-addr".into(),
            vault_addr.clone(),
        ]
    };
    let envs = [("VAULT_TOKEN", bao.token())];
    let good = args("vault://secret/sandboxes/shared/git#token");
    let good: Vec<&str> = good.iter().map(String::as_str).collect();
    let run = run_task("create-branch", &good, &envs);
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.result["outputs"]["commit"], rev(&bare, "main").as_str());
    assert!(refs(&bare).contains("refs/heads/sbx-pr-9"));
    for text in [run.result.to_string(), run.stderr.clone()] {
        assert!(
            !text.contains("v4ult-git-tok-5521"),
            "the token leaked: {text}"
        );
    }
    let outside = args("vault://secret/elsewhere/git#token");
    let outside: Vec<&str> = outside.iter().map(String::as_str).collect();
    let run = run_task("create-branch", &outside, &envs);
    assert_eq!(run.code, 2, "{}", run.result);
}

#[test]
fn register_and_unregister_write_exactly_the_environments_file() {
    let root = GitRoot::new();
    let bare = infra(&root);
    let daemon = GitDaemon::start(&root);
    let url = daemon.url("infra");
    git(&bare, &["branch", "sbx-pr-12", "main"], None);
    let before = rev(&bare, "main");
    let args = [
        "--repo-url",
        &url,
        "--pr-number",
        "12",
        "--overlay-path",
        "overlays/sbx-pr-12",
        "--source-repo-url",
        "https://github.com/acme/infra.git",
    ];

    let run = run_task("register-app", &args, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.result["outputs"]["action"], "pushed");
    let commit = rev(&bare, "main");
    assert_eq!(run.result["outputs"]["commit"], commit.as_str());
    assert_eq!(
        rev(&bare, "main^"),
        before,
        "the commit's parent is the old tip"
    );
    let file = git(&bare, &["show", "main:apps/sandboxes/sbx-pr-12.yaml"], None);
    let expected = "# Written by register-app for sandbox sbx-pr-12; unregister-app removes
# it, and the finalizer makes Argo CD delete everything it deployed.
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: sbx-pr-12
  namespace: argocd
  labels:
    app.kubernetes.io/managed-by: argo-sandbox
    argo-sandbox.io/environment: sbx-pr-12
    argo-sandbox.io/pr-number: \"12\"
  annotations:
    # Each deployed revision runs sandbox-test (cluster-workflow-templates/notifications/).
    notifications.argoproj.io/subscribe.on-sandbox-deployed.sandbox-test: \"\"
  finalizers:
    - resources-finalizer.argocd.argoproj.io
spec:
  project: default
  source:
    repoURL: \"https://github.com/acme/infra.git\"
    targetRevision: \"sbx-pr-12\"
    path: \"overlays/sbx-pr-12\"
  destination:
    server: \"https://kubernetes.default.svc\"
    namespace: apps-sbx-pr-12
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
    syncOptions:
      - CreateNamespace=true";
    assert_eq!(file, expected);
    assert_eq!(
        git(&bare, &["diff", "--name-only", &before, "main"], None),
        "apps/sandboxes/sbx-pr-12.yaml"
    );

    // Registering again is already done: no new commit.
    let run = run_task("register-app", &args, &[]);
    assert_eq!(run.code, 0);
    assert_eq!(run.result["outputs"]["action"], "unchanged");
    assert_eq!(rev(&bare, "main"), commit);

    // A template from the repository replaces the built-in one.
    let seed = tempfile::tempdir().unwrap();
    git(seed.path(), &["clone", "-q"], Some(&bare));
    let wt = seed.path().join("infra");
    std::fs::create_dir_all(wt.join("templates")).unwrap();
    std::fs::write(
        wt.join("templates/app.yaml.tera"),
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {{ app_name }}\n  finalizers: [resources-finalizer.argocd.argoproj.io]\n  annotations: {custom: \"yes\"}\nspec: {source: {targetRevision: {{ target_revision }}}}\n",
    )
    .unwrap();
    git(&wt, &["add", "-A"], None);
    git(&wt, &["commit", "-qm", "template"], None);
    git(&wt, &["push", "-q", "origin", "main"], None);
    let mut with_template = args.to_vec();
    with_template.extend(["--app-template", "templates/app.yaml.tera"]);
    let run = run_task("register-app", &with_template, &[]);
    assert_eq!(run.code, 0, "{}", run.result);
    let file = git(&bare, &["show", "main:apps/sandboxes/sbx-pr-12.yaml"], None);
    assert!(
        file.contains("custom: \"yes\"") && file.contains("targetRevision: sbx-pr-12"),
        "{file}"
    );

    let run = run_task(
        "unregister-app",
        &["--repo-url", &url, "--pr-number", "12"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.result);
    assert_eq!(run.result["outputs"]["action"], "removed");
    assert!(
        !git(&bare, &["ls-tree", "-r", "--name-only", "main"], None).contains("sbx-pr-12.yaml")
    );
    let tip = rev(&bare, "main");
    let run = run_task(
        "unregister-app",
        &["--repo-url", &url, "--pr-number", "12"],
        &[],
    );
    assert_eq!(run.code, 0);
    assert_eq!(run.result["outputs"]["action"], "absent");
    assert_eq!(rev(&bare, "main"), tip);
}

#[test]
fn sixteen_concurrent_registrations_all_land_on_a_linear_history() {
    let root = GitRoot::new();
    let bare = infra(&root);
    let daemon = GitDaemon::start(&root);
    let url = daemon.url("infra");
    let before = rev(&bare, "main");
    let bin = assert_cmd::cargo::cargo_bin("register-app");
    let outputs = tempfile::tempdir().unwrap();
    let children: Vec<_> = (1..=16)
        .map(|pr| {
            std::process::Command::new(&bin)
                .args([
                    "--repo-url",
                    &url,
                    "--overlay-path",
                    &format!("overlays/sbx-pr-{pr}"),
                ])
                .args(["--pr-number", &pr.to_string(), "--log-format", "text"])
                .arg("--outputs-dir")
                .arg(outputs.path().join(pr.to_string()))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "register-app {} exited {:?}: {}\n{}",
            i + 1,
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let files = git(
        &bare,
        &["ls-tree", "--name-only", "main", "apps/sandboxes/"],
        None,
    );
    for pr in 1..=16 {
        assert!(
            files.contains(&format!("apps/sandboxes/sbx-pr-{pr}.yaml")),
            "sbx-pr-{pr} lost:\n{files}"
        );
    }
    // Linear: 16 new commits, none a merge, each on the one before.
    assert_eq!(
        git(
            &bare,
            &["rev-list", "--count", &format!("{before}..main")],
            None
        ),
        "16"
    );
    assert_eq!(
        git(&bare, &["rev-list", "--merges", "--count", "main"], None),
        "0"
    );
    assert_eq!(
        git(
            &bare,
            &[
                "rev-list",
                "--count",
                "--first-parent",
                &format!("{before}..main")
            ],
            None
        ),
        "16"
    );
}

#[test]
fn a_git_server_killed_during_the_push_is_transient_and_a_rerun_completes() {
    let root = GitRoot::new();
    let bare = infra(&root);
    let hang = bare.join("hang");
    let hung = bare.join("hung");
    let hook = bare.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nif [ -f '{}' ]; then touch '{}'; sleep 60; fi\n",
            hang.display(),
            hung.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(&hang, "").unwrap();
    let mut daemon = GitDaemon::start(&root);
    let before = rev(&bare, "main");
    let bin = assert_cmd::cargo::cargo_bin("register-app");
    let outputs = tempfile::tempdir().unwrap();
    let args = |url: &str| {
        vec![
            "--repo-url".to_string(),
            url.to_string(),
            "--pr-number".into(),
            "3".into(),
            "--overlay-path".into(),
            "overlays/sbx-pr-3".into(),
            "--log-format".into(),
            "text".into(),
            "--outputs-dir".into(),
            outputs.path().display().to_string(),
        ]
    };
    let child = std::process::Command::new(&bin)
        .args(args(&daemon.url("infra")))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !hung.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the push never reached the server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    daemon.kill();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"kind\":\"transient\""), "{stdout}");
    assert_eq!(rev(&bare, "main"), before, "nothing landed");

    std::fs::remove_file(&hang).unwrap();
    let daemon = GitDaemon::start(&root);
    let rerun = std::process::Command::new(&bin)
        .args(args(&daemon.url("infra")))
        .output()
        .unwrap();
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stdout)
    );
    assert_eq!(
        git(
            &bare,
            &["rev-list", "--count", &format!("{before}..main")],
            None
        ),
        "1"
    );
    assert_eq!(rev(&bare, "main^"), before);
}

#[test]
fn hostile_input_is_refused_before_anything_is_pushed() {
    let root = GitRoot::new();
    let bare = infra(&root);
    let daemon = GitDaemon::start(&root);
    let url = daemon.url("infra");
    let before = refs(&bare);
    let long = "a".repeat(256);
    for branch in [
        "sbx-pr-1..x",
        "sbx-pr-1@{1}",
        "sbx~1",
        "sbx^",
        "sbx:x",
        "sbx x",
        "-sbx",
        "sbx.lock",
        long.as_str(),
    ] {
        for (task, extra) in [
            ("create-branch", &[][..]),
            ("cleanup-branch", &["--forge", "none"][..]),
        ] {
            // `--branch=VALUE`, so a leading '-' reaches validation instead
            // of being taken for a flag.
            let flag = format!("--branch={branch}");
            let mut args = vec!["--repo-url", url.as_str(), flag.as_str()];
            args.extend(extra);
            let run = run_task(task, &args, &[]);
            assert_eq!(run.code, 2, "{task} {branch:?}: {}", run.result);
            assert_eq!(run.result["error"]["kind"], "invalid-params");
            let rule_hit = run.result["error"]["details"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["field"] == "branch" && d["rule"] != "cli");
            assert!(
                rule_hit,
                "{task} {branch:?} was not refused by the branch rules: {}",
                run.result
            );
        }
        let run = run_task(
            "register-app",
            &[
                "--repo-url",
                &url,
                "--pr-number",
                "1",
                &format!("--branch={branch}"),
                "--overlay-path",
                "overlays/x",
            ],
            &[],
        );
        assert_eq!(run.code, 2, "register-app {branch:?}: {}", run.result);
    }
    for bad_url in [
        "https://user:hunter2@example.com/infra.git",
        "https://ghp_secret@example.com/infra.git",
    ] {
        let run = run_task(
            "create-branch",
            &["--repo-url", bad_url, "--pr-number", "1"],
            &[],
        );
        assert_eq!(run.code, 2, "{}", run.result);
        assert!(
            !run.result.to_string().contains("hunter2")
                && !run.result.to_string().contains("ghp_secret")
        );
        assert!(!run.stderr.contains("hunter2") && !run.stderr.contains("ghp_secret"));
    }
    for overlay in ["../escape", "/etc/passwd", "overlays/../../x"] {
        let run = run_task(
            "register-app",
            &[
                "--repo-url",
                &url,
                "--pr-number",
                "1",
                "--overlay-path",
                overlay,
            ],
            &[],
        );
        assert_eq!(run.code, 2, "{overlay}: {}", run.result);
    }
    for apps_path in ["../apps", "/apps"] {
        let run = run_task(
            "register-app",
            &[
                "--repo-url",
                &url,
                "--pr-number",
                "1",
                "--overlay-path",
                "o",
                "--apps-path",
                apps_path,
            ],
            &[],
        );
        assert_eq!(run.code, 2, "{apps_path}: {}", run.result);
    }
    // Protected and foreign branches are refused by the guard rails.
    for (task, branch) in [
        ("create-branch", "main"),
        ("cleanup-branch", "release/1.0"),
        ("create-branch", "sbx-pr-2"),
    ] {
        let mut args = vec![
            "--repo-url",
            url.as_str(),
            "--pr-number",
            "1",
            "--branch",
            branch,
        ];
        if task == "cleanup-branch" {
            args.extend(["--forge", "none"]);
        }
        let run = run_task(task, &args, &[]);
        assert_eq!(run.code, 5, "{task} {branch}: {}", run.result);
    }
    // Dry runs touch nothing.
    for (task, extra) in [
        ("create-branch", vec![]),
        ("register-app", vec!["--overlay-path", "overlays/sbx-pr-1"]),
        ("unregister-app", vec![]),
        ("cleanup-branch", vec!["--forge", "none"]),
    ] {
        let mut args = vec!["--repo-url", url.as_str(), "--pr-number", "1", "--dry-run"];
        args.extend(extra);
        let run = run_task(task, &args, &[]);
        assert_eq!(run.code, 0, "{task}: {}", run.result);
        assert_eq!(run.result["outputs"]["action"], "planned");
    }
    assert_eq!(refs(&bare), before, "something was pushed");
}

mod github {
    use super::*;
    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

    struct Setup {
        _root: GitRoot,
        bare: PathBuf,
        _daemon: GitDaemon,
        url: String,
        server: MockServer,
        _secrets: tempfile::TempDir,
        token_ref: String,
    }

    async fn setup() -> Setup {
        let root = GitRoot::new();
        let bare = infra(&root);
        git(&bare, &["branch", "sbx-pr-7", "main"], None);
        let daemon = GitDaemon::start(&root);
        let url = daemon.url("infra");
        let secrets = tempfile::tempdir().unwrap();
        std::fs::write(secrets.path().join("gh"), "ghs_test_token_1\n").unwrap();
        let token_ref = format!("file:{}", secrets.path().join("gh").display());
        Setup {
            _root: root,
            bare,
            _daemon: daemon,
            url,
            server: MockServer::start().await,
            _secrets: secrets,
            token_ref,
        }
    }

    fn cleanup(s: &Setup) -> Run {
        run_task(
            "cleanup-branch",
            &[
                "--repo-url",
                &s.url,
                "--pr-number",
                "7",
                "--forge",
                "github",
                "--github-repo",
                "octocat/Hello-World",
                "--github-api-url",
                &s.server.uri(),
                "--github-token",
                &s.token_ref,
            ],
            &[],
        )
    }

    fn pulls() -> MockBuilder {
        Mock::given(method("GET"))
            .and(path("/repos/octocat/Hello-World/pulls"))
            .and(query_param("head", "octocat:sbx-pr-7"))
            .and(query_param("state", "open"))
            .and(header("authorization", "Bearer ghs_test_token_1"))
            .and(header("accept", "application/vnd.github+json"))
    }

    fn branch_exists(bare: &Path) -> bool {
        git(bare, &["branch", "--list", "sbx-pr-7"], None).contains("sbx-pr-7")
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_open_pull_request_keeps_the_branch() {
        let fixtures = super::support::fixtures();
        let s = setup().await;
        let mut list: Vec<Value> = serde_json::from_str(
            &std::fs::read_to_string(fixtures.join("github/rest/pulls-list.json")).unwrap(),
        )
        .unwrap();
        list.truncate(1);
        list[0]["head"]["ref"] = "sbx-pr-7".into();
        list[0]["state"] = "open".into();
        pulls()
            .respond_with(ResponseTemplate::new(200).set_body_json(&list))
            .expect(1)
            .mount(&s.server)
            .await;
        let run = tokio::task::block_in_place(|| cleanup(&s));
        assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
        assert_eq!(run.result["outputs"]["action"], "kept");
        assert_eq!(
            run.result["outputs"]["open_pull_requests"],
            list[0]["number"].to_string()
        );
        assert!(branch_exists(&s.bare));
        assert!(!run.stderr.contains("ghs_test_token_1"));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn no_open_pull_request_deletes_it_following_pagination() {
        let s = setup().await;
        let page2 = format!("{}/repositories/1/pulls?page=2", s.server.uri());
        pulls()
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(Vec::<Value>::new())
                    .insert_header(
                        "link",
                        format!("<{page2}>; rel=\"next\", <{page2}>; rel=\"last\""),
                    ),
            )
            .expect(1)
            .mount(&s.server)
            .await;
        Mock::given(method("GET"))
            .and(path("/repositories/1/pulls"))
            .and(query_param("page", "2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(Vec::<Value>::new()))
            .expect(1)
            .mount(&s.server)
            .await;
        let run = tokio::task::block_in_place(|| cleanup(&s));
        assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
        assert_eq!(run.result["outputs"]["action"], "deleted");
        assert!(!branch_exists(&s.bare));
        // Absent now: success without asking GitHub again.
        let run = tokio::task::block_in_place(|| cleanup(&s));
        assert_eq!(run.code, 0);
        assert_eq!(run.result["outputs"]["action"], "absent");
    }

    async fn failing(
        status: u16,
        body: Value,
        headers: &[(&str, String)],
    ) -> (Run, PathBuf, Setup) {
        let s = setup().await;
        let mut response = ResponseTemplate::new(status).set_body_json(body);
        for (k, v) in headers {
            response = response.insert_header(*k, v.as_str());
        }
        pulls().respond_with(response).mount(&s.server).await;
        let run = tokio::task::block_in_place(|| cleanup(&s));
        let bare = s.bare.clone();
        (run, bare, s)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn not_found_is_a_precondition() {
        let (run, bare, _s) = failing(404, serde_json::json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest/pulls/pulls#list-pull-requests", "status": "404"}), &[]).await;
        assert_eq!(run.code, 3, "{}", run.result);
        assert!(
            run.result["error"]["message"]
                .as_str()
                .unwrap()
                .contains("404")
        );
        assert!(branch_exists(&bare));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn bad_credentials_are_a_precondition() {
        let (run, bare, _s) = failing(401, serde_json::json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}), &[]).await;
        assert_eq!(run.code, 3, "{}", run.result);
        let message = run.result["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("rejected the token") && message.contains("Bad credentials"),
            "{message}"
        );
        assert!(!message.contains("ghs_test_token_1"));
        assert!(branch_exists(&bare));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_rate_limit_far_from_reset_is_transient() {
        let reset = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3600;
        let headers = [
            ("x-ratelimit-limit", "5000".to_string()),
            ("x-ratelimit-remaining", "0".to_string()),
            ("x-ratelimit-used", "5000".to_string()),
            ("x-ratelimit-reset", reset.to_string()),
            ("x-ratelimit-resource", "core".to_string()),
        ];
        let (run, bare, _s) = failing(403, serde_json::json!({"message": "API rate limit exceeded for installation ID 1.", "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}), &headers).await;
        assert_eq!(run.code, 4, "{}", run.result);
        let message = run.result["error"]["message"].as_str().unwrap();
        assert!(message.contains("rate limit"), "{message}");
        assert!(branch_exists(&bare));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_rate_limit_about_to_reset_is_waited_out() {
        let s = setup().await;
        let reset = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 1;
        pulls()
            .respond_with(
                ResponseTemplate::new(403)
                    .set_body_json(serde_json::json!({"message": "API rate limit exceeded"}))
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("x-ratelimit-reset", reset.to_string().as_str()),
            )
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&s.server)
            .await;
        pulls()
            .respond_with(ResponseTemplate::new(200).set_body_json(Vec::<Value>::new()))
            .with_priority(2)
            .mount(&s.server)
            .await;
        let started = Instant::now();
        let run = tokio::task::block_in_place(|| cleanup(&s));
        assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "did not wait for the reset"
        );
        assert_eq!(run.result["outputs"]["action"], "deleted");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_secondary_rate_limit_with_retry_after_is_waited_out() {
        let s = setup().await;
        pulls()
            .respond_with(
                ResponseTemplate::new(429)
                    .set_body_json(
                        serde_json::json!({"message": "You have exceeded a secondary rate limit."}),
                    )
                    .insert_header("retry-after", "1"),
            )
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&s.server)
            .await;
        pulls()
            .respond_with(ResponseTemplate::new(200).set_body_json(Vec::<Value>::new()))
            .with_priority(2)
            .mount(&s.server)
            .await;
        let run = tokio::task::block_in_place(|| cleanup(&s));
        assert_eq!(run.code, 0, "{}", run.result);
    }
}

#[test]
fn check_params_checks_the_repository() {
    let root = GitRoot::new();
    let bare = root.create_with_files(
        "infra",
        &[
            ("apps/sandboxes/sbx-pr-1.yaml", "kind: Application\n"),
            ("apps/sandboxes/sbx-pr-2.yaml", "kind: Application\n"),
            ("apps/sandboxes/README.md", "not an app\n"),
        ],
    );
    git(&bare, &["branch", "sbx-pr-9", "main"], None);
    let daemon = GitDaemon::start(&root);
    let url = daemon.url("infra");
    let check = |pr: &str, extra: &[&str]| {
        let mut args = vec![
            "--repo-url",
            url.as_str(),
            "--pr-number",
            pr,
            "--check-remote",
        ];
        args.extend(extra);
        run_task("check-params", &args, &[])
    };

    let run = check("5", &["--max-sandboxes", "3"]);
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    let checks: Value =
        serde_json::from_str(run.result["outputs"]["remote_checks"].as_str().unwrap()).unwrap();
    for name in [
        "repo-reachable",
        "base-branch-present",
        "environment-branch-absent",
        "live-sandboxes-under-max",
    ] {
        let c = checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .unwrap_or_else(|| panic!("{name} missing: {checks}"));
        assert_eq!(c["status"], "passed", "{c}");
    }

    let run = check("5", &["--max-sandboxes", "2"]);
    assert_eq!(run.code, 5, "{}", run.result);
    assert!(
        run.result["error"]["message"]
            .as_str()
            .unwrap()
            .contains("live-sandboxes-under-max")
    );
    // A sandbox that is registered already is not refused by the limit.
    assert_eq!(check("2", &["--max-sandboxes", "2"]).code, 0);

    assert_eq!(check("9", &[]).code, 0, "existing branch with reuse");
    let run = check("9", &["--if-exists", "fail"]);
    assert_eq!(run.code, 3, "{}", run.result);
    let run = check("5", &["--base-branch", "develop"]);
    assert_eq!(run.code, 3, "{}", run.result);
    assert!(
        run.result["error"]["message"]
            .as_str()
            .unwrap()
            .contains("base-branch-present")
    );

    let dead = format!("git://127.0.0.1:{}/infra.git", sandbox_harness::free_port());
    let run = run_task(
        "check-params",
        &["--repo-url", &dead, "--pr-number", "5", "--check-remote"],
        &[],
    );
    assert_eq!(run.code, 4, "{}", run.result);
}
