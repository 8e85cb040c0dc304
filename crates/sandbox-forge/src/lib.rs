//! GitHub REST for the sandbox tasks, on reqwest and a few serde structs
//! (a handful of endpoints do not justify a full SDK): the open pull
//! requests of a head branch, commit statuses, a sticky pull-request
//! comment, check runs, and a GitHub App's installation tokens.
//!
//! Every request goes through [`GitHub::send`]: rate limits are respected
//! (a 403/429 with `x-ratelimit-remaining: 0` waits until
//! `x-ratelimit-reset`, a `retry-after` waits that long, both bounded by
//! [`Limits::max_wait`]), 5xx and network failures are retried with backoff,
//! and every failure is a [`ForgeError`] that knows its DESIGN §3 kind.
#![warn(missing_docs)]

mod app;
mod checks;
mod comments;
mod error;
mod open_pulls;
mod pulls;
mod sections;

pub use app::{AppInstallation, AppKey};
pub use checks::{
    ANNOTATIONS_PER_REQUEST, Annotation, AnnotationLevel, CheckRun, Conclusion, MAX_OUTPUT_TEXT,
    Published, truncate,
};
pub use comments::{CommentAction, put_section, section, sections};
pub use error::ForgeError;
pub use pulls::{Label, PullDetails};
pub use sections::sticky_marker;

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use sandbox_core::params::GithubRepo;
use sandbox_core::retry::{Backoff, Retryable};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The public GitHub API.
pub const GITHUB_API: &str = "https://api.github.com";

/// Most pages read from one listing; a branch has a handful of PRs.
const MAX_PAGES: usize = 20;

/// How long and how often to wait.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Retries of 5xx and network failures.
    pub backoff: Backoff,
    /// The longest wait for a rate limit to reset; longer ones fail at once
    /// as transient (the workflow retries later).
    pub max_wait: Duration,
    /// Rate-limit waits per request.
    pub max_rate_limit_waits: u32,
    /// Timeout of one request.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            backoff: Backoff {
                attempts: 3,
                base: Duration::from_millis(500),
                max: Duration::from_secs(5),
            },
            max_wait: Duration::from_secs(60),
            max_rate_limit_waits: 2,
            timeout: Duration::from_secs(30),
        }
    }
}

/// A GitHub (or GitHub Enterprise) REST client.
#[derive(Debug, Clone)]
pub struct GitHub {
    http: reqwest::Client,
    api: String,
    limits: Limits,
}

/// A pull request, as much of it as the tasks use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PullRequest {
    /// The number.
    pub number: u64,
    /// `open` or `closed`.
    pub state: String,
    /// Its page.
    pub html_url: String,
    /// The head branch.
    pub head: GitRef,
}

/// One side of a pull request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct GitRef {
    /// The branch name.
    #[serde(rename = "ref")]
    pub branch: String,
    /// The commit.
    pub sha: String,
}

/// The state of a commit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusState {
    /// Running.
    Pending,
    /// Done.
    Success,
    /// Failed.
    Failure,
    /// Broke.
    Error,
}

/// A commit status to set (`POST /repos/{o}/{r}/statuses/{sha}`).
#[derive(Debug, Clone, Serialize)]
pub struct Status<'a> {
    /// The state.
    pub state: StatusState,
    /// Where to read more (the workflow's page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_url: Option<&'a str>,
    /// One line, ≤ 140 characters (GitHub truncates).
    pub description: &'a str,
    /// Which check this is, e.g. `argo-sandbox/create`.
    pub context: &'a str,
}

/// An issue or pull-request comment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Comment {
    /// Its id.
    pub id: u64,
    /// The text.
    #[serde(default)]
    pub body: String,
    /// Its page.
    pub html_url: String,
}

impl GitHub {
    /// A client for `api_base` (`https://api.github.com`, or
    /// `https://<host>/api/v3` for GitHub Enterprise Server), with an
    /// optional token.
    pub fn new(api_base: &str, token: Option<&str>, limits: Limits) -> Result<Self, ForgeError> {
        let api = api_base.trim_end_matches('/').to_string();
        let parsed = url::Url::parse(&api).map_err(|_| ForgeError::Config {
            message: format!("API base URL {api:?} is not a URL"),
        })?;
        if !matches!(parsed.scheme(), "https" | "http")
            || parsed.password().is_some()
            || !parsed.username().is_empty()
        {
            return Err(ForgeError::Config {
                message: "API base URL must be http(s) without credentials".into(),
            });
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(
            "x-github-api-version",
            HeaderValue::from_static("2022-11-28"),
        );
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                ForgeError::Config {
                    message: "the GitHub token has characters a header cannot carry".into(),
                }
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let http = sandbox_http::ClientOptions {
            timeout: Some(limits.timeout),
            default_headers: headers,
            ..sandbox_http::ClientOptions::default()
        }
        .build()
        .map_err(|e| ForgeError::Config {
            message: match std::error::Error::source(&e) {
                Some(cause) => format!("{e}: {cause}"),
                None => e.to_string(),
            },
        })?;
        Ok(GitHub { http, api, limits })
    }

    /// The API base.
    pub fn api(&self) -> &str {
        &self.api
    }

    /// Open pull requests whose head is `branch` of the repository itself
    /// (`GET /repos/{o}/{r}/pulls?head={o}:{branch}&state=open`), every page.
    pub async fn open_pulls_for_head(
        &self,
        repo: &GithubRepo,
        branch: &str,
    ) -> Result<Vec<PullRequest>, ForgeError> {
        let mut url = url::Url::parse(&format!(
            "{}/repos/{}/{}/pulls",
            self.api, repo.owner, repo.name
        ))
        .map_err(|e| ForgeError::Config {
            message: format!("bad URL: {e}"),
        })?;
        url.query_pairs_mut()
            .append_pair("head", &format!("{}:{branch}", repo.owner))
            .append_pair("state", "open")
            .append_pair("per_page", "100");
        let pulls: Vec<PullRequest> = self.get_all(url.as_str()).await?;
        // The API filters by head already; keep only exact matches in case a
        // double or a proxy ignores the filter.
        Ok(pulls
            .into_iter()
            .filter(|p| p.head.branch == branch && p.state == "open")
            .collect())
    }

    /// Set a commit status (`POST /repos/{o}/{r}/statuses/{sha}`).
    pub async fn create_status(
        &self,
        repo: &GithubRepo,
        sha: &str,
        status: &Status<'_>,
    ) -> Result<(), ForgeError> {
        let url = format!(
            "{}/repos/{}/{}/statuses/{sha}",
            self.api, repo.owner, repo.name
        );
        let _: serde_json::Value = self.send_json(Method::POST, &url, Some(status)).await?;
        Ok(())
    }

    /// GET every page of a listing, following `Link: <…>; rel="next"`,
    /// at most [`MAX_PAGES`] (a warning says when more were left).
    async fn get_all<T: DeserializeOwned>(&self, first: &str) -> Result<Vec<T>, ForgeError> {
        let (items, complete) = self.get_pages(first, MAX_PAGES).await?;
        if !complete {
            tracing::warn!(pages = MAX_PAGES, "stopping after the page limit");
        }
        Ok(items)
    }

    /// GET up to `max_pages` pages of a listing; `true` when it was read to
    /// its last page.
    async fn get_pages<T: DeserializeOwned>(
        &self,
        first: &str,
        max_pages: usize,
    ) -> Result<(Vec<T>, bool), ForgeError> {
        let mut items = Vec::new();
        let mut next = Some(first.to_string());
        let mut pages = 0;
        while let Some(url) = next.take() {
            if pages == max_pages {
                return Ok((items, false));
            }
            pages += 1;
            let response = self.send(Method::GET, &url, None::<&()>).await?;
            next = next_link(response.headers());
            let page: Vec<T> = read_json(response, &url).await?;
            items.extend(page);
        }
        Ok((items, true))
    }

    async fn send_json<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: &str,
        body: Option<&B>,
    ) -> Result<T, ForgeError> {
        let response = self.send(method, url, body).await?;
        read_json(response, url).await
    }

    /// One request with the rate-limit and retry rules; a non-2xx answer is
    /// an error. 5xx and network failures are retried by the limits'
    /// [`Backoff`]; a rate limit is waited for inside an attempt (at most
    /// [`Limits::max_rate_limit_waits`] times per request, each no longer
    /// than [`Limits::max_wait`]).
    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: &str,
        body: Option<&B>,
    ) -> Result<reqwest::Response, ForgeError> {
        let rate_waits = AtomicU32::new(0);
        self.limits
            .backoff
            .retry(|_| self.attempt(&method, url, body, &rate_waits))
            .await
            .map_err(|Attempt(error)| error)
    }

    /// One attempt of [`GitHub::send`]: sent again only after rate-limit
    /// waits.
    async fn attempt<B: Serialize + ?Sized>(
        &self,
        method: &Method,
        url: &str,
        body: Option<&B>,
        rate_waits: &AtomicU32,
    ) -> Result<reqwest::Response, Attempt> {
        loop {
            let mut request = self.http.request(method.clone(), url);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|e| {
                Attempt(ForgeError::Network {
                    url: url.to_string(),
                    source: e.without_url(),
                })
            })?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            let wait = rate_limit_wait(status, response.headers(), SystemTime::now());
            let message = error_message(response).await;
            return Err(Attempt(match wait {
                Some(wait)
                    if wait <= self.limits.max_wait
                        && rate_waits.load(Ordering::Relaxed)
                            < self.limits.max_rate_limit_waits =>
                {
                    tracing::warn!(
                        wait_s = wait.as_secs(),
                        "GitHub rate limit reached; waiting for the reset"
                    );
                    tokio::time::sleep(wait).await;
                    rate_waits.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Some(wait) => ForgeError::RateLimited {
                    url: url.to_string(),
                    wait_s: wait.as_secs(),
                    message,
                },
                None => ForgeError::from_status(status, url, message),
            }));
        }
    }
}

/// A failed attempt, as [`Backoff::retry`] sees it: only 5xx answers and
/// network failures are tried again. A rate limit was already waited for
/// where that was worth it; one that resets later is left to the workflow.
struct Attempt(ForgeError);

impl std::fmt::Display for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Retryable for Attempt {
    fn is_transient(&self) -> bool {
        matches!(
            self.0,
            ForgeError::Server { .. } | ForgeError::Network { .. }
        )
    }
}

async fn read_json<T: DeserializeOwned>(
    response: reqwest::Response,
    url: &str,
) -> Result<T, ForgeError> {
    let bytes = response.bytes().await.map_err(|e| ForgeError::Network {
        url: url.to_string(),
        source: e.without_url(),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| ForgeError::Decode {
        url: url.to_string(),
        source: e,
    })
}

/// GitHub's error body is `{"message": …, "documentation_url": …}`.
async fn error_message(response: reqwest::Response) -> String {
    #[derive(Deserialize)]
    struct Body {
        message: String,
    }
    let bytes = response.bytes().await.unwrap_or_default();
    serde_json::from_slice::<Body>(&bytes)
        .map(|b| b.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).chars().take(200).collect())
}

/// How long GitHub asks us to wait, if this answer is a rate limit:
/// `retry-after` (secondary limits; seconds or an HTTP-date), or until `x-ratelimit-reset`
/// when `x-ratelimit-remaining` is 0 (primary limit).
fn rate_limit_wait(status: StatusCode, headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(wait) = sandbox_http::retry_after_at(headers, now) {
        return Some(wait);
    }
    if header("x-ratelimit-remaining") == Some("0") {
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let reset = header("x-ratelimit-reset")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(now + 60);
        // One second past the reset: the clocks of GitHub and ours differ.
        return Some(Duration::from_secs(reset.saturating_sub(now) + 1));
    }
    (status == StatusCode::TOO_MANY_REQUESTS).then_some(Duration::from_secs(60))
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(reqwest::header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_give_the_next_page() {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::LINK,
            HeaderValue::from_static(
                "<https://api.github.com/repositories/1/pulls?page=2>; rel=\"next\", <https://api.github.com/repositories/1/pulls?page=5>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/repositories/1/pulls?page=2")
        );
        h.insert(
            reqwest::header::LINK,
            HeaderValue::from_static("<https://x/?page=1>; rel=\"prev\""),
        );
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn rate_limits_are_read_from_the_headers() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("1030"));
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &h, now),
            Some(Duration::from_secs(31))
        );
        assert_eq!(rate_limit_wait(StatusCode::NOT_FOUND, &h, now), None);
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(
            rate_limit_wait(StatusCode::TOO_MANY_REQUESTS, &h, now),
            Some(Duration::from_secs(7))
        );
        // A plain 403 (no permission) is not a rate limit.
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &HeaderMap::new(), now),
            None
        );
    }
}
