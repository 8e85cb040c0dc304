//! Lifecycle safety: the demo's create pipeline killed (SIGKILL) at a seeded
//! random point, then the delete pipeline run against the same world — and
//! nothing of the sandbox is left, every time: no branch, no Application
//! file, no bucket objects, no database, no staging database. The test
//! prints the seeds it used; `SANDBOX_KILL_SEED=<n>` replays a run.

use sandbox_harness::Postgres;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: u64 = 20;

fn sandbox() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("sandbox"));
    cmd.env_remove(sandbox_core::env_vars::DATABASE_URL);
    cmd
}

/// splitmix64: a seeded, well-spread sequence without a dependency.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Start a create run and return it once its pipeline has begun (the world
/// is built), with the time that took.
fn start_create(world: &Path, pr: u64, url: &str) -> std::process::Child {
    let mut child = sandbox()
        .args(["demo", "--keep", "--world", world.to_str().unwrap()])
        .args(["--pr-number", &pr.to_string(), "--database-url", url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            Instant::now() < deadline,
            "the demo never started its create pipeline"
        );
        match lines.next() {
            Some(Ok(line)) if line.starts_with("Create pipeline") => break,
            Some(Ok(_)) => {}
            _ => panic!("the demo exited before its create pipeline"),
        }
    }
    // Keep draining stdout so the demo never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    child
}

fn leftovers(world: &Path, pr: u64, pg: &Postgres) -> Vec<String> {
    let env = format!("sbx-pr-{pr}");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("--git-dir")
            .arg(world.join("remote/infra.git"))
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mut left = Vec::new();
    let heads = git(&["for-each-ref", "--format=%(refname:short)", "refs/heads/"]);
    if heads.lines().any(|h| h != "main") {
        left.push(format!("branches: {heads}"));
    }
    let apps = git(&["ls-tree", "--name-only", "-r", "main", "apps/sandboxes/"]);
    if apps.contains(&env) {
        left.push(format!("app files: {apps}"));
    }
    let dest = world.join("buckets/sandbox-docs").join(&env);
    if dest.exists() {
        left.push(format!("bucket objects under {}", dest.display()));
    }
    let databases = pg.psql(
        "postgres",
        &format!(
            "select string_agg(datname, ',') from pg_database where datname like 'sbx\\_pr\\_{pr}%'"
        ),
    );
    if !databases.is_empty() {
        left.push(format!("databases: {databases}"));
    }
    left
}

#[test]
fn a_create_killed_anywhere_is_cleaned_by_delete() {
    let pg = Postgres::start();
    let url = pg.url("postgres");
    let scratch = tempfile::tempdir().unwrap();
    let base: u64 = std::env::var(sandbox_core::env_vars::KILL_SEED)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        });
    eprintln!(
        "kill seeds {base}..{} (replay with SANDBOX_KILL_SEED={base})",
        base + RUNS
    );

    // How long a whole create pipeline takes here, to spread kills over it.
    let world = scratch.path().join("timing");
    let started = Instant::now();
    let mut child = start_create(&world, 100, &url);
    let begun = started.elapsed();
    assert!(
        child.wait().unwrap().success(),
        "an uninterrupted create failed"
    );
    let create = started.elapsed() - begun;
    let delete = sandbox()
        .args([
            "demo",
            "--delete",
            "--world",
            world.to_str().unwrap(),
            "--pr-number",
            "100",
            "--database-url",
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        delete.status.success(),
        "{}",
        String::from_utf8_lossy(&delete.stdout)
    );
    let window_ms = create.as_millis() as u64 + 50;

    let mut failures = Vec::new();
    for i in 0..RUNS {
        let seed = base + i;
        let pr = 200 + i;
        let delay = Duration::from_millis(mix(seed) % window_ms);
        let world = scratch.path().join(format!("w{i}"));
        let mut child = start_create(&world, pr, &url);
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL: no cleanup runs in the task
        let status = child.wait().unwrap();
        let delete = sandbox()
            .args(["demo", "--delete", "--world", world.to_str().unwrap()])
            .args(["--pr-number", &pr.to_string(), "--database-url", &url])
            .output()
            .unwrap();
        let left = leftovers(&world, pr, &pg);
        eprintln!(
            "seed {seed}: killed after {} ms ({}), delete exit {:?}, left {left:?}",
            delay.as_millis(),
            if status.success() {
                "had already finished"
            } else {
                "mid-run"
            },
            delete.status.code()
        );
        if !delete.status.success() || !left.is_empty() {
            failures.push(format!(
                "seed {seed}: delete exit {:?}, left {left:?}\n{}",
                delete.status.code(),
                String::from_utf8_lossy(&delete.stdout)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
