//! sandbox-git against real git servers (git daemon and smart HTTP with
//! basic auth), checked with the git CLI as an independent client.

use sandbox_core::params::{BranchName, GitRemote};
use sandbox_core::{Classify, ErrorKind};
use sandbox_git::{Auth, EditError, IfExists, Options, PushOutcome, Secret, Workspace};
use sandbox_harness::git::git;
use sandbox_harness::{GitDaemon, GitHttp, GitRoot};
use std::path::Path;

fn branch(s: &str) -> BranchName {
    BranchName::parse(s).unwrap()
}

fn remote(s: &str) -> GitRemote {
    GitRemote::parse(s).unwrap()
}

fn show(bare: &Path, rev: &str) -> String {
    git(bare, &["show", rev], None)
}

#[test]
fn create_branch_then_commit_and_push_over_git_daemon() {
    let root = GitRoot::new();
    let bare = root.create_with_files(
        "infra",
        &[("overlays/base/kustomization.yaml", "resources: []\n")],
    );
    let daemon = GitDaemon::start(&root);
    let url = remote(&daemon.url("infra"));
    let main_tip = git(&bare, &["rev-parse", "main"], None);

    let ws = Workspace::open(&url, Auth::None, Options::default()).unwrap();
    let created = ws
        .create_branch(&branch("sbx-pr-1"), &branch("main"), IfExists::Fail)
        .unwrap();
    assert!(created.created);
    assert_eq!(created.commit, main_tip);
    assert_eq!(git(&bare, &["rev-parse", "sbx-pr-1"], None), main_tip);

    let again = ws
        .create_branch(&branch("sbx-pr-1"), &branch("main"), IfExists::Reuse)
        .unwrap();
    assert!(!again.created);
    let err = ws
        .create_branch(&branch("sbx-pr-1"), &branch("main"), IfExists::Fail)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Precondition);

    let out = ws
        .commit_and_push(&branch("sbx-pr-1"), "add a file", |tree| {
            assert_eq!(
                tree.read_string("overlays/base/kustomization.yaml")?
                    .as_deref(),
                Some("resources: []\n")
            );
            tree.write(
                "overlays/sbx-pr-1/kustomization.yaml",
                "namespace: apps-sbx-pr-1\n",
            );
            Ok(())
        })
        .unwrap();
    let PushOutcome::Pushed {
        commit,
        parent,
        attempts,
    } = out
    else {
        panic!("not pushed")
    };
    assert_eq!(attempts, 1);
    assert_eq!(parent, main_tip);
    assert_eq!(git(&bare, &["rev-parse", "sbx-pr-1"], None), commit);
    assert_eq!(git(&bare, &["rev-parse", "sbx-pr-1^"], None), main_tip);
    assert_eq!(
        show(&bare, "sbx-pr-1:overlays/sbx-pr-1/kustomization.yaml"),
        "namespace: apps-sbx-pr-1"
    );
    assert_eq!(
        git(
            &bare,
            &["log", "-1", "--format=%an <%ae>|%s", "sbx-pr-1"],
            None
        ),
        "argo-sandbox <argo-sandbox@noreply.invalid>|add a file"
    );

    // The same edit again changes nothing: no empty commit.
    let out = ws
        .commit_and_push(&branch("sbx-pr-1"), "add a file", |tree| {
            tree.write(
                "overlays/sbx-pr-1/kustomization.yaml",
                "namespace: apps-sbx-pr-1\n",
            );
            Ok(())
        })
        .unwrap();
    assert_eq!(
        out,
        PushOutcome::Unchanged {
            commit: commit.clone()
        }
    );
    assert_eq!(git(&bare, &["rev-parse", "sbx-pr-1"], None), commit);

    // An edit error keeps its kind and nothing is pushed.
    let err = ws
        .commit_and_push(&branch("sbx-pr-1"), "x", |_| {
            Err(EditError::precondition("no overlay"))
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Precondition);

    assert!(ws.delete_branch(&branch("sbx-pr-1")).unwrap());
    assert!(!ws.delete_branch(&branch("sbx-pr-1")).unwrap());
    assert!(!git(&bare, &["branch", "--list"], None).contains("sbx-pr-1"));
}

#[test]
fn a_writer_that_lost_the_race_reapplies_its_edit_on_the_new_tip() {
    let root = GitRoot::new();
    let bare = root.create_with_files("apps", &[("README", "apps\n")]);
    let daemon = GitDaemon::start(&root);
    let url = remote(&daemon.url("apps"));
    let ws = Workspace::open(&url, Auth::None, Options::default()).unwrap();
    let mut calls = 0;
    let out = ws
        .commit_and_push(&branch("main"), "add a", |tree| {
            calls += 1;
            if calls == 1 {
                // Another writer pushes between our fetch and our push.
                let other = tempfile::tempdir().unwrap();
                git(other.path(), &["clone", "-q"], Some(&bare));
                let wt = other.path().join("apps");
                std::fs::write(wt.join("b"), "b\n").unwrap();
                git(&wt, &["add", "b"], None);
                git(&wt, &["commit", "-qm", "b"], None);
                git(&wt, &["push", "-q", "origin", "main"], None);
            }
            tree.write("a", "a\n");
            Ok(())
        })
        .unwrap();
    let PushOutcome::Pushed { attempts, .. } = out else {
        panic!()
    };
    assert_eq!(attempts, 2);
    assert_eq!(calls, 2);
    assert_eq!(show(&bare, "main:a"), "a");
    assert_eq!(show(&bare, "main:b"), "b");
    // Linear: a's parent is b's commit.
    assert_eq!(
        git(&bare, &["log", "--format=%s", "main"], None),
        "add a\nb\nseed"
    );
}

#[test]
fn workdir_is_reused_and_holds_one_clone_per_remote() {
    let root = GitRoot::new();
    let bare = root.create_with_files("infra", &[("x", "1\n")]);
    root.create_with_files("other", &[("x", "1\n")]);
    let daemon = GitDaemon::start(&root);
    let workdir = tempfile::tempdir().unwrap();
    let options = Options {
        workdir: Some(workdir.path().to_path_buf()),
        ..Options::default()
    };
    let url = remote(&daemon.url("infra"));
    {
        let ws = Workspace::open(&url, Auth::None, options.clone()).unwrap();
        ws.fetch(&branch("main")).unwrap().unwrap();
    }
    let ws = Workspace::open(&url, Auth::None, options.clone()).unwrap();
    let tip = ws.fetch(&branch("main")).unwrap().unwrap();
    assert_eq!(tip, git(&bare, &["rev-parse", "main"], None));
    assert!(ws.fetch(&branch("nope")).unwrap().is_none());
    drop(ws);
    // A second remote gets its own clone beside the first.
    let other = Workspace::open(&remote(&daemon.url("other")), Auth::None, options).unwrap();
    other.fetch(&branch("main")).unwrap().unwrap();
}

#[test]
fn http_basic_auth_token_works_and_failures_are_classified() {
    let root = GitRoot::new();
    let bare = root.create_with_files("infra", &[("x", "1\n")]);
    let http = GitHttp::start(&root, "tester", "s3cret-token");
    let url = remote(&http.url("infra"));
    let good = Auth::Token {
        user: "tester".into(),
        token: Secret::new("s3cret-token"),
    };
    let ws = Workspace::open(&url, good.clone(), Options::default()).unwrap();
    let out = ws
        .commit_and_push(&branch("main"), "over http", |tree| {
            tree.write("y", "2\n");
            Ok(())
        })
        .unwrap();
    assert!(out.pushed());
    assert_eq!(show(&bare, "main:y"), "2");

    let bad = Auth::Token {
        user: "tester".into(),
        token: Secret::new("wrong-token"),
    };
    let err = Workspace::open(&url, bad, Options::default())
        .unwrap()
        .remote_heads()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Precondition, "{err}");
    let text = sandbox_core::TaskError::from(err).full_message();
    assert!(text.contains("rejected"), "{text}");
    assert!(!text.contains("wrong-token"), "{text}");

    let err = Workspace::open(&url, Auth::None, Options::default())
        .unwrap()
        .remote_heads()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Precondition, "{err}");
    assert!(err.to_string().contains("none were given"), "{err}");

    let missing = remote(&http.url("missing"));
    let err = Workspace::open(&missing, good, Options::default())
        .unwrap()
        .remote_heads()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Precondition, "{err}");
}

#[test]
fn network_failures_are_transient() {
    let port = sandbox_harness::free_port();
    let url = remote(&format!("git://127.0.0.1:{port}/infra.git"));
    let mut options = Options::default();
    options.network.base = std::time::Duration::from_millis(1);
    let err = Workspace::open(&url, Auth::None, options)
        .unwrap()
        .remote_heads()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
}

#[test]
fn a_restricted_push_refuses_other_paths_and_removing_nothing_is_unchanged() {
    let root = GitRoot::new();
    let bare = root.create_with_files("apps", &[("apps/sandboxes/other.yaml", "x\n")]);
    let daemon = GitDaemon::start(&root);
    let ws = Workspace::open(&remote(&daemon.url("apps")), Auth::None, Options::default()).unwrap();
    let tip = git(&bare, &["rev-parse", "main"], None);
    let own = vec!["apps/sandboxes/sbx-pr-1.yaml".to_string()];
    let err = ws
        .commit_and_push_only(&branch("main"), "x", &own, |tree| {
            tree.write("apps/sandboxes/sbx-pr-1.yaml", "mine\n");
            tree.remove("apps/sandboxes/other.yaml");
            Ok(())
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused, "{err}");
    assert_eq!(
        git(&bare, &["rev-parse", "main"], None),
        tip,
        "nothing pushed"
    );
    let out = ws
        .commit_and_push_only(&branch("main"), "x", &own, |tree| {
            tree.remove("apps/sandboxes/sbx-pr-1.yaml");
            Ok(())
        })
        .unwrap();
    assert_eq!(out, PushOutcome::Unchanged { commit: tip });
    // Listing sees the edit in progress.
    ws.read_branch(&branch("main"), |tree| {
        assert_eq!(tree.list("apps/sandboxes")?, vec!["other.yaml".to_string()]);
        Ok(())
    })
    .unwrap();
}
