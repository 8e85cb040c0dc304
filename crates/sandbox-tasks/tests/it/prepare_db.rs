//! `prepare-db` and `restore-db --strategy pool` against a real
//! PostgreSQL: a pool prepared from a real pg_dump backup, kept on a
//! rerun, claimed by sandboxes racing for it (each member once, the rest
//! restore), a stale pool that falls back, and a shrink — every database
//! checked with psql.

use super::support::{self, Run};
use sandbox_harness::Postgres;
use std::path::Path;
use std::process::Stdio;

pub(crate) const SOURCE_SQL: &str = "
CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL, joined date);
INSERT INTO people SELECT i, 'person ' || i, date '2020-01-01' + (i % 1000)
  FROM generate_series(1, 20000) i;
CREATE TABLE notes (id int PRIMARY KEY, body text);
INSERT INTO notes SELECT i, repeat('n', i % 50) FROM generate_series(1, 500) i;
";

pub(crate) const CHECKSUM: &str = "SELECT md5(string_agg(p::text, '|' ORDER BY id)) FROM people p";

/// Dump `integration` in custom format to `dir/name`, dated `stamp`
/// (`touch -d`), so the newest by update time is known.
pub(crate) fn dump(pg: &Postgres, dir: &Path, name: &str, stamp: &str) {
    let file = dir.join(name);
    let out = std::process::Command::new(pg.bin("pg_dump"))
        .args(["-Fc", "-d", &pg.url("integration"), "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let touched = std::process::Command::new("touch")
        .args(["-d", stamp])
        .arg(&file)
        .status()
        .unwrap();
    assert!(touched.success());
}

/// The variables both tasks read: the server, the client tools, the backups.
pub(crate) fn env(pg: &Postgres, backups: &Path) -> Vec<(String, String)> {
    vec![
        ("DB_URL".into(), pg.url("postgres")),
        (
            "SANDBOX_PGBIN".into(),
            pg.bin("psql").parent().unwrap().display().to_string(),
        ),
        ("SANDBOX_DATABASE_URL".into(), "env:DB_URL".into()),
        ("SANDBOX_SOURCE_DATABASE".into(), "integration".into()),
        (
            "SANDBOX_BACKUP_URL".into(),
            format!("file://{}", backups.display()),
        ),
    ]
}

pub(crate) fn prepare(pg: &Postgres, backups: &Path, args: &[&str]) -> Run {
    let mut task = support::task("prepare-db").args(args);
    for (k, v) in env(pg, backups) {
        task.cmd().env(k, v);
    }
    let run = task.run();
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    run
}

/// `restore-db --strategy pool` for PR `pr`, as a process of its own.
fn claim(pg: &Postgres, backups: &Path, pr: u32) -> std::process::Child {
    let outputs = tempfile::tempdir().unwrap().keep();
    std::process::Command::new(assert_cmd::cargo::cargo_bin("restore-db"))
        .env_remove("SANDBOX_PARAMS")
        .env("SANDBOX_LOG_FORMAT", "text")
        .envs(env(pg, backups))
        .args(["--pr-number", &pr.to_string(), "--strategy", "pool"])
        .arg("--outputs-dir")
        .arg(outputs)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub(crate) fn finished(child: std::process::Child) -> Run {
    let run = support::result_of(child.wait_with_output().unwrap());
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    run
}

pub(crate) fn databases(pg: &Postgres, like: &str) -> String {
    pg.psql(
        "postgres",
        &format!(
            "SELECT coalesce(string_agg(datname, ',' ORDER BY datname COLLATE \"C\"), '') \
             FROM pg_database WHERE datname LIKE '{like}'"
        ),
    )
}

#[test]
fn a_pool_is_prepared_kept_claimed_once_each_and_falls_back_when_stale() {
    let pg = Postgres::start();
    pg.psql("postgres", "CREATE DATABASE integration");
    pg.psql("integration", SOURCE_SQL);
    let source = pg.psql("integration", CHECKSUM);
    let backups = tempfile::tempdir().unwrap();
    dump(&pg, backups.path(), "nightly-1.dump", "2026-01-01 00:00:00");

    // A pool of 3 from the real backup, each member verified and marked.
    let first = prepare(&pg, backups.path(), &["--pool-size", "3"]);
    assert_eq!(first.output("restored"), "3", "{}", first.stderr);
    assert_eq!(first.output("kept"), "0");
    assert_eq!(
        first.output("databases"),
        "sbx_pool_1,sbx_pool_2,sbx_pool_3"
    );
    for k in 1..=3 {
        let member = format!("sbx_pool_{k}");
        assert_eq!(pg.psql(&member, CHECKSUM), source, "{member}");
        let comment = pg.psql(
            "postgres",
            &format!("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{member}'"),
        );
        assert!(comment.contains("nightly-1.dump"), "{member}: {comment}");
    }

    // A rerun keeps what already holds the newest backup.
    let again = prepare(&pg, backups.path(), &["--pool-size", "3"]);
    assert_eq!(again.output("restored"), "0");
    assert_eq!(again.output("kept"), "3");

    // Four sandboxes race for three members: three claim, one restores.
    let children: Vec<_> = (1..=4).map(|pr| claim(&pg, backups.path(), pr)).collect();
    let runs: Vec<Run> = children.into_iter().map(finished).collect();
    let mut claimed: Vec<String> = runs
        .iter()
        .filter(|r| r.output("strategy") == "pool")
        .map(|r| r.output("pool_database"))
        .collect();
    claimed.sort();
    assert_eq!(
        claimed,
        ["sbx_pool_1", "sbx_pool_2", "sbx_pool_3"],
        "each member once"
    );
    let fallback: Vec<&Run> = runs
        .iter()
        .filter(|r| r.output("strategy") == "restore")
        .collect();
    assert_eq!(fallback.len(), 1);
    assert!(
        fallback[0].output("fallback_reason").contains("sbx_pool"),
        "{}",
        fallback[0].result
    );
    assert!(
        fallback[0].stderr.contains("restoring instead"),
        "{}",
        fallback[0].stderr
    );
    for pr in 1..=4 {
        let db = format!("sbx_pr_{pr}");
        assert_eq!(pg.psql(&db, CHECKSUM), source, "{db}");
        assert_eq!(pg.psql(&db, "SELECT count(*) FROM notes"), "500", "{db}");
    }
    assert_eq!(databases(&pg, "sbx_pool%"), "");
    assert_eq!(
        databases(&pg, "%\\_stg\\_%"),
        "",
        "no staging database left"
    );

    // A claim on a rerun finds its database done: nothing claimed.
    let rerun = finished(claim(&pg, backups.path(), 1));
    assert_eq!(rerun.output("strategy"), "");
    assert_eq!(pg.psql("sbx_pr_1", CHECKSUM), source);

    // Refill two members, then a newer backup makes them stale: the next
    // sandbox restores the newer backup and says why.
    let refill = prepare(&pg, backups.path(), &["--pool-size", "2"]);
    assert_eq!(refill.output("restored"), "2");
    pg.psql("integration", "DELETE FROM people WHERE id > 19000");
    let newer = pg.psql("integration", CHECKSUM);
    dump(&pg, backups.path(), "nightly-2.dump", "2026-01-02 00:00:00");
    let stale = finished(claim(&pg, backups.path(), 5));
    assert_eq!(stale.output("strategy"), "restore", "{}", stale.stderr);
    assert!(
        stale.output("fallback_reason").contains("stale"),
        "{}",
        stale.result
    );
    assert!(stale.output("backup_object").ends_with("nightly-2.dump"));
    assert_eq!(pg.psql("sbx_pr_5", CHECKSUM), newer);
    assert_eq!(databases(&pg, "sbx_pool%"), "sbx_pool_1,sbx_pool_2");

    // A smaller pool drops the extra members, and nothing else.
    let shrunk = prepare(&pg, backups.path(), &["--pool-size", "1"]);
    assert_eq!(
        shrunk.output("restored"),
        "1",
        "member 1 held the old backup"
    );
    assert_eq!(shrunk.output("dropped"), "sbx_pool_2");
    assert_eq!(databases(&pg, "sbx_pool%"), "sbx_pool_1");
    assert_eq!(pg.psql("sbx_pool_1", CHECKSUM), newer);
    assert_eq!(
        databases(&pg, "sbx\\_pr\\_%"),
        "sbx_pr_1,sbx_pr_2,sbx_pr_3,sbx_pr_4,sbx_pr_5"
    );
}

#[test]
fn the_pool_refuses_a_sandbox_or_protected_name() {
    let pg = Postgres::start();
    let backups = tempfile::tempdir().unwrap();
    for (args, rule) in [
        (&["--pool-prefix", "sbx_pr"][..], "sandbox-database"),
        (
            &["--prepare", "template", "--template-name", "integration"][..],
            "restore-source",
        ),
        (
            &["--prepare", "template", "--template-name", "template1"][..],
            "protected-database",
        ),
    ] {
        let mut task = support::task("prepare-db").args(args);
        for (k, v) in env(&pg, backups.path()) {
            task.cmd().env(k, v);
        }
        let run = task.run();
        assert_eq!(run.code, 5, "{args:?}: {}", run.result);
        assert_eq!(run.result["error"]["details"][0]["rule"], rule, "{args:?}");
    }
    assert_eq!(databases(&pg, "sbx%"), "");
}
