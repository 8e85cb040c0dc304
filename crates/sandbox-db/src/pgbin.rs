//! Where the PostgreSQL binaries are: the one lookup the restore (`psql`,
//! `pg_restore`), the demo and the test harness (`initdb`, `pg_ctl`,
//! `postgres`) all use, so they never disagree on which PostgreSQL runs.
//!
//! In order: the directory `SANDBOX_PGBIN` names; the newest
//! `/usr/lib/postgresql/<major>/bin` holding every binary asked for
//! (Debian and Ubuntu install server binaries only there, and several
//! majors side by side; a `pg_restore` older than the dump refuses it, so
//! the newest wins); the first directory on `PATH` holding them all (other
//! distributions, images with the client only).

use sandbox_core::env_vars::PGBIN;
use std::path::{Path, PathBuf};

/// Where Debian's `postgresql-common` puts each major version.
pub const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The directory holding every binary in `names`, looked up as the module
/// says; `None` when no directory holds them all. `SANDBOX_PGBIN`, when
/// set, is the only place looked at.
pub fn bin_dir(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    bin_dir_in(
        std::env::var_os(PGBIN).map(PathBuf::from),
        Path::new(DEBIAN_ROOT),
        std::env::split_paths(&path),
        names,
    )
}

/// The path of one binary (`psql`, `pg_restore`, `initdb`, …): in
/// `SANDBOX_PGBIN` when set (even if missing there, so the error names
/// it), else in [`bin_dir`], else the bare name (so spawning it reports
/// it missing from `PATH`).
pub fn bin(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os(PGBIN) {
        return PathBuf::from(dir).join(name);
    }
    bin_dir(&[name]).map_or_else(|| PathBuf::from(name), |dir| dir.join(name))
}

/// [`bin_dir`] over explicit places, for tests.
pub fn bin_dir_in(
    pgbin: Option<PathBuf>,
    debian_root: &Path,
    path: impl IntoIterator<Item = PathBuf>,
    names: &[&str],
) -> Option<PathBuf> {
    let holds_all = |dir: &Path| names.iter().all(|n| dir.join(n).is_file());
    if let Some(dir) = pgbin {
        return holds_all(&dir).then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(debian_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            holds_all(&bin).then_some((major, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    path.into_iter().find(|dir| holds_all(dir))
}
