//! The reap binary against the harness git daemon (Application files and
//! environment branches made with the git CLI, some with old commit dates)
//! and a GitHub API double answering with the recorded pull request.

use super::support::{self, Run};
use assert_cmd::Command;
use sandbox_harness::git::git;
use sandbox_harness::{GitDaemon, GitRoot};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer};

const TOKEN: &str = "ghs_reap_token_1";
const REPO: &str = "octocat/Hello-World";
const DAY: u64 = 86_400;

fn days_ago(days: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    format!("@{} +0000", now - days * DAY)
}

/// Commit everything in `work` and push `refspec` to `bare`, dated `date`
/// (author and committer).
fn commit_push(work: &Path, bare: &Path, message: &str, date: &str, refspec: &str) {
    for args in [
        vec!["add", "-A"],
        vec!["commit", "-q", "--allow-empty", "-m", message],
    ] {
        let out = std::process::Command::new("git")
            .current_dir(work)
            .args([
                "-c",
                "user.name=Harness",
                "-c",
                "user.email=h@example.invalid",
            ])
            .args(&args)
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    git(work, &["push", "-q", bare.to_str().unwrap(), refspec], None);
}

fn write(work: &Path, file: &str, text: &str) {
    let p = work.join(file);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// The infrastructure repository:
/// - main: sbx-pr-1/2/3 registered 30 days ago, sbx-pr-4 today, sbx-pr-1
///   edited today (its age stays 30 days), other-pr-9 (another prefix);
/// - branches sbx-pr-1, sbx-pr-5 (20 days old, not registered), sbx-pr-6
///   (today, not registered), qa-pr-7 and feature (not sandboxes).
fn infra(root: &GitRoot) -> PathBuf {
    let bare = root.create_with_files("infra", &[("apps/sandboxes/.keep", "")]);
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    git(w, &["clone", "-q", bare.to_str().unwrap(), "."], None);
    for n in [1, 2, 3] {
        write(
            w,
            &format!("apps/sandboxes/sbx-pr-{n}.yaml"),
            &format!("name: sbx-pr-{n}\n"),
        );
    }
    commit_push(w, &bare, "register 1 2 3", &days_ago(30), "HEAD:main");
    write(w, "apps/sandboxes/sbx-pr-4.yaml", "name: sbx-pr-4\n");
    write(
        w,
        "apps/sandboxes/sbx-pr-1.yaml",
        "name: sbx-pr-1\n# edited\n",
    );
    write(w, "apps/sandboxes/other-pr-9.yaml", "name: other-pr-9\n");
    commit_push(w, &bare, "register 4", &days_ago(0), "HEAD:main");
    git(w, &["checkout", "-q", "-b", "env"], None);
    write(w, "overlays/sandbox/kustomization.yaml", "resources: []\n");
    commit_push(
        w,
        &bare,
        "sbx-pr-5 overlay",
        &days_ago(20),
        "HEAD:refs/heads/sbx-pr-5",
    );
    for (branch, days) in [
        ("sbx-pr-1", 0),
        ("sbx-pr-6", 0),
        ("qa-pr-7", 40),
        ("feature", 40),
    ] {
        write(w, &format!("overlays/{branch}.txt"), branch);
        commit_push(
            w,
            &bare,
            branch,
            &days_ago(days),
            &format!("HEAD:refs/heads/{branch}"),
        );
    }
    bare
}

/// Serve the open pull requests `pulls` as one paginated listing; the
/// others are closed.
async fn open_pulls(server: &MockServer, pulls: &[(u64, &[&str])]) {
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/pulls")))
        .and(query_param("state", "open"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(support::OpenPulls::new(pulls))
        .mount(server)
        .await;
}

fn reap(url: &str, api: &str, token_ref: &str, extra: &[&str]) -> Run {
    let run = support::task("reap")
        .args([
            "--repo-url",
            url,
            "--github-repo",
            REPO,
            "--github-api-url",
            api,
            "--github-token",
            token_ref,
        ])
        .args(extra)
        .run();
    assert!(
        !run.stderr.contains(TOKEN) && !run.stdout.contains(TOKEN),
        "token printed"
    );
    run
}

fn output_list(run: &Run, name: &str) -> Vec<Value> {
    serde_json::from_str(run.result["outputs"][name].as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn closed_and_expired_sandboxes_are_selected_kept_and_fresh_ones_are_not() {
    let root = GitRoot::new();
    let bare = infra(&root);
    let before = git(
        &bare,
        &["for-each-ref", "--format=%(refname) %(objectname)"],
        None,
    );
    let daemon = GitDaemon::start(&root);
    let server = MockServer::start().await;
    // 1: registered 30 days ago, edited today; 2: closed (not listed), so
    // its label does not matter; 3: old, but kept; 4: registered today;
    // 5: unregistered branch, 20 days old; 6: closed, unregistered branch.
    open_pulls(
        &server,
        &[(1, &["bug"]), (3, &["Keep-Sandbox"]), (4, &[]), (5, &[])],
    )
    .await;
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("gh"), TOKEN).unwrap();
    let token_ref = format!("file:{}", secrets.path().join("gh").display());
    let url = daemon.url("infra");

    for dry_run in [false, true] {
        let extra: &[&str] = if dry_run { &["--dry-run"] } else { &[] };
        let run = tokio::task::block_in_place(|| reap(&url, &server.uri(), &token_ref, extra));
        assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
        let expired = output_list(&run, "expired");
        assert_eq!(
            expired,
            vec![
                json!({"pr_number": 1, "environment": "sbx-pr-1", "reason": "ttl-expired"}),
                json!({"pr_number": 2, "environment": "sbx-pr-2", "reason": "pr-closed"}),
                json!({"pr_number": 5, "environment": "sbx-pr-5", "reason": "ttl-expired"}),
                json!({"pr_number": 6, "environment": "sbx-pr-6", "reason": "pr-closed"}),
            ],
            "{}",
            run.stderr
        );
        let kept: Vec<(u64, String)> = output_list(&run, "kept")
            .iter()
            .map(|k| {
                (
                    k["pr_number"].as_u64().unwrap(),
                    k["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            kept,
            [(3, "keep-label".to_string()), (4, "within-ttl".to_string())]
        );
        assert_eq!(run.result["outputs"]["count"], "4");
        if dry_run {
            assert!(
                run.stderr.contains("dry run: would delete"),
                "{}",
                run.stderr
            );
        }
    }
    // One listing per run, not one request per sandbox; nothing written.
    let asked: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(asked, vec![format!("/repos/{REPO}/pulls"); 2]);
    assert_eq!(
        git(
            &bare,
            &["for-each-ref", "--format=%(refname) %(objectname)"],
            None
        ),
        before
    );

    // A longer TTL keeps the old open ones.
    let run = tokio::task::block_in_place(|| {
        reap(
            &url,
            &server.uri(),
            &token_ref,
            &["--ttl", "45d", "--dry-run"],
        )
    });
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    let environments: Vec<Value> = output_list(&run, "expired")
        .iter()
        .map(|e| e["environment"].clone())
        .collect();
    assert_eq!(environments, [json!("sbx-pr-2"), json!("sbx-pr-6")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_sandboxes_is_an_empty_list_and_a_missing_apps_branch_a_precondition() {
    let root = GitRoot::new();
    root.create_with_files("infra", &[("README.md", "infra\n")]);
    let daemon = GitDaemon::start(&root);
    let server = MockServer::start().await;
    let url = daemon.url("infra");
    let run = tokio::task::block_in_place(|| reap(&url, &server.uri(), "env:NO_SUCH_VAR_X", &[]));
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.result["outputs"]["expired"], "[]");
    assert_eq!(run.result["outputs"]["kept"], "[]");
    assert_eq!(run.result["outputs"]["count"], "0");
    let run = tokio::task::block_in_place(|| {
        reap(
            &url,
            &server.uri(),
            "env:NO_SUCH_VAR_X",
            &["--apps-branch", "gitops"],
        )
    });
    assert_eq!(run.code, 3, "{}\n{}", run.result, run.stderr);
    assert!(server.received_requests().await.unwrap().is_empty());
    let run = tokio::task::block_in_place(|| {
        reap(
            &url,
            &server.uri(),
            "env:NO_SUCH_VAR_X",
            &["--ttl", "0d", "--env-prefix", "Bad_"],
        )
    });
    assert_eq!(run.code, 2, "{}\n{}", run.result, run.stderr);
    let fields: Vec<&str> = run.result["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"ttl") && fields.contains(&"env_prefix"),
        "{fields:?}"
    );
}

/// A workdir shared with other tasks holds shallow clones (depth 1 over
/// git://); reap must deepen them, or every app file would date from the
/// tip.
#[tokio::test(flavor = "multi_thread")]
async fn a_shallow_clone_in_a_shared_workdir_is_deepened_before_dating() {
    let root = GitRoot::new();
    infra(&root);
    let daemon = GitDaemon::start(&root);
    let url = daemon.url("infra");
    let workdir = tempfile::tempdir().unwrap();
    let workdir_arg = workdir.path().to_str().unwrap();
    let out = Command::cargo_bin("create-branch")
        .unwrap()
        .args([
            "--repo-url",
            &url,
            "--pr-number",
            "8",
            "--workdir",
            workdir_arg,
        ])
        .arg("--outputs-dir")
        .arg(workdir.path().join("out"))
        .env_remove("SANDBOX_PARAMS")
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shallow = std::fs::read_dir(workdir.path())
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.path().join("shallow").is_file());
    assert!(shallow, "create-branch left no shallow clone to deepen");

    let server = MockServer::start().await;
    open_pulls(&server, &[(1, &[]), (3, &[]), (4, &[]), (5, &[]), (8, &[])]).await;
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("gh"), TOKEN).unwrap();
    let token_ref = format!("file:{}", secrets.path().join("gh").display());
    let run = tokio::task::block_in_place(|| {
        reap(&url, &server.uri(), &token_ref, &["--workdir", workdir_arg])
    });
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    let expired: Vec<u64> = output_list(&run, "expired")
        .iter()
        .map(|e| e["pr_number"].as_u64().unwrap())
        .collect();
    // 8 is a branch at main's tip (today): kept.
    assert_eq!(expired, [1, 2, 3, 5, 6], "{}", run.stderr);
}

/// Issue 17: reap learns every sandbox's pull request from one paginated
/// listing of the open ones. 250 registered sandboxes, 300 open pull
/// requests (PRs 51-350): three pages of 100, and no other request.
#[tokio::test(flavor = "multi_thread")]
async fn reap_over_250_sandboxes_reads_300_open_pulls_in_three_requests() {
    let root = GitRoot::new();
    let bare = root.create_with_files("infra", &[("apps/sandboxes/.keep", "")]);
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    git(w, &["clone", "-q", bare.to_str().unwrap(), "."], None);
    for n in 1..=250 {
        write(
            w,
            &format!("apps/sandboxes/sbx-pr-{n}.yaml"),
            &format!("name: sbx-pr-{n}\n"),
        );
    }
    commit_push(w, &bare, "register 250", &days_ago(0), "HEAD:main");
    let daemon = GitDaemon::start(&root);
    let server = MockServer::start().await;
    let open: Vec<(u64, &[&str])> = (51..=350).map(|n| (n, &[] as &[&str])).collect();
    open_pulls(&server, &open).await;
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("gh"), TOKEN).unwrap();
    let token_ref = format!("file:{}", secrets.path().join("gh").display());
    let run =
        tokio::task::block_in_place(|| reap(&daemon.url("infra"), &server.uri(), &token_ref, &[]));
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    let expired: Vec<u64> = output_list(&run, "expired")
        .iter()
        .map(|e| e["pr_number"].as_u64().unwrap())
        .collect();
    assert_eq!(expired, (1..=50).collect::<Vec<_>>());
    assert_eq!(output_list(&run, "kept").len(), 200);
    let requests = server.received_requests().await.unwrap();
    assert!(
        requests.len() <= 3,
        "{} requests: {:?}",
        requests.len(),
        requests
            .iter()
            .map(|r| r.url.to_string())
            .collect::<Vec<_>>()
    );
    assert!(
        requests
            .iter()
            .all(|r| r.url.path() == format!("/repos/{REPO}/pulls"))
    );
}
