//! End to end over a real socket, with the test playing Argo's agent: it
//! sends the agent's body, honours `requeue`, and re-sends the same body
//! until the node is done.

use crate::common::{
    SLOW_TASK, TOKEN, TestServer, TestTasks, agent_body, agent_until_done, args, post, sandbox,
    token_dir,
};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn outputs(reply: &Value) -> Vec<(String, String)> {
    reply["node"]["outputs"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn check_params_succeeds_with_outputs() {
    let (_dir, token) = token_dir();
    let server = TestServer::start(any_port(), args(token), Arc::new(TestTasks::default()));
    let body = agent_body(
        "3f1c",
        "check-params",
        sandbox(
            "check-params",
            json!({"pr_number": 42, "env_prefix": "dev-"}),
        ),
    );
    let replies = agent_until_done(server.addr, &body);
    assert_eq!(replies.len(), 1, "answered in one call: {replies:?}");
    assert_eq!(replies[0]["node"]["phase"], "Succeeded");
    let outputs = outputs(&replies[0]);
    assert!(
        outputs.contains(&("environment".into(), "dev-pr-42".into())),
        "{outputs:?}"
    );
    assert!(
        outputs.contains(&("branch".into(), "dev-pr-42".into())),
        "{outputs:?}"
    );
}

#[test]
fn a_long_task_runs_then_requeues_then_succeeds() {
    let (_dir, token) = token_dir();
    let tasks = TestTasks::new(Duration::from_millis(1500));
    let server = TestServer::start(any_port(), args(token), Arc::new(tasks.clone()));
    let body = agent_body(
        "9a0b",
        "seed-bucket",
        sandbox(SLOW_TASK, json!({"dest": "gs://docs/sbx-pr-4"})),
    );
    let replies = agent_until_done(server.addr, &body);
    let phases: Vec<&str> = replies
        .iter()
        .map(|r| r["node"]["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases.first(), Some(&"Running"), "{replies:?}");
    assert_eq!(phases.last(), Some(&"Succeeded"), "{replies:?}");
    assert!(
        replies[..replies.len() - 1]
            .iter()
            .all(|r| r["requeue"] == "1s" && r["node"]["progress"].is_string())
    );
    assert_eq!(
        outputs(replies.last().unwrap()),
        [
            ("copied".into(), "4".into()),
            ("dest".into(), "gs://docs/sbx-pr-4".into())
        ]
    );
    assert_eq!(tasks.starts(), 1);
}

#[test]
fn bad_params_fail_with_the_tasks_message_and_no_outputs() {
    let (_dir, token) = token_dir();
    let server = TestServer::start(any_port(), args(token), Arc::new(TestTasks::default()));
    let body = agent_body(
        "77",
        "check-params",
        sandbox(
            "check-params",
            json!({"pr_number": "0", "namespace": "Not_A_Label"}),
        ),
    );
    let replies = agent_until_done(server.addr, &body);
    let node = &replies.last().unwrap()["node"];
    assert_eq!(node["phase"], "Failed");
    assert!(node.get("outputs").is_none());
    let message = node["message"].as_str().unwrap();
    assert!(
        message.contains("pr_number") && message.contains("namespace"),
        "every problem: {message}"
    );
}

#[test]
fn a_wrong_or_missing_token_is_403() {
    let (_dir, token) = token_dir();
    let server = TestServer::start(any_port(), args(token), Arc::new(TestTasks::default()));
    let body = agent_body(
        "1",
        "check-params",
        sandbox("check-params", json!({"pr_number": "1"})),
    );
    assert_eq!(server.post(None, &body).0, 403);
    assert_eq!(server.post(Some("not-the-token"), &body).0, 403);
    assert_eq!(server.post(Some(TOKEN), &body).0, 200);
}

#[test]
fn another_plugins_template_gets_an_empty_object() {
    let (_dir, token) = token_dir();
    let server = TestServer::start(any_port(), args(token), Arc::new(TestTasks::default()));
    let (status, reply) = server.post(Some(TOKEN), &agent_body("1", "x", json!({"other": {}})));
    assert_eq!((status, reply), (200, json!({})));
}

#[test]
fn five_identical_calls_at_once_start_one_job() {
    let (_dir, token) = token_dir();
    let tasks = TestTasks::new(Duration::from_millis(1500));
    let server = TestServer::start(any_port(), args(token), Arc::new(tasks.clone()));
    let body = agent_body(
        "c0ffee",
        "restore-db",
        sandbox(SLOW_TASK, json!({"dest": "sbx_pr_5"})),
    );
    let addr = server.addr;
    let barrier = Arc::new(std::sync::Barrier::new(5));
    let threads: Vec<_> = (0..5)
        .map(|_| {
            let (body, barrier) = (body.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                agent_until_done(addr, &body)
            })
        })
        .collect();
    let results: Vec<Vec<Value>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(tasks.starts(), 1, "one job for five identical calls");
    for replies in &results {
        assert_eq!(replies[0]["node"]["phase"], "Running");
        assert_eq!(
            outputs(replies.last().unwrap()),
            outputs(results[0].last().unwrap())
        );
        assert_eq!(replies.last().unwrap()["node"]["phase"], "Succeeded");
    }
    assert_eq!(server.state.metrics().jobs_started(), 1);
}

#[test]
fn after_a_restart_the_resent_call_starts_the_job_again_and_it_converges() {
    let (_dir, token) = token_dir();
    let tasks = TestTasks::new(Duration::from_millis(1200));
    let first = TestServer::start(any_port(), args(token.clone()), Arc::new(tasks.clone()));
    let addr = first.addr;
    let body = agent_body(
        "d00d",
        "seed-bucket",
        sandbox(SLOW_TASK, json!({"dest": "gs://docs/sbx-pr-8"})),
    );
    let (_, reply) = post(addr, Some(TOKEN), &body);
    assert_eq!(reply["node"]["phase"], "Running");
    // The plugin stops while the task runs (grace 50 ms: the task is cut off).
    first.stop();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the old plugin is gone"
    );
    // The new plugin knows nothing of the old job; the agent's next call
    // with the same body starts it again.
    let second = TestServer::start(addr, args(token), Arc::new(tasks.clone()));
    let replies = agent_until_done(second.addr, &body);
    assert_eq!(replies[0]["node"]["phase"], "Running", "{replies:?}");
    assert_eq!(
        replies.last().unwrap()["node"]["phase"],
        "Succeeded",
        "{replies:?}"
    );
    assert_eq!(tasks.starts(), 2, "started once in each plugin");
}
