//! Fuzzed request bodies (proptest over the JSON shape of the agent's
//! request, and over raw bytes): the server never panics, answers only with
//! statuses the agent understands, and never sends a 200 that is not a JSON
//! reply it can decode.

use crate::common::{TOKEN, TestTasks, args, token_dir};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use proptest::prelude::*;
use sandbox_plugin::{AppState, app, go_duration};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use tower::ServiceExt;

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "workflow", "template", "metadata", "name", "namespace", "uid", "plugin", "sandbox",
            "task", "params", "pr_number", "environment", "inputs", "outputs", "other",
        ])
        .prop_map(str::to_string),
        1 => "[a-zA-Z_]{0,6}",
        1 => ".{0,4}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "check-params",
            "42",
            "",
            "sbx-pr-1",
            "main",
            "https://u:p@h/r"
        ])
        .prop_map(|s| json!(s)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Bodies close to what the agent sends, with any part replaced.
fn agent_shaped() -> impl Strategy<Value = Value> {
    let task = prop_oneof![
        Just(json!("check-params")),
        Just(json!("no-such-task")),
        json_value()
    ];
    let params = prop_oneof![
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    "pr_number",
                    "env_prefix",
                    "branch",
                    "repo_url",
                    "bogus"
                ]),
                json_value()
            ),
            0..4
        )
        .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        json_value(),
    ];
    (json_value(), json_value(), task, params, any::<u8>()).prop_map(
        |(workflow, name, task, params, shape)| {
            let sandbox = match shape % 4 {
                0 => json!({"task": task, "params": params}),
                1 => json!({"task": task}),
                2 => json!({"task": task, "params": params, "extra": name.clone()}),
                _ => params.clone(),
            };
            let plugin = if shape & 4 == 0 {
                json!({"sandbox": sandbox})
            } else {
                json!({"other": sandbox})
            };
            let workflow = if shape & 8 == 0 {
                json!({"metadata": {"name": "w", "uid": workflow}})
            } else {
                workflow
            };
            json!({"workflow": workflow, "template": {"name": name, "plugin": plugin}})
        },
    )
}

struct Harness {
    _dir: tempfile::TempDir,
    state: AppState,
    runtime: tokio::runtime::Runtime,
}

impl Harness {
    fn new() -> Self {
        let (dir, token) = token_dir();
        let state = AppState::new(&args(token), Arc::new(TestTasks::default()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Harness {
            _dir: dir,
            state,
            runtime,
        }
    }

    /// Send `body`; check the answer is one the agent can act on.
    fn check(&self, body: Vec<u8>) -> Result<(), TestCaseError> {
        let request = Request::post("/api/v1/template.execute")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        let (status, content_type, bytes) = self.runtime.block_on(async {
            let response = app(self.state.clone()).oneshot(request).await.unwrap();
            let status = response.status();
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap().to_string());
            (
                status,
                content_type,
                axum::body::to_bytes(response.into_body(), 1 << 20)
                    .await
                    .unwrap(),
            )
        });
        prop_assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
            "status {status}"
        );
        prop_assert_eq!(content_type.as_deref(), Some("application/json"));
        let reply: Value = serde_json::from_slice(&bytes)
            .map_err(|e| TestCaseError::fail(format!("not JSON: {e}")))?;
        let reply = reply
            .as_object()
            .ok_or_else(|| TestCaseError::fail("not an object"))?;
        if status == StatusCode::BAD_REQUEST {
            prop_assert!(reply["error"].is_string());
            return Ok(());
        }
        let Some(node) = reply.get("node") else {
            prop_assert!(
                reply.is_empty(),
                "a reply without a node is {{}}: {reply:?}"
            );
            return Ok(());
        };
        let phase = node["phase"].as_str().unwrap_or_default();
        prop_assert!(
            ["Pending", "Running", "Succeeded", "Failed"].contains(&phase),
            "phase {phase}"
        );
        if phase == "Pending" || phase == "Running" {
            let requeue = reply
                .get("requeue")
                .and_then(Value::as_str)
                .unwrap_or_default();
            prop_assert!(
                go_duration::parse(requeue).is_ok_and(|d| !d.is_zero()),
                "requeue {requeue:?}"
            );
        }
        if phase == "Failed" {
            prop_assert!(node.get("outputs").is_none());
            prop_assert!(!node["message"].as_str().unwrap_or_default().is_empty());
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_json_body_gets_an_answer_the_agent_can_decode(body in json_value()) {
        thread_local!(static H: Harness = Harness::new());
        H.with(|h| h.check(body.to_string().into_bytes()))?;
    }

    #[test]
    fn agent_shaped_bodies_with_any_part_replaced_get_a_decodable_answer(body in agent_shaped()) {
        thread_local!(static H: Harness = Harness::new());
        H.with(|h| h.check(body.to_string().into_bytes()))?;
    }

    #[test]
    fn arbitrary_bytes_are_400_or_a_reply(body in prop::collection::vec(any::<u8>(), 0..64)) {
        thread_local!(static H: Harness = Harness::new());
        H.with(|h| h.check(body))?;
    }
}
