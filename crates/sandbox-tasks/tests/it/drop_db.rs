//! `drop-db` against a real PostgreSQL: the binary drops, and psql (an
//! independent client) checks what is left — the environment's database
//! and the staging and retired copies a killed restore leaves are gone,
//! with sessions held open on them during the drop; PR 420's and PR 4's
//! databases, their copies and their sessions are untouched.

use super::support::{self, Run};
use sandbox_db::admin::work_names;
use sandbox_db::drop::restore_lock_key;
use sandbox_harness::Postgres;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Run drop-db against `pg` through an `env:` reference.
fn drop_db(pg: &Postgres, args: &[&str]) -> Run {
    let mut task = support::task("drop-db");
    task.cmd()
        .env("DB_URL", pg.url("postgres"))
        .env("SANDBOX_DATABASE_URL", "env:DB_URL")
        .env_remove("SANDBOX_DATABASE_NAME")
        .env_remove("VAULT_ADDR")
        .env_remove("VAULT_TOKEN");
    task.args(args).run()
}

fn databases(pg: &Postgres) -> Vec<String> {
    pg.psql(
        "postgres",
        "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres' ORDER BY 1",
    )
    .lines()
    .map(str::to_string)
    .collect()
}

fn list(run: &Run, name: &str) -> Vec<String> {
    serde_json::from_str(&run.output(name))
        .unwrap_or_else(|e| panic!("{name} is not a JSON list ({e}): {}", run.result))
}

/// A psql session held open on `database` as `application`, running `sql`
/// (a long sleep) until it is ended.
fn hold(pg: &Postgres, database: &str, application: &str, sql: &str) -> Child {
    Command::new(pg.bin("psql"))
        .args(["-X", "-q", "-d", &pg.url(database), "-c", sql])
        .env("PGAPPNAME", application)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run psql")
}

/// Wait (bounded) until `count` sessions run as `application`.
fn wait_sessions(pg: &Postgres, application: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n: usize = pg
            .psql(
                "postgres",
                &format!(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{application}' \
                     AND state = 'active'"
                ),
            )
            .parse()
            .unwrap();
        if n >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{count} {application} sessions never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Wait (bounded) for a held session's psql to exit.
fn exited(child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

const SLEEP: &str = "SELECT pg_sleep(600)";

#[test]
fn drops_the_environments_databases_with_sessions_open_and_nothing_else() {
    let pg = Postgres::start();
    let (staging, old) = work_names("sbx_pr_42");
    let (sibling_staging, _) = work_names("sbx_pr_420");
    let (short_staging, _) = work_names("sbx_pr_4");
    let ours = ["sbx_pr_42", staging.as_str(), old.as_str()];
    let theirs = [
        "integration",
        "sbx_pr_4",
        "sbx_pr_420",
        "sbx_pr_42x",
        sibling_staging.as_str(),
        short_staging.as_str(),
    ];
    for db in ours.iter().chain(&theirs) {
        pg.psql("postgres", &format!("CREATE DATABASE \"{db}\""));
    }
    pg.psql("sbx_pr_42", "CREATE TABLE t AS SELECT 1 AS x");
    // Sessions during the drop: an application on the target, an orphaned
    // psql of a killed restore on the staging copy, a restore of the
    // target holding its lock from the maintenance database; and a
    // session on PR 420's database, and a restore of PR 420, which must
    // survive.
    let mut held = vec![
        hold(&pg, "sbx_pr_42", "app", SLEEP),
        hold(&pg, &staging, "psql-restore", SLEEP),
        hold(
            &pg,
            "postgres",
            "restore-db",
            &format!(
                "SELECT pg_advisory_lock({}), pg_sleep(600)",
                restore_lock_key("sbx_pr_42")
            ),
        ),
    ];
    let mut sibling = hold(&pg, "sbx_pr_420", "app", SLEEP);
    let mut sibling_restore = hold(
        &pg,
        "postgres",
        "restore-db",
        &format!(
            "SELECT pg_advisory_lock({}), pg_sleep(600)",
            restore_lock_key("sbx_pr_420")
        ),
    );
    wait_sessions(&pg, "app", 2);
    wait_sessions(&pg, "psql-restore", 1);
    wait_sessions(&pg, "restore-db", 2);

    let run = drop_db(
        &pg,
        &["--pr-number", "42", "--source-database", "integration"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    let mut dropped = list(&run, "databases_dropped");
    dropped.sort();
    let mut expected: Vec<String> = ours.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(dropped, expected);
    assert_eq!(run.output("sessions_ended"), "3", "{}", run.stderr);
    assert_eq!(run.output("database_name"), "sbx_pr_42");

    let mut left = databases(&pg);
    left.sort();
    let mut survivors: Vec<String> = theirs.iter().map(|s| s.to_string()).collect();
    survivors.sort();
    assert_eq!(left, survivors, "exactly the environment's databases go");
    for child in &mut held {
        assert!(
            exited(child),
            "a session on the environment's databases survived"
        );
    }
    assert!(
        sibling.try_wait().unwrap().is_none() && sibling_restore.try_wait().unwrap().is_none(),
        "PR 420's sessions must not be ended"
    );
    let _ = sibling.kill();
    let _ = sibling_restore.kill();
    let _ = sibling.wait();
    let _ = sibling_restore.wait();

    // Idempotent: nothing left to do, exit 0.
    let again = drop_db(&pg, &["--pr-number", "42"]);
    assert_eq!(again.code, 0, "{}", again.result);
    assert!(list(&again, "databases_dropped").is_empty());
    assert_eq!(again.output("sessions_ended"), "0");

    // PR 4's run does not reach PR 42's or PR 420's names either.
    let short = drop_db(&pg, &["--pr-number", "4"]);
    assert_eq!(short.code, 0, "{}", short.result);
    let mut dropped = list(&short, "databases_dropped");
    dropped.sort();
    let mut expected = vec!["sbx_pr_4".to_string(), short_staging.clone()];
    expected.sort();
    assert_eq!(dropped, expected);
    let mut left = databases(&pg);
    left.sort();
    let mut survivors = vec![
        "integration".to_string(),
        "sbx_pr_420".into(),
        "sbx_pr_42x".into(),
        sibling_staging.clone(),
    ];
    survivors.sort();
    assert_eq!(left, survivors);
}

#[test]
fn a_dry_run_drops_nothing_and_ends_no_session() {
    let pg = Postgres::start();
    let (staging, _) = work_names("sbx_pr_43");
    for db in ["sbx_pr_43", staging.as_str()] {
        pg.psql("postgres", &format!("CREATE DATABASE \"{db}\""));
    }
    let mut session = hold(&pg, "sbx_pr_43", "app", SLEEP);
    wait_sessions(&pg, "app", 1);
    let run = drop_db(&pg, &["--pr-number", "43", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.result);
    assert_eq!(list(&run, "databases"), ["sbx_pr_43", staging.as_str()]);
    assert!(list(&run, "databases_dropped").is_empty());
    assert_eq!(run.output("sessions_ended"), "0");
    assert_eq!(databases(&pg), ["sbx_pr_43", staging.as_str()]);
    assert!(
        session.try_wait().unwrap().is_none(),
        "the session was ended"
    );
    let _ = session.kill();
    let _ = session.wait();
}

#[test]
fn what_is_not_the_environments_own_is_refused_and_kept() {
    let pg = Postgres::start();
    for db in ["sbx_pr_42", "sbx_pr_420", "sbx_pr_4", "integration"] {
        pg.psql("postgres", &format!("CREATE DATABASE \"{db}\""));
    }
    let before = databases(&pg);
    for (args, rule) in [
        (&["--database-name", "postgres"][..], "protected-database"),
        (&["--database-name", "template1"][..], "protected-database"),
        (&["--database-name", "sbx_pr_420"][..], "foreign-database"),
        (&["--database-name", "sbx_pr_4"][..], "foreign-database"),
        (&["--database-name", "integration"][..], "foreign-database"),
        (
            &[
                "--database-name",
                "sbx_pr_42",
                "--source-database",
                "sbx_pr_42",
            ][..],
            "restore-source",
        ),
        (
            &[
                "--database-name",
                "sbx_pr_42",
                "--protected-databases",
                "sbx_pr_42",
            ][..],
            "protected-database",
        ),
    ] {
        let mut all = vec!["--pr-number", "42"];
        all.extend(args);
        let run = drop_db(&pg, &all);
        assert_eq!(run.code, 5, "{args:?}: {}", run.result);
        assert_eq!(run.result["error"]["kind"], "refused", "{args:?}");
        assert_eq!(
            run.result["error"]["details"][0]["rule"], rule,
            "{args:?}: {}",
            run.result
        );
        assert_eq!(run.result["error"]["details"][0]["field"], "database_name");
    }
    // An environment outside the prefix is refused too.
    let run = drop_db(&pg, &["--environment", "prod"]);
    assert_eq!(run.code, 5, "{}", run.result);
    assert_eq!(databases(&pg), before, "nothing was dropped");
    let template = pg.psql(
        "postgres",
        "SELECT count(*) FROM pg_database WHERE datname IN ('template0', 'template1')",
    );
    assert_eq!(template, "2");
}

#[test]
fn bad_server_references_are_invalid_and_named() {
    let pg = Postgres::start();
    for (url, rule) in [
        ("vault://secret/other/db#url", None),
        (
            "postgres://app:hunter2@127.0.0.1/postgres",
            Some("no-embedded-credentials"),
        ),
        ("hunter2", None),
    ] {
        let run = drop_db(
            &pg,
            &[
                "--pr-number",
                "42",
                "--database-url",
                url,
                "--vault-auth",
                "token",
            ],
        );
        assert_eq!(run.code, 2, "{url}: {}", run.result);
        let details = &run.result["error"]["details"];
        assert!(
            details
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["field"] == "database_url" && !d["fix"].as_str().unwrap().is_empty()),
            "{url}: {}",
            run.result
        );
        if let Some(rule) = rule {
            assert!(details.to_string().contains(rule), "{url}: {details}");
        }
        assert!(!run.stdout.contains("hunter2") && !run.stderr.contains("hunter2"));
    }
    // No server at all: the parameter, the rule and the fix.
    let mut task = support::task("drop-db");
    task.cmd().env_remove("SANDBOX_DATABASE_URL");
    let run = task.args(["--pr-number", "42"]).run();
    assert_eq!(run.code, 2, "{}", run.result);
    let detail = &run.result["error"]["details"][0];
    assert_eq!(detail["field"], "database_url");
    assert!(detail["fix"].as_str().unwrap().contains("--database-url"));
}

/// The server's URL comes from Vault (a real OpenBao, KV v2) under the
/// environment's tree, with a password that never shows.
#[test]
fn the_database_url_is_read_from_vault() {
    let pg = Postgres::start();
    let bao = sandbox_harness::OpenBao::start();
    pg.psql(
        "postgres",
        "CREATE ROLE remover LOGIN SUPERUSER PASSWORD 'dr0p-pw-5521'",
    );
    pg.psql("postgres", "CREATE DATABASE sbx_pr_44");
    let url = format!(
        "postgres://remover:dr0p-pw-5521@127.0.0.1:{}/postgres",
        pg.port()
    );
    bao.run(&[
        "kv",
        "put",
        "-mount=secret",
        "sandboxes/sbx-pr-44/db",
        &format!("url={url}"),
    ]);
    let mut task = support::task("drop-db");
    task.cmd()
        .env_remove("SANDBOX_DATABASE_URL")
        .env("VAULT_TOKEN", bao.token());
    let run = task
        .args(["--pr-number", "44", "--vault-auth", "token", "--vault-addr"])
        .args([bao.addr()])
        .args([
            "--database-url",
            "vault://secret/sandboxes/{environment}/db#url",
        ])
        .run();
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(list(&run, "databases_dropped"), ["sbx_pr_44"]);
    assert!(databases(&pg).is_empty());
    for text in [&run.stdout, &run.stderr] {
        assert!(
            !text.contains("dr0p-pw-5521"),
            "the password leaked: {text}"
        );
    }
}

/// A server that cannot be reached is transient (exit 4): the step is
/// retried.
#[test]
fn an_unreachable_server_is_transient() {
    let port = sandbox_harness::free_port();
    let mut task = support::task("drop-db");
    task.cmd()
        .env(
            "DB_URL",
            format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        )
        .env("SANDBOX_DATABASE_URL", "env:DB_URL");
    let run = task.args(["--pr-number", "42"]).run();
    assert_eq!(run.code, 4, "{}", run.result);
    assert_eq!(run.result["error"]["kind"], "transient");
}
