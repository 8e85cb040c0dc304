//! restore-db's fast strategies against a real PostgreSQL, as processes:
//! eight sandboxes racing for a pool of four, a claim or a clone killed at
//! every step (`SANDBOX_FAILPOINT` aborts the process there, as a kill
//! would) and then run again, and the template copy — identical contents,
//! a bounded wait for the template's connections, a clear refusal when
//! there is no template and the fallback under `auto`.

use super::prepare_db::{CHECKSUM, SOURCE_SQL, databases, dump, env, finished, prepare};
use super::support::{self, Run};
use sandbox_harness::Postgres;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A source database and a first backup of it; the source's checksum.
fn world(pg: &Postgres, backups: &Path) -> String {
    pg.psql("postgres", "CREATE DATABASE integration");
    pg.psql("integration", SOURCE_SQL);
    dump(pg, backups, "nightly-1.dump", "2026-01-01 00:00:00");
    pg.psql("integration", CHECKSUM)
}

/// `restore-db` for PR `pr` with `args` and `vars`, as a process of its
/// own; its logs go to `log` when given (to watch it while it runs).
fn restore_db(
    pg: &Postgres,
    backups: &Path,
    pr: u32,
    args: &[&str],
    vars: &[(&str, &str)],
    log: Option<&Path>,
) -> Child {
    let outputs = tempfile::tempdir().unwrap().keep();
    let stderr = match log {
        Some(file) => Stdio::from(std::fs::File::create(file).unwrap()),
        None => Stdio::piped(),
    };
    Command::new(assert_cmd::cargo::cargo_bin("restore-db"))
        .env_remove("SANDBOX_PARAMS")
        .env_remove(sandbox_core::env_vars::FAILPOINT)
        .env("SANDBOX_LOG_FORMAT", "text")
        .envs(env(pg, backups))
        .envs(vars.iter().copied())
        .args(["--pr-number", &pr.to_string()])
        .args(args)
        .arg("--outputs-dir")
        .arg(outputs)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

fn ended(child: Child) -> Run {
    support::result_of(child.wait_with_output().unwrap())
}

/// Every database whose name starts with `prefix`, with its comment.
fn marked(pg: &Postgres, prefix: &str) -> Vec<(String, String)> {
    let rows = pg.psql(
        "postgres",
        &format!(
            "SELECT datname || '=' || coalesce(shobj_description(oid, 'pg_database'), '') \
             FROM pg_database WHERE starts_with(datname, '{prefix}') ORDER BY datname"
        ),
    );
    rows.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (name, comment) = l.split_once('=').unwrap();
            (name.to_string(), comment.to_string())
        })
        .collect()
}

/// The pool holds only whole members: `<prefix>_<k>` with a restore
/// marker of `backup`, nothing else under the prefix (no member half
/// renamed, no staging copy of one).
fn pool_is_whole(pg: &Postgres, backup: &str) -> usize {
    let members = marked(pg, "sbx_pool");
    for (name, comment) in &members {
        let k = name.strip_prefix("sbx_pool_").unwrap_or("");
        assert!(
            !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()),
            "{name} is not a pool member"
        );
        assert!(
            comment.contains("\"restored_by\":\"restore-db\"") && comment.contains(backup),
            "{name} carries no marker of {backup}: {comment}"
        );
    }
    members.len()
}

/// Content of a sandbox database: the checksum of `people` and the row
/// counts of both tables.
fn contents(pg: &Postgres, db: &str) -> String {
    format!(
        "{} {} {}",
        pg.psql(db, CHECKSUM),
        pg.psql(db, "SELECT count(*) FROM people"),
        pg.psql(db, "SELECT count(*) FROM notes")
    )
}

/// Issue 16, done when: "8 sandboxes claiming from a pool of 4 at once: 4
/// claim, 4 fall back, none share a database, nothing is left half-renamed".
#[test]
fn eight_sandboxes_racing_for_a_pool_of_four_four_claim_four_restore() {
    let pg = Postgres::start();
    let backups = tempfile::tempdir().unwrap();
    world(&pg, backups.path());
    let source = contents(&pg, "integration");
    let filled = prepare(&pg, backups.path(), &["--pool-size", "4"]);
    assert_eq!(filled.output("restored"), "4");

    let children: Vec<Child> = (1..=8)
        .map(|pr| restore_db(&pg, backups.path(), pr, &["--strategy", "pool"], &[], None))
        .collect();
    let runs: Vec<Run> = children.into_iter().map(finished).collect();

    let mut claimed: Vec<String> = runs
        .iter()
        .filter(|r| r.output("strategy") == "pool")
        .map(|r| r.output("pool_database"))
        .collect();
    claimed.sort();
    assert_eq!(
        claimed,
        ["sbx_pool_1", "sbx_pool_2", "sbx_pool_3", "sbx_pool_4"],
        "each member claimed exactly once"
    );
    let restored: Vec<&Run> = runs
        .iter()
        .filter(|r| r.output("strategy") == "restore")
        .collect();
    assert_eq!(restored.len(), 4, "the other four restore");
    for run in &restored {
        assert!(
            run.output("fallback_reason").starts_with("pool: "),
            "{}",
            run.result
        );
    }
    // Eight databases, one per sandbox, each whole; the pool is used up
    // and no staging or retired copy is left anywhere.
    let sandboxes: Vec<String> = runs.iter().map(|r| r.output("database_name")).collect();
    let mut distinct = sandboxes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 8, "{sandboxes:?}");
    for db in &sandboxes {
        assert_eq!(contents(&pg, db), source, "{db}");
    }
    assert_eq!(databases(&pg, "sbx_pool%"), "");
    assert_eq!(databases(&pg, "%\\_stg\\_%"), "");
    assert_eq!(databases(&pg, "%\\_old\\_%"), "");
}

/// Issue 16, done when: "a claim killed at any point leaves the pool and
/// the sandbox consistent (a rerun finishes the claim or falls back)".
/// Each point is a statement boundary of the claim (pool.rs `claim`,
/// `finish`) or of the copy (template.rs `clone`); the sandbox's database
/// exists beforehand (empty), so the swap also retires a database.
#[test]
fn a_claim_or_copy_killed_at_any_point_is_finished_or_falls_back_on_rerun() {
    let pg = Postgres::start();
    let backups = tempfile::tempdir().unwrap();
    world(&pg, backups.path());
    let source = contents(&pg, "integration");
    let sql = tempfile::tempdir().unwrap();
    let post = sql.path().join("post.sql");
    std::fs::write(&post, "INSERT INTO notes VALUES (100000, 'post-restore');").unwrap();
    let post_arg = format!("--post-sql={}", post.display());
    prepare(&pg, backups.path(), &["--pool-size", "8"]);
    prepare(&pg, backups.path(), &["--prepare", "template"]);
    let template_before = contents(&pg, "sbx_template");
    let mut pool_size = pool_is_whole(&pg, "nightly-1.dump");
    assert_eq!(pool_size, 8);

    let points: &[(&str, &str)] = &[
        ("pool", "pool-locked"),
        ("pool", "pool-claimed"),
        ("pool", "staging-owned"),
        ("pool", "post-sql-done"),
        ("pool", "swapped"),
        ("template", "template-locked"),
        ("template", "template-cloned"),
        ("template", "post-sql-done"),
        ("template", "swapped"),
    ];
    for (i, (strategy, point)) in points.iter().enumerate() {
        let pr = 10 + i as u32;
        let db = format!("sbx_pr_{pr}");
        pg.psql("postgres", &format!("CREATE DATABASE {db}"));
        let killed = ended(restore_db(
            &pg,
            backups.path(),
            pr,
            &["--strategy", strategy, &post_arg],
            &[(sandbox_core::env_vars::FAILPOINT, point)],
            None,
        ));
        assert_ne!(killed.code, 0, "{point}: the failpoint did not fire");
        assert!(
            killed.stderr.contains("failpoint"),
            "{point}: {}",
            killed.stderr
        );

        // Killed: the pool holds only whole members (at most one fewer),
        // the template is untouched, and the sandbox's database is either
        // as it was (empty) or finished.
        let left = pool_is_whole(&pg, "nightly-1.dump");
        assert!(
            left == pool_size || (left + 1 == pool_size && *strategy == "pool"),
            "{point}: {pool_size} members before, {left} after"
        );
        assert_eq!(contents(&pg, "sbx_template"), template_before, "{point}");
        let tables = pg.psql(
            &db,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
        );
        let finished_already = *point == "swapped";
        assert_eq!(
            tables,
            if finished_already { "2" } else { "0" },
            "{point}: the sandbox's database is half made"
        );

        // The rerun finishes: a whole database holding the backup and the
        // post-restore SQL once, from the same strategy, nothing left.
        let rerun = finished(restore_db(
            &pg,
            backups.path(),
            pr,
            &["--strategy", strategy, &post_arg],
            &[],
            None,
        ));
        let expected = if finished_already { "" } else { *strategy };
        assert_eq!(
            rerun.output("strategy"),
            expected,
            "{point}: {}",
            rerun.result
        );
        assert_eq!(
            pg.psql(&db, CHECKSUM),
            source.split(' ').next().unwrap(),
            "{point}"
        );
        assert_eq!(
            pg.psql(&db, "SELECT count(*) FROM notes WHERE id = 100000"),
            "1",
            "{point}: the post-restore SQL ran once"
        );
        assert_eq!(databases(&pg, "%\\_stg\\_%"), "", "{point}");
        assert_eq!(databases(&pg, "%\\_old\\_%"), "", "{point}");
        pool_size = pool_is_whole(&pg, "nightly-1.dump");
        assert_eq!(contents(&pg, "sbx_template"), template_before, "{point}");
    }
    // Each pool point used one member for its rerun and at most one more
    // for the killed claim.
    assert!(pool_size <= 3, "{pool_size} members left");
}

/// Poll (bounded) until `file` contains `text`.
fn wait_for_log(file: &Path, text: &str, bound: Duration) {
    let started = Instant::now();
    loop {
        let log = std::fs::read_to_string(file).unwrap_or_default();
        if log.contains(text) {
            return;
        }
        assert!(
            started.elapsed() < bound,
            "{text:?} not logged in {bound:?}:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A psql session connected to `db` until its stdin closes, seen in
/// pg_stat_activity before this returns.
fn hold_connection(pg: &Postgres, db: &str) -> Child {
    let child = Command::new(pg.bin("psql"))
        .args(["-X", "-q", "-d", &pg.url(db)])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while pg.psql(
        "postgres",
        &format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}'"),
    ) == "0"
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "psql never connected"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

#[test]
fn the_template_is_copied_whole_waits_for_connections_and_is_refused_when_missing() {
    let pg = Postgres::start();
    let backups = tempfile::tempdir().unwrap();
    world(&pg, backups.path());
    let source = contents(&pg, "integration");

    // No template: --strategy template refuses and says how to make one;
    // auto restores and says why it skipped the pool and the template.
    let missing = ended(restore_db(
        &pg,
        backups.path(),
        1,
        &["--strategy", "template"],
        &[],
        None,
    ));
    assert_eq!(missing.code, 3, "{}", missing.result);
    let message = missing.result["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("sbx_template does not exist")
            && message.contains("prepare-db --prepare template"),
        "{message}"
    );
    assert_eq!(databases(&pg, "sbx\\_pr\\_%"), "");
    let auto = finished(restore_db(
        &pg,
        backups.path(),
        1,
        &["--strategy", "auto"],
        &[],
        None,
    ));
    assert_eq!(auto.output("strategy"), "restore");
    let why = auto.output("fallback_reason");
    assert!(
        why.starts_with("pool: the pool sbx_pool is empty; template: the template database sbx_template does not exist"),
        "{why}"
    );
    assert_eq!(contents(&pg, "sbx_pr_1"), source);

    // The template, prepared once, verified and marked like a pool member.
    let made = prepare(&pg, backups.path(), &["--prepare", "template"]);
    assert_eq!(made.output("databases"), "sbx_template");
    assert_eq!(made.output("restored"), "1");
    assert_eq!(marked(&pg, "sbx_template").len(), 1);
    assert!(marked(&pg, "sbx_template")[0].1.contains("nightly-1.dump"));

    // A copy holds exactly the source's rows; auto takes the template when
    // the pool is empty, and says so.
    let copy = finished(restore_db(
        &pg,
        backups.path(),
        2,
        &["--strategy", "template"],
        &[],
        None,
    ));
    assert_eq!(copy.output("strategy"), "template", "{}", copy.stderr);
    assert_eq!(copy.output("template_database"), "sbx_template");
    assert_eq!(contents(&pg, "sbx_pr_2"), source);
    assert!(
        marked(&pg, "sbx_pr_2")[0].1.contains("nightly-1.dump"),
        "the copy carries the template's marker"
    );
    let auto = finished(restore_db(
        &pg,
        backups.path(),
        3,
        &["--strategy", "auto"],
        &[],
        None,
    ));
    assert_eq!(auto.output("strategy"), "template");
    assert!(
        auto.output("fallback_reason").starts_with("pool: "),
        "{}",
        auto.result
    );
    assert_eq!(contents(&pg, "sbx_pr_3"), source);

    // Someone connected to the template: a copy waits at most the bound,
    // then restores and says why.
    let mut session = hold_connection(&pg, "sbx_template");
    let started = Instant::now();
    let bounded = finished(restore_db(
        &pg,
        backups.path(),
        4,
        &["--strategy", "template", "--template-wait", "1s"],
        &[],
        None,
    ));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "it did not wait"
    );
    assert_eq!(bounded.output("strategy"), "restore");
    assert!(
        bounded
            .output("fallback_reason")
            .contains("1 other connection(s) after 1 s"),
        "{}",
        bounded.result
    );
    assert_eq!(contents(&pg, "sbx_pr_4"), source);

    // … and copies as soon as the session ends within the bound.
    let logs = tempfile::tempdir().unwrap();
    let log: PathBuf = logs.path().join("restore-5.log");
    let waiting = restore_db(
        &pg,
        backups.path(),
        5,
        &["--strategy", "template", "--template-wait", "120s"],
        &[],
        Some(&log),
    );
    wait_for_log(
        &log,
        "waiting for the template's other connections to end",
        Duration::from_secs(60),
    );
    assert_eq!(databases(&pg, "sbx\\_pr\\_5"), "", "it copied while in use");
    drop(session.stdin.take());
    assert!(session.wait().unwrap().success());
    let waited = finished(waiting);
    assert_eq!(waited.output("strategy"), "template");
    assert_eq!(contents(&pg, "sbx_pr_5"), source);

    // A newer backup makes the template stale: restore, and say so.
    pg.psql("integration", "DELETE FROM people WHERE id > 19000");
    let newer = contents(&pg, "integration");
    dump(&pg, backups.path(), "nightly-2.dump", "2026-01-02 00:00:00");
    let stale = finished(restore_db(
        &pg,
        backups.path(),
        6,
        &["--strategy", "template"],
        &[],
        None,
    ));
    assert_eq!(stale.output("strategy"), "restore");
    assert!(
        stale
            .output("fallback_reason")
            .contains("template sbx_template is stale"),
        "{}",
        stale.result
    );
    assert_eq!(contents(&pg, "sbx_pr_6"), newer);
    assert_eq!(databases(&pg, "%\\_stg\\_%"), "");
}
