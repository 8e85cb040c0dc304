//! The demo's world: an infrastructure repository served as a bare
//! repository over file://, an integration bucket of documents, and last
//! night's backup, all in one directory.

use super::DemoError;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files of the infrastructure repository, from `examples/demo-world/infra`.
const INFRA: &[(&str, &str)] = &[
    (
        "base/kustomization.yaml",
        include_str!("../../../../examples/demo-world/infra/base/kustomization.yaml"),
    ),
    (
        "base/deployment.yaml",
        include_str!("../../../../examples/demo-world/infra/base/deployment.yaml"),
    ),
    (
        "base/service.yaml",
        include_str!("../../../../examples/demo-world/infra/base/service.yaml"),
    ),
    (
        "overlays/integration/kustomization.yaml",
        include_str!(
            "../../../../examples/demo-world/infra/overlays/integration/kustomization.yaml"
        ),
    ),
    (
        "overlays/sandbox/kustomization.yaml",
        include_str!("../../../../examples/demo-world/infra/overlays/sandbox/kustomization.yaml"),
    ),
    (
        "apps/sandboxes/README.md",
        include_str!("../../../../examples/demo-world/infra/apps/sandboxes/README.md"),
    ),
    (
        "terraform/sandbox/main.tf",
        include_str!("../../../../examples/demo-world/infra/terraform/sandbox/main.tf"),
    ),
];

/// The integration bucket's documents, from `examples/demo-world/documents`.
const DOCUMENTS: &[(&str, &str)] = &[
    (
        "contracts/2026/contract-1.txt",
        include_str!("../../../../examples/demo-world/documents/contracts/2026/contract-1.txt"),
    ),
    (
        "contracts/2026/contract-2.txt",
        include_str!("../../../../examples/demo-world/documents/contracts/2026/contract-2.txt"),
    ),
    (
        "contracts/2026/contract-3.txt",
        include_str!("../../../../examples/demo-world/documents/contracts/2026/contract-3.txt"),
    ),
    (
        "contracts/2026/contract-4.txt",
        include_str!("../../../../examples/demo-world/documents/contracts/2026/contract-4.txt"),
    ),
    (
        "contracts/2026/contract-5.txt",
        include_str!("../../../../examples/demo-world/documents/contracts/2026/contract-5.txt"),
    ),
    (
        "contracts/2026/contract-6.txt",
        include_str!("../../../../examples/demo-world/documents/contracts/2026/contract-6.txt"),
    ),
    (
        "catalog/blender.json",
        include_str!("../../../../examples/demo-world/documents/catalog/blender.json"),
    ),
    (
        "catalog/kettle.json",
        include_str!("../../../../examples/demo-world/documents/catalog/kettle.json"),
    ),
    (
        "catalog/mixer.json",
        include_str!("../../../../examples/demo-world/documents/catalog/mixer.json"),
    ),
    (
        "catalog/toaster.json",
        include_str!("../../../../examples/demo-world/documents/catalog/toaster.json"),
    ),
    (
        "archive/prices-2019.txt",
        include_str!("../../../../examples/demo-world/documents/archive/prices-2019.txt"),
    ),
];

/// Rows of the sample backup.
const CUSTOMERS: u32 = 200;
const ORDERS: u32 = 1_000;

/// Where everything of the world is.
#[derive(Debug, Clone)]
pub struct World {
    /// The world's directory.
    pub root: PathBuf,
    /// The bare infrastructure repository.
    pub remote: PathBuf,
    /// Its URL for the tasks.
    pub repo_url: String,
    /// `file://` URL of the integration documents.
    pub source_bucket: String,
    /// Directory that stands in for the sandboxes' bucket.
    pub sandbox_bucket: PathBuf,
    /// `file://` URL of the nightly backups.
    pub backup_url: String,
    /// How many documents the integration bucket holds.
    pub documents: usize,
}

impl World {
    /// Build the world under `root` (which must not exist or be empty).
    pub fn build(root: &Path) -> Result<World, DemoError> {
        if root.exists()
            && std::fs::read_dir(root)
                .map(|mut d| d.next().is_some())
                .unwrap_or(true)
        {
            return Err(DemoError::Setup(format!(
                "--world {} exists and is not empty: give a new directory",
                root.display()
            )));
        }
        std::fs::create_dir_all(root).map_err(|e| io_error("create the world directory", e))?;
        let root = root
            .canonicalize()
            .map_err(|e| io_error("resolve the world directory", e))?;

        // The infrastructure repository: one commit on main, pushed to a
        // bare repository the tasks reach over file://.
        let seed = root.join("seed");
        write_files(&seed, INFRA)?;
        git(&seed, &["init", "-q", "-b", "main"])?;
        git(&seed, &["add", "-A"])?;
        git(
            &seed,
            &[
                "commit",
                "-q",
                "-m",
                "Infrastructure: base, integration and sandbox overlays",
            ],
        )?;
        let remote = root.join("remote/infra.git");
        std::fs::create_dir_all(&remote).map_err(|e| io_error("create the remote", e))?;
        git(&remote, &["init", "-q", "--bare", "-b", "main"])?;
        git(
            &seed,
            &["push", "-q", remote.to_str().unwrap_or_default(), "main"],
        )?;
        std::fs::remove_dir_all(&seed).map_err(|e| io_error("remove the seed checkout", e))?;

        let documents = root.join("buckets/integration-docs");
        write_files(&documents, DOCUMENTS)?;
        let sandbox_bucket = root.join("buckets/sandbox-docs");
        std::fs::create_dir_all(&sandbox_bucket)
            .map_err(|e| io_error("create the sandbox bucket", e))?;

        let backups = root.join("backups/integration");
        std::fs::create_dir_all(&backups)
            .map_err(|e| io_error("create the backups directory", e))?;
        std::fs::write(
            backups.join("integration-20261126T020000.sql"),
            backup_sql(),
        )
        .map_err(|e| io_error("write the sample backup", e))?;

        Ok(World {
            repo_url: format!("file://{}", remote.display()),
            source_bucket: format!("file://{}/", documents.display()),
            backup_url: format!("file://{}/", backups.display()),
            remote,
            sandbox_bucket,
            documents: DOCUMENTS.len(),
            root,
        })
    }

    /// The world a previous run built under `root` (after `--keep`, or a run
    /// that was interrupted), to run the delete pipeline against it.
    pub fn open(root: &Path) -> Result<World, DemoError> {
        let root = root
            .canonicalize()
            .map_err(|e| io_error(&format!("open the world {}", root.display()), e))?;
        let remote = root.join("remote/infra.git");
        if !remote.join("HEAD").is_file() {
            return Err(DemoError::Setup(format!(
                "{} is not a demo world (no remote/infra.git): give the directory a demo run printed",
                root.display()
            )));
        }
        clear_stale_locks(&remote)?;
        let documents = root.join("buckets/integration-docs");
        let backups = root.join("backups/integration");
        Ok(World {
            repo_url: format!("file://{}", remote.display()),
            source_bucket: format!("file://{}/", documents.display()),
            backup_url: format!("file://{}/", backups.display()),
            remote,
            sandbox_bucket: root.join("buckets/sandbox-docs"),
            documents: DOCUMENTS.len(),
            root,
        })
    }

    /// `git --git-dir <remote> args…`, for showing and checking results.
    pub fn git(&self, args: &[&str]) -> Result<String, DemoError> {
        let mut all = vec!["--git-dir", self.remote.to_str().unwrap_or_default()];
        all.extend_from_slice(args);
        git(&self.root, &all)
    }
}

/// The demo's remote has no server process: a push runs in the demo's own
/// process, so a run killed mid-push also kills the "server" side of the ref
/// update and leaves its lock file, which a restarted git server would
/// clean. An earlier run of the demo is over when `--delete` runs, so every
/// lock left in the repository is stale.
fn clear_stale_locks(remote: &Path) -> Result<(), DemoError> {
    let mut dirs = vec![remote.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| io_error("read the remote", e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "lock") {
                std::fs::remove_file(&path).map_err(|e| io_error("remove a stale lock", e))?;
            }
        }
    }
    Ok(())
}

/// A plain-SQL dump as `pg_dump` writes one: schema, then COPY blocks.
fn backup_sql() -> String {
    let mut sql = String::from(
        "-- Nightly backup of the integration database (demo data).\n\
         SET client_encoding = 'UTF8';\n\
         CREATE TABLE public.customers (id integer PRIMARY KEY, name text NOT NULL, city text NOT NULL);\n\
         CREATE TABLE public.orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES public.customers(id), total_cents integer NOT NULL, placed_on date NOT NULL);\n\
         COPY public.customers (id, name, city) FROM stdin;\n",
    );
    let cities = ["Berlin", "Lisbon", "Oslo", "Turin", "Gdansk"];
    for id in 1..=CUSTOMERS {
        let _ = writeln!(
            sql,
            "{id}\tCustomer {id}\t{}",
            cities[id as usize % cities.len()]
        );
    }
    sql.push_str(
        "\\.\n\nCOPY public.orders (id, customer_id, total_cents, placed_on) FROM stdin;\n",
    );
    for id in 1..=ORDERS {
        let _ = writeln!(
            sql,
            "{id}\t{}\t{}\t2026-{:02}-{:02}",
            id % CUSTOMERS + 1,
            (id * 7919) % 100_000,
            id % 12 + 1,
            id % 28 + 1
        );
    }
    sql.push_str("\\.\n\nANALYZE public.customers;\nANALYZE public.orders;\n");
    sql
}

fn write_files(dir: &Path, files: &[(&str, &str)]) -> Result<(), DemoError> {
    for (path, contents) in files {
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error("create a directory", e))?;
        }
        std::fs::write(&file, contents).map_err(|e| io_error("write a world file", e))?;
    }
    Ok(())
}

/// Run the git CLI with a fixed identity.
fn git(dir: &Path, args: &[&str]) -> Result<String, DemoError> {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Demo",
            "-c",
            "user.email=demo@example.invalid",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .map_err(|e| {
            DemoError::Setup(format!(
                "cannot run git ({e}): the demo builds its repository with the git CLI; install git"
            ))
        })?;
    if !out.status.success() {
        return Err(DemoError::Setup(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

fn io_error(what: &str, e: std::io::Error) -> DemoError {
    DemoError::Setup(format!("cannot {what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backup_has_the_rows_it_claims() {
        let sql = backup_sql();
        let customer_rows = sql.lines().filter(|l| l.contains("\tCustomer ")).count();
        assert_eq!(customer_rows, CUSTOMERS as usize);
        assert_eq!(
            sql.matches("\\.\n").count(),
            2,
            "two COPY blocks, each terminated"
        );
    }
}
