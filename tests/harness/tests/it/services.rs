//! Each service the harness starts is the real thing: checked with an
//! independent client (psql, curl, the bao CLI, the git CLI), and gone when
//! its handle is dropped — also when the test panics.

use sandbox_harness::git::git;
use sandbox_harness::{FakeGcs, GitDaemon, GitHttp, GitRoot, OpenBao, Postgres};
use std::path::Path;
use std::process::Command;

fn alive(pid: u32) -> bool {
    // A zombie is dead for our purpose; /proc/<pid>/stat says Z.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.split_whitespace().nth(2).is_none_or(|state| state != "Z"))
        .unwrap_or(false)
}

fn curl(args: &[&str]) -> (bool, String) {
    let out = Command::new("curl")
        .args(["-s", "-S", "--fail-with-body"])
        .args(args)
        .output()
        .expect("run curl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn postgres_answers_queries_and_stops_on_drop() {
    let pg = Postgres::start();
    let pid = pg.pid();
    assert!(
        pg.psql("postgres", "select version()")
            .starts_with("PostgreSQL")
    );
    pg.psql(
        "postgres",
        "create table t (n int); insert into t select generate_series(1, 10)",
    );
    assert_eq!(pg.psql("postgres", "select sum(n) from t"), "55");
    drop(pg);
    assert!(!alive(pid), "postgres {pid} outlived its handle");
}

#[test]
fn fake_gcs_round_trips_an_object() {
    let gcs = FakeGcs::start();
    let base = gcs.endpoint();
    let (ok, body) = curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"name":"docs-int"}"#,
        &format!("{base}/storage/v1/b"),
    ]);
    assert!(ok, "create bucket: {body}");
    let (ok, body) = curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: text/plain",
        "--data-binary",
        "hello bucket",
        &format!("{base}/upload/storage/v1/b/docs-int/o?uploadType=media&name=a/b.txt"),
    ]);
    assert!(ok, "upload: {body}");
    let (ok, body) = curl(&[&format!(
        "{base}/storage/v1/b/docs-int/o/a%2Fb.txt?alt=media"
    )]);
    assert!(ok);
    assert_eq!(body, "hello bucket");
    let (_, listing) = curl(&[&format!("{base}/storage/v1/b/docs-int/o?prefix=a/")]);
    assert!(
        listing.contains(r#""name": "a/b.txt""#) || listing.contains(r#""name":"a/b.txt""#),
        "{listing}"
    );
}

#[test]
fn fake_gcs_filesystem_backend_survives_a_restart() {
    let mut gcs = FakeGcs::start_with(sandbox_harness::fake_gcs::Backend::Filesystem);
    let base = gcs.endpoint();
    assert!(
        curl(&[
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-d",
            r#"{"name":"keep"}"#,
            &format!("{base}/storage/v1/b")
        ])
        .0
    );
    assert!(
        curl(&[
            "-X",
            "POST",
            "--data-binary",
            "x",
            &format!("{base}/upload/storage/v1/b/keep/o?uploadType=media&name=k")
        ])
        .0
    );
    gcs.kill();
    assert!(
        !curl(&[&format!("{base}/storage/v1/b/keep/o/k?alt=media")]).0,
        "emulator still answering after kill"
    );
    gcs.restart();
    assert_eq!(
        curl(&[&format!("{base}/storage/v1/b/keep/o/k?alt=media")]).1,
        "x"
    );
}

#[test]
fn openbao_writes_and_reads_kv_v2() {
    let bao = OpenBao::start();
    bao.run(&[
        "kv",
        "put",
        "-mount=secret",
        "sandboxes/sbx-pr-1/db",
        "url=postgres://db/x",
    ]);
    assert_eq!(
        bao.run(&[
            "kv",
            "get",
            "-mount=secret",
            "-field=url",
            "sandboxes/sbx-pr-1/db"
        ]),
        "postgres://db/x"
    );
    // The mount really is KV v2: metadata exists with a version.
    let meta = bao.run(&[
        "kv",
        "metadata",
        "get",
        "-mount=secret",
        "-format=json",
        "sandboxes/sbx-pr-1/db",
    ]);
    assert!(meta.contains("\"current_version\": 1"), "{meta}");
    // A wrong token is refused: the server checks authentication.
    let out = bao
        .cli()
        .env("BAO_TOKEN", "wrong")
        .env("VAULT_TOKEN", "wrong")
        .args(["kv", "get", "-mount=secret", "sandboxes/sbx-pr-1/db"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

fn commit_file(work: &Path, name: &str, contents: &str) {
    std::fs::write(work.join(name), contents).unwrap();
    git(work, &["add", name], None);
    git(work, &["commit", "-q", "-m", &format!("add {name}")], None);
}

#[test]
fn git_daemon_clones_and_accepts_pushes() {
    let root = GitRoot::new();
    root.create_with_files("infra", &[("README.md", "infra\n")]);
    let daemon = GitDaemon::start(&root);
    let work = tempfile::tempdir().unwrap();
    let clone = work.path().join("c");
    git(
        work.path(),
        &["clone", "-q", &daemon.url("infra"), "c"],
        None,
    );
    assert_eq!(
        std::fs::read_to_string(clone.join("README.md")).unwrap(),
        "infra\n"
    );
    commit_file(&clone, "new.txt", "pushed\n");
    git(&clone, &["push", "-q", "origin", "main"], None);
    let shown = git(
        root.path(),
        &["--git-dir", "infra.git", "show", "main:new.txt"],
        None,
    );
    assert_eq!(shown, "pushed");
    // A shallow clone works too, which is why these servers exist.
    git(
        work.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &daemon.url("infra"),
            "shallow",
        ],
        None,
    );
    assert_eq!(
        git(
            &work.path().join("shallow"),
            &["rev-list", "--count", "HEAD"],
            None
        ),
        "1"
    );
}

#[test]
fn git_http_requires_basic_auth_and_accepts_pushes() {
    let root = GitRoot::new();
    root.create_with_files("infra", &[("README.md", "infra\n")]);
    let http = GitHttp::start(&root, "tester", "s3cret-pass");
    let work = tempfile::tempdir().unwrap();
    let denied = Command::new("git")
        .current_dir(work.path())
        .env("GIT_TERMINAL_PROMPT", "0")
        .args(["clone", "-q", &http.url("infra"), "anon"])
        .output()
        .unwrap();
    assert!(
        !denied.status.success(),
        "clone without credentials succeeded"
    );
    let wrong = http
        .url_with_credentials("infra")
        .replace("s3cret-pass", "nope");
    let denied = Command::new("git")
        .current_dir(work.path())
        .env("GIT_TERMINAL_PROMPT", "0")
        .args(["clone", "-q", &wrong, "w"])
        .output()
        .unwrap();
    assert!(
        !denied.status.success(),
        "clone with a wrong password succeeded"
    );
    git(
        work.path(),
        &["clone", "-q", &http.url_with_credentials("infra"), "c"],
        None,
    );
    let clone = work.path().join("c");
    commit_file(&clone, "over-http.txt", "yes\n");
    git(&clone, &["push", "-q", "origin", "main"], None);
    assert_eq!(
        git(
            root.path(),
            &["--git-dir", "infra.git", "show", "main:over-http.txt"],
            None
        ),
        "yes"
    );
}

#[test]
fn services_are_stopped_when_a_test_panics() {
    let pids = std::sync::Mutex::new(Vec::new());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let root = GitRoot::new();
        let daemon = GitDaemon::start(&root);
        let bao = OpenBao::start();
        pids.lock().unwrap().extend([
            pid_on_port(daemon.port()),
            pid_on_port(port_of(&bao.addr())),
        ]);
        panic!("test failure while services run");
    }));
    assert!(result.is_err());
    let pids = pids.into_inner().unwrap();
    assert_eq!(pids.len(), 2);
    for pid in pids {
        let pid = pid.expect("found the service listening on its port");
        assert!(!alive(pid), "process {pid} outlived a panicking test");
    }
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

/// The pid listening on a loopback port, from /proc/net/tcp and fd links.
fn pid_on_port(port: u16) -> Option<u32> {
    let tcp = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let inode = tcp.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let local_port = u16::from_str_radix(f[1].rsplit(':').next()?, 16).ok()?;
        (local_port == port && f[3] == "0A").then(|| f[9].to_string())
    })?;
    let needle = format!("socket:[{inode}]");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|p| {
        let pid: u32 = p.file_name().to_str()?.parse().ok()?;
        let fds = std::fs::read_dir(p.path().join("fd")).ok()?;
        fds.flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == needle))
            .then_some(pid)
    })
}
