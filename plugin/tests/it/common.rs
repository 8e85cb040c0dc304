//! Test support: an agent-shaped request body, test-only tasks injected
//! through the dispatcher (the production registry stays untouched), a
//! server on a real socket, and a minimal HTTP/1.1 client that speaks to it
//! the way Argo's agent does.
#![allow(dead_code, unreachable_pub)] // each test file uses a different part

use sandbox_core::{Outputs, TaskError};
use sandbox_plugin::config::ServeArgs;
use sandbox_plugin::jobs::{Dispatch, Registry, TaskFuture};
use sandbox_plugin::{AppState, Stop, serve};
use sandbox_tasks::Context;
use serde_json::{Map, Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub const TOKEN: &str = "vhkbnrjzqwdxtmsaplyfoeicugbnrkxz";

/// A test task that takes `SLOW` and reports progress in 4 steps.
pub const SLOW_TASK: &str = "test-slow-copy";
/// A test task that never finishes.
pub const HANG_TASK: &str = "test-hang";
/// A test task that panics (a bug in a task).
pub const PANIC_TASK: &str = "test-panic";
/// A test task that fails its first run and succeeds afterwards.
pub const FLAKY_TASK: &str = "test-flaky";

/// Test tasks by name; every other name goes to the production registry.
#[derive(Debug, Default, Clone)]
pub struct TestTasks {
    /// How many times each test task was started.
    pub starts: Arc<AtomicUsize>,
    /// How long the slow task takes.
    pub slow: Duration,
}

impl TestTasks {
    pub fn new(slow: Duration) -> Self {
        TestTasks {
            starts: Arc::default(),
            slow,
        }
    }

    pub fn starts(&self) -> usize {
        self.starts.load(Ordering::SeqCst)
    }
}

impl Dispatch for TestTasks {
    fn run(&self, task: String, params: Map<String, Value>, ctx: Context) -> TaskFuture {
        let started = self.starts.fetch_add(1, Ordering::SeqCst);
        let slow = self.slow;
        match task.as_str() {
            SLOW_TASK => Box::pin(async move {
                ctx.progress.set_total(4);
                for _ in 0..4 {
                    tokio::time::sleep(slow / 4).await;
                    ctx.progress.advance(1);
                }
                let mut out = Outputs::new();
                out.set("copied", 4);
                out.set(
                    "dest",
                    params.get("dest").and_then(Value::as_str).unwrap_or("none"),
                );
                Ok(out)
            }),
            HANG_TASK => Box::pin(std::future::pending()),
            PANIC_TASK => {
                Box::pin(async move { panic!("index out of bounds in {}", params.len()) })
            }
            FLAKY_TASK => Box::pin(async move {
                if started == 0 {
                    Err(TaskError::transient("the bucket answered 503"))
                } else {
                    let mut out = Outputs::new();
                    out.set("attempt", started + 1);
                    Ok(out)
                }
            }),
            _ => {
                self.starts.fetch_sub(1, Ordering::SeqCst);
                Registry.run(task, params, ctx)
            }
        }
    }
}

/// A token file in a fresh directory.
pub fn token_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, TOKEN).unwrap();
    (dir, path)
}

/// Server flags for tests: short waits, the given token file.
pub fn args(token_file: PathBuf) -> ServeArgs {
    ServeArgs {
        token_file,
        sync_wait: Duration::from_millis(100),
        requeue: Duration::from_secs(1),
        grace: Duration::from_millis(50),
        ..ServeArgs::default()
    }
}

/// The body the agent sends: the workflow's metadata and the whole resolved
/// template (inputs substituted, outputs declared as supplied).
pub fn agent_body(uid: &str, template: &str, plugin: Value) -> Value {
    json!({
        "workflow": {"metadata": {"name": "sandbox-create-x7k2p", "namespace": "argo", "uid": uid}},
        "template": {
            "name": template,
            "inputs": {"parameters": [{"name": "pr_number", "value": "42"}]},
            "outputs": {"parameters": [
                {"name": "environment", "valueFrom": {"supplied": {}}},
                {"name": "namespace", "valueFrom": {"supplied": {}}}
            ]},
            "metadata": {},
            "retryStrategy": {"limit": "3"},
            "plugin": plugin
        }
    })
}

/// `plugin: {sandbox: {task, params}}`.
pub fn sandbox(task: &str, params: Value) -> Value {
    json!({"sandbox": {"task": task, "params": params}})
}

/// A plugin server on a real socket, in a runtime of its own.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Serve on `addr` (port 0 for any free port).
    pub fn start(addr: SocketAddr, args: ServeArgs, dispatch: Arc<dyn Dispatch>) -> Self {
        let state = AppState::new(&args, dispatch);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let server_state = state.clone();
        let stop_rule = Stop::after(args.grace);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
                ready_tx.send(listener.local_addr().unwrap()).unwrap();
                serve(
                    listener,
                    server_state,
                    async move { drop(stopped.await) },
                    stop_rule,
                )
                .await
                .unwrap();
            });
            // Dropping the runtime drops whatever the drain left running:
            // the process is gone, as far as the agent can tell.
        });
        let addr = ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        TestServer {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Shut down (SIGTERM's path) and wait until the socket is closed.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }

    pub fn post(&self, token: Option<&str>, body: &Value) -> (u16, Value) {
        post(self.addr, token, body)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A raw HTTP/1.1 exchange: status, content type and body.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_string)
        })
        .unwrap_or_default();
    (status, content_type, raw[split + 4..].to_vec())
}

/// POST a template.execute and parse the JSON reply.
pub fn post(addr: SocketAddr, token: Option<&str>, body: &Value) -> (u16, Value) {
    let (status, content_type, bytes) = http(
        addr,
        "POST",
        "/api/v1/template.execute",
        token,
        body.to_string().as_bytes(),
    );
    assert_eq!(
        content_type,
        "application/json",
        "status {status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&bytes)));
    (status, value)
}

/// Play the agent: call, and while the node is Pending or Running wait the
/// reply's `requeue` and call again with the same body. Returns every reply.
pub fn agent_until_done(addr: SocketAddr, body: &Value) -> Vec<Value> {
    let mut replies = Vec::new();
    for _ in 0..30 {
        let (status, reply) = post(addr, Some(TOKEN), body);
        assert_eq!(status, 200, "{reply}");
        replies.push(reply.clone());
        let phase = reply["node"]["phase"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if phase != "Running" && phase != "Pending" {
            return replies;
        }
        let requeue = reply["requeue"]
            .as_str()
            .expect("requeue is set while Running or Pending");
        let wait = sandbox_plugin::go_duration::parse(requeue).expect("requeue is a Go duration");
        std::thread::sleep(wait);
    }
    panic!("the node never finished: {replies:?}");
}
