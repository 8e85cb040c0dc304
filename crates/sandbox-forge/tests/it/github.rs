//! The GitHub client against a double that answers with GitHub's recorded
//! responses (`$SANDBOX_FIXTURES/github/rest`) and asserts the requests.

use sandbox_core::params::GithubRepo;
use sandbox_core::retry::Backoff;
use sandbox_core::{Classify, ErrorKind};
use sandbox_forge::{GitHub, Limits, Status, StatusState};
use serde_json::{Value, json};
use std::time::Duration;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A recorded GitHub response; `None` outside CI when the fixtures are
/// absent (the harness says so), a failure under CI.
fn fixture(name: &str) -> Option<Value> {
    let file = sandbox_harness::fixtures::path(format!("github/rest/{name}"))?;
    Some(serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap())
}

fn repo() -> GithubRepo {
    GithubRepo::parse("octocat/Hello-World").unwrap()
}

fn quick() -> Limits {
    Limits {
        backoff: Backoff {
            attempts: 3,
            base: Duration::from_millis(1),
            max: Duration::from_millis(2),
        },
        ..Limits::default()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn enterprise_base_urls_keep_their_path_and_the_token_is_sent() {
    let Some(list) = fixture("pulls-list.json") else {
        return;
    };
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/repos/octocat/Hello-World/pulls"))
        .and(query_param("head", "octocat:new-topic"))
        .and(query_param("state", "open"))
        .and(header("authorization", "Bearer t0ken-1234"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&list))
        .expect(1)
        .mount(&server)
        .await;
    let gh = GitHub::new(
        &format!("{}/api/v3/", server.uri()),
        Some("t0ken-1234"),
        quick(),
    )
    .unwrap();
    let pulls = gh.open_pulls_for_head(&repo(), "new-topic").await.unwrap();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].number, 1347);
    assert_eq!(pulls[0].head.branch, "new-topic");
    assert!(!format!("{gh:?}").contains("t0ken-1234"));
}

#[tokio::test(flavor = "current_thread")]
async fn server_errors_are_retried_then_transient() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502).set_body_json(json!({"message": "Server Error"})))
        .expect(3)
        .mount(&server)
        .await;
    let gh = GitHub::new(&server.uri(), None, quick()).unwrap();
    let err = gh.open_pulls_for_head(&repo(), "x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
}

// A secondary rate limit (429 with retry-after) is waited for inside the
// attempt, not counted as one of the backoff's attempts.
#[tokio::test(flavor = "current_thread")]
async fn a_short_rate_limit_is_waited_for_then_the_request_is_sent_again() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "0")
                .set_body_json(json!({"message": "secondary rate limit"})),
        )
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let limits = Limits {
        backoff: Backoff {
            attempts: 1,
            ..quick().backoff
        },
        ..quick()
    };
    let gh = GitHub::new(&server.uri(), None, limits).unwrap();
    assert!(
        gh.open_pulls_for_head(&repo(), "x")
            .await
            .unwrap()
            .is_empty()
    );
}

// A limit that resets later than Limits::max_wait fails at once: the backoff
// must not spend its attempts on it (the workflow retries later).
#[tokio::test(flavor = "current_thread")]
async fn a_long_rate_limit_fails_at_once_as_transient() {
    for retry_after in ["3600", "Fri, 01 Jan 2100 00:00:00 GMT"] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("retry-after", retry_after)
                    .set_body_json(json!({"message": "API rate limit exceeded"})),
            )
            .expect(1)
            .mount(&server)
            .await;
        let gh = GitHub::new(&server.uri(), None, quick()).unwrap();
        let err = gh.open_pulls_for_head(&repo(), "x").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
        assert!(err.to_string().contains("rate limit"), "{err}");
        server.verify().await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_plain_403_is_a_precondition_not_a_rate_limit() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"message": "Resource not accessible by integration"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let gh = GitHub::new(&server.uri(), None, quick()).unwrap();
    let err = gh.open_pulls_for_head(&repo(), "x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Precondition);
    assert!(err.to_string().contains("not accessible"), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn commit_statuses_post_what_github_documents() {
    let Some(created) = fixture("statuses-create.json") else {
        return;
    };
    let server = MockServer::start().await;
    let sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
    Mock::given(method("POST"))
        .and(path(format!("/repos/octocat/Hello-World/statuses/{sha}")))
        .and(body_json(json!({
            "state": "success",
            "target_url": "https://ci.example.com/1000/output",
            "description": "Build has completed successfully",
            "context": "continuous-integration/jenkins",
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(&created))
        .expect(1)
        .mount(&server)
        .await;
    let gh = GitHub::new(&server.uri(), Some("t"), quick()).unwrap();
    gh.create_status(
        &repo(),
        sha,
        &Status {
            state: StatusState::Success,
            target_url: Some("https://ci.example.com/1000/output"),
            description: "Build has completed successfully",
            context: "continuous-integration/jenkins",
        },
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn the_sticky_comment_is_created_once_then_updated() {
    let Some(mut comments) = fixture("issue-comments-list.json") else {
        return;
    };
    let server = MockServer::start().await;
    let marker = "<!-- argo-sandbox -->";
    let list_path = "/repos/octocat/Hello-World/issues/1347/comments";
    Mock::given(method("GET"))
        .and(path(list_path))
        .respond_with(ResponseTemplate::new(200).set_body_json(&comments))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let mut created = comments[0].clone();
    created["id"] = 99.into();
    created["body"] = format!("{marker}\nsandbox ready").into();
    Mock::given(method("POST"))
        .and(path(list_path))
        .and(body_json(
            json!({"body": format!("{marker}\nsandbox ready")}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(&created))
        .expect(1)
        .mount(&server)
        .await;
    let gh = GitHub::new(&server.uri(), Some("t"), quick()).unwrap();
    let (c, action) = gh
        .sticky_comment(&repo(), 1347, marker, &format!("{marker}\nsandbox ready"))
        .await
        .unwrap();
    assert_eq!(c.id, 99);
    assert_eq!(action.as_str(), "created");

    // Now the list holds our comment: it is edited in place.
    comments.as_array_mut().unwrap().push(created.clone());
    Mock::given(method("GET"))
        .and(path(list_path))
        .respond_with(ResponseTemplate::new(200).set_body_json(&comments))
        .with_priority(2)
        .mount(&server)
        .await;
    let mut updated = created.clone();
    updated["body"] = format!("{marker}\nsandbox deleted").into();
    Mock::given(method("PATCH"))
        .and(path("/repos/octocat/Hello-World/issues/comments/99"))
        .and(body_json(
            json!({"body": format!("{marker}\nsandbox deleted")}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(&updated))
        .expect(1)
        .mount(&server)
        .await;
    let (c, action) = gh
        .sticky_comment(&repo(), 1347, marker, &format!("{marker}\nsandbox deleted"))
        .await
        .unwrap();
    assert_eq!(c.body, format!("{marker}\nsandbox deleted"));
    assert_eq!(action.as_str(), "updated");
}
