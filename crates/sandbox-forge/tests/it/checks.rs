//! GitHub App authentication and check runs against a double answering
//! with GitHub's recorded examples (`$SANDBOX_FIXTURES/github/rest`):
//! the JWT is verified with the public half of a key openssl made for the
//! test, installation tokens are bought once and again before expiry, and
//! annotations go in pages of 50.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sandbox_core::params::GithubRepo;
use sandbox_forge::{
    Annotation, AnnotationLevel, AppInstallation, AppKey, CheckRun, Conclusion, Limits,
};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const APP_ID: u64 = 1234;
const INSTALLATION: u64 = 5678;
const INSTALLATION_TOKEN: &str = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";

fn fixture(name: &str) -> Option<Value> {
    let file = sandbox_harness::fixtures::path(format!("github/rest/{name}"))?;
    Some(serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap())
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A 2048-bit RSA key in PKCS#1 PEM (as GitHub issues), the same key in
/// PKCS#8, and its public key (PKCS#1 DER), made by openssl.
struct Keys {
    pkcs1: Vec<u8>,
    pkcs8: Vec<u8>,
    public_der: Vec<u8>,
}

fn keys(dir: &Path) -> Keys {
    let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
    openssl(&["genrsa", "-traditional", "-out", &p("app.pem"), "2048"]);
    openssl(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        &p("app.pem"),
        "-out",
        &p("app8.pem"),
    ]);
    openssl(&[
        "rsa",
        "-in",
        &p("app.pem"),
        "-RSAPublicKey_out",
        "-outform",
        "DER",
        "-out",
        &p("pub.der"),
    ]);
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    let keys = Keys {
        pkcs1: read("app.pem"),
        pkcs8: read("app8.pem"),
        public_der: read("pub.der"),
    };
    assert!(String::from_utf8_lossy(&keys.pkcs1).contains("BEGIN RSA PRIVATE KEY"));
    assert!(String::from_utf8_lossy(&keys.pkcs8).contains("BEGIN PRIVATE KEY"));
    keys
}

/// Checks the JWT of each token request with the public key and answers
/// with the recorded installation token, expiring `expires_in` after the
/// JWT's iat + 60 s (the time the client was asked at).
struct TokenEndpoint {
    public_der: Vec<u8>,
    expires_in: Duration,
    claims: Arc<Mutex<Vec<Value>>>,
    body: Value,
}

fn format_utc(t: SystemTime) -> String {
    // Through the client's own parser's inverse would be circular; build it
    // from `date`, which knows calendars.
    let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let auth = request
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap();
        let jwt = auth.strip_prefix("Bearer ").unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            &self.public_der,
        )
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .expect("the JWT is signed by the app's key");
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        let iat = claims["iat"].as_u64().unwrap();
        let asked_at = UNIX_EPOCH + Duration::from_secs(iat + 60);
        self.claims.lock().unwrap().push(claims);
        let mut body = self.body.clone();
        body["expires_at"] = Value::String(format_utc(asked_at + self.expires_in));
        ResponseTemplate::new(201).set_body_json(body)
    }
}

async fn token_double(server: &MockServer, public_der: Vec<u8>) -> Option<Arc<Mutex<Vec<Value>>>> {
    let body = fixture("app-installation-access-token.json")?;
    let claims = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .and(path(format!(
            "/app/installations/{INSTALLATION}/access_tokens"
        )))
        .respond_with(TokenEndpoint {
            public_der,
            expires_in: Duration::from_secs(3600),
            claims: claims.clone(),
            body,
        })
        .mount(server)
        .await;
    Some(claims)
}

#[tokio::test(flavor = "current_thread")]
async fn pkcs1_and_pkcs8_keys_sign_jwts_github_accepts_and_tokens_are_refreshed_before_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys(dir.path());
    let server = MockServer::start().await;
    let Some(claims) = token_double(&server, keys.public_der.clone()).await else {
        return;
    };
    for pem in [&keys.pkcs1, &keys.pkcs8] {
        let key = AppKey::from_pem(pem).unwrap();
        assert_eq!(key.public_key_der(), keys.public_der.as_slice());
        assert!(!format!("{key:?}").contains("BEGIN"));
        let app = AppInstallation::new(&server.uri(), APP_ID, INSTALLATION, key, Limits::default());
        let t0 = SystemTime::now();
        app.client_at(t0).await.unwrap();
        // Cached while more than five minutes are left...
        app.client_at(t0 + Duration::from_secs(54 * 60))
            .await
            .unwrap();
        assert_eq!(app.tokens_bought(), 1);
        // ...bought again when fewer are.
        app.client_at(t0 + Duration::from_secs(56 * 60))
            .await
            .unwrap();
        assert_eq!(app.tokens_bought(), 2);
    }
    let claims = claims.lock().unwrap();
    assert_eq!(claims.len(), 4);
    for c in claims.iter() {
        assert_eq!(c["iss"], APP_ID.to_string());
        let (iat, exp) = (c["iat"].as_u64().unwrap(), c["exp"].as_u64().unwrap());
        // iat 60 s in the past, exp at most 10 minutes after the request.
        assert!(exp > iat + 60 && exp - (iat + 60) <= 600, "{c}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_key_github_would_refuse_is_an_error_naming_the_pem_forms() {
    let err = AppKey::from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        .unwrap_err();
    assert!(err.to_string().contains("GitHub App key"), "{err}");
}

fn annotation(i: usize) -> Annotation {
    Annotation {
        path: format!("tests/test_{i}.py"),
        start_line: i as u64 + 1,
        end_line: i as u64 + 1,
        annotation_level: AnnotationLevel::Failure,
        message: format!("assert {i} == 0"),
        title: Some(format!("test_{i} failed")),
        raw_details: Some("Traceback …".into()),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_check_run_is_created_with_50_annotations_and_updated_with_the_rest() {
    let (Some(created), Some(updated)) = (
        fixture("check-runs-create.completed.json"),
        fixture("check-run.json"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let keys = keys(dir.path());
    let server = MockServer::start().await;
    token_double(&server, keys.public_der.clone()).await;
    let id = created["id"].as_u64().unwrap();
    Mock::given(method("POST"))
        .and(path("/repos/octocat/Hello-World/check-runs"))
        .and(header(
            "authorization",
            format!("Bearer {INSTALLATION_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(&created))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("/repos/octocat/Hello-World/check-runs/{id}")))
        .and(header(
            "authorization",
            format!("Bearer {INSTALLATION_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(&updated))
        .expect(2)
        .mount(&server)
        .await;
    let app = AppInstallation::new(
        &server.uri(),
        APP_ID,
        INSTALLATION,
        AppKey::from_pem(&keys.pkcs1).unwrap(),
        Limits::default(),
    );
    let github = app.client().await.unwrap();
    let run = CheckRun {
        name: "sandbox/tests".into(),
        head_sha: "ce587453ced02b1526dfb4cb910479d431683101".into(),
        conclusion: Conclusion::Failure,
        details_url: Some("https://argo.example.com/workflows/argo/sandbox-test-x".into()),
        title: "120 failed".into(),
        summary: "| passed | failed |\n|---|---|\n| 0 | 120 |".into(),
        annotations: (0..120).map(annotation).collect(),
    };
    let repo = GithubRepo::parse("octocat/Hello-World").unwrap();
    let published = github.create_check_run(&repo, &run).await.unwrap();
    assert_eq!(
        (published.id, published.requests, published.annotations),
        (id, 3, 120)
    );
    assert_eq!(published.html_url, created["html_url"].as_str().unwrap());

    let requests = server.received_requests().await.unwrap();
    let bodies: Vec<(String, Value)> = requests
        .iter()
        .filter(|r| r.url.path().contains("check-runs"))
        .map(|r| {
            (
                r.method.to_string(),
                serde_json::from_slice(&r.body).unwrap(),
            )
        })
        .collect();
    let pages: Vec<usize> = bodies
        .iter()
        .map(|(_, b)| b["output"]["annotations"].as_array().unwrap().len())
        .collect();
    assert_eq!(pages, [50, 50, 20]);
    let (verb, create) = &bodies[0];
    assert_eq!(verb, "POST");
    assert_eq!(create["name"], "sandbox/tests");
    assert_eq!(create["head_sha"], run.head_sha);
    assert_eq!(
        (create["status"].as_str(), create["conclusion"].as_str()),
        (Some("completed"), Some("failure"))
    );
    assert_eq!(
        create["output"]["annotations"][0]["annotation_level"],
        "failure"
    );
    assert_eq!(
        create["output"]["annotations"][0]["path"],
        "tests/test_0.py"
    );
    // Every annotation sent once, in order.
    let lines: Vec<u64> = bodies
        .iter()
        .flat_map(|(_, b)| b["output"]["annotations"].as_array().unwrap().clone())
        .map(|a| a["start_line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, (1..=120).collect::<Vec<u64>>());
    // Each update repeats the title and summary GitHub requires with an output.
    assert!(
        bodies[1..]
            .iter()
            .all(|(v, b)| v == "PATCH" && b["output"]["title"] == "120 failed")
    );
}
