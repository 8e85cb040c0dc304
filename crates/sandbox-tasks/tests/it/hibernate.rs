//! hibernate and wake against the harness git daemon: Application files
//! written by register-app (and edited with the git CLI), environment
//! branches with an overlay of 3 Deployments, 1 StatefulSet and a CronJob,
//! `kubectl kustomize` as the independent renderer, and a GitHub API double
//! answering the open pull requests from the recorded listing.

use super::support::{self, Run};
use sandbox_harness::git::git;
use sandbox_harness::{GitDaemon, GitRoot, tool};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REPO: &str = "octocat/Hello-World";

fn write(work: &Path, file: &str, text: &str) {
    let p = work.join(file);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn commit_push(work: &Path, bare: &Path, message: &str, refspec: &str) {
    git(work, &["add", "-A"], None);
    git(
        work,
        &[
            "-c",
            "user.name=Harness",
            "-c",
            "user.email=h@example.invalid",
            "commit",
            "-q",
            "-m",
            message,
        ],
        None,
    );
    git(work, &["push", "-q", bare.to_str().unwrap(), refspec], None);
}

const BASE: &[(&str, &str)] = &[
    (
        "base/kustomization.yaml",
        "resources:\n  - web.yaml\n  - api.yaml\n  - worker.yaml\n  - db.yaml\n  - nightly.yaml\n  - svc.yaml\n",
    ),
    (
        "base/svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n    - port: 80\n",
    ),
    (
        "base/db.yaml",
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  replicas: 1\n  serviceName: db\n  selector:\n    matchLabels: {app: db}\n  template:\n    metadata:\n      labels: {app: db}\n    spec:\n      containers:\n        - name: db\n          image: postgres:16\n",
    ),
    (
        "base/nightly.yaml",
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly\nspec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n            - name: job\n              image: busybox\n",
    ),
];

fn deployment(name: &str, replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n        - name: {name}\n          image: nginx:1.27\n"
    )
}

fn overlay(env: &str) -> String {
    format!("namePrefix: {env}-\nresources:\n  - ../../base\n")
}

/// The infrastructure repository: environment branches sbx-pr-1..7 with
/// their overlay (sbx-pr-7's does not render), main with the Applications
/// of sbx-pr-1..5 and 7 (register-app),
/// sbx-pr-2 with an existing replicas override and an annotation, sbx-pr-3
/// annotated keep-awake, sbx-pr-5 deploying `main` (protected), and
/// other-pr-9 of another prefix.
fn infra(root: &GitRoot, url: &str) -> PathBuf {
    let bare = root.create_with_files("infra", &[("apps/sandboxes/.keep", "")]);
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    git(w, &["clone", "-q", bare.to_str().unwrap(), "."], None);
    git(w, &["checkout", "-q", "-b", "env"], None);
    for (file, text) in BASE {
        write(w, file, text);
    }
    write(w, "base/web.yaml", &deployment("web", 2));
    write(w, "base/api.yaml", &deployment("api", 3));
    write(w, "base/worker.yaml", &deployment("worker", 1));
    for n in 1..=7 {
        let env = format!("sbx-pr-{n}");
        let text = if n == 7 {
            "resources:\n  - missing.yaml\n".to_string()
        } else {
            overlay(&env)
        };
        write(w, &format!("overlays/{env}/kustomization.yaml"), &text);
        commit_push(w, &bare, &env, &format!("HEAD:refs/heads/{env}"));
    }
    for n in [1, 2, 3, 4, 5, 7] {
        let run = register(url, n);
        assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    }
    git(w, &["checkout", "-q", "main"], None);
    git(w, &["pull", "-q", bare.to_str().unwrap(), "main"], None);
    let edit = |file: &str, from: &str, to: &str| {
        let p = w.join(file);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "{text}");
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
    };
    // register-app writes an annotations block (the notification
    // subscription): entries join it, never a second `annotations:` key.
    edit(
        "apps/sandboxes/sbx-pr-2.yaml",
        "  annotations:\n",
        "  annotations:\n    team: payments\n",
    );
    edit(
        "apps/sandboxes/sbx-pr-2.yaml",
        "    path: \"overlays/sbx-pr-2\"\n",
        "    path: \"overlays/sbx-pr-2\"\n    kustomize:\n      replicas:\n        - name: sbx-pr-2-api\n          count: 5\n",
    );
    edit(
        "apps/sandboxes/sbx-pr-3.yaml",
        "  annotations:\n",
        "  annotations:\n    argo-sandbox.io/keep-awake: \"true\"\n",
    );
    edit(
        "apps/sandboxes/sbx-pr-5.yaml",
        "targetRevision: \"sbx-pr-5\"",
        "targetRevision: \"main\"",
    );
    write(
        w,
        "apps/sandboxes/other-pr-9.yaml",
        &std::fs::read_to_string(w.join("apps/sandboxes/sbx-pr-1.yaml"))
            .unwrap()
            .replace("sbx-pr-1", "other-pr-9"),
    );
    commit_push(w, &bare, "edit applications", "HEAD:main");
    bare
}

fn register(url: &str, n: u32) -> Run {
    support::task("register-app")
        .args([
            "--repo-url",
            url,
            "--pr-number",
            &n.to_string(),
            "--overlay-path",
            &format!("overlays/sbx-pr-{n}"),
        ])
        .run()
}

fn sleep_task(task: &str, url: &str, api: Option<&str>, extra: &[&str]) -> Run {
    let mut t = support::task(task).args(["--repo-url", url]);
    t = match api {
        Some(api) => t.args(["--github-repo", REPO, "--github-api-url", api]),
        None => t.args(["--forge", "none"]),
    };
    t.args(extra).run()
}

/// The open pull requests 1-4, PR 4 labelled keep-awake, from the
/// recorded listing; the number of listing requests is counted.
async fn open_pulls(server: &MockServer) {
    open_pulls_of(server, 1..=4).await;
}

/// The PRs' comments: none yet; a new one is answered with the recorded
/// creation, its body echoed.
async fn comments(server: &MockServer) {
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(format!(
            "^/repos/{REPO}/issues/[0-9]+/comments$"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(server)
        .await;
    let created: Value = serde_json::from_str(
        &std::fs::read_to_string(support::fixtures().join("github/rest/issue-comment-create.json"))
            .unwrap(),
    )
    .unwrap();
    Mock::given(method("POST"))
        .and(wiremock::matchers::path_regex(format!(
            "^/repos/{REPO}/issues/[0-9]+/comments$"
        )))
        .respond_with(move |r: &wiremock::Request| {
            let mut c = created.clone();
            c["body"] = serde_json::from_slice::<Value>(&r.body).unwrap()["body"].clone();
            ResponseTemplate::new(201).set_body_json(c)
        })
        .mount(server)
        .await;
}

/// The bodies posted to PR `n`'s comments.
async fn posted(server: &MockServer, n: u64) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| {
            r.method.as_str() == "POST"
                && r.url.path() == format!("/repos/{REPO}/issues/{n}/comments")
        })
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["body"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// The open pull requests `numbers`, PR 4 labelled keep-awake.
async fn open_pulls_of(server: &MockServer, numbers: impl Iterator<Item = u64>) {
    let pulls: Vec<(u64, &[&str])> = numbers
        .map(|n| {
            (
                n,
                if n == 4 {
                    &["Keep-Awake"] as &[&str]
                } else {
                    &["bug"]
                },
            )
        })
        .collect();
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/pulls")))
        .and(query_param("state", "open"))
        .respond_with(support::OpenPulls::new(&pulls))
        .mount(server)
        .await;
}

fn refs(bare: &Path) -> String {
    git(
        bare,
        &["for-each-ref", "--format=%(refname) %(objectname)"],
        None,
    )
}

fn apps(bare: &Path) -> BTreeMap<String, String> {
    git(
        bare,
        &["ls-tree", "--name-only", "main", "apps/sandboxes/"],
        None,
    )
    .lines()
    .filter(|f| f.ends_with(".yaml"))
    .map(|f| {
        (
            f.to_string(),
            git(bare, &["show", &format!("main:{f}")], None),
        )
    })
    .collect()
}

fn list(run: &Run, name: &str) -> Vec<Value> {
    serde_json::from_str(&run.output(name)).unwrap()
}

fn yaml(text: &str) -> Value {
    yaml_serde::from_str(text).unwrap()
}

/// Render the Application's overlay at its branch the way Argo CD's repo
/// server does with `kustomize.replicas` (argoproj/argo-cd
/// `util/kustomize/kustomize.go`, `Build`: `kustomize edit set replicas
/// name=count` in the source directory, then build): the entries become the
/// overlay's `replicas:` list, and `kubectl kustomize` renders it.
fn render_with_overrides(bare: &Path, app: &str) -> Vec<(String, String, u64)> {
    let app = yaml(app);
    let source = &app["spec"]["source"];
    let branch = source["targetRevision"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    git(
        dir.path(),
        &["clone", "-q", "-b", branch, bare.to_str().unwrap(), "."],
        None,
    );
    let overlay = dir.path().join(source["path"].as_str().unwrap());
    let file = overlay.join("kustomization.yaml");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("replicas:\n");
    for r in source["kustomize"]["replicas"].as_array().unwrap() {
        text.push_str(&format!(
            "  - name: {}\n    count: {}\n",
            r["name"].as_str().unwrap(),
            r["count"]
        ));
    }
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new(tool("kubectl"))
        .arg("kustomize")
        .arg(&overlay)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = String::from_utf8(out.stdout).unwrap();
    rendered
        .split("\n---\n")
        .map(yaml)
        .filter(|d| matches!(d["kind"].as_str(), Some("Deployment" | "StatefulSet")))
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["metadata"]["name"].as_str().unwrap().to_string(),
                d["spec"]["replicas"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sandbox_sleeps_in_one_commit_and_wakes_byte_for_byte() {
    let root = GitRoot::new();
    let daemon = GitDaemon::start(&root);
    let url = daemon.url("infra");
    let bare = tokio::task::block_in_place(|| infra(&root, &url));
    let server = MockServer::start().await;
    open_pulls(&server).await;
    comments(&server).await;
    let before = apps(&bare);
    let refs_before = refs(&bare);
    let main_before = git(&bare, &["rev-parse", "main"], None);

    // A dry run pushes nothing but says what it would do.
    let run = tokio::task::block_in_place(|| {
        sleep_task("hibernate", &url, Some(&server.uri()), &["--dry-run"])
    });
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.output("action"), "planned");
    assert_eq!(run.output("count"), "2");
    assert_eq!(refs(&bare), refs_before);

    let run =
        tokio::task::block_in_place(|| sleep_task("hibernate", &url, Some(&server.uri()), &[]));
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.output("action"), "pushed");
    // Exactly one commit, on main; no environment branch moved.
    assert_eq!(
        git(&bare, &["rev-parse", "main^"], None),
        main_before,
        "one commit on the old tip"
    );
    assert_eq!(
        run.output("commit"),
        git(&bare, &["rev-parse", "main"], None)
    );
    let moved: Vec<String> = refs(&bare)
        .lines()
        .filter(|l| !refs_before.contains(*l))
        .map(str::to_string)
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert!(moved[0].starts_with("refs/heads/main "), "{moved:?}");

    let hibernated = list(&run, "hibernated");
    let names: Vec<&str> = hibernated
        .iter()
        .map(|h| h["environment"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sbx-pr-1", "sbx-pr-2"]);
    let mut workloads = hibernated[1]["workloads"].as_array().unwrap().clone();
    workloads.sort_by_key(|w| w["name"].as_str().unwrap().to_string());
    assert_eq!(
        workloads,
        [
            json!({"kind": "Deployment", "name": "sbx-pr-2-api", "replicas": 5}),
            json!({"kind": "StatefulSet", "name": "sbx-pr-2-db", "replicas": 1}),
            json!({"kind": "Deployment", "name": "sbx-pr-2-web", "replicas": 2}),
            json!({"kind": "Deployment", "name": "sbx-pr-2-worker", "replicas": 1}),
        ]
    );
    assert_eq!(
        run.output("replicas_stopped"),
        "16",
        "7 + 9: sbx-pr-2's api was overridden to 5"
    );
    // The savings: weekdays 20:00 to 07:30 is 105.5 hours a week asleep.
    assert_eq!(run.output("replica_hours_per_week"), "1688.0");
    assert_eq!(hibernated[1]["replica_hours_per_week"], json!(9.0 * 105.5));
    // Each PR's sticky comment says so, under its marker.
    assert_eq!(run.output("comments"), "2");
    for n in [1, 2] {
        let bodies = posted(&server, n).await;
        assert_eq!(bodies.len(), 1, "{bodies:?}");
        assert!(
            bodies[0].starts_with(&format!("<!-- argo-sandbox:sbx-pr-{n} -->")),
            "{}",
            bodies[0]
        );
        assert!(
            bodies[0].contains("**Sleeping** since") && bodies[0].contains("/sandbox wake"),
            "{}",
            bodies[0]
        );
    }
    assert!(
        posted(&server, 4).await.is_empty(),
        "kept awake: no comment"
    );
    let skipped: Vec<(String, String)> = list(&run, "skipped")
        .iter()
        .map(|s| {
            (
                s["environment"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        skipped,
        [
            ("sbx-pr-3".to_string(), "keep-awake-annotation".to_string()),
            ("sbx-pr-4".to_string(), "keep-awake-label".to_string()),
            ("sbx-pr-5".to_string(), "refused".to_string()),
            ("sbx-pr-7".to_string(), "does-not-render".to_string()),
        ]
    );
    assert_eq!(
        list(&run, "not_handled"),
        [
            json!({"environment": "sbx-pr-1", "kind": "CronJob", "name": "sbx-pr-1-nightly"}),
            json!({"environment": "sbx-pr-2", "kind": "CronJob", "name": "sbx-pr-2-nightly"}),
        ]
    );

    let after = apps(&bare);
    for (file, text) in &before {
        let hibernated = file.ends_with("sbx-pr-1.yaml") || file.ends_with("sbx-pr-2.yaml");
        assert_eq!(
            &after[file] == text,
            !hibernated,
            "{file}:\n{}",
            after[file]
        );
    }
    for env in ["sbx-pr-1", "sbx-pr-2"] {
        let text = &after[&format!("apps/sandboxes/{env}.yaml")];
        let app = yaml(text);
        let replicas = app["spec"]["source"]["kustomize"]["replicas"]
            .as_array()
            .unwrap();
        assert_eq!(replicas.len(), 4, "{text}");
        assert!(replicas.iter().all(|r| r["count"] == 0), "{text}");
        assert!(app["metadata"]["annotations"]["argo-sandbox.io/hibernated-at"].is_string());
        // Rendered with the overrides as Argo CD applies them: 0 replicas.
        let rendered = render_with_overrides(&bare, text);
        assert_eq!(rendered.len(), 4, "{rendered:?}");
        assert!(rendered.iter().all(|(_, _, n)| *n == 0), "{rendered:?}");
    }
    let app2 = yaml(&after["apps/sandboxes/sbx-pr-2.yaml"]);
    assert_eq!(app2["metadata"]["annotations"]["team"], "payments");
    let saved: Value = serde_json::from_str(
        app2["metadata"]["annotations"]["argo-sandbox.io/hibernated-overrides"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        saved["replicas"],
        json!([{"name": "sbx-pr-2-api", "count": 5}]),
        "{app2}"
    );
    // One listing of the open pull requests for the whole run.
    let listings = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == format!("/repos/{REPO}/pulls"))
        .count();
    assert_eq!(listings, 2, "one per run (dry run and this one)");

    // Again: nothing to do, no commit.
    let tip = git(&bare, &["rev-parse", "main"], None);
    let run =
        tokio::task::block_in_place(|| sleep_task("hibernate", &url, Some(&server.uri()), &[]));
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.output("action"), "unchanged");
    assert_eq!(run.output("count"), "0");
    assert_eq!(git(&bare, &["rev-parse", "main"], None), tip);

    // Wake: a dry run writes nothing, then every file is back byte for
    // byte.
    let run = tokio::task::block_in_place(|| {
        sleep_task("wake", &url, Some(&server.uri()), &["--dry-run"])
    });
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.output("count"), "2");
    assert_eq!(git(&bare, &["rev-parse", "main"], None), tip);
    // PR 1 closed meanwhile: its sandbox stays asleep (the reaper deletes it).
    server.reset().await;
    open_pulls_of(&server, 2..=4).await;
    comments(&server).await;
    let run = tokio::task::block_in_place(|| sleep_task("wake", &url, Some(&server.uri()), &[]));
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.output("action"), "pushed");
    assert_eq!(list(&run, "woken")[0]["environment"], "sbx-pr-2");
    assert_eq!(list(&run, "woken").len(), 1);
    assert_eq!(run.output("comments"), "1");
    assert!(posted(&server, 2).await[0].contains("**Awake** since"));
    assert!(posted(&server, 1).await.is_empty(), "closed: no comment");
    assert!(
        list(&run, "skipped").contains(&json!({"environment": "sbx-pr-1", "reason": "pr-closed"})),
        "{}",
        run.output("skipped")
    );
    assert_eq!(git(&bare, &["rev-parse", "main^"], None), tip);
    // Reopened: it wakes too, and every file is as it was.
    server.reset().await;
    open_pulls(&server).await;
    let run = tokio::task::block_in_place(|| sleep_task("wake", &url, Some(&server.uri()), &[]));
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.output("action"), "pushed");
    assert_eq!(git(&bare, &["rev-parse", "main^^"], None), tip);
    assert_eq!(apps(&bare), before);
    let run = tokio::task::block_in_place(|| sleep_task("wake", &url, Some(&server.uri()), &[]));
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.output("action"), "unchanged");
}

#[test]
fn one_sandbox_by_pr_number_and_the_guard_rails() {
    let root = GitRoot::new();
    let daemon = GitDaemon::start(&root);
    let url = daemon.url("infra");
    let bare = infra(&root, &url);
    let before = apps(&bare);

    // Validation: every problem at once, exit 2.
    let run = sleep_task(
        "hibernate",
        &url,
        None,
        &[
            "--keep-awake-label",
            "",
            "--pr-number",
            "x",
            "--sleep-schedule",
            "0 20 * * 7",
            "--wake-schedule",
            "daily",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.result);
    let fields: Vec<&str> = run.result["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "pr_number",
            "sleep_schedule",
            "wake_schedule",
            "keep_awake_label"
        ],
        "{}",
        run.result
    );
    assert_eq!(apps(&bare), before, "nothing touched");
    // --forge github without a repository names the fix.
    let run = support::task("hibernate").args(["--repo-url", &url]).run();
    assert_eq!(run.code, 2, "{}", run.result);
    assert!(
        run.result.to_string().contains("--forge none"),
        "{}",
        run.result
    );

    // Guard rails: another prefix, a sandbox deploying a protected branch.
    let run = sleep_task("hibernate", &url, None, &["--environment", "other-pr-9"]);
    assert_eq!(run.code, 5, "{}", run.result);
    let run = sleep_task("hibernate", &url, None, &["--pr-number", "5"]);
    assert_eq!(run.code, 5, "{}\n{}", run.result, run.stderr);
    assert!(
        run.result.to_string().contains("targetRevision"),
        "{}",
        run.result
    );
    assert_eq!(apps(&bare), before);

    // One sandbox; the others are not touched.
    let run = sleep_task("hibernate", &url, None, &["--pr-number", "1"]);
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.output("count"), "1");
    let after = apps(&bare);
    let changed: Vec<&String> = before.keys().filter(|f| before[*f] != after[*f]).collect();
    assert_eq!(changed, ["apps/sandboxes/sbx-pr-1.yaml"]);
    // One sandbox whose overlay does not render: exit 3, nothing pushed.
    let tip = git(&bare, &["rev-parse", "main"], None);
    let run = sleep_task("hibernate", &url, None, &["--pr-number", "7"]);
    assert_eq!(run.code, 3, "{}\n{}", run.result, run.stderr);
    assert!(
        run.result.to_string().contains("does not render"),
        "{}",
        run.result
    );
    assert_eq!(git(&bare, &["rev-parse", "main"], None), tip);
    // Not registered: nothing to do, success.
    let run = sleep_task("hibernate", &url, None, &["--pr-number", "6"]);
    assert_eq!(run.code, 0, "{}", run.result);
    assert_eq!(list(&run, "skipped")[0]["reason"], "not-registered");
    let run = sleep_task("wake", &url, None, &["--pr-number", "1"]);
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(apps(&bare), before);
}

#[test]
fn a_register_app_during_hibernate_is_not_lost() {
    let root = GitRoot::new();
    let daemon = GitDaemon::start(&root);
    let url = daemon.url("infra");
    let bare = infra(&root, &url);
    // More environment branches for the registers racing the hibernate.
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    git(
        w,
        &["clone", "-q", "-b", "sbx-pr-6", bare.to_str().unwrap(), "."],
        None,
    );
    for n in 10..18 {
        write(
            w,
            &format!("overlays/sbx-pr-{n}/kustomization.yaml"),
            &overlay(&format!("sbx-pr-{n}")),
        );
        commit_push(w, &bare, "env", &format!("HEAD:refs/heads/sbx-pr-{n}"));
    }
    std::thread::scope(|s| {
        let hibernate = s.spawn(|| sleep_task("hibernate", &url, None, &[]));
        let registers: Vec<_> = (10..18)
            .map(|n| {
                s.spawn({
                    let url = url.clone();
                    move || register(&url, n)
                })
            })
            .collect();
        for r in registers {
            let run = r.join().unwrap();
            assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
        }
        let run = hibernate.join().unwrap();
        assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    });
    let after = apps(&bare);
    for n in 10..18 {
        assert!(
            after.contains_key(&format!("apps/sandboxes/sbx-pr-{n}.yaml")),
            "sbx-pr-{n} lost"
        );
    }
    for n in [1, 2, 4] {
        let app = yaml(&after[&format!("apps/sandboxes/sbx-pr-{n}.yaml")]);
        assert!(
            app["metadata"]["annotations"]["argo-sandbox.io/hibernated-at"].is_string(),
            "sbx-pr-{n} not hibernated: {app}"
        );
    }
}

/// 100 registered sandboxes (Application files as register-app writes
/// them, each deploying its own branch) hibernate in one run and one
/// commit while 8 register-app runs push to the same branch: none of the
/// 8 is lost. The run's time is printed (`--nocapture`); scripts/bench
/// hibernate measures it.
#[test]
fn a_hundred_sandboxes_hibernate_in_one_commit() {
    let root = GitRoot::new();
    let daemon = GitDaemon::start(&root);
    let url = daemon.url("infra");
    let bare = root.create_with_files("infra", &[("apps/sandboxes/.keep", "")]);
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    git(w, &["clone", "-q", bare.to_str().unwrap(), "."], None);
    for (file, text) in BASE {
        write(w, file, text);
    }
    write(w, "base/web.yaml", &deployment("web", 2));
    write(w, "base/api.yaml", &deployment("api", 3));
    write(w, "base/worker.yaml", &deployment("worker", 1));
    let template = sandbox_tasks::register_app::DEFAULT_TEMPLATE;
    for n in 1..=100 {
        let env = format!("sbx-pr-{n}");
        write(
            w,
            &format!("overlays/{env}/kustomization.yaml"),
            &overlay(&env),
        );
        let mut c = tera::Context::new();
        for (k, v) in [
            ("app_name", env.as_str()),
            ("environment", &env),
            ("namespace", &format!("apps-{env}")),
            ("argocd_namespace", "argocd"),
            ("project", "default"),
            ("repo_url", &url),
            ("target_revision", &env),
            ("overlay_path", &format!("overlays/{env}")),
            ("destination_server", "https://kubernetes.default.svc"),
            ("pr_number", &n.to_string()),
        ] {
            c.insert(k, v);
        }
        let app = sandbox_tasks::register_app::render(template, &c, &env).unwrap();
        write(w, &format!("apps/sandboxes/{env}.yaml"), &app);
    }
    for n in 101..=108 {
        let env = format!("sbx-pr-{n}");
        write(
            w,
            &format!("overlays/{env}/kustomization.yaml"),
            &overlay(&env),
        );
    }
    commit_push(w, &bare, "100 sandboxes", "HEAD:main");
    for n in 1..=108 {
        git(&bare, &["branch", &format!("sbx-pr-{n}"), "main"], None);
    }
    let tip = git(&bare, &["rev-parse", "main"], None);
    let started = std::time::Instant::now();
    let (run, took) = std::thread::scope(|s| {
        let hibernate = s.spawn(|| {
            let run = sleep_task("hibernate", &url, None, &[]);
            (run, started.elapsed())
        });
        let registers: Vec<_> = (101..=108)
            .map(|n| {
                s.spawn({
                    let url = url.clone();
                    move || register(&url, n)
                })
            })
            .collect();
        for r in registers {
            let run = r.join().unwrap();
            assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
        }
        hibernate.join().unwrap()
    });
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    println!("hibernate of 100 sandboxes: {:.2} s", took.as_secs_f64());
    for line in run.stderr.lines().filter(|l| l.contains(" ms=")) {
        println!("{line}");
    }
    assert_eq!(run.output("count"), "100");
    // One hibernate commit among the registers', the 100 files in it.
    let log = git(
        &bare,
        &["log", "--format=%H %s", &format!("{tip}..main")],
        None,
    );
    let ours: Vec<&str> = log.lines().filter(|l| l.contains(" hibernate: ")).collect();
    assert_eq!(ours.len(), 1, "{log}");
    assert_eq!(log.lines().count(), 9, "{log}");
    let after = apps(&bare);
    assert_eq!(after.len(), 108, "a register was lost");
    let asleep = after
        .values()
        .filter(|t| t.matches("count: 0").count() == 4)
        .count();
    assert_eq!(asleep, 100);
    let started = std::time::Instant::now();
    let run = sleep_task("wake", &url, None, &[]);
    println!(
        "wake of 100 sandboxes: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.output("count"), "100");
    assert!(apps(&bare).values().all(|t| !t.contains("count: 0")));
}
