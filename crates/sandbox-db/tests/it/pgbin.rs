//! Which PostgreSQL binaries the demo, the harness and the restore run.

use sandbox_db::pgbin::bin_dir_in;
use std::path::{Path, PathBuf};

fn install(root: &Path, dir: &str, names: &[&str]) -> PathBuf {
    let dir = root.join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    for name in names {
        std::fs::write(dir.join(name), "").unwrap();
    }
    dir
}

#[test]
fn the_newest_debian_major_holding_every_binary_wins() {
    let root = tempfile::tempdir().unwrap();
    let debian = root.path().join("lib");
    install(&debian, "15/bin", &["initdb", "pg_ctl", "psql"]);
    let v16 = install(&debian, "16/bin", &["initdb", "pg_ctl", "psql"]);
    // A newer client-only major (postgresql-client-17) has no initdb.
    let v17 = install(&debian, "17/bin", &["psql", "pg_restore"]);
    install(&debian, "not-a-version/bin", &["initdb", "pg_ctl"]);
    let on_path = install(root.path(), "usr/bin", &["initdb", "pg_ctl", "psql"]);
    let path = || vec![on_path.clone()];
    assert_eq!(
        bin_dir_in(None, &debian, path(), &["initdb", "pg_ctl"]),
        Some(v16),
        "the server of the demo and the harness"
    );
    assert_eq!(
        bin_dir_in(None, &debian, path(), &["pg_restore"]),
        Some(v17),
        "the newest pg_restore restores the most dumps"
    );
    assert_eq!(
        bin_dir_in(None, &root.path().join("nothing"), path(), &["initdb"]),
        Some(on_path.clone()),
        "without Debian's layout, PATH"
    );
    assert_eq!(bin_dir_in(None, &debian, path(), &["postgres"]), None);
}

#[test]
fn sandbox_pgbin_is_the_only_place_looked_at() {
    let root = tempfile::tempdir().unwrap();
    let debian = root.path().join("lib");
    install(&debian, "16/bin", &["initdb", "pg_ctl"]);
    let chosen = install(root.path(), "pg", &["initdb", "pg_ctl"]);
    assert_eq!(
        bin_dir_in(Some(chosen.clone()), &debian, vec![], &["initdb"]),
        Some(chosen.clone())
    );
    assert_eq!(
        bin_dir_in(Some(chosen), &debian, vec![], &["postgres"]),
        None,
        "not silently another PostgreSQL than the one named"
    );
}
