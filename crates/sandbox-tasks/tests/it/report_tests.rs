//! The report-tests binary against a GitHub API double that answers with
//! the recorded examples (`$SANDBOX_FIXTURES/github/rest`): as a GitHub App
//! (installation token, one check run, annotations in pages of 50), with
//! only a token (commit status and the tests section of the sticky
//! comment), on malformed reports, and its validation.

use super::support::{self, Run};
use serde_json::{Value, json};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const REPO: &str = "octocat/Hello-World";
const PR: &str = "1347";
const APP_ID: &str = "4242";
const INSTALLATION: &str = "77";
const USER_TOKEN: &str = "ghp_report_tests_fallback_1";
const MARKER: &str = "<!-- argo-sandbox:sbx-pr-1347 -->";

fn fixture(name: &str) -> Value {
    let path = support::fixtures().join("github/rest").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JUnit report of `tests` pytest-style tests, the first `failures` of
/// them failing with a traceback (every seventh of those errored instead).
fn big_report(tests: usize, failures: usize) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<testsuites><testsuite name=\"pytest\">\n",
    );
    for i in 0..tests {
        let _ = write!(
            xml,
            "<testcase classname=\"tests.test_shop_{m}\" name=\"test_case_{i}\" time=\"0.{i:03}\"",
            m = i % 40
        );
        if i < failures {
            let kind = if i % 7 == 0 { "error" } else { "failure" };
            let _ = write!(
                xml,
                "><{kind} message=\"assert {i} == 0\">def test_case_{i}():\n    value = {i}\n&gt;   assert value == 0\nE   assert {i} == 0\n\ntests/test_shop_{m}.py:{line}: AssertionError</{kind}></testcase>\n",
                m = i % 40,
                line = 10 + i
            );
        } else {
            xml.push_str("/>\n");
        }
    }
    xml.push_str("</testsuite></testsuites>\n");
    xml
}

/// Check-run requests as the double saw them.
#[derive(Clone, Default)]
struct CheckRuns(Arc<Mutex<Vec<(String, Value)>>>);

impl Respond for CheckRuns {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        self.0
            .lock()
            .unwrap()
            .push((request.method.to_string(), body));
        if request.method.as_str() == "POST" {
            ResponseTemplate::new(201).set_body_json(fixture("check-runs-create.completed.json"))
        } else {
            ResponseTemplate::new(200).set_body_json(fixture("check-run.json"))
        }
    }
}

struct App {
    server: MockServer,
    runs: CheckRuns,
    secrets: tempfile::TempDir,
}

async fn app_double() -> App {
    let server = MockServer::start().await;
    let secrets = tempfile::tempdir().unwrap();
    let key = secrets.path().join("app.pem");
    let out = std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&key)
        .arg("2048")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut token = fixture("app-installation-access-token.json");
    // The recorded token expired in 2016; the double hands out one that has
    // not (the client would otherwise ask again for each request).
    token["expires_at"] = json!("2999-01-01T00:00:00Z");
    Mock::given(method("POST"))
        .and(path(format!(
            "/app/installations/{INSTALLATION}/access_tokens"
        )))
        .respond_with(ResponseTemplate::new(201).set_body_json(token))
        .mount(&server)
        .await;
    let runs = CheckRuns::default();
    let id = fixture("check-runs-create.completed.json")["id"]
        .as_u64()
        .unwrap();
    Mock::given(path_regex(format!(r"^/repos/{REPO}/check-runs(/{id})?$")))
        .respond_with(runs.clone())
        .mount(&server)
        .await;
    App {
        server,
        runs,
        secrets,
    }
}

fn report_tests(server: &MockServer, args: &[&str]) -> Run {
    support::task("report-tests")
        .args([
            "--github-repo",
            REPO,
            "--github-api-url",
            &server.uri(),
            "--environment",
            "sbx-pr-1347",
        ])
        .args(args)
        .run()
}

fn app_args(a: &App) -> Vec<String> {
    vec![
        "--github-app-id".into(),
        APP_ID.into(),
        "--github-installation-id".into(),
        INSTALLATION.into(),
        "--github-app-key".into(),
        format!("file:{}", a.secrets.path().join("app.pem").display()),
    ]
}

fn write_report(dir: &Path, name: &str, xml: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, xml).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread")]
async fn two_thousand_tests_with_300_failures_make_one_check_run_in_pages_of_50_within_a_second() {
    let a = app_double().await;
    let dir = tempfile::tempdir().unwrap();
    write_report(dir.path(), "report.xml", &big_report(2000, 300));
    let sha = fixture("check-runs-create.completed.json")["head_sha"]
        .as_str()
        .unwrap()
        .to_string();
    let mut args = app_args(&a);
    args.extend([
        "--junit-path".into(),
        dir.path().display().to_string(),
        "--head-sha".into(),
        sha.clone(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let run = tokio::task::block_in_place(|| report_tests(&a.server, &args));
    let took = started.elapsed();
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let outputs = &run.result["outputs"];
    assert_eq!(
        (
            &outputs["tests_passed"],
            &outputs["tests_failed"],
            &outputs["tests_errored"],
            &outputs["tests_skipped"]
        ),
        (&json!("1700"), &json!("257"), &json!("43"), &json!("0"))
    );
    assert_eq!(outputs["conclusion"], "failure");
    assert_eq!(
        outputs["check_run_url"],
        fixture("check-runs-create.completed.json")["html_url"]
    );

    let requests = a.server.received_requests().await.unwrap();
    let tokens = requests
        .iter()
        .filter(|r| r.url.path().ends_with("/access_tokens"))
        .count();
    assert_eq!(tokens, 1, "one installation token for the whole run");
    let runs = a.runs.0.lock().unwrap().clone();
    // One create and five updates: 300 annotations, 50 per request.
    assert_eq!(requests.len(), 1 + 6);
    let verbs: Vec<&str> = runs.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(verbs, ["POST", "PATCH", "PATCH", "PATCH", "PATCH", "PATCH"]);
    let pages: Vec<usize> = runs
        .iter()
        .map(|(_, b)| b["output"]["annotations"].as_array().unwrap().len())
        .collect();
    assert_eq!(pages, [50; 6]);
    let create = &runs[0].1;
    assert_eq!(
        (create["name"].as_str(), create["head_sha"].as_str()),
        (Some("sandbox/tests"), Some(sha.as_str()))
    );
    assert_eq!(create["conclusion"], "failure");
    let summary = create["output"]["summary"].as_str().unwrap();
    assert!(summary.contains("| 1700 | 257 | 43 | 0 |"), "{summary}");
    assert!(summary.contains("Slowest 10 tests"), "{summary}");
    // Each failure annotated once, at the line of its traceback.
    let annotations: Vec<Value> = runs
        .iter()
        .flat_map(|(_, b)| b["output"]["annotations"].as_array().unwrap().clone())
        .collect();
    let mut lines: Vec<u64> = annotations
        .iter()
        .map(|a| a["start_line"].as_u64().unwrap())
        .collect();
    lines.sort_unstable();
    assert_eq!(lines, (10..310).collect::<Vec<u64>>());
    assert_eq!(annotations[1]["path"], "tests/test_shop_1.py");
    assert_eq!(annotations[1]["annotation_level"], "failure");
    assert_eq!(annotations[1]["message"], "assert 1 == 0");
    for r in requests
        .iter()
        .filter(|r| r.url.path().contains("check-runs"))
    {
        assert_eq!(
            r.headers.get("authorization").unwrap(),
            &format!(
                "Bearer {}",
                fixture("app-installation-access-token.json")["token"]
                    .as_str()
                    .unwrap()
            )
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_report_is_a_failed_check_naming_the_file_and_why() {
    let a = app_double().await;
    let Some(broken) = sandbox_harness::fixtures::path("junit/malformed/corrupt-xml.truncated.xml")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&broken, dir.path().join("broken.xml")).unwrap();
    std::fs::copy(
        support::fixtures().join("junit/mocha-xunit/latex-utensils.xml"),
        dir.path().join("good.xml"),
    )
    .unwrap();
    let mut args = app_args(&a);
    args.extend([
        "--junit-path".into(),
        format!("{}/*.xml", dir.path().display()),
        "--head-sha".into(),
        "ce587453ced02b1526dfb4cb910479d431683101".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = tokio::task::block_in_place(|| report_tests(&a.server, &args));
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.result["outputs"]["conclusion"], "failure");
    assert_eq!(run.result["outputs"]["tests_passed"], "109");
    let runs = a.runs.0.lock().unwrap().clone();
    assert_eq!(runs.len(), 1);
    let output = &runs[0].1["output"];
    assert_eq!(output["title"], "1 report unreadable, 109 passed");
    let summary = output["summary"].as_str().unwrap();
    assert!(
        summary.contains("broken.xml") && summary.contains("truncated"),
        "{summary}"
    );

    // No report at all is a failure too, never a green check.
    let empty = tempfile::tempdir().unwrap();
    let mut args = app_args(&a);
    args.extend([
        "--junit-path".into(),
        empty.path().display().to_string(),
        "--head-sha".into(),
        "ce587453ced02b1526dfb4cb910479d431683101".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = tokio::task::block_in_place(|| report_tests(&a.server, &args));
    assert_eq!(
        run.result["outputs"]["conclusion"], "failure",
        "{}",
        run.stderr
    );
    let runs = a.runs.0.lock().unwrap().clone();
    assert_eq!(runs[1].1["output"]["title"], "no test report found");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_only_a_token_a_commit_status_and_the_comment_section_are_written() {
    let server = MockServer::start().await;
    let pull = fixture("pulls-get.json");
    let sha = pull["head"]["sha"].as_str().unwrap().to_string();
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/pulls/{PR}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(pull))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/repos/{REPO}/statuses/{sha}")))
        .respond_with(ResponseTemplate::new(201).set_body_json(fixture("statuses-create.json")))
        .expect(1)
        .mount(&server)
        .await;
    // The sandbox's comment exists (pr-feedback wrote it): it is edited.
    let mut existing = fixture("issue-comments-list.json")[0].clone();
    existing["id"] = json!(7);
    existing["body"] = json!(format!("{MARKER}\n### Sandbox `sbx-pr-1347`: ready\n"));
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/issues/{PR}/comments")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([existing])))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("/repos/{REPO}/issues/comments/7")))
        .respond_with(ResponseTemplate::new(200).set_body_json(existing.clone()))
        .expect(1)
        .mount(&server)
        .await;
    let Some(report) =
        sandbox_harness::fixtures::path("junit/unittest-xml-reporting/python-xunit-unittest.xml")
    else {
        return;
    };
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("gh"), USER_TOKEN).unwrap();
    let token = format!("file:{}", secrets.path().join("gh").display());
    let run = tokio::task::block_in_place(|| {
        report_tests(
            &server,
            &[
                "--pr-number",
                PR,
                "--github-token",
                &token,
                "--junit-path",
                report.to_str().unwrap(),
                "--details-url",
                "https://argo.example.com/workflows/argo/sandbox-test-x",
            ],
        )
    });
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert!(!run.stderr.contains(USER_TOKEN) && !run.stdout.contains(USER_TOKEN));
    assert_eq!(run.result["outputs"]["conclusion"], "failure");
    assert_eq!(run.output("check_run_url"), "");
    let requests = server.received_requests().await.unwrap();
    assert!(
        requests
            .iter()
            .all(|r| !r.url.path().contains("check-runs"))
    );
    let status: Value = requests
        .iter()
        .find(|r| r.url.path().contains("/statuses/"))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .unwrap();
    assert_eq!(status["state"], "failure");
    assert_eq!(status["context"], "sandbox/tests");
    assert_eq!(
        status["target_url"],
        "https://argo.example.com/workflows/argo/sandbox-test-x"
    );
    assert_eq!(
        status["description"],
        "Tests: 1 failed, 1 errored, 4 passed, 2 skipped"
    );
    let edit: Value = requests
        .iter()
        .find(|r| r.method.as_str() == "PATCH")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .unwrap();
    let body = edit["body"].as_str().unwrap();
    // pr-feedback's part kept, the tests section added after it.
    assert!(
        body.starts_with(&format!("{MARKER}\n### Sandbox `sbx-pr-1347`: ready\n")),
        "{body}"
    );
    assert!(
        body.contains("<!-- argo-sandbox:section:tests -->"),
        "{body}"
    );
    assert!(body.contains("| 4 | 1 | 1 | 2 |"), "{body}");
    assert!(body.contains("`tests/test_lib.py:30`"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_parameter_is_named_and_nothing_is_sent() {
    let server = MockServer::start().await;
    let run = tokio::task::block_in_place(|| {
        report_tests(
            &server,
            &[
                "--github-app-id",
                "abc",
                "--head-sha",
                "123",
                "--check-name",
                " ",
                "--github-token",
                "env:GH",
            ],
        )
    });
    assert_eq!(run.code, 2, "{}", run.result);
    let fields: Vec<&str> = run.result["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    for f in [
        "github_app_id",
        "github_app_key",
        "github_installation_id",
        "junit_path",
        "head_sha",
        "check_name",
    ] {
        assert!(fields.contains(&f), "{f} not named: {fields:?}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_reads_the_reports_and_sends_nothing() {
    let server = MockServer::start().await;
    let Some(report) = sandbox_harness::fixtures::path("junit/jest-junit/jest-junit.failures.xml")
    else {
        return;
    };
    let run = tokio::task::block_in_place(|| {
        report_tests(
            &server,
            &[
                "--dry-run",
                "--pr-number",
                PR,
                "--junit-path",
                report.to_str().unwrap(),
            ],
        )
    });
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.result["outputs"]["tests_failed"], "4");
    assert_eq!(run.result["outputs"]["conclusion"], "failure");
    assert!(
        run.stderr.contains("would publish a commit status"),
        "{}",
        run.stderr
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// A key reference that resolves to something other than an RSA key is a
/// bad parameter (exit 2, naming github_app_key), and nothing is sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_key_that_is_not_an_rsa_pem_is_named_and_nothing_is_sent() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("app.pem");
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    write_report(dir.path(), "report.xml", &big_report(3, 0));
    let key_ref = format!("file:{}", key.display());
    let junit = dir.path().display().to_string();
    let run = tokio::task::block_in_place(|| {
        report_tests(
            &server,
            &[
                "--github-app-id",
                APP_ID,
                "--github-installation-id",
                INSTALLATION,
                "--github-app-key",
                &key_ref,
                "--junit-path",
                &junit,
                "--head-sha",
                "6dcb09b5b57875f334f61aebed695e2e4193db5e",
            ],
        )
    });
    assert_eq!(run.code, 2, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.result["error"]["details"][0]["field"], "github_app_key");
    assert_eq!(run.result["error"]["details"][0]["rule"], "pem-rsa-key");
    assert!(server.received_requests().await.unwrap().is_empty());
}
