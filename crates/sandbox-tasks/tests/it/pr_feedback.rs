//! The pr-feedback binary against a GitHub API double that answers with the
//! recorded GitHub responses (`$SANDBOX_FIXTURES/github/rest`) and keeps the
//! issue comments it is given, paginating them as GitHub does.

use super::support::{self, Run};
use assert_cmd::Command;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "ghs_feedback_token_1";
const REPO: &str = "octocat/Hello-World";
const PR: &str = "1347";
const MARKER: &str = "<!-- argo-sandbox:sbx-pr-1347 -->";

fn fixtures() -> PathBuf {
    support::fixtures().join("github/rest")
}

fn fixture(name: &str) -> Value {
    let path = fixtures().join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The recorded octokit exchange `name`, entry `index`.
fn octokit(name: &str, index: usize) -> Value {
    fixture(&format!("octokit-fixtures/{name}.normalized-fixture.json"))[index].clone()
}

/// GitHub's issue comments of one PR: GET lists them in pages of
/// `page_size` with a `Link` header shaped like the recorded
/// paginate-issues one, POST adds one, PATCH edits one.
#[derive(Clone)]
struct Comments {
    base: String,
    comments: Arc<Mutex<Vec<Value>>>,
    page_size: usize,
}

impl Comments {
    fn new(base: String, others: usize) -> Self {
        let template = fixture("issue-comments-list.json")[0].clone();
        let comments = (0..others)
            .map(|i| {
                let mut c = template.clone();
                c["id"] = json!(100 + i);
                c["body"] = json!(format!("Looks good ({i})"));
                c
            })
            .collect();
        Comments {
            base,
            comments: Arc::new(Mutex::new(comments)),
            page_size: 2,
        }
    }

    fn bodies_with_marker(&self) -> Vec<String> {
        self.comments
            .lock()
            .unwrap()
            .iter()
            .filter_map(|c| c["body"].as_str())
            .filter(|b| b.contains(MARKER))
            .map(str::to_string)
            .collect()
    }
}

impl Respond for Comments {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut comments = self.comments.lock().unwrap();
        match request.method.as_str() {
            "GET" => {
                let page: usize = request
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "page")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(1);
                let last = comments.len().div_ceil(self.page_size).max(1);
                let items: Vec<Value> = comments
                    .iter()
                    .skip((page - 1) * self.page_size)
                    .take(self.page_size)
                    .cloned()
                    .collect();
                let mut response = ResponseTemplate::new(200).set_body_json(items);
                if page < last {
                    // The shape of the recorded paginate-issues Link header.
                    let recorded = octokit("paginate-issues", 1)["headers"]["link"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    let link = recorded
                        .replace(
                            "https://api.github.com/repositories/1000/issues?per_page=3",
                            &format!("{}?per_page={}", self.base, self.page_size),
                        )
                        .replace("page=1>", &format!("page={}>", page.max(2) - 1))
                        .replace("page=3>", &format!("page={}>", page + 1))
                        .replace("page=5>", &format!("page={last}>"));
                    response = response.insert_header("link", link);
                }
                response
            }
            "POST" => {
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                let mut created = fixture("issue-comment-create.json");
                created["id"] = json!(9000 + comments.len());
                created["body"] = body["body"].clone();
                comments.push(created.clone());
                ResponseTemplate::new(201).set_body_json(created)
            }
            "PATCH" => {
                let id: u64 = request
                    .url
                    .path()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                match comments.iter_mut().find(|c| c["id"] == json!(id)) {
                    Some(c) => {
                        c["body"] = body["body"].clone();
                        ResponseTemplate::new(200).set_body_json(c.clone())
                    }
                    None => {
                        ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}))
                    }
                }
            }
            _ => ResponseTemplate::new(405),
        }
    }
}

struct Double {
    server: MockServer,
    comments: Comments,
    sha: String,
    _secrets: tempfile::TempDir,
    token_ref: String,
}

async fn double(others: usize) -> Double {
    let server = MockServer::start().await;
    let pull = fixture("pulls-get.json");
    let sha = pull["head"]["sha"].as_str().unwrap().to_string();
    let comments = Comments::new(
        format!("{}/repos/{REPO}/issues/{PR}/comments", server.uri()),
        others,
    );
    // Mounted later mocks (rate limits, failures) take precedence.
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/pulls/{PR}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(pull))
        .with_priority(10)
        .mount(&server)
        .await;
    let recorded = octokit("create-status", 0);
    Mock::given(method("POST"))
        .and(path(format!("/repos/{REPO}/statuses/{sha}")))
        .respond_with(
            ResponseTemplate::new(recorded["status"].as_u64().unwrap() as u16)
                .set_body_json(recorded["response"].clone()),
        )
        .with_priority(10)
        .mount(&server)
        .await;
    Mock::given(path_regex(format!(
        r"^/repos/{REPO}/issues/({PR}/comments|comments/\d+)$"
    )))
    .respond_with(comments.clone())
    .with_priority(10)
    .mount(&server)
    .await;
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("gh"), format!("{TOKEN}\n")).unwrap();
    let token_ref = format!("file:{}", secrets.path().join("gh").display());
    Double {
        server,
        comments,
        sha,
        _secrets: secrets,
        token_ref,
    }
}

fn feedback(d: &Double, extra: &[&str]) -> Run {
    let run = support::task("pr-feedback")
        .args([
            "--github-repo",
            REPO,
            "--pr-number",
            PR,
            "--github-api-url",
            &d.server.uri(),
            "--github-token",
            &d.token_ref,
            "--workflow-url",
            "https://argo.example.com/workflows/argo/sandbox-create-x1",
        ])
        .args(extra)
        .run();
    assert!(
        !run.stderr.contains(TOKEN) && !run.stdout.contains(TOKEN),
        "token printed"
    );
    run
}

async fn requests(d: &Double) -> Vec<Request> {
    d.server.received_requests().await.unwrap()
}

fn json_body(r: &Request) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn first_run_creates_one_comment_later_runs_edit_it() {
    let d = double(3).await;
    let run = tokio::task::block_in_place(|| feedback(&d, &["--state", "pending"]));
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.result["outputs"]["comment_action"], "created");
    assert_eq!(run.result["outputs"]["status_state"], "pending");
    let first_id = run.result["outputs"]["comment_id"]
        .as_str()
        .unwrap()
        .to_string();

    let reqs = requests(&d).await;
    for r in &reqs {
        assert_eq!(
            r.headers.get("authorization").unwrap(),
            &format!("Bearer {TOKEN}"),
            "{} {}",
            r.method,
            r.url
        );
    }
    let posts: Vec<&Request> = reqs
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/comments"))
        .collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].url.path(),
        format!("/repos/{REPO}/issues/{PR}/comments")
    );
    let body = json_body(posts[0])["body"].as_str().unwrap().to_string();
    assert!(body.starts_with(MARKER), "{body}");
    assert!(body.contains("being created"), "{body}");
    assert!(body.contains("remove the `create-sandbox` label or close the pull request"));
    // Every page of the existing comments was read before posting.
    let pages = reqs
        .iter()
        .filter(|r| r.method.as_str() == "GET" && r.url.path().ends_with("/comments"))
        .count();
    assert_eq!(pages, 2);

    // The status: on the head commit of the PR, with our context.
    let statuses: Vec<&Request> = reqs
        .iter()
        .filter(|r| r.url.path().contains("/statuses/"))
        .collect();
    assert_eq!(statuses.len(), 1);
    assert_eq!(
        statuses[0].url.path(),
        format!("/repos/{REPO}/statuses/{}", d.sha)
    );
    let status = json_body(statuses[0]);
    assert_eq!(status["state"], "pending");
    assert_eq!(status["context"], "sandbox/sbx-pr-1347");
    assert_eq!(
        status["target_url"],
        "https://argo.example.com/workflows/argo/sandbox-create-x1"
    );
    assert!(status["description"].as_str().unwrap().len() <= 140);
    // The same fields as the request octokit recorded for create-status.
    let recorded = octokit("create-status", 0)["body"].clone();
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&status), keys(&recorded));

    // Later runs: the same comment, edited; never a second one.
    d.server.reset().await;
    let d = remount(d).await;
    let run = tokio::task::block_in_place(|| {
        feedback(
            &d,
            &[
                "--state",
                "success",
                "--environment-url",
                "https://sbx-pr-1347.example.com",
            ],
        )
    });
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.result["outputs"]["comment_action"], "updated");
    assert_eq!(run.result["outputs"]["comment_id"], first_id.as_str());
    let reqs = requests(&d).await;
    let patches: Vec<&Request> = reqs
        .iter()
        .filter(|r| r.method.as_str() == "PATCH")
        .collect();
    assert_eq!(patches.len(), 1);
    assert_eq!(
        patches[0].url.path(),
        format!("/repos/{REPO}/issues/comments/{first_id}")
    );
    let body = json_body(patches[0])["body"].as_str().unwrap().to_string();
    assert!(body.starts_with(MARKER) && body.contains("ready"), "{body}");
    assert!(
        body.contains("(<https://sbx-pr-1347.example.com/>)"),
        "{body}"
    );
    assert!(
        !reqs
            .iter()
            .any(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/comments"))
    );
    let status = reqs
        .iter()
        .find(|r| r.url.path().contains("/statuses/"))
        .map(json_body)
        .unwrap();
    assert_eq!(status["state"], "success");

    // The same report again changes nothing in the comment.
    let run = tokio::task::block_in_place(|| {
        feedback(
            &d,
            &[
                "--state",
                "success",
                "--environment-url",
                "https://sbx-pr-1347.example.com",
            ],
        )
    });
    assert_eq!(run.result["outputs"]["comment_action"], "unchanged");
    for state in ["failure", "error"] {
        let run = tokio::task::block_in_place(|| feedback(&d, &["--state", state]));
        assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
        assert_eq!(run.result["outputs"]["comment_action"], "updated");
        assert_eq!(run.result["outputs"]["status_state"], state);
    }
    let states: Vec<String> = requests(&d)
        .await
        .iter()
        .filter(|r| r.url.path().contains("/statuses/"))
        .map(|r| json_body(r)["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, ["success", "success", "failure", "error"]);
    assert_eq!(d.comments.bodies_with_marker().len(), 1);
}

/// `MockServer::reset` drops the mocks; mount them again over the same
/// comment store.
async fn remount(d: Double) -> Double {
    let pull = fixture("pulls-get.json");
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/pulls/{PR}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(pull))
        .mount(&d.server)
        .await;
    let recorded = octokit("create-status", 0);
    Mock::given(method("POST"))
        .and(path(format!("/repos/{REPO}/statuses/{}", d.sha)))
        .respond_with(ResponseTemplate::new(201).set_body_json(recorded["response"].clone()))
        .mount(&d.server)
        .await;
    Mock::given(path_regex(format!(
        r"^/repos/{REPO}/issues/({PR}/comments|comments/\d+)$"
    )))
    .respond_with(d.comments.clone())
    .mount(&d.server)
    .await;
    d
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_are_waited_out_until_the_reset() {
    let d = double(0).await;
    let reset = unix_now() + 2;
    // Primary limit on the PR: 403 with remaining 0 and the reset time.
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/pulls/{PR}")))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({
                    "message": "API rate limit exceeded for installation ID 1.",
                    "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"
                }))
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str()),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&d.server)
        .await;
    // Secondary limit on the status: 429 with retry-after.
    Mock::given(method("POST"))
        .and(path(format!("/repos/{REPO}/statuses/{}", d.sha)))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(json!({"message": "You have exceeded a secondary rate limit."}))
                .insert_header("retry-after", "1"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&d.server)
        .await;
    let started = Instant::now();
    let run = tokio::task::block_in_place(|| feedback(&d, &["--state", "success"]));
    let took = started.elapsed();
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.result["outputs"]["comment_action"], "created");
    assert!(run.stderr.contains("rate limit"), "{}", run.stderr);
    let reqs = requests(&d).await;
    let pulls: Vec<&Request> = reqs
        .iter()
        .filter(|r| r.url.path().ends_with(&format!("/pulls/{PR}")))
        .collect();
    assert_eq!(pulls.len(), 2, "one refused, one retried");
    let statuses = reqs
        .iter()
        .filter(|r| r.url.path().contains("/statuses/"))
        .count();
    assert_eq!(statuses, 2, "one refused, one retried");
    // Not before the reset, plus the one-second retry-after.
    assert!(
        unix_now() >= reset && took >= Duration::from_secs(2),
        "retried too early: {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_token_and_a_missing_pull_request_are_clear_preconditions() {
    let d = double(0).await;
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/pulls/{PR}")))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "message": "Bad credentials",
            "documentation_url": "https://docs.github.com/rest"
        })))
        .with_priority(1)
        .mount(&d.server)
        .await;
    let run = tokio::task::block_in_place(|| feedback(&d, &["--state", "success"]));
    assert_eq!(run.code, 3, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.result["error"]["kind"], "precondition");
    let message = run.result["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("rejected the token") && message.contains("Bad credentials"),
        "{message}"
    );

    let d = double(0).await;
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/pulls/{PR}")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#get-a-pull-request"
        })))
        .with_priority(1)
        .mount(&d.server)
        .await;
    let run = tokio::task::block_in_place(|| feedback(&d, &["--state", "success"]));
    assert_eq!(run.code, 3, "{}\n{}", run.result, run.stderr);
    let message = run.result["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("404") && message.contains(&format!("/pulls/{PR}")),
        "{message}"
    );
    // Nothing was posted after the failure.
    assert!(
        requests(&d)
            .await
            .iter()
            .all(|r| r.method.as_str() == "GET")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_parameters_are_all_reported_and_nothing_is_sent() {
    let d = double(0).await;
    let outputs = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("pr-feedback")
        .unwrap()
        .args([
            "--github-repo",
            "not a repo",
            "--environment-url",
            "javascript:alert(1)",
            "--env-prefix",
            "sbx-",
            "--environment",
            "prod",
            "--github-api-url",
            &d.server.uri(),
        ])
        .arg("--outputs-dir")
        .arg(outputs.path())
        .env_remove("SANDBOX_PARAMS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let result: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    let fields: Vec<&str> = result["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    for f in [
        "pr_number",
        "github_repo",
        "state",
        "environment_url",
        "github_token",
    ] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    assert!(requests(&d).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_prints_the_status_and_comment_and_sends_nothing() {
    let d = double(0).await;
    let run = tokio::task::block_in_place(|| feedback(&d, &["--state", "failure", "--dry-run"]));
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.result["outputs"]["comment_action"], "planned");
    assert!(
        run.result["outputs"]["comment_id"]
            .as_str()
            .unwrap_or("")
            .is_empty()
    );
    assert_eq!(run.result["outputs"]["status_state"], "failure");
    assert!(run.stderr.contains("sandbox/sbx-pr-1347"), "{}", run.stderr);
    assert!(run.stderr.contains(MARKER), "{}", run.stderr);
    assert!(requests(&d).await.is_empty());
}

/// Issue 15: one comment through the sandbox's life — creating (with the
/// run's link and start), ready (filled-in links, time to ready), tests,
/// deleted — keeping report-tests' section until the sandbox is gone.
#[tokio::test(flavor = "multi_thread")]
async fn one_comment_goes_from_creating_to_ready_to_tests_to_deleted() {
    let d = double(1).await;
    let run = tokio::task::block_in_place(|| {
        feedback(
            &d,
            &["--state", "pending", "--started-at", "2026-12-02T10:04:05Z"],
        )
    });
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.result["outputs"]["comment_action"], "created");
    let body = &d.comments.bodies_with_marker()[0];
    assert!(
        body.contains("Creating, started 10:04 UTC. Follow the run: [open in Argo Workflows](<https://argo.example.com/workflows/argo/sandbox-create-x1>)."),
        "{body}"
    );

    // report-tests writes its section into the same comment.
    {
        let mut comments = d.comments.comments.lock().unwrap();
        let c = comments
            .iter_mut()
            .find(|c| c["body"].as_str().unwrap().contains(MARKER))
            .unwrap();
        let with = sandbox_forge::put_section(
            c["body"].as_str().unwrap(),
            "tests",
            Some("**Tests**: 41 passed, 1 failed"),
        );
        c["body"] = json!(with);
    }

    let timings = r#"[{"step":"check-params","start":"2026-12-02T10:04:07Z","end":"2026-12-02T10:04:12Z"},{"step":"wait-ready","start":"2026-12-02T10:08:00Z","end":"2026-12-02T10:10:05Z"}]"#;
    let run = tokio::task::block_in_place(|| {
        feedback(
            &d,
            &[
                "--state",
                "success",
                "--environment-url",
                "https://{environment}.sandbox.example.com",
                "--argocd-url",
                "https://argocd.example.com/applications/argocd/{environment}",
                "--triggered-at",
                "2026-12-02T10:04:00Z",
                "--timings",
                timings,
            ],
        )
    });
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.result["outputs"]["comment_action"], "updated");
    let bodies = d.comments.bodies_with_marker();
    assert_eq!(bodies.len(), 1);
    let body = &bodies[0];
    assert!(body.contains("`sbx-pr-1347`: ready"), "{body}");
    assert!(
        body.contains("(<https://sbx-pr-1347.sandbox.example.com/>)"),
        "{body}"
    );
    assert!(
        body.contains(
            "[open the Application](<https://argocd.example.com/applications/argocd/sbx-pr-1347>)"
        ),
        "{body}"
    );
    assert!(
        body.contains("| Time to ready | **6 min 05 s** from the pull request event |"),
        "{body}"
    );
    assert!(body.contains("```mermaid\ngantt\n"), "{body}");
    assert!(!body.contains("Creating, started"), "{body}");
    // report-tests' section is still there, once.
    assert_eq!(body.matches("41 passed, 1 failed").count(), 1, "{body}");

    // Tests: the comment changes, the sandbox's status does not.
    let statuses_before = requests(&d)
        .await
        .iter()
        .filter(|r| r.url.path().contains("/statuses/"))
        .count();
    let run = tokio::task::block_in_place(|| {
        feedback(
            &d,
            &[
                "--operation",
                "tests",
                "--state",
                "failure",
                "--environment-url",
                "https://{environment}.sandbox.example.com",
            ],
        )
    });
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    let statuses_after = requests(&d)
        .await
        .iter()
        .filter(|r| r.url.path().contains("/statuses/"))
        .count();
    assert_eq!(statuses_after, statuses_before);
    let body = &d.comments.bodies_with_marker()[0];
    assert!(
        body.contains("`sbx-pr-1347`: ready, tests failed"),
        "{body}"
    );
    assert!(body.contains("41 passed, 1 failed"), "{body}");

    // Deleted: the test summary goes with the sandbox.
    let run = tokio::task::block_in_place(|| {
        feedback(&d, &["--operation", "delete", "--state", "success"])
    });
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    let bodies = d.comments.bodies_with_marker();
    assert_eq!(bodies.len(), 1);
    assert!(
        bodies[0].contains("deleted") && !bodies[0].contains("41 passed"),
        "{}",
        bodies[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_timings_failures_and_url_templates_are_exit_2_and_nothing_is_sent() {
    let d = double(0).await;
    let run = tokio::task::block_in_place(|| {
        feedback(
            &d,
            &[
                "--state",
                "success",
                "--timings",
                "[{\"step\":\"x\"",
                "--failures",
                "not json",
                "--environment-url",
                "https://{branch}.sandbox.example.com",
                "--triggered-at",
                "last tuesday",
            ],
        )
    });
    assert_eq!(run.code, 2, "{}\n{}", run.result, run.stderr);
    let mut fields: Vec<&str> = run.result["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        ["environment_url", "failures", "timings", "triggered_at"]
    );
    assert!(
        run.result
            .to_string()
            .contains("unknown placeholder {branch}")
    );
    assert!(requests(&d).await.is_empty());
}
