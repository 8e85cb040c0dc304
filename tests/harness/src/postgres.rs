//! A throwaway PostgreSQL cluster: initdb into a scratch directory, the
//! server as a direct child on a free port with its own socket directory,
//! trust authentication. initdb refuses to run as root, so as root both run
//! as the `postgres` user the Debian package creates.

use crate::process::{ServiceProcess, scratch_dir, tool, wait_until};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A running PostgreSQL server, stopped and deleted on drop.
#[derive(Debug)]
pub struct Postgres {
    process: ServiceProcess,
    port: u16,
    bin: PathBuf,
    dir: tempfile::TempDir,
}

/// The directory of the PostgreSQL server binaries, found as the demo
/// and the restore find them ([`sandbox_db::pgbin::bin_dir`]), else the
/// directory of `initdb` wherever the harness finds tools.
pub fn bin_dir() -> PathBuf {
    sandbox_db::pgbin::bin_dir(&["initdb", "postgres"]).unwrap_or_else(|| {
        tool("initdb")
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    })
}

/// uid and gid of the `postgres` user when we are root (initdb refuses root).
fn run_as() -> Option<(u32, u32)> {
    #[allow(unsafe_code)]
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.starts_with("postgres:"));
    let Some(line) = line else {
        panic!(
            "running as root needs the `postgres` user: run scripts/test, which installs PostgreSQL"
        );
    };
    let fields: Vec<&str> = line.split(':').collect();
    Some((fields[2].parse().ok()?, fields[3].parse().ok()?))
}

impl Postgres {
    /// initdb and start a server; ready to accept queries when this returns.
    pub fn start() -> Self {
        let bin = bin_dir();
        if !bin.join("initdb").is_file() {
            panic!(
                "PostgreSQL server binaries not found in {}: run scripts/test, which installs them",
                bin.display()
            );
        }
        let dir = scratch_dir("postgres");
        let data = dir.path().join("data");
        let socket = dir.path().join("sock");
        std::fs::create_dir_all(&socket).expect("socket dir");
        let owner = run_as();
        if let Some((uid, gid)) = owner {
            for path in [dir.path(), socket.as_path()] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid))
                    .expect("chown scratch dir to postgres");
            }
        }
        let as_owner = |cmd: &mut Command| {
            if let Some((uid, gid)) = owner {
                cmd.uid(uid).gid(gid);
            }
        };
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
                "--no-instructions",
                "-D",
            ])
            .arg(&data)
            .current_dir(dir.path());
        as_owner(&mut initdb);
        let out = initdb.output().expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        let port = crate::free_port();
        let mut server = Command::new(bin.join("postgres"));
        server.arg("-D").arg(&data);
        for setting in [
            "listen_addresses=127.0.0.1".to_string(),
            format!("port={port}"),
            format!("unix_socket_directories={}", socket.display()),
            // A test database that survives nothing needs no durability.
            "fsync=off".into(),
            "synchronous_commit=off".into(),
            "full_page_writes=off".into(),
            "max_connections=100".into(),
        ] {
            server.arg("-c").arg(setting);
        }
        as_owner(&mut server);
        // SIGINT is PostgreSQL's "fast" shutdown.
        let mut process =
            ServiceProcess::spawn("postgres", server, dir.path()).with_stop_signal(libc::SIGINT);
        let isready = bin.join("pg_isready");
        wait_until("PostgreSQL", Duration::from_secs(60), || {
            process.check_alive(dir.path());
            Command::new(&isready)
                .args([
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "-U",
                    "postgres",
                ])
                .status()
                .is_ok_and(|s| s.success())
        });
        Postgres {
            process,
            port,
            bin,
            dir,
        }
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for `database` as the superuser `postgres`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Path of a client binary of the same version (`psql`, `pg_dump`, …).
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }

    /// The scratch directory (data, socket, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Run SQL with `psql` (an independent client) in `database`; returns
    /// unaligned tuples-only output. Panics on error.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new(self.bin("psql"))
            .args([
                "-X",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.url(database),
                "-c",
                sql,
            ])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql failed: {}\nSQL: {sql}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}
