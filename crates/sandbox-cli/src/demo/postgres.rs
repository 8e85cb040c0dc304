//! A throwaway PostgreSQL server for the demo, started with the machine's
//! own server binaries (initdb, pg_ctl) when no `--database-url` is given.
//! initdb refuses to run as root, so as root it runs as the `postgres` user.

use super::DemoError;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running local server.
#[derive(Debug)]
pub struct LocalPostgres {
    /// Directory of the server and client binaries.
    pub bin: PathBuf,
    /// The data directory.
    data: PathBuf,
    owner: Option<(u32, u32)>,
    /// The port on 127.0.0.1.
    pub port: u16,
}

/// The directory of the server binaries the demo runs (initdb, pg_ctl),
/// found as the restore and the test harness find theirs.
pub fn find_server_binaries() -> Option<PathBuf> {
    sandbox_db::pgbin::bin_dir(&["initdb", "pg_ctl"])
}

/// uid/gid of `postgres` when running as root (initdb refuses root).
fn owner() -> Result<Option<(u32, u32)>, DemoError> {
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    if !root {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let line = passwd.lines().find(|l| l.starts_with("postgres:")).ok_or_else(|| {
        DemoError::Setup("running as root, PostgreSQL needs the `postgres` user (install the postgresql package) or pass --database-url".into())
    })?;
    let fields: Vec<&str> = line.split(':').collect();
    let id = |i: usize| fields.get(i).and_then(|f| f.parse().ok());
    Ok(id(2).zip(id(3)))
}

impl LocalPostgres {
    /// initdb under `dir` and start a server on a free loopback port.
    pub fn start(bin: &Path, dir: &Path) -> Result<Self, DemoError> {
        let owner = owner()?;
        let data = dir.join("data");
        let socket = dir.join("socket");
        std::fs::create_dir_all(&socket)
            .map_err(|e| DemoError::Setup(format!("cannot create {}: {e}", socket.display())))?;
        if let Some((uid, gid)) = owner {
            for path in [dir, socket.as_path()] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| {
                    DemoError::Setup(format!("cannot hand {} to postgres: {e}", path.display()))
                })?;
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| DemoError::Setup(format!("cannot find a free port: {e}")))?;
        let server = LocalPostgres {
            bin: bin.to_path_buf(),
            data,
            owner,
            port,
        };
        server.run(
            "initdb",
            &[
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
            ],
            &[server.data.as_os_str().to_str().unwrap_or_default()],
        )?;
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={} -c fsync=off",
            socket.display()
        );
        let log = dir.join("server.log");
        server.run(
            "pg_ctl",
            &[
                "-w",
                "-t",
                "60",
                "-l",
                log.to_str().unwrap_or_default(),
                "-o",
                &options,
                "-D",
            ],
            &[server.data.to_str().unwrap_or_default(), "start"],
        )?;
        Ok(server)
    }

    fn run(&self, tool: &str, args: &[&str], tail: &[&str]) -> Result<(), DemoError> {
        let mut cmd = Command::new(self.bin.join(tool));
        cmd.args(args).args(tail).current_dir("/");
        if let Some((uid, gid)) = self.owner {
            cmd.uid(uid).gid(gid);
        }
        let out = cmd
            .output()
            .map_err(|e| DemoError::Setup(format!("cannot run {tool}: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(DemoError::Setup(format!(
                "{tool} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// The server's URL as the superuser (no password: trust on loopback).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stop the server (fast shutdown).
    pub fn stop(&self) -> Result<(), DemoError> {
        self.run(
            "pg_ctl",
            &["-w", "-m", "fast", "-D"],
            &[self.data.to_str().unwrap_or_default(), "stop"],
        )
    }
}
