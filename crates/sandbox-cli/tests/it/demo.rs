//! `sandbox demo` end to end, checked with independent tools: the git CLI
//! for branches and files, the directory for the bucket, psql for the
//! database — created during the run, all gone after the delete pipeline.

use assert_cmd::Command;
use sandbox_harness::Postgres;
use std::path::Path;

fn demo(world: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("sandbox")
        .unwrap()
        .env_remove(sandbox_core::env_vars::DATABASE_URL)
        .args(["demo", "--world", world.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn git(world: &Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(world.join("remote/infra.git"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn files_under(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                files_under(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn the_create_pipeline_builds_every_part_of_the_sandbox() {
    let pg = Postgres::start();
    let scratch = tempfile::tempdir().unwrap();
    let world = scratch.path().join("world");
    let (code, stdout, stderr) = demo(&world, &["--keep", "--database-url", &pg.url("postgres")]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    for step in [
        "check-params",
        "create-branch",
        "patch-kustomize",
        "seed-bucket",
        "restore-db",
        "register-app",
    ] {
        assert!(
            stdout.contains(&format!("✔ {step}")),
            "{step} did not succeed:\n{stdout}"
        );
    }
    // The branch exists, with the overlay patched for the sandbox.
    let (ok, overlay) = git(
        &world,
        &["show", "sbx-pr-42:overlays/sandbox/kustomization.yaml"],
    );
    assert!(ok, "no branch sbx-pr-42");
    assert!(overlay.contains("namespace: apps-sbx-pr-42"), "{overlay}");
    assert!(
        overlay.contains("1.4.2"),
        "integration's tag not copied:\n{overlay}"
    );
    assert!(
        overlay.contains("# replaced per sandbox") || overlay.contains("# Template overlay"),
        "comments lost:\n{overlay}"
    );
    // The Application is registered on main.
    let (ok, app) = git(&world, &["show", "main:apps/sandboxes/sbx-pr-42.yaml"]);
    assert!(
        ok && app.contains("kind: Application") && app.contains("apps-sbx-pr-42"),
        "{app}"
    );
    // The documents are in the sandbox's prefix, every one of them.
    let dest = world.join("buckets/sandbox-docs/sbx-pr-42");
    assert_eq!(
        files_under(&dest),
        files_under(&world.join("buckets/integration-docs"))
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("catalog/kettle.json")).unwrap(),
        std::fs::read_to_string(world.join("buckets/integration-docs/catalog/kettle.json"))
            .unwrap()
    );
    // The regression suite ran on the sandbox's data and report-tests read
    // its JUnit XML (a dry run: no GitHub in the demo).
    assert!(
        stdout.contains("✔ report-tests") && stdout.contains("3 passed, 0 failed"),
        "{stdout}"
    );
    // Night shutdown: the Application slept in one commit and woke in
    // another, back to the bytes register-app wrote.
    for step in ["hibernate", "wake"] {
        assert!(stdout.contains(&format!("✔ {step}")), "{step}:\n{stdout}");
    }
    assert!(
        stdout.contains("count: 0") && stdout.contains("back byte for byte"),
        "{stdout}"
    );
    let (_, log) = git(&world, &["log", "--format=%s", "-3", "main"]);
    assert!(
        log.starts_with("wake: 1 sandbox(es)\nhibernate: 1 sandbox(es)\n"),
        "{log}"
    );
    let (_, registered) = git(&world, &["show", "main~2:apps/sandboxes/sbx-pr-42.yaml"]);
    assert_eq!(app, registered);
    // The database holds the backup's rows.
    assert_eq!(pg.psql("sbx_pr_42", "select count(*) from orders"), "1000");
    assert_eq!(
        pg.psql("sbx_pr_42", "select count(*) from customers"),
        "200"
    );
}

#[test]
fn the_delete_pipeline_leaves_nothing_behind() {
    let pg = Postgres::start();
    let scratch = tempfile::tempdir().unwrap();
    let world = scratch.path().join("world");
    let (code, stdout, stderr) = demo(
        &world,
        &["--pr-number", "7", "--database-url", &pg.url("postgres")],
    );
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("nothing of the sandbox is left"),
        "{stdout}"
    );
    let (_, heads) = git(
        &world,
        &["for-each-ref", "--format=%(refname:short)", "refs/heads/"],
    );
    assert_eq!(heads.trim(), "main", "branches left: {heads}");
    let (_, apps) = git(
        &world,
        &["ls-tree", "--name-only", "main", "apps/sandboxes/"],
    );
    assert!(!apps.contains("sbx-pr-7"), "{apps}");
    // The app was registered and removed: two commits on main after the seed.
    let (_, log) = git(&world, &["log", "--format=%s", "main"]);
    assert!(
        log.contains("register-app") && log.contains("unregister-app"),
        "{log}"
    );
    assert!(!world.join("buckets/sandbox-docs/sbx-pr-7").exists());
    assert_eq!(
        pg.psql(
            "postgres",
            "select count(*) from pg_database where datname like 'sbx\\_pr\\_7%'"
        ),
        "0"
    );
}

#[test]
fn without_a_database_restore_db_is_skipped_with_the_reason() {
    let scratch = tempfile::tempdir().unwrap();
    let world = scratch.path().join("world");
    let (code, stdout, _) = demo(&world, &["--no-local-postgres"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("– restore-db        skipped: --no-local-postgres and no --database-url"),
        "{stdout}"
    );
    assert!(
        stdout.contains("nothing of the sandbox is left"),
        "{stdout}"
    );
}

#[test]
fn a_non_empty_world_directory_is_refused() {
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(scratch.path().join("keep-me"), "x").unwrap();
    let (code, _, stderr) = demo(scratch.path(), &["--no-local-postgres"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is not empty"), "{stderr}");
    assert!(scratch.path().join("keep-me").exists());
}

/// Issue 16: "the demo uses the pool when it can and shows the step's time
/// next to what a restore took"; `--timings json` prints each step's time
/// on stdout (the report goes to stderr).
#[test]
fn the_demo_claims_from_a_warm_pool_and_prints_timings_as_json() {
    let pg = Postgres::start();
    let scratch = tempfile::tempdir().unwrap();
    let world = scratch.path().join("world");
    let (code, stdout, stderr) = demo(
        &world,
        &[
            "--pr-number",
            "9",
            "--database-url",
            &pg.url("postgres"),
            "--timings",
            "json",
        ],
    );
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let timings: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}"));
    let steps = timings["steps"].as_array().unwrap();
    let step = |pipeline: &str, name: &str| {
        steps
            .iter()
            .find(|s| s["pipeline"] == pipeline && s["step"] == name)
            .unwrap_or_else(|| panic!("no {pipeline}/{name} in {timings}"))
    };
    assert_eq!(step("world", "prepare-db")["outcome"], "succeeded");
    assert_eq!(step("create", "restore-db")["outcome"], "succeeded");
    assert_eq!(step("delete", "drop-db")["outcome"], "succeeded");
    assert!(
        steps.iter().all(|s| s["ms"].as_f64().is_some()),
        "{timings}"
    );
    let restore = &timings["restore_db"];
    assert_eq!(restore["strategy"], "pool", "{timings}\n{stderr}");
    assert_eq!(restore["ms"], step("create", "restore-db")["ms"]);
    assert_eq!(restore["restore_ms"], step("world", "prepare-db")["ms"]);
    // The report says the same on stderr, the claim beside the restore.
    assert!(
        stderr.contains("claimed sbx_pool_1 from the warm pool in")
            && stderr.contains("restoring the same backup took"),
        "{stderr}"
    );
    assert!(
        stderr.contains("nothing of the sandbox is left"),
        "{stderr}"
    );
    // The claimed member went with the sandbox; the pool is empty.
    assert_eq!(
        pg.psql(
            "postgres",
            "select count(*) from pg_database where datname like 'sbx\\_%'"
        ),
        "0"
    );
}

/// Issue 15: the create pipeline tells the pull request "creating" first,
/// then "ready" with the sandbox's URL and the time to ready measured from
/// its own steps — the comment pr-feedback would post, printed.
#[test]
fn the_create_pipeline_tells_the_pr_pending_then_ready_with_the_time_to_ready() {
    let scratch = tempfile::tempdir().unwrap();
    let world = scratch.path().join("world");
    let (code, stdout, stderr) = demo(&world, &["--no-local-postgres", "--keep"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let at = |needle: &str| {
        stdout
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{stdout}"))
    };
    let pending = at("│ ### ⏳ Sandbox `sbx-pr-42`: being created");
    let check = at("✔ check-params");
    let register = at("✔ register-app");
    let wait = at("– wait-ready        skipped: stand-in: the demo has no Argo CD");
    let ready = at("│ ### ✅ Sandbox `sbx-pr-42`: ready");
    assert!(
        pending < check && register < wait && wait < ready,
        "{stdout}"
    );
    let comment = &stdout[ready..];
    assert!(
        comment.contains("| Environment | [https://sbx-pr-42.sandbox.example.com/]"),
        "{comment}"
    );
    assert!(comment.contains("| Time to ready | **"), "{comment}");
    assert!(comment.contains("│ ```mermaid"), "{comment}");
    // Every step that ran is a bar of the gantt and a row of the table.
    for step in [
        "check-params",
        "create-branch",
        "patch-kustomize",
        "seed-bucket",
        "register-app",
    ] {
        assert!(
            comment.contains(&format!("│     {step} :")),
            "{step}: {comment}"
        );
        assert!(
            comment.contains(&format!("│ | {step} | +")),
            "{step}: {comment}"
        );
    }
    assert_eq!(stdout.matches("<!-- argo-sandbox:sbx-pr-42 -->").count(), 2);
}

/// A step that fails is named in the comment, with its message and what
/// to do; here restore-db against a server that refuses connections.
#[test]
fn a_failed_step_is_named_in_the_comment_it_would_post() {
    let scratch = tempfile::tempdir().unwrap();
    let world = scratch.path().join("world");
    // Port 1 on loopback: nothing listens there.
    let refused = "postgres://postgres@127.0.0.1:1/postgres";
    let (code, stdout, _) = demo(&world, &["--keep", "--database-url", refused]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("✘ restore-db"), "{stdout}");
    let failed = stdout
        .find("│ ### ❌ Sandbox `sbx-pr-42`: creation failed")
        .unwrap_or_else(|| panic!("no failure comment:\n{stdout}"));
    let comment = &stdout[failed..];
    assert!(
        comment.contains("│ - `restore-db` (Failed): cannot connect to the database server"),
        "{comment}"
    );
    assert!(!comment.contains("Time to ready"), "{comment}");
    assert!(
        comment.contains("remove the `create-sandbox` label and add it again"),
        "{comment}"
    );
    assert!(!stdout.contains("│ ### ✅"), "{stdout}");
}
