//! The `sandbox-plugin` binary itself: serves with the production registry,
//! logs JSON, exits cleanly on SIGTERM, and prints the committed manifest.

use crate::common::{TOKEN, agent_body, post, sandbox, token_dir};
use serde_json::json;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sandbox-plugin");

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[test]
fn serves_check_params_logs_json_and_stops_on_sigterm() {
    let (_dir, token) = token_dir();
    let addr = free_port();
    let mut child = Command::new(BIN)
        .args([
            "--listen",
            &addr.to_string(),
            "--log-format",
            "json",
            "--grace",
            "1s",
        ])
        .arg("--token-file")
        .arg(&token)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the plugin never listened"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let body = agent_body(
        "b1",
        "check-params",
        sandbox("check-params", json!({"pr_number": "11"})),
    );
    let (status, reply) = post(addr, Some(TOKEN), &body);
    assert_eq!(status, 200);
    assert_eq!(reply["node"]["phase"], "Succeeded", "{reply}");

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    for line in stderr.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
    }
    assert!(stderr.contains("\"task succeeded\""), "{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    assert!(!stderr.contains(TOKEN), "the token is never logged");
}

#[test]
fn manifest_prints_the_committed_configmap() {
    let out = Command::new(BIN).arg("manifest").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        include_str!("../../sandbox-executor-plugin-configmap.yaml")
    );
}
