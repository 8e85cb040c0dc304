//! `restore-db` against a real PostgreSQL and fake-gcs-server: backups made
//! with pg_dump in each format, restored by the binary, and checked with
//! psql — row counts, a checksum of a table's contents, ownership — plus
//! the faults and hostile names the task must survive.

use super::support::{self, Run};
use assert_cmd::Command;
use sandbox_harness::{FakeGcs, Postgres, tool};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The source database: a few tables (one with an awkward name), a view, a
/// sequence, objects owned by `app_owner`, and enough rows to stream.
const SOURCE_SQL: &str = "
CREATE ROLE app_owner;
CREATE ROLE sandbox_app;
CREATE ROLE sbx_owner;
CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL, email text, joined date);
INSERT INTO people SELECT i, 'person ' || i, 'p' || i || '@example.com', date '2020-01-01' + (i % 1000)
  FROM generate_series(1, 20000) i;
CREATE TABLE \"Odd Name\" (k text PRIMARY KEY, v jsonb);
INSERT INTO \"Odd Name\" SELECT 'k' || i, jsonb_build_object('i', i, 'tab', E'a\\tb', 'bs', E'\\\\.')
  FROM generate_series(1, 500) i;
CREATE TABLE empty_one (x int);
CREATE VIEW people_2020 AS SELECT * FROM people WHERE joined < date '2021-01-01';
ALTER TABLE people OWNER TO app_owner;
ALTER TABLE \"Odd Name\" OWNER TO app_owner;
ALTER VIEW people_2020 OWNER TO app_owner;
ALTER TABLE empty_one OWNER TO app_owner;
";

const CHECKSUM: &str = "SELECT md5(string_agg(p::text, '|' ORDER BY id)) FROM people p";

struct Setup {
    pg: Postgres,
    dir: tempfile::TempDir,
    /// Files of each format, by name.
    dumps: Vec<(&'static str, PathBuf)>,
    source_checksum: String,
}

fn sh(cmd: &str, dir: &Path) {
    let out = std::process::Command::new("bash")
        .args(["-c", cmd])
        .current_dir(dir)
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn setup() -> Setup {
    let pg = Postgres::start();
    pg.psql("postgres", "CREATE DATABASE integration");
    pg.psql("integration", SOURCE_SQL);
    let dir = tempfile::tempdir().unwrap();
    let url = pg.url("integration");
    let dump = pg.bin("pg_dump").display().to_string();
    sh(&format!("{dump} -Fp -d {url} -f plain.sql"), dir.path());
    sh(
        &format!("{dump} -Fp -d {url} | gzip -1 > plain.sql.gz"),
        dir.path(),
    );
    sh(&format!("{dump} -Fc -d {url} -f custom.dump"), dir.path());
    sh(
        &format!("{dump} -Fc -Z0 -d {url} | gzip -1 > custom.dump.gz"),
        dir.path(),
    );
    let source_checksum = pg.psql("integration", CHECKSUM);
    let dumps = ["plain.sql", "plain.sql.gz", "custom.dump", "custom.dump.gz"]
        .iter()
        .map(|n| (*n, dir.path().join(n)))
        .collect();
    Setup {
        pg,
        dir,
        dumps,
        source_checksum,
    }
}

fn curl(args: &[&str]) -> String {
    let out = std::process::Command::new(tool("curl"))
        .args(["-s", "-S", "--fail-with-body"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn gcs_upload(gcs: &FakeGcs, bucket: &str, name: &str, file: &Path) {
    curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/octet-stream",
        "--data-binary",
        &format!("@{}", file.display()),
        &format!(
            "{}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={name}",
            gcs.endpoint()
        ),
    ]);
}

/// The restore-db binary with the server's URL in the environment.
fn restore_db(pg: &Postgres, pr: u32) -> Command {
    let mut cmd = Command::from_std(restore_db_std(pg, pr));
    cmd.timeout(Duration::from_secs(180));
    cmd
}

fn restore_db_std(pg: &Postgres, pr: u32) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("restore-db"));
    let outputs = tempfile::tempdir().unwrap().keep();
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SANDBOX_PGBIN", pg.bin("psql").parent().unwrap())
        .env("DB_URL", pg.url("postgres"))
        .env("SANDBOX_LOG_FORMAT", "text")
        .args(["--pr-number", &pr.to_string()])
        // An environment variable, so a test can pass its own --database-url.
        .env("SANDBOX_DATABASE_URL", "env:DB_URL")
        .args(["--source-database", "integration"])
        .arg("--outputs-dir")
        .arg(outputs);
    cmd
}

fn run(cmd: &mut Command) -> Run {
    support::result_of(cmd.output().unwrap())
}

fn ok(r: &Run) -> &Value {
    assert_eq!(r.code, 0, "{}\n{}", r.result, r.stderr);
    &r.result["outputs"]
}

fn databases(pg: &Postgres) -> String {
    pg.psql(
        "postgres",
        "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database",
    )
}

fn check_restored(s: &Setup, db: &str, owner: &str) {
    let pg = &s.pg;
    assert_eq!(pg.psql(db, "SELECT count(*) FROM people"), "20000");
    assert_eq!(pg.psql(db, "SELECT count(*) FROM \"Odd Name\""), "500");
    assert_eq!(pg.psql(db, "SELECT count(*) FROM people_2020"), "7320");
    assert_eq!(pg.psql(db, CHECKSUM), s.source_checksum);
    assert_eq!(
        pg.psql(db, "SELECT v->>'bs' FROM \"Odd Name\" WHERE k = 'k1'"),
        "\\."
    );
    assert_eq!(
        pg.psql(
            db,
            "SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables WHERE schemaname = 'public'"
        ),
        owner
    );
}

#[test]
fn every_format_restores_from_the_bucket() {
    let s = setup();
    let gcs = FakeGcs::start();
    support::make_bucket(&gcs.endpoint(), "backups");
    for (name, path) in &s.dumps {
        gcs_upload(&gcs, "backups", &format!("nightly/{name}"), path);
    }
    // (pr, object, flags, owner of the tables, owner of the database)
    let role: &[&str] = &[
        "--no-owner",
        "--role",
        "sandbox_app",
        "--owner",
        "sandbox_app",
    ];
    let keep: &[&str] = &["--owner", "sbx_owner"];
    let cases: [(u32, &str, Vec<&str>, &str, &str); 5] = [
        (1, "plain.sql", keep.to_vec(), "app_owner", "sbx_owner"),
        (
            2,
            "plain.sql.gz",
            role.to_vec(),
            "sandbox_app",
            "sandbox_app",
        ),
        (3, "custom.dump", keep.to_vec(), "app_owner", "sbx_owner"),
        (
            4,
            "custom.dump.gz",
            role.to_vec(),
            "sandbox_app",
            "sandbox_app",
        ),
        (
            5,
            "custom.dump",
            [role, &["--jobs", "2"]].concat(),
            "sandbox_app",
            "sandbox_app",
        ),
    ];
    for (pr, object, extra, owner, db_owner) in cases {
        let r = run(restore_db(&s.pg, pr)
            .args([
                "--backup-url",
                "gs://backups/nightly/",
                "--backup-object",
                object,
            ])
            .args(["--endpoint", &gcs.endpoint()])
            .args(&extra));
        let out = ok(&r);
        let db = format!("sbx_pr_{pr}");
        check_restored(&s, &db, owner);
        assert_eq!(
            out["backup_object"],
            format!("gs://backups/nightly/{object}")
        );
        let size = std::fs::metadata(s.dir.path().join(object)).unwrap().len();
        assert_eq!(out["bytes_read"], size.to_string(), "{object}");
        assert_eq!(out["tables_restored"], "3", "{object}");
        assert!(out["backup_time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(
            s.pg.psql(
                "postgres",
                &format!("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{db}'")
            ),
            db_owner
        );
        assert!(r.stderr.contains("backup format"), "{}", r.stderr);
    }
    // No staging database is left behind.
    assert!(!databases(&s.pg).contains("_stg_"), "{}", databases(&s.pg));
}

#[test]
fn the_newest_backup_is_found_by_name_or_update_time_and_age_is_enforced() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let plain = s.dir.path().join("plain.sql");
    std::fs::copy(&plain, dir.path().join("db-20200101-000000.sql")).unwrap();
    std::fs::write(dir.path().join("db-20200102-000000.sql"), "not a dump\0").unwrap();
    std::fs::copy(&plain, dir.path().join("db-20191231-235959.sql")).unwrap();
    // By name: 2020-01-02 is newest — and it is not a dump: exit 3.
    let url = format!("file://{}", dir.path().display());
    let r = run(restore_db(&s.pg, 1).args([
        "--backup-url",
        &url,
        "--name-pattern",
        "db-%Y%m%d-%H%M%S.sql",
    ]));
    assert_eq!(r.code, 3, "{}", r.result);
    assert!(
        r.result["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a PostgreSQL dump"),
        "{}",
        r.result
    );
    assert!(
        r.result["error"]["message"]
            .as_str()
            .unwrap()
            .contains("db-20200102")
    );
    std::fs::remove_file(dir.path().join("db-20200102-000000.sql")).unwrap();
    // Too old for --max-age: exit 3, nothing created.
    let before = databases(&s.pg);
    let r = run(restore_db(&s.pg, 1).args([
        "--backup-url",
        &url,
        "--name-pattern",
        "db-%Y%m%d-%H%M%S.sql",
        "--max-age",
        "2d",
    ]));
    assert_eq!(r.code, 3, "{}", r.result);
    assert!(
        r.result["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--max-age")
    );
    assert_eq!(databases(&s.pg), before);
    // The newest by name is restored, with its time from the name.
    let r = run(restore_db(&s.pg, 1).args([
        "--backup-url",
        &url,
        "--name-pattern",
        "db-%Y%m%d-%H%M%S.sql",
    ]));
    let out = ok(&r);
    assert!(
        out["backup_object"]
            .as_str()
            .unwrap()
            .ends_with("/db-20200101-000000.sql")
    );
    assert_eq!(out["backup_time"], "2020-01-01T00:00:00Z");
    check_restored(&s, "sbx_pr_1", "app_owner");
    // Without a pattern the newest by update time wins, and a fresh file
    // passes --max-age.
    std::fs::copy(
        s.dir.path().join("custom.dump"),
        dir.path().join("zz-oldest-name.dump"),
    )
    .unwrap();
    let r = run(restore_db(&s.pg, 2).args(["--backup-url", &url, "--max-age", "1h"]));
    let out = ok(&r);
    assert!(
        out["backup_object"]
            .as_str()
            .unwrap()
            .ends_with("/zz-oldest-name.dump")
    );
    check_restored(&s, "sbx_pr_2", "app_owner");
}

#[test]
fn reruns_are_idempotent_and_a_full_target_needs_clean() {
    let s = setup();
    let url = format!("file://{}", s.dir.path().display());
    let restore = |object: &str, extra: &[&str]| {
        run(restore_db(&s.pg, 7)
            .args(["--backup-url", &url, "--backup-object", object])
            .args(extra))
    };
    ok(&restore("custom.dump", &[]));
    let oid = s.pg.psql(
        "postgres",
        "SELECT oid FROM pg_database WHERE datname = 'sbx_pr_7'",
    );
    // Same backup again: nothing to do, the same database.
    let r = restore("custom.dump", &[]);
    assert_eq!(ok(&r)["tables_restored"], "3");
    assert!(
        r.stderr.contains("already holds this backup"),
        "{}",
        r.stderr
    );
    assert_eq!(
        s.pg.psql(
            "postgres",
            "SELECT oid FROM pg_database WHERE datname = 'sbx_pr_7'"
        ),
        oid
    );
    // Another backup into a full database: refused without --clean.
    s.pg.psql("sbx_pr_7", "INSERT INTO people VALUES (-1, 'sandbox edit')");
    let r = restore("plain.sql", &[]);
    assert_eq!(r.code, 3, "{}", r.result);
    assert!(
        r.result["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--clean")
    );
    assert_eq!(
        s.pg.psql("sbx_pr_7", "SELECT count(*) FROM people"),
        "20001"
    );
    // With --clean it is replaced, even while a session is connected.
    let mut idle = std::process::Command::new(s.pg.bin("psql"))
        .args([
            "-X",
            "-q",
            "-d",
            &s.pg.url("sbx_pr_7"),
            "-c",
            "SELECT pg_sleep(60)",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let r = restore("plain.sql", &["--clean"]);
    ok(&r);
    let _ = idle.kill();
    let _ = idle.wait();
    check_restored(&s, "sbx_pr_7", "app_owner");
    assert!(!databases(&s.pg).contains("_old_"), "{}", databases(&s.pg));
}

#[test]
fn post_sql_runs_in_one_transaction_before_the_swap() {
    let s = setup();
    let url = format!("file://{}", s.dir.path().display());
    let sql = tempfile::tempdir().unwrap();
    let anonymise = sql.path().join("anonymise.sql");
    std::fs::write(
        &anonymise,
        "UPDATE people SET email = 'x' || id || '@invalid';\n",
    )
    .unwrap();
    let broken = sql.path().join("broken.sql");
    std::fs::write(
        &broken,
        "UPDATE people SET email = NULL;\nSELECT no_such_function();\n",
    )
    .unwrap();
    // A failing file: nothing of it stays, and the target never appears.
    let r = run(restore_db(&s.pg, 3)
        .args([
            "--backup-url",
            &url,
            "--backup-object",
            "plain.sql",
            "--post-sql",
        ])
        .arg(&anonymise)
        .arg(&broken));
    assert_eq!(r.code, 3, "{}", r.result);
    assert!(
        r.result["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no_such_function"),
        "{}",
        r.result
    );
    assert!(
        !databases(&s.pg).contains("sbx_pr_3"),
        "{}",
        databases(&s.pg)
    );
    // A good one is applied.
    let r = run(restore_db(&s.pg, 3)
        .args([
            "--backup-url",
            &url,
            "--backup-object",
            "plain.sql",
            "--post-sql",
        ])
        .arg(&anonymise));
    ok(&r);
    assert_eq!(
        s.pg.psql(
            "sbx_pr_3",
            "SELECT count(*) FROM people WHERE email LIKE '%@invalid'"
        ),
        "20000"
    );
    // A missing file is found before anything runs.
    let r =
        run(restore_db(&s.pg, 4).args(["--backup-url", &url, "--post-sql", "/nonexistent/x.sql"]));
    assert_eq!(r.code, 2, "{}", r.result);
}

#[test]
fn a_connection_killed_mid_restore_is_transient_and_leaves_no_target() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    // A dump that pauses after the first table's data, long enough to be
    // caught mid-restore.
    let plain = std::fs::read_to_string(s.dir.path().join("plain.sql")).unwrap();
    let at = plain.find("\n\\.\n").unwrap() + 4;
    let slow = format!("{}SELECT pg_sleep(60);\n{}", &plain[..at], &plain[at..]);
    std::fs::write(dir.path().join("slow.sql"), slow).unwrap();
    std::fs::copy(s.dir.path().join("plain.sql"), dir.path().join("good.sql")).unwrap();
    let url = format!("file://{}", dir.path().display());
    let child = restore_db_std(&s.pg, 9)
        .args(["--backup-url", &url, "--backup-object", "slow.sql"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut killed = false;
    while Instant::now() < deadline {
        let n = s.pg.psql(
            "postgres",
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = 'restore-db' AND query LIKE '%pg_sleep%' \
               AND datname LIKE 'sbx_pr_9_stg_%'",
        );
        if n == "1" {
            killed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(killed, "never saw the restoring session");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(out.status.code(), Some(4), "{json}");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("terminating connection"),
        "{json}"
    );
    assert!(
        !databases(&s.pg).contains("sbx_pr_9"),
        "{}",
        databases(&s.pg)
    );
    // The rerun succeeds and cleans up.
    let r = run(restore_db(&s.pg, 9).args(["--backup-url", &url, "--backup-object", "good.sql"]));
    ok(&r);
    check_restored(&s, "sbx_pr_9", "app_owner");
    assert!(!databases(&s.pg).contains("_stg_"), "{}", databases(&s.pg));
}

#[test]
fn a_truncated_backup_fails_with_the_decoders_message_and_the_target_is_untouched() {
    let s = setup();
    let url = format!("file://{}", s.dir.path().display());
    ok(&run(restore_db(&s.pg, 5).args([
        "--backup-url",
        &url,
        "--backup-object",
        "plain.sql",
    ])));
    s.pg.psql("sbx_pr_5", "INSERT INTO people VALUES (-5, 'kept')");
    let cut = tempfile::tempdir().unwrap();
    for (name, path) in &s.dumps {
        let bytes = std::fs::read(path).unwrap();
        std::fs::write(cut.path().join(name), &bytes[..bytes.len() * 2 / 3]).unwrap();
    }
    let cut_url = format!("file://{}", cut.path().display());
    for (name, needle) in [
        ("plain.sql.gz", "decompress"),
        ("custom.dump.gz", "decompress"),
        ("custom.dump", "pg_restore"),
        ("plain.sql", "truncated"),
    ] {
        let r = run(restore_db(&s.pg, 5).args([
            "--backup-url",
            &cut_url,
            "--backup-object",
            name,
            "--clean",
        ]));
        assert_eq!(r.code, 3, "{name}: {}", r.result);
        let message = r.result["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{name}: {message}");
        assert_eq!(
            s.pg.psql("sbx_pr_5", "SELECT count(*) FROM people"),
            "20001",
            "{name}"
        );
    }
    assert!(!databases(&s.pg).contains("_stg_"), "{}", databases(&s.pg));
}

#[test]
fn hostile_names_are_refused_before_anything_runs() {
    let s = setup();
    let url = format!("file://{}", s.dir.path().display());
    let before = databases(&s.pg);
    let long = "a".repeat(64);
    let cases: [(&[&str], i32); 6] = [
        (&["--database-name", "postgres"], 5),
        (&["--database-name", "integration"], 5),
        (&["--database-name", "template1"], 5),
        (
            &["--database-name", "sbx_pr_1\";DROP DATABASE integration;--"],
            2,
        ),
        (&["--database-name", "sbx'pr"], 2),
        (&["--database-name", &long], 2),
    ];
    for (args, code) in cases {
        let r = run(restore_db(&s.pg, 1).args(["--backup-url", &url]).args(args));
        assert_eq!(r.code, code, "{args:?}: {}", r.result);
    }
    // The source database as the sandbox's own name.
    let r = run(restore_db(&s.pg, 1)
        .args(["--backup-url", &url, "--environment", "sbx-integration"])
        .args(["--database-name", "integration"]));
    assert_eq!(r.code, 5, "{}", r.result);
    // A dump made with -C would \connect to the source: refused.
    let dir = tempfile::tempdir().unwrap();
    sh(
        &format!(
            "{} -Fp -C -d {} -f with-create.sql",
            s.pg.bin("pg_dump").display(),
            s.pg.url("integration")
        ),
        dir.path(),
    );
    let r = run(restore_db(&s.pg, 1).args([
        "--backup-url",
        &format!("file://{}/with-create.sql", dir.path().display()),
    ]));
    assert_eq!(r.code, 5, "{}", r.result);
    assert_eq!(databases(&s.pg), before);
    assert_eq!(s.pg.psql("integration", CHECKSUM), s.source_checksum);
}

#[test]
fn dry_run_and_check_params_touch_nothing() {
    let s = setup();
    let url = format!("file://{}", s.dir.path().display());
    let before = databases(&s.pg);
    let r = run(restore_db(&s.pg, 2).args([
        "--backup-url",
        &url,
        "--backup-object",
        "custom.dump",
        "--dry-run",
    ]));
    let out = ok(&r);
    assert!(out["plan"].as_str().unwrap().contains("\"dry_run\":true"));
    assert_eq!(databases(&s.pg), before);

    let check = |db_url: &str, max_age: &str| {
        let mut cmd = Command::cargo_bin("check-params").unwrap();
        cmd.env_clear()
            .env("DB_URL", db_url)
            .env("SANDBOX_LOG_FORMAT", "text")
            .args([
                "--pr-number",
                "2",
                "--check-remote",
                "--database-url",
                "env:DB_URL",
            ])
            .args(["--backup-url", &url, "--max-age", max_age])
            .arg("--outputs-dir")
            .arg(tempfile::tempdir().unwrap().keep());
        run(&mut cmd)
    };
    let r = check(&s.pg.url("postgres"), "1h");
    let checks = ok(&r)["remote_checks"].as_str().unwrap().to_string();
    assert!(checks.contains("backup-present-and-fresh"), "{checks}");
    assert!(!checks.contains("failed"), "{checks}");
    let dead = format!(
        "postgres://postgres@127.0.0.1:{}/postgres",
        sandbox_harness::free_port()
    );
    let r = check(&dead, "1h");
    // A server that refuses connections may be restarting: transient, so
    // Argo's retry strategy (exit 4 only) tries again.
    assert_eq!(r.code, 4, "{}", r.result);
    let details = r.result["error"]["details"].as_array().unwrap();
    assert!(
        details
            .iter()
            .any(|d| d["rule"] == "database-reachable" && d["field"] == "database_url"),
        "{}",
        r.result
    );
}

#[test]
fn parallel_restores_from_files_gzipped_or_not() {
    let s = setup();
    let url = format!("file://{}", s.dir.path().display());
    for (pr, object) in [(11, "custom.dump"), (12, "custom.dump.gz")] {
        let r = run(restore_db(&s.pg, pr).args([
            "--backup-url",
            &url,
            "--backup-object",
            object,
            "--jobs",
            "2",
        ]));
        let out = ok(&r);
        assert_eq!(out["tables_restored"], "3", "{object}");
        check_restored(&s, &format!("sbx_pr_{pr}"), "app_owner");
    }
}

/// The database URL comes from Vault (a real OpenBao, KV v2), with a
/// password that must never show in the output.
#[test]
fn the_database_url_is_read_from_vault() {
    let s = setup();
    let bao = sandbox_harness::OpenBao::start();
    s.pg.psql(
        "postgres",
        "CREATE ROLE restorer LOGIN SUPERUSER PASSWORD 'v4ult-pw-3311'",
    );
    let url = format!(
        "postgres://restorer:v4ult-pw-3311@127.0.0.1:{}/postgres",
        s.pg.port()
    );
    bao.run(&[
        "kv",
        "put",
        "-mount=secret",
        "sandboxes/sbx-pr-31/db",
        &format!("url={url}"),
    ]);
    let backups = format!("file://{}", s.dir.path().display());
    let r = run(restore_db(&s.pg, 31)
        .env("VAULT_TOKEN", bao.token())
        .args(["--backup-url", &backups, "--backup-object", "custom.dump"])
        .args([
            "--database-url",
            "vault://secret/sandboxes/{environment}/db#url",
        ])
        .args(["--vault-auth", "token", "--vault-addr", &bao.addr()]));
    ok(&r);
    check_restored(&s, "sbx_pr_31", "app_owner");
    for text in [r.result.to_string(), r.stderr.clone()] {
        assert!(
            !text.contains("v4ult-pw-3311"),
            "the password leaked: {text}"
        );
    }
    // A reference outside the environment's tree is refused before any request.
    let r = run(restore_db(&s.pg, 32).args([
        "--backup-url",
        &backups,
        "--database-url",
        "vault://secret/other/db#url",
        "--vault-auth",
        "token",
    ]));
    assert_eq!(r.code, 2, "{}", r.result);
}

/// Issue 16: `pg_restore -l` lists a partition as `TABLE ATTACH public
/// payment_p2022_01 …`; read by word position that was a table named
/// `payment_p2022_01 …` in schema `ATTACH`, missing after the restore, and
/// a good restore was dropped (exit 3). The dump is real: pg_dump -Fc of a
/// database with a partitioned table, restored and checked with psql.
#[test]
fn a_custom_dump_with_partitioned_tables_restores() {
    let pg = Postgres::start();
    pg.psql("postgres", "CREATE DATABASE integration");
    pg.psql(
        "integration",
        "CREATE TABLE payment (id int, paid date NOT NULL, amount numeric) PARTITION BY RANGE (paid);
         CREATE TABLE payment_p2022_01 PARTITION OF payment FOR VALUES FROM ('2022-01-01') TO ('2022-02-01');
         CREATE TABLE payment_p2022_02 PARTITION OF payment FOR VALUES FROM ('2022-02-01') TO ('2022-03-01');
         CREATE INDEX ON payment (paid);
         INSERT INTO payment SELECT i, date '2022-01-01' + (i % 59), i FROM generate_series(1, 3000) i;
         CREATE TABLE plain_one (x int); INSERT INTO plain_one VALUES (1);",
    );
    let dir = tempfile::tempdir().unwrap();
    let dump = pg.bin("pg_dump").display().to_string();
    sh(
        &format!("{dump} -Fc -d {} -f part.dump", pg.url("integration")),
        dir.path(),
    );
    // The archive really has the entry type the old parser misread.
    let list = std::process::Command::new(pg.bin("pg_restore"))
        .args(["-l", "part.dump"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("TABLE ATTACH"));
    let url = format!("file://{}", dir.path().display());
    let r = run(restore_db(&pg, 6).args(["--backup-url", &url]));
    let out = ok(&r);
    assert_eq!(out["tables_restored"], "4", "{}", r.result);
    assert_eq!(pg.psql("sbx_pr_6", "SELECT count(*) FROM payment"), "3000");
    assert_eq!(
        pg.psql("sbx_pr_6", "SELECT count(*) FROM payment_p2022_02"),
        pg.psql("integration", "SELECT count(*) FROM payment_p2022_02")
    );
}

/// Issue 16: a nightly backup made as a schema dump and a data dump
/// concatenated, cut between two tables, restored with exit 0 and empty
/// tables: the schema part's "dump complete" trailer satisfied the check.
/// Each part must end in its own trailer. Real pg_dump parts, cut after
/// every table's data in turn: every cut fails (3) and leaves no database;
/// the whole file restores.
#[test]
fn a_backup_of_several_dump_parts_cut_at_any_table_is_truncated() {
    let s = setup();
    let url = s.pg.url("integration");
    let dump = s.pg.bin("pg_dump").display().to_string();
    let dir = tempfile::tempdir().unwrap();
    sh(
        &format!(
            "{dump} --schema-only -d {url} -f schema.sql && {dump} --data-only -d {url} -f data.sql && cat schema.sql data.sql > nightly.sql"
        ),
        dir.path(),
    );
    let whole = std::fs::read(dir.path().join("nightly.sql")).unwrap();
    let schema_len = std::fs::metadata(dir.path().join("schema.sql"))
        .unwrap()
        .len() as usize;
    // Every end of a table's data in the data part: a cut there is a file
    // that looks whole up to a table boundary.
    let cuts: Vec<usize> = whole[schema_len..]
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"\n\\.\n")
        .map(|(i, _)| schema_len + i + 4)
        .collect();
    assert!(cuts.len() >= 2, "the data part has {} tables", cuts.len());
    let backups = tempfile::tempdir().unwrap();
    let backup_url = format!("file://{}", backups.path().display());
    for (n, cut) in cuts.iter().enumerate() {
        std::fs::write(backups.path().join("nightly.sql"), &whole[..*cut]).unwrap();
        let r = run(restore_db(&s.pg, 8).args(["--backup-url", &backup_url]));
        assert_eq!(r.code, 3, "cut after table {n}: {}", r.result);
        assert!(
            r.result["error"]["message"]
                .as_str()
                .unwrap()
                .contains("dump complete"),
            "{}",
            r.result
        );
        assert!(!databases(&s.pg).contains("sbx_pr_8"), "cut {n}");
    }
    std::fs::write(backups.path().join("nightly.sql"), &whole).unwrap();
    let r = run(restore_db(&s.pg, 8).args(["--backup-url", &backup_url]));
    ok(&r);
    assert_eq!(s.pg.psql("sbx_pr_8", CHECKSUM), s.source_checksum);
}
