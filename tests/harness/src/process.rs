//! Starting, watching and stopping service processes; finding their
//! binaries; picking free ports.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable naming the directory `scripts/test` installs tools into.
pub use sandbox_core::env_vars::TOOLS_DIR;

/// A free TCP port on 127.0.0.1 (bound, read, released: another process
/// could take it in between, which is rare enough for tests).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// The path of a tool: `$SANDBOX_TOOLS_DIR/<name>`, then
/// `<target>/tools/bin/<name>` (where `scripts/test` installs), then `PATH`
/// and the sbin directories. Panics with the fix when it is nowhere.
pub fn tool(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os(TOOLS_DIR) {
        dirs.push(PathBuf::from(d));
    }
    let target = std::env::var_os(sandbox_core::env_vars::CARGO_TARGET_DIR)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    dirs.push(target.join("tools/bin"));
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.extend(["/usr/sbin", "/sbin"].map(PathBuf::from));
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` not found: run scripts/test, which installs every service the tests need (or put {name} on PATH)")
        })
}

/// A scratch directory for one service: its data, logs and working
/// directory. Named so leftovers are easy to find.
pub fn scratch_dir(service: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("sandbox-harness-{service}-"))
        .tempdir()
        .expect("create a scratch directory")
}

/// A running service process, killed (with its process group) on drop.
#[derive(Debug)]
pub struct ServiceProcess {
    name: String,
    child: Option<Child>,
    /// The signal that asks this service to stop cleanly.
    stop_signal: i32,
}

impl ServiceProcess {
    /// Spawn `command` in its own process group, in `dir`, with output to
    /// `<dir>/<name>.log`, and with SIGKILL on the death of this process.
    pub fn spawn(name: &str, mut command: Command, dir: &Path) -> Self {
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("create log");
        let log_err = log.try_clone().expect("clone log handle");
        command
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0);
        set_parent_death_signal(&mut command);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        ServiceProcess {
            name: name.to_string(),
            child: Some(child),
            stop_signal: libc::SIGTERM,
        }
    }

    /// Use `signal` instead of SIGTERM to ask for a clean stop.
    pub fn with_stop_signal(mut self, signal: i32) -> Self {
        self.stop_signal = signal;
        self
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Fail with the log if the process has already exited.
    pub fn check_alive(&mut self, dir: &Path) {
        if let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            let log =
                std::fs::read_to_string(dir.join(format!("{}.log", self.name))).unwrap_or_default();
            panic!("{} exited with {status} during start-up:\n{log}", self.name);
        }
    }

    /// Stop the process: the clean-stop signal, then SIGKILL to the whole
    /// group after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pgid = child.id() as i32;
        signal_group(pgid, self.stop_signal);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Whatever is left of the group (CGI children, forked workers) goes too.
        signal_group(pgid, libc::SIGKILL);
        let _ = child.wait();
    }

    /// Kill at once, as a crash would (SIGKILL to the whole group).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal_group(child.id() as i32, libc::SIGKILL);
            let _ = child.wait();
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
    }
}

#[allow(unsafe_code)]
fn signal_group(pgid: i32, signal: i32) {
    // SAFETY: kill(2) with a negative pid signals a process group; it has no
    // memory-safety preconditions.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

#[allow(unsafe_code)]
fn set_parent_death_signal(command: &mut Command) {
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no
    // memory of the parent; it runs in the child between fork and exec, after
    // any uid change, so the setting survives.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Poll `ready` every 50 ms until it returns true or `timeout` passes.
pub fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} was not ready within {timeout:?}");
}

/// True when something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

/// A plain HTTP/1.0 GET on loopback, enough for readiness probes; returns
/// the status code.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))
            .ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).ok()?;
    let line = std::str::from_utf8(&head[..n]).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}
