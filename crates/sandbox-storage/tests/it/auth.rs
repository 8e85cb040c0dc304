//! Credentials end to end against a small local double of Google's token
//! endpoint, metadata server and JSON API (no real one can run here): the
//! service-account JWT is checked field by field and its RS256 signature
//! verified with the openssl CLI; the token is cached and sent as a bearer.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::TryStreamExt;
use sandbox_core::params::BucketUrl;
use sandbox_core::retry::Backoff;
use sandbox_storage::{CredentialSource, Credentials, Storage, StorageConfig};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Answers the token endpoints and one list call; records every request.
fn double() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for conn in listener.incoming().take(50) {
            let Ok(mut conn) = conn else { return };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if conn.read(&mut byte).unwrap_or(0) == 0 {
                    break;
                }
                head.push(byte[0]);
            }
            let text = String::from_utf8_lossy(&head).to_string();
            let mut lines = text.split("\r\n");
            let mut first = lines.next().unwrap_or_default().split(' ');
            let method = first.next().unwrap_or_default().to_string();
            let path = first.next().unwrap_or_default().to_string();
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect();
            let length = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map_or(0, |(_, v)| v.parse().unwrap_or(0));
            let mut body = vec![0u8; length];
            let _ = conn.read_exact(&mut body);
            let request = Seen {
                method,
                path: path.clone(),
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            let metadata_ok = request.header("metadata-flavor") == Some("Google");
            log.lock().unwrap().push(request);
            let (status, body) = if path == "/token" {
                (
                    "200 OK",
                    r#"{"access_token":"sa-token-1","expires_in":3599,"token_type":"Bearer"}"#,
                )
            } else if path
                .starts_with("/computeMetadata/v1/instance/service-accounts/default/token")
            {
                if metadata_ok {
                    (
                        "200 OK",
                        r#"{"access_token":"wi-token-1","expires_in":3599,"token_type":"Bearer"}"#,
                    )
                } else {
                    ("403 Forbidden", r#"{"error":"missing Metadata-Flavor"}"#)
                }
            } else if path.starts_with("/storage/v1/b/bkt/o?") {
                (
                    "200 OK",
                    r#"{"kind":"storage#objects","items":[{"name":"p/a","size":"1"}]}"#,
                )
            } else {
                (
                    "404 Not Found",
                    r#"{"error":{"code":404,"message":"Not Found"}}"#,
                )
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (base, seen)
}

fn storage(base: &str, credentials: Credentials) -> Storage {
    Storage::new(StorageConfig {
        endpoint: base.to_string(),
        credentials: CredentialSource::Given(credentials),
        backoff: Backoff::default(),
        max_idle_connections: 4,
    })
    .unwrap()
}

fn openssl(args: &[&str]) -> std::process::Output {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl (installed by scripts/test)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[tokio::test(flavor = "current_thread")]
async fn service_account_key_is_exchanged_for_a_cached_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let key_s = key.to_str().unwrap();
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        key_s,
    ]);
    let (base, seen) = double();
    let key_file = dir.path().join("sa.json");
    std::fs::write(
        &key_file,
        serde_json::json!({
            "type": "service_account",
            "client_email": "seeder@proj.iam.gserviceaccount.com",
            "private_key": std::fs::read_to_string(&key).unwrap(),
            "token_uri": format!("{base}/token"),
        })
        .to_string(),
    )
    .unwrap();
    let credentials = Credentials::from_file(&key_file).unwrap();
    let storage = storage(&base, credentials);
    assert_eq!(
        storage.identity(),
        "service account seeder@proj.iam.gserviceaccount.com"
    );
    let url = BucketUrl::parse("gs://bkt/p/").unwrap();
    for _ in 0..2 {
        let listed: Vec<_> = storage.list(&url).try_collect().await.unwrap();
        assert_eq!(listed[0].key, "a");
    }

    let seen = seen.lock().unwrap().clone();
    let tokens: Vec<&Seen> = seen.iter().filter(|s| s.path == "/token").collect();
    assert_eq!(tokens.len(), 1, "the token is cached: {seen:?}");
    let token = tokens[0];
    assert_eq!(token.method, "POST");
    assert_eq!(
        token.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let assertion = token
        .body
        .strip_prefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=")
        .unwrap_or_else(|| panic!("not a JWT bearer grant: {}", token.body));
    let parts: Vec<&str> = assertion.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["iss"], "seeder@proj.iam.gserviceaccount.com");
    assert_eq!(claims["aud"], format!("{base}/token"));
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/devstorage.read_write"
    );
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );
    // The signature verifies with the key's public half (openssl, not us).
    let data = dir.path().join("data");
    let sig = dir.path().join("sig");
    let public = dir.path().join("pub.pem");
    std::fs::write(&data, format!("{}.{}", parts[0], parts[1])).unwrap();
    std::fs::write(&sig, URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
    openssl(&[
        "pkey",
        "-in",
        key_s,
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ]);
    let verified = openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        public.to_str().unwrap(),
        "-signature",
        sig.to_str().unwrap(),
        data.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&verified.stdout).contains("Verified OK"));

    let lists: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path.starts_with("/storage/"))
        .collect();
    assert_eq!(lists.len(), 2);
    assert!(
        lists
            .iter()
            .all(|s| s.header("authorization") == Some("Bearer sa-token-1"))
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_metadata_server_provides_the_workload_identity_token() {
    let (base, seen) = double();
    let storage = storage(&base, Credentials::Metadata { base: base.clone() });
    let url = BucketUrl::parse("gs://bkt/p/").unwrap();
    let listed: Vec<_> = storage.list(&url).try_collect().await.unwrap();
    assert_eq!(listed.len(), 1);
    let seen = seen.lock().unwrap().clone();
    let list = seen
        .iter()
        .find(|s| s.path.starts_with("/storage/"))
        .unwrap();
    assert_eq!(list.header("authorization"), Some("Bearer wi-token-1"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_bad_key_file_is_a_precondition_error() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("sa.json");
    std::fs::write(
        &key_file,
        r#"{"type":"service_account","client_email":"a@b","private_key":"nope"}"#,
    )
    .unwrap();
    let err = Credentials::from_file(&key_file).unwrap_err();
    use sandbox_core::Classify;
    assert_eq!(err.kind(), sandbox_core::ErrorKind::Precondition);
    assert!(err.to_string().contains("not a PEM private key"), "{err}");
}
