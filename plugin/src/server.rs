//! The HTTP side: `app(state)` is the router (tested with `oneshot`),
//! `serve(listener, state, shutdown, stop)` runs it until shutdown, drains
//! the running tasks and stops for good after a bounded linger.
//!
//! What each answer means to Argo's agent (workflow/util/plugin/plugin.go):
//! 200 is decoded as the reply, so it always carries a JSON body, `{}` when
//! the template is not ours; 404 marks the method unsupported for the rest
//! of the workflow, so it is only for paths we do not serve; 503 is retried
//! with backoff, so it is only for "call again"; any other status fails the
//! node with the body as its message, so errors are JSON that say what was
//! wrong.

use crate::auth::TokenFile;
use crate::config::ServeArgs;
use crate::jobs::{Answer, Dispatch, Draining, Finished, JobKey, JobRequest, Jobs};
use crate::metrics::{Metrics, Outcome};
use crate::protocol::{ExecuteTemplateArgs, ExecuteTemplateReply, PLUGIN_KEY, SandboxSpec};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::future::{Future, IntoFuture as _};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The path Argo's agent posts to.
pub const EXECUTE_PATH: &str = "/api/v1/template.execute";

/// Everything a request handler needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    token: TokenFile,
    jobs: Arc<Jobs>,
    metrics: Arc<Metrics>,
    requeue: Duration,
    sync_wait: Duration,
}

impl AppState {
    /// State for a server configured by `args`, running tasks through `dispatch`.
    pub fn new(args: &ServeArgs, dispatch: Arc<dyn Dispatch>) -> Self {
        let metrics = Arc::new(Metrics::default());
        let jobs = Arc::new(Jobs::new(dispatch, args.limits(), Arc::clone(&metrics)));
        AppState(Arc::new(Inner {
            token: TokenFile::new(&args.token_file),
            jobs,
            metrics,
            requeue: args.requeue,
            sync_wait: args.sync_wait,
        }))
    }

    /// The job table (tests look at it; shutdown drains it).
    pub fn jobs(&self) -> &Arc<Jobs> {
        &self.0.jobs
    }

    /// The counters behind `/metrics`.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.0.metrics
    }
}

/// Why a call was not answered with a node.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No token, or not the agent's.
    #[error("missing or wrong bearer token")]
    Forbidden,
    /// The body is not an `ExecuteTemplateArgs`.
    #[error("malformed request body: {0}")]
    BadRequest(String),
    /// Shutting down: the agent retries a 503 with backoff.
    #[error(transparent)]
    Draining(#[from] Draining),
    /// A path or method we do not serve.
    #[error("not found: this plugin serves POST {EXECUTE_PATH}, GET /healthz and GET /metrics")]
    NotFound,
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Draining(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotFound => StatusCode::NOT_FOUND,
        }
    }

    fn outcome(&self) -> Option<Outcome> {
        match self {
            ApiError::Forbidden => Some(Outcome::Forbidden),
            ApiError::BadRequest(_) => Some(Outcome::BadRequest),
            ApiError::Draining(_) => Some(Outcome::Unavailable),
            ApiError::NotFound => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(
            self.status(),
            &serde_json::json!({ "error": self.to_string() }),
        )
    }
}

fn json_response<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        // Our replies are plain structs and always serialize; if one ever
        // did not, an empty 200 would fail the node with a decode error, so
        // say what happened instead.
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":"cannot encode the reply"}"#,
        )
            .into_response(),
    }
}

/// The router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(EXECUTE_PATH, post(execute))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn execute(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = answer(&state, &headers, body).await;
    match result {
        Ok(reply) => {
            state.0.metrics.request(reply_outcome(&reply));
            json_response(StatusCode::OK, &reply)
        }
        Err(error) => {
            if let Some(outcome) = error.outcome() {
                state.0.metrics.request(outcome);
            }
            error.into_response()
        }
    }
}

fn reply_outcome(reply: &ExecuteTemplateReply) -> Outcome {
    use crate::protocol::Phase;
    match reply.node.as_ref().map(|n| n.phase) {
        None => Outcome::NotMine,
        Some(Phase::Pending) => Outcome::Pending,
        Some(Phase::Running) => Outcome::Running,
        Some(Phase::Succeeded) => Outcome::Succeeded,
        Some(Phase::Failed) => Outcome::Failed,
    }
}

async fn answer(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<ExecuteTemplateReply, ApiError> {
    // The token first: nothing about the body is revealed to a caller that
    // is not the agent.
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    if !state.0.token.authorizes(authorization) {
        return Err(ApiError::Forbidden);
    }
    let body = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let args: ExecuteTemplateArgs =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let template = args
        .template
        .as_ref()
        .ok_or_else(|| ApiError::BadRequest("`template` is required".into()))?;
    let Some(spec) = template.plugin.as_ref().and_then(|p| p.get(PLUGIN_KEY)) else {
        return Ok(ExecuteTemplateReply::not_mine());
    };
    // Ours but not what we understand: fail the node with a message that
    // says how to write it, rather than an HTTP error the UI shows as a
    // status line.
    let spec = match SandboxSpec::deserialize(spec) {
        Ok(spec) => spec,
        Err(e) => {
            return Ok(ExecuteTemplateReply::failed(format!(
                "plugin.{PLUGIN_KEY} must be {{task: <name>, params: {{…}}}}: {e}"
            )));
        }
    };
    let meta = args.metadata();
    let params = spec.params.unwrap_or_default();
    let uid = meta.uid.as_deref().unwrap_or_default();
    let template_name = template.name.as_deref().unwrap_or_default();
    let request = JobRequest {
        key: JobKey::new(uid, template_name, &spec.task, &params),
        task: spec.task,
        params,
        workflow: format!(
            "{}/{}",
            meta.namespace.as_deref().unwrap_or_default(),
            meta.name.as_deref().unwrap_or_default()
        ),
    };
    let answer = state.0.jobs.execute(request, state.0.sync_wait).await?;
    let requeue = state.0.requeue;
    Ok(match answer {
        Answer::Pending { running } => ExecuteTemplateReply::pending(
            format!("waiting for a free slot: {running} tasks running"),
            requeue,
        ),
        Answer::Running {
            task,
            progress,
            elapsed,
        } => ExecuteTemplateReply::running(
            format!("{task} running for {}s", elapsed.as_secs()),
            progress,
            requeue,
        ),
        Answer::Done {
            task,
            result: Finished::Succeeded { outputs, took },
        } => ExecuteTemplateReply::succeeded(
            format!("{task} succeeded in {} ms", took.as_millis()),
            &outputs,
        ),
        Answer::Done {
            result: Finished::Failed { message },
            ..
        } => ExecuteTemplateReply::failed(message),
    })
}

async fn healthz(State(state): State<AppState>) -> Response {
    json_response(
        StatusCode::OK,
        &serde_json::json!({
            "status": "ok",
            "token_loaded": state.0.token.is_loaded(),
            "jobs_running": state.0.jobs.running(),
        }),
    )
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.0.metrics.render(state.0.jobs.running());
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
        .body(Body::from(text))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// How a server stops once its `shutdown` future resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    /// Running tasks get this long to finish; calls are answered meanwhile
    /// (new tasks get a 503 the agent retries).
    pub grace: Duration,
    /// After the grace period, open connections get this long to be
    /// answered; then [`serve`] returns anyway, so a connection that never
    /// finishes cannot keep the pod from terminating.
    pub linger: Duration,
}

impl Stop {
    /// The linger of a real server: a few seconds to write the last answers.
    pub const LINGER: Duration = Duration::from_secs(5);

    /// `grace`, then [`Stop::LINGER`].
    pub fn after(grace: Duration) -> Self {
        Stop {
            grace,
            linger: Self::LINGER,
        }
    }
}

/// Serve until `shutdown` resolves; then start no new task, keep answering
/// calls for up to `stop.grace` while running tasks finish, stop the rest,
/// and return once open requests are answered — or, at the latest,
/// `stop.linger` after the grace period (the hard stop).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    stop: Stop,
) -> std::io::Result<()> {
    let jobs = Arc::clone(state.jobs());
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stopping_tx.send(());
            tracing::info!(running = jobs.running(), "shutting down: no new tasks");
            jobs.drain(stop.grace).await;
        })
        .into_future();
    let hard_stop = async move {
        // Dropped unsent: the server ended by itself, and the other branch
        // has its result.
        if stopping_rx.await.is_ok() {
            tokio::time::sleep(stop.grace + stop.linger).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = server => served,
        () = hard_stop => {
            tracing::warn!("open connections did not finish in time; stopping");
            Ok(())
        }
    }
}
