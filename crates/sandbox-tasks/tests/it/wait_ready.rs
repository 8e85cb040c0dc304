//! The wait-ready binary against a Kubernetes API double serving an Argo
//! CD Application, one state per poll. The states are written in the
//! shape of Argo CD's Application CRD (`$SANDBOX_FIXTURES/argo-cd/
//! application-crd.yaml`); a test checks every field the double serves
//! against that schema, so the double cannot drift from what Argo CD sends.

use super::support::{self, Run};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.wait-ready-test-token";
const REV: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const OLD: &str = "7638417db6d59f3c431d3e1f261cc637155684cd";
const APP_PATH: &str = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/sbx-pr-42";

/// An Application as the API server returns it, with `status` as Argo CD's
/// controller writes it (`pkg/apis/application/v1alpha1/types.go`).
fn application(sync: &str, revision: &str, health: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "sbx-pr-42", "namespace": "argocd", "resourceVersion": "4711"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://github.com/acme/infra.git", "path": "overlays/sandbox", "targetRevision": "sbx-pr-42"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "apps-sbx-pr-42"}
        },
        "status": {
            "sync": {"status": sync, "revision": revision, "comparedTo": {
                "source": {"repoURL": "https://github.com/acme/infra.git", "path": "overlays/sandbox", "targetRevision": "sbx-pr-42"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "apps-sbx-pr-42"}
            }},
            "health": {"status": health},
            "resources": [
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "apps-sbx-pr-42", "name": "web", "status": sync, "health": {"status": health}},
                {"version": "v1", "kind": "Service", "namespace": "apps-sbx-pr-42", "name": "web", "status": "Synced", "health": {"status": "Healthy"}},
                {"version": "v1", "kind": "ConfigMap", "namespace": "apps-sbx-pr-42", "name": "web-config", "status": "Synced"}
            ],
            "reconciledAt": "2026-12-02T10:00:00Z",
            "sourceType": "Kustomize",
            "resourceHealthSource": ""
        }
    })
}

fn degraded() -> Value {
    let mut app = application("Synced", REV, "Degraded");
    app["status"]["health"]["message"] = json!("Deployment \"web\" exceeded its progress deadline");
    app["status"]["resources"][0]["health"]["message"] =
        json!("Deployment \"web\" exceeded its progress deadline");
    app
}

fn failed_sync() -> Value {
    let mut app = application("OutOfSync", OLD, "Healthy");
    app["status"]["operationState"] = json!({
        "operation": {"sync": {"revision": REV}},
        "phase": "Failed",
        "message": "one or more objects failed to apply, reason: admission webhook denied the request",
        "startedAt": "2026-12-02T10:00:00Z",
        "finishedAt": "2026-12-02T10:00:03Z",
        "syncResult": {"revision": REV, "resources": [
            {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "apps-sbx-pr-42", "name": "web",
             "status": "SyncFailed", "message": "admission webhook denied the request", "syncPhase": "Sync"}
        ]}
    });
    app
}

/// The API server's `Status` answer.
fn status(code: u16, reason: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code
    }))
}

/// One answer per poll, the last repeated; every request must carry the
/// token, as the API server requires.
#[derive(Clone)]
struct Api {
    states: Arc<Mutex<Vec<Option<Value>>>>,
    polls: Arc<AtomicUsize>,
}

impl Respond for Api {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {TOKEN}")) {
            return status(401, "Unauthorized", "Unauthorized");
        }
        let n = self.polls.fetch_add(1, Ordering::SeqCst);
        let states = self.states.lock().unwrap();
        match &states[n.min(states.len() - 1)] {
            Some(app) => ResponseTemplate::new(200).set_body_json(app),
            None => status(
                404,
                "NotFound",
                "applications.argoproj.io \"sbx-pr-42\" not found",
            ),
        }
    }
}

struct Double {
    server: MockServer,
    api: Api,
    token_file: tempfile::NamedTempFile,
}

async fn double(states: Vec<Option<Value>>) -> Double {
    let server = MockServer::start().await;
    let api = Api {
        states: Arc::new(Mutex::new(states)),
        polls: Arc::new(AtomicUsize::new(0)),
    };
    Mock::given(method("GET"))
        .and(path(APP_PATH))
        .respond_with(api.clone())
        .mount(&server)
        .await;
    let token_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token_file.path(), format!("{TOKEN}\n")).unwrap();
    Double {
        server,
        api,
        token_file,
    }
}

/// Run wait-ready against the double; `extra` pairs replace the defaults
/// (a flag with an empty value is a switch).
fn wait(d: &Double, extra: &[(&str, &str)]) -> Run {
    let uri = d.server.uri();
    let token = d.token_file.path().to_str().unwrap().to_string();
    let mut flags: Vec<(&str, &str)> = vec![
        ("--pr-number", "42"),
        ("--revision", REV),
        ("--kube-api-url", &uri),
        ("--kube-token-file", &token),
        ("--poll-interval", "20ms"),
        ("--ready-timeout", "30s"),
    ];
    for (flag, value) in extra {
        flags.retain(|(f, _)| f != flag);
        flags.push((flag, value));
    }
    let args: Vec<&str> = flags
        .iter()
        .flat_map(|(f, v)| std::iter::once(*f).chain((!v.is_empty()).then_some(*v)))
        .collect();
    let run = support::task("wait-ready").args(args).run();
    assert!(
        !run.stderr.contains(TOKEN) && !run.stdout.contains(TOKEN),
        "token printed"
    );
    run
}

fn message(run: &Run) -> String {
    run.result["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn becomes_ready_on_the_poll_that_sees_it_synced_and_healthy() {
    let d = double(vec![
        // register-app's file is pushed; the parent has not synced it yet.
        None,
        Some(application("Synced", OLD, "Healthy")),
        Some(application("OutOfSync", REV, "Progressing")),
        Some(application("Synced", REV, "Progressing")),
        Some(application("Synced", REV, "Healthy")),
    ])
    .await;
    let run = tokio::task::block_in_place(|| wait(&d, &[]));
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.output("polls"), "5");
    assert_eq!(run.output("health"), "Healthy");
    assert_eq!(run.output("revision"), REV);
    assert_eq!(run.output("app_name"), "sbx-pr-42");
    assert_eq!(d.api.polls.load(Ordering::SeqCst), 5);
    // What each poll saw is in the log.
    assert!(
        run.stderr
            .contains("at revision 7638417db6d5, waiting for 6dcb09b5b578"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("sync OutOfSync, health Progressing"));
}

#[tokio::test(flavor = "multi_thread")]
async fn degraded_at_the_revision_fails_at_once_naming_the_resources() {
    let d = double(vec![
        Some(application("Synced", REV, "Progressing")),
        Some(degraded()),
    ])
    .await;
    let run = tokio::task::block_in_place(|| wait(&d, &[]));
    assert_eq!(run.code, 3, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.result["error"]["kind"], "precondition");
    let m = message(&run);
    assert!(
        m.starts_with("Application sbx-pr-42 is Degraded at revision 6dcb09b5b578"),
        "{m}"
    );
    assert!(
        m.contains(
            "Deployment apps-sbx-pr-42/web is Degraded: Deployment \"web\" exceeded its progress deadline"
        ),
        "{m}"
    );
    // Healthy resources and resources without health are not named.
    assert!(!m.contains("Service") && !m.contains("ConfigMap"), "{m}");
    // It did not wait for the deadline.
    assert_eq!(d.api.polls.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn another_revision_is_waited_for_until_the_deadline_then_named() {
    let d = double(vec![Some(application("Synced", OLD, "Healthy"))]).await;
    let started = std::time::Instant::now();
    let run = tokio::task::block_in_place(|| {
        wait(
            &d,
            &[("--ready-timeout", "1s"), ("--poll-interval", "100ms")],
        )
    });
    let took = started.elapsed();
    assert_eq!(run.code, 3, "{}\n{}", run.result, run.stderr);
    let m = message(&run);
    assert!(
        m.starts_with(
            "Application argocd/sbx-pr-42 was not Synced at revision 6dcb09b5b578 and Healthy after 1 s"
        ),
        "{m}"
    );
    assert!(
        m.contains("at revision 7638417db6d5, waiting for 6dcb09b5b578"),
        "{m}"
    );
    // About one poll per interval, the last one at the deadline.
    let polls = d.api.polls.load(Ordering::SeqCst);
    assert!((5..=12).contains(&polls), "{polls} polls");
    assert!(took >= std::time::Duration::from_secs(1), "{took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_sync_is_named_when_the_deadline_passes() {
    let d = double(vec![Some(failed_sync())]).await;
    let run = tokio::task::block_in_place(|| {
        wait(
            &d,
            &[("--ready-timeout", "1s"), ("--poll-interval", "200ms")],
        )
    });
    assert_eq!(run.code, 3, "{}\n{}", run.result, run.stderr);
    let m = message(&run);
    assert!(
        m.contains("last operation Failed: one or more objects failed to apply"),
        "{m}"
    );
    assert!(
        m.contains(
            "Deployment apps-sbx-pr-42/web is SyncFailed: admission webhook denied the request"
        ),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_application_that_never_appears_is_a_clear_deadline() {
    let d = double(vec![None]).await;
    let run = tokio::task::block_in_place(|| {
        wait(
            &d,
            &[("--ready-timeout", "1s"), ("--poll-interval", "200ms")],
        )
    });
    assert_eq!(run.code, 3, "{}\n{}", run.result, run.stderr);
    let m = message(&run);
    assert!(
        m.contains("Application argocd/sbx-pr-42 does not exist (yet)"),
        "{m}"
    );
    assert!(d.api.polls.load(Ordering::SeqCst) >= 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_token_ends_the_wait_at_once() {
    let d = double(vec![Some(application("Synced", REV, "Healthy"))]).await;
    std::fs::write(d.token_file.path(), "not-the-token\n").unwrap();
    let run = tokio::task::block_in_place(|| wait(&d, &[("--ready-timeout", "10s")]));
    assert_eq!(run.code, 3, "{}\n{}", run.result, run.stderr);
    let m = message(&run);
    assert!(
        m.contains("the Kubernetes API rejected the token (401)"),
        "{m}"
    );
    assert!(!m.contains("not-the-token"), "{m}");
    assert_eq!(d.server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_parameters_are_all_reported_and_nothing_is_read() {
    let d = double(vec![None]).await;
    let run = tokio::task::block_in_place(|| {
        wait(
            &d,
            &[
                ("--revision", "sbx-pr-42"),
                ("--poll-interval", "0s"),
                ("--argocd-namespace", "Argo CD"),
                ("--app-name", "sbx-pr-420"),
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
    fields.dedup();
    assert_eq!(fields, ["argocd_namespace", "poll_interval", "revision"]);
    assert!(d.server.received_requests().await.unwrap().is_empty());
    // Another environment's Application is refused (exit 5), also unread.
    let run = tokio::task::block_in_place(|| wait(&d, &[("--app-name", "sbx-pr-420")]));
    assert_eq!(run.code, 5, "{}\n{}", run.result, run.stderr);
    assert!(d.server.received_requests().await.unwrap().is_empty());
    // A dry run validates and reads nothing.
    let run = tokio::task::block_in_place(|| wait(&d, &[("--dry-run", "")]));
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert!(d.server.received_requests().await.unwrap().is_empty());
}

/// Every field the double serves exists in Argo CD's Application CRD.
#[test]
fn the_double_serves_what_the_crd_allows() {
    let path = support::fixtures().join("argo-cd/application-crd.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let crd: Value = yaml_serde::from_str(&text).unwrap();
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    fn check(value: &Value, schema: &Value, at: &str) {
        match value {
            Value::Object(map) => {
                let Some(props) = schema["properties"].as_object() else {
                    // metadata and free-form maps: no properties listed.
                    return;
                };
                for (k, v) in map {
                    let sub = props
                        .get(k)
                        .unwrap_or_else(|| panic!("{at}.{k} is not in the Application CRD"));
                    check(v, sub, &format!("{at}.{k}"));
                }
            }
            Value::Array(items) => {
                for v in items {
                    check(v, &schema["items"], &format!("{at}[]"));
                }
            }
            _ => {}
        }
    }
    for app in [
        application("Synced", REV, "Healthy"),
        degraded(),
        failed_sync(),
    ] {
        check(&app, schema, "");
    }
    // The check is not vacuous.
    let mut bad = application("Synced", REV, "Healthy");
    bad["status"]["sync"]["revisionSha"] = json!(REV);
    assert!(std::panic::catch_unwind(|| check(&bad, schema, "")).is_err());
}

/// A token without the right (the Role in argocd missing) is named as such,
/// at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_right_names_the_rbac_to_add() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(APP_PATH))
        .respond_with(status(
            403,
            "Forbidden",
            "applications.argoproj.io \"sbx-pr-42\" is forbidden: User \"system:serviceaccount:argo:sandbox-create\" cannot get resource \"applications\" in API group \"argoproj.io\" in the namespace \"argocd\"",
        ))
        .mount(&server)
        .await;
    let token_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token_file.path(), TOKEN).unwrap();
    let d = Double {
        server,
        api: Api {
            states: Arc::new(Mutex::new(vec![None])),
            polls: Arc::new(AtomicUsize::new(0)),
        },
        token_file,
    };
    let run = tokio::task::block_in_place(|| wait(&d, &[("--ready-timeout", "10s")]));
    assert_eq!(run.code, 3, "{}\n{}", run.result, run.stderr);
    let m = message(&run);
    assert!(m.contains("refused access (403)"), "{m}");
    assert!(m.contains("cannot get resource \"applications\""), "{m}");
    assert!(
        m.contains("needs `get` on applications.argoproj.io in that namespace"),
        "{m}"
    );
    assert_eq!(d.server.received_requests().await.unwrap().len(), 1);
}
