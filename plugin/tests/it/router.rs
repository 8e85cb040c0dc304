//! The router, one request at a time with `oneshot`: every answer Argo's
//! agent can get, and what it means to the node.

use crate::common::{
    FLAKY_TASK, HANG_TASK, PANIC_TASK, SLOW_TASK, TOKEN, TestTasks, agent_body, args, sandbox,
    token_dir,
};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sandbox_plugin::config::ServeArgs;
use sandbox_plugin::{AppState, app};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    content_type: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        assert_eq!(
            self.content_type,
            "application/json",
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        serde_json::from_slice(&self.body).unwrap()
    }
}

async fn call(
    state: &AppState,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: impl Into<Body>,
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app(state.clone())
        .oneshot(request.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        content_type,
        body,
    }
}

async fn execute(state: &AppState, body: &Value) -> Value {
    let reply = call(
        state,
        "POST",
        "/api/v1/template.execute",
        Some(TOKEN),
        body.to_string(),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()
}

fn state_with(
    tasks: &TestTasks,
    tweak: impl FnOnce(&mut ServeArgs),
) -> (tempfile::TempDir, AppState) {
    let (dir, token) = token_dir();
    let mut args = args(token);
    tweak(&mut args);
    (dir, AppState::new(&args, Arc::new(tasks.clone())))
}

fn state() -> (tempfile::TempDir, AppState) {
    state_with(&TestTasks::new(Duration::from_millis(400)), |_| {})
}

fn check_params(params: Value) -> Value {
    agent_body("uid-1", "check-params", sandbox("check-params", params))
}

#[tokio::test]
async fn another_plugins_template_gets_an_empty_object_never_404() {
    let (_dir, state) = state();
    for plugin in [
        json!({"other": {}}),
        json!({}),
        json!({"slack": {"text": "hi"}}),
    ] {
        let reply = execute(&state, &agent_body("uid-1", "notify", plugin)).await;
        assert_eq!(reply, json!({}));
    }
    // A template with no plugin at all (the agent only sends plugin
    // templates, but nothing forbids a call).
    let body = json!({"workflow": {"metadata": {"name": "w"}}, "template": {"name": "main", "container": {"image": "x"}}});
    assert_eq!(execute(&state, &body).await, json!({}));
}

#[tokio::test]
async fn check_params_succeeds_in_one_call_with_outputs() {
    let (_dir, state) = state();
    let reply = execute(&state, &check_params(json!({"pr_number": "42"}))).await;
    assert_eq!(reply["node"]["phase"], "Succeeded", "{reply}");
    assert!(reply.get("requeue").is_none(), "{reply}");
    let outputs = &reply["node"]["outputs"]["parameters"];
    let get = |name: &str| {
        outputs
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["value"].clone())
    };
    assert_eq!(get("environment"), Some(json!("sbx-pr-42")));
    assert_eq!(get("namespace"), Some(json!("apps-sbx-pr-42")));
    assert_eq!(get("database_name"), Some(json!("sbx_pr_42")));
}

#[tokio::test]
async fn bad_params_fail_the_node_with_the_tasks_message_and_no_outputs() {
    let (_dir, state) = state();
    let reply = execute(
        &state,
        &check_params(json!({"pr_number": "forty-two", "no_such_key": "x"})),
    )
    .await;
    let node = &reply["node"];
    assert_eq!(node["phase"], "Failed", "{reply}");
    assert!(node.get("outputs").is_none(), "{reply}");
    assert!(reply.get("requeue").is_none(), "{reply}");
    let message = node["message"].as_str().unwrap();
    assert!(
        message.starts_with("check-params failed (invalid-params)"),
        "{message}"
    );
    assert!(message.contains("no_such_key"), "{message}");
}

#[tokio::test]
async fn a_protected_branch_is_refused_and_credentials_never_echoed() {
    let (_dir, state) = state();
    let reply = execute(
        &state,
        &check_params(json!({"pr_number": "7", "branch": "main", "repo_url": "https://bot:hunter2-secret@git.example.com/infra.git"})),
    )
    .await;
    let message = reply["node"]["message"].as_str().unwrap();
    assert_eq!(reply["node"]["phase"], "Failed", "{reply}");
    assert!(!reply.to_string().contains("hunter2-secret"), "{reply}");
    assert!(message.contains("check-params failed"), "{message}");
}

#[tokio::test]
async fn an_unknown_task_or_a_malformed_sandbox_entry_fails_the_node() {
    let (_dir, state) = state();
    let reply = execute(
        &state,
        &agent_body("u", "t", sandbox("no-such-task", json!({}))),
    )
    .await;
    assert_eq!(reply["node"]["phase"], "Failed");
    assert!(
        reply["node"]["message"]
            .as_str()
            .unwrap()
            .contains("check-params"),
        "names the tasks: {reply}"
    );
    for entry in [
        json!("check-params"),
        json!({"params": {}}),
        json!({"task": "check-params", "params": "x"}),
        json!({"task": "check-params", "parms": {}}),
    ] {
        let reply = execute(&state, &agent_body("u", "t", json!({"sandbox": entry}))).await;
        assert_eq!(reply["node"]["phase"], "Failed", "{entry}: {reply}");
        assert!(
            reply["node"]["message"]
                .as_str()
                .unwrap()
                .contains("plugin.sandbox must be"),
            "{reply}"
        );
    }
}

#[tokio::test]
async fn wrong_or_missing_token_is_403_before_the_body_is_read() {
    let (_dir, state) = state();
    let body = check_params(json!({"pr_number": "1"})).to_string();
    for token in [None, Some("wrong"), Some(""), Some(&TOKEN[1..])] {
        let reply = call(
            &state,
            "POST",
            "/api/v1/template.execute",
            token,
            body.clone(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{token:?}");
        assert!(reply.json()["error"].as_str().unwrap().contains("token"));
    }
    let reply = call(
        &state,
        "POST",
        "/api/v1/template.execute",
        Some("wrong"),
        "not json",
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // Basic or a bare token is not a bearer token.
    let request = Request::post("/api/v1/template.execute")
        .header(header::AUTHORIZATION, TOKEN)
        .body(Body::from(body))
        .unwrap();
    assert_eq!(
        app(state.clone()).oneshot(request).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_rotated_token_is_accepted_at_once_and_the_old_one_refused() {
    let (dir, state) = state();
    let body = agent_body("u", "t", json!({"other": {}})).to_string();
    std::fs::write(
        dir.path().join("token"),
        "a-brand-new-token-of-another-size\n",
    )
    .unwrap();
    let new = call(
        &state,
        "POST",
        "/api/v1/template.execute",
        Some("a-brand-new-token-of-another-size"),
        body.clone(),
    )
    .await;
    assert_eq!(new.status, StatusCode::OK);
    let old = call(
        &state,
        "POST",
        "/api/v1/template.execute",
        Some(TOKEN),
        body,
    )
    .await;
    assert_eq!(old.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn malformed_bodies_are_400_with_a_json_message() {
    let (_dir, state) = state();
    for body in [
        "",
        "not json",
        "[]",
        "{}",
        r#"{"workflow": {}}"#,
        r#"{"template": null}"#,
        r#"{"template": "check-params"}"#,
        r#"{"template": {"plugin": "sandbox"}}"#,
        r#"{"template": {"plugin": []}}"#,
        r#"{"workflow": "x", "template": {}}"#,
        r#"{"template": {}"#,
    ] {
        let reply = call(
            &state,
            "POST",
            "/api/v1/template.execute",
            Some(TOKEN),
            body,
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body:?}");
        assert!(
            reply.json()["error"]
                .as_str()
                .unwrap()
                .starts_with("malformed request body"),
            "{body:?}"
        );
    }
}

#[tokio::test]
async fn an_oversized_body_is_400_with_a_json_message() {
    let (_dir, state) = state();
    // axum's default body limit is 2 MiB; a resolved template is a few KiB.
    let huge = format!(r#"{{"template": {{"name": "{}"}}}}"#, "x".repeat(3 << 20));
    let reply = call(
        &state,
        "POST",
        "/api/v1/template.execute",
        Some(TOKEN),
        huge,
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("malformed request body")
    );
}

#[tokio::test]
async fn unknown_paths_are_404_and_health_and_metrics_answer() {
    let (_dir, state) = state();
    for (method, path) in [
        ("POST", "/api/v1/template.other"),
        ("GET", "/"),
        ("GET", "/api/v1/template.execute"),
        ("POST", "/healthz"),
    ] {
        let reply = call(&state, method, path, Some(TOKEN), "{}").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert!(
            reply.json()["error"]
                .as_str()
                .unwrap()
                .starts_with("not found")
        );
    }
    let health = call(&state, "GET", "/healthz", None, Body::empty()).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json()["token_loaded"], true);

    execute(&state, &agent_body("u", "t", json!({"other": {}}))).await;
    execute(&state, &check_params(json!({"pr_number": "3"}))).await;
    let metrics = call(&state, "GET", "/metrics", None, Body::empty()).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.content_type.starts_with("text/plain"));
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(
        text.contains("sandbox_plugin_requests_total{outcome=\"not_mine\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("sandbox_plugin_requests_total{outcome=\"succeeded\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("sandbox_plugin_jobs_running 0\n"), "{text}");
    assert!(text.contains("sandbox_plugin_task_duration_seconds_count{task=\"check-params\",result=\"succeeded\"} 1\n"), "{text}");
}

/// Call every 50 ms until the node leaves Pending/Running (at most 10 s:
/// the machine may be busy), as the agent would with a shorter requeue.
async fn until_done(state: &AppState, body: &Value) -> Value {
    for _ in 0..200 {
        let reply = execute(state, body).await;
        if !["Running", "Pending"].contains(&reply["node"]["phase"].as_str().unwrap_or_default()) {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the node never finished");
}

#[tokio::test]
async fn a_long_task_answers_running_with_progress_and_a_go_duration_requeue() {
    let tasks = TestTasks::new(Duration::from_millis(2000));
    let (_dir, state) = state_with(&tasks, |_| {});
    let body = agent_body(
        "uid-9",
        "seed",
        sandbox(SLOW_TASK, json!({"dest": "gs://b/sbx-pr-9"})),
    );
    let first = execute(&state, &body).await;
    assert_eq!(first["node"]["phase"], "Running", "{first}");
    assert_eq!(first["requeue"], "1s");
    let progress = first["node"]["progress"].as_str().unwrap();
    assert!(
        ["0/4", "1/4", "2/4", "3/4"].contains(&progress),
        "{progress}"
    );
    let last = until_done(&state, &body).await;
    assert_eq!(last["node"]["phase"], "Succeeded", "{last}");
    assert_eq!(
        last["node"]["outputs"]["parameters"][1],
        json!({"name": "dest", "value": "gs://b/sbx-pr-9"})
    );
    assert_eq!(tasks.starts(), 1, "every poll found the running job");
}

#[tokio::test]
async fn beyond_the_concurrency_bound_calls_are_pending_with_a_requeue() {
    let tasks = TestTasks::new(Duration::from_millis(1500));
    let (_dir, state) = state_with(&tasks, |a| a.max_running = 1);
    let a = agent_body("u", "a", sandbox(SLOW_TASK, json!({"dest": "a"})));
    let b = agent_body("u", "b", sandbox(SLOW_TASK, json!({"dest": "b"})));
    assert_eq!(execute(&state, &a).await["node"]["phase"], "Running");
    let second = execute(&state, &b).await;
    assert_eq!(second["node"]["phase"], "Pending", "{second}");
    assert_eq!(second["requeue"], "1s");
    assert_eq!(tasks.starts(), 1, "nothing started for the pending call");
    // Once the first job is done, the second gets its slot and finishes.
    assert_eq!(until_done(&state, &a).await["node"]["phase"], "Succeeded");
    assert_eq!(until_done(&state, &b).await["node"]["phase"], "Succeeded");
    assert_eq!(tasks.starts(), 2);
}

#[tokio::test]
async fn a_stuck_task_is_failed_at_its_deadline() {
    let tasks = TestTasks::new(Duration::ZERO);
    let (_dir, state) = state_with(&tasks, |a| a.deadline = Duration::from_millis(600));
    let body = agent_body("u", "stuck", sandbox(HANG_TASK, json!({})));
    assert_eq!(execute(&state, &body).await["node"]["phase"], "Running");
    let reply = until_done(&state, &body).await;
    assert_eq!(reply["node"]["phase"], "Failed", "{reply}");
    assert!(
        reply["node"]["message"]
            .as_str()
            .unwrap()
            .contains("did not finish within 600ms"),
        "{reply}"
    );
    assert_eq!(state.jobs().running(), 0, "the slot is free");
}

// A retried node (retryStrategy) sends the same body again; a failure that
// was already answered must not be served to the retry from the table.
#[tokio::test]
async fn a_failure_is_answered_once_so_a_retry_runs_the_task_again() {
    let tasks = TestTasks::new(Duration::ZERO);
    let (_dir, state) = state_with(&tasks, |_| {});
    let body = agent_body("u", "flaky", sandbox(FLAKY_TASK, json!({})));
    let first = execute(&state, &body).await;
    assert_eq!(first["node"]["phase"], "Failed", "{first}");
    assert!(
        first["node"]["message"]
            .as_str()
            .unwrap()
            .contains("(transient): the bucket answered 503")
    );
    let retry = execute(&state, &body).await;
    assert_eq!(retry["node"]["phase"], "Succeeded", "{retry}");
    assert_eq!(tasks.starts(), 2);
    // A success is remembered: asking again does not run the task again.
    let again = execute(&state, &body).await;
    assert_eq!(again["node"]["phase"], "Succeeded");
    assert_eq!(tasks.starts(), 2);
}

#[tokio::test]
async fn while_draining_running_jobs_are_answered_and_new_ones_are_503() {
    let tasks = TestTasks::new(Duration::from_millis(300));
    let (_dir, state) = state_with(&tasks, |_| {});
    let running = agent_body("u", "a", sandbox(SLOW_TASK, json!({"dest": "a"})));
    assert_eq!(execute(&state, &running).await["node"]["phase"], "Running");
    let jobs = Arc::clone(state.jobs());
    let drain = tokio::spawn(async move { jobs.drain(Duration::from_secs(5)).await });
    // Poll (bounded) until the drain has begun; from then on no new task
    // starts.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !state.jobs().is_draining() {
        assert!(
            std::time::Instant::now() < deadline,
            "the drain never began"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let new = call(
        &state,
        "POST",
        "/api/v1/template.execute",
        Some(TOKEN),
        check_params(json!({"pr_number": "5"})).to_string(),
    )
    .await;
    assert_eq!(new.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        new.json()["error"]
            .as_str()
            .unwrap()
            .contains("shutting down")
    );
    drain.await.unwrap();
    assert_eq!(
        execute(&state, &running).await["node"]["phase"],
        "Succeeded",
        "finished within the grace period"
    );
}

// Where panics unwind (tests, debug builds), a panicking task must end its
// job rather than leave the node Running until the deadline.
#[tokio::test]
async fn a_panicking_task_fails_its_node_and_frees_its_slot() {
    let tasks = TestTasks::new(Duration::ZERO);
    let (_dir, state) = state_with(&tasks, |_| {});
    let reply = execute(
        &state,
        &agent_body("u", "bug", sandbox(PANIC_TASK, json!({}))),
    )
    .await;
    assert_eq!(reply["node"]["phase"], "Failed", "{reply}");
    assert!(
        reply["node"]["message"]
            .as_str()
            .unwrap()
            .contains("panicked"),
        "{reply}"
    );
    assert_eq!(state.jobs().running(), 0);
}
