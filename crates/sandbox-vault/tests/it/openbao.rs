//! The resolver and the logins against a real OpenBao dev server; the only
//! double is the Kubernetes TokenReview API behind the kubernetes login.

use sandbox_core::credential::{CredentialRef, Secret, VaultScope};
use sandbox_core::params::EnvironmentName;
use sandbox_core::redact::Redactor;
use sandbox_core::retry::Backoff;
use sandbox_core::{Classify, ErrorKind};
use sandbox_harness::OpenBao;
use sandbox_harness::process::{ServiceProcess, scratch_dir, tool, wait_until};
use sandbox_vault::testing::{ISSUER, ServiceAccountKey, service_account_uid};
use sandbox_vault::{CredentialError, Credentials, Login, VaultClient, VaultConfig};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DB_URL: &str = "postgres://sbx:planted-db-password-4c1e@db:5432/sbx_pr_7";
const DB_PASSWORD: &str = "planted-db-password-4c1e";
const SHARED_TOKEN: &str = "planted-github-token-77ab";
const ROLE: &str = "sandbox-tasks";
const NAMESPACE: &str = "argo";

/// A dev server with the environment's secret, a shared secret, a secret
/// outside the sandbox tree, and a read-only policy for the sandbox tree.
fn openbao() -> OpenBao {
    let bao = OpenBao::start();
    bao.run(&[
        "kv",
        "put",
        "-mount=secret",
        "sandboxes/sbx-pr-7/db",
        &format!("url={DB_URL}"),
        &format!("password={DB_PASSWORD}"),
    ]);
    bao.run(&[
        "kv",
        "put",
        "-mount=secret",
        "shared/github",
        &format!("token={SHARED_TOKEN}"),
    ]);
    let policy = bao.dir().join("sandbox-read.hcl");
    std::fs::write(
        &policy,
        "path \"secret/data/sandboxes/*\" { capabilities = [\"read\"] }\n\
         path \"secret/data/shared/*\" { capabilities = [\"read\"] }\n",
    )
    .unwrap();
    bao.run(&["policy", "write", "sandbox-read", policy.to_str().unwrap()]);
    bao
}

fn env() -> EnvironmentName {
    EnvironmentName::parse("sbx-pr-7").unwrap()
}

fn scope() -> VaultScope {
    VaultScope::parse(&["secret/sandboxes", "secret/shared"]).unwrap()
}

fn quick() -> Backoff {
    Backoff {
        attempts: 3,
        base: Duration::from_millis(10),
        max: Duration::from_millis(50),
    }
}

fn config(addr: String, login: Login) -> VaultConfig {
    let mut config = VaultConfig::new(addr, login);
    config.backoff = quick();
    config
}

fn credentials(config: VaultConfig, redactor: &Redactor) -> Credentials {
    Credentials::new(redactor.clone())
        .with_scope(scope())
        .with_environment(Some(env()))
        .with_vault(Some(config))
}

fn vault_ref(s: &str) -> CredentialRef {
    CredentialRef::parse(s).unwrap()
}

fn write_token(dir: &Path, token: &str) -> PathBuf {
    let file = dir.join("sa-token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    file
}

#[tokio::test(flavor = "current_thread")]
async fn kv2_reads_are_templated_cached_and_masked() {
    let bao = openbao();
    let redactor = Redactor::new();
    let creds = credentials(
        config(bao.addr(), Login::Token(Secret::new(bao.token()))),
        &redactor,
    );
    let url = vault_ref("vault://secret/sandboxes/{environment}/db#url");
    assert_eq!(creds.resolve(&url).await.unwrap().expose(), DB_URL);
    let shared = vault_ref("vault://secret/shared/github#token");
    assert_eq!(creds.resolve(&shared).await.unwrap().expose(), SHARED_TOKEN);

    // Every value of a secret read is masked, also the key not asked for.
    let text = format!("connect {DB_URL} with {DB_PASSWORD} and {SHARED_TOKEN}");
    let masked = redactor.mask(&text);
    for planted in [DB_URL, DB_PASSWORD, SHARED_TOKEN] {
        assert!(!masked.contains(planted), "{masked}");
    }

    // Resolved once per run: gone from Vault, still answered from the cache,
    // and the other key of the same secret costs no request either.
    bao.run(&[
        "kv",
        "metadata",
        "delete",
        "-mount=secret",
        "sandboxes/sbx-pr-7/db",
    ]);
    assert_eq!(creds.resolve(&url).await.unwrap().expose(), DB_URL);
    let password = vault_ref("vault://secret/sandboxes/sbx-pr-7/db#password");
    assert_eq!(
        creds.resolve(&password).await.unwrap().expose(),
        DB_PASSWORD
    );

    // A fresh run sees the deletion: a precondition naming the path only.
    let fresh = credentials(
        config(bao.addr(), Login::Token(Secret::new(bao.token()))),
        &Redactor::new(),
    );
    let err = fresh.resolve(&url).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Precondition);
    assert_eq!(
        err.to_string(),
        "no secret at secret/sandboxes/sbx-pr-7/db (KV v2)"
    );
    let err = fresh
        .resolve(&vault_ref("vault://secret/shared/github#nokey"))
        .await
        .unwrap_err();
    assert!(matches!(err, CredentialError::MissingKey { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "secret secret/shared/github has no key nokey"
    );
    assert!(!format!("{err:?}").contains(SHARED_TOKEN));
}

#[tokio::test(flavor = "current_thread")]
async fn hostile_references_are_invalid_and_send_nothing() {
    // Nothing listens on this address: a request would be a transient
    // error, never the invalid-params asserted here.
    let redactor = Redactor::new();
    let creds = credentials(
        config(
            format!("http://127.0.0.1:{}", sandbox_harness::free_port()),
            Login::Token(Secret::new("unused")),
        ),
        &redactor,
    );
    let outside = vault_ref("vault://secret/elsewhere/db#url");
    let err = creds.resolve(&outside).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidParams, "{err}");
    for hostile in [
        "vault://secret/sandboxes/../shared/x#k",
        "vault://secret/sandboxes/x#",
        "vault://secret/sandboxes/x?version=1#k",
    ] {
        assert!(CredentialRef::parse(hostile).is_err(), "{hostile}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn jwt_login_with_a_locally_signed_projected_token() {
    let bao = openbao();
    let key = ServiceAccountKey::generate();
    bao.run(&["auth", "enable", "jwt"]);
    bao.run(&[
        "write",
        "auth/jwt/config",
        &format!("jwt_validation_pubkeys={}", key.public_pem()),
        &format!("bound_issuer={ISSUER}"),
    ]);
    let subject = format!("system:serviceaccount:{NAMESPACE}:{ROLE}");
    bao.run(&[
        "write",
        &format!("auth/jwt/role/{ROLE}"),
        "role_type=jwt",
        "user_claim=sub",
        &format!("bound_subject={subject}"),
        "bound_audiences=vault",
        "token_policies=sandbox-read",
        "token_ttl=5m",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let token_file = write_token(dir.path(), &key.projected_token(NAMESPACE, ROLE, "vault"));
    let login = Login::Jwt {
        mount: "jwt".into(),
        role: ROLE.into(),
        token_file: token_file.clone(),
    };
    let redactor = Redactor::new();
    let creds = credentials(config(bao.addr(), login), &redactor);
    let url = vault_ref("vault://secret/sandboxes/{environment}/db#url");
    assert_eq!(creds.resolve(&url).await.unwrap().expose(), DB_URL);

    // The policy reads only the sandbox tree: a 403 names role and path.
    bao.run(&["kv", "put", "-mount=secret", "sandboxes-admin/x", "k=v"]);
    let wide = Credentials::new(Redactor::new())
        .with_scope(VaultScope::parse(&["secret/sandboxes-admin"]).unwrap())
        .with_vault(Some(config(
            bao.addr(),
            Login::Jwt {
                mount: "jwt".into(),
                role: ROLE.into(),
                token_file: token_file.clone(),
            },
        )));
    let err = wide
        .resolve(&vault_ref("vault://secret/sandboxes-admin/x#k"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Precondition);
    let chain = error_chain(&err);
    assert!(
        chain.contains("permission denied: read secret/sandboxes-admin/x with jwt login as role sandbox-tasks at auth/jwt"),
        "{chain}"
    );

    // A token for another service account is refused at login.
    let other = write_token(
        dir.path(),
        &key.projected_token(NAMESPACE, "intruder", "vault"),
    );
    let refused = VaultClient::login(&config(
        bao.addr(),
        Login::Jwt {
            mount: "jwt".into(),
            role: ROLE.into(),
            token_file: other,
        },
    ))
    .await
    .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Precondition, "{refused}");
}

#[tokio::test(flavor = "current_thread")]
async fn kubernetes_login_through_a_token_review_double() {
    let bao = openbao();
    let key = ServiceAccountKey::generate();
    let sa_token = key.projected_token(NAMESPACE, ROLE, "vault");
    let reviewer = "reviewer-service-account-token";
    let kube = MockServer::start().await;
    // As the Kubernetes API answers a TokenReview of a valid service
    // account token (authentication.k8s.io/v1, 201 Created). Vault sends
    // the review without apiVersion/kind (the URL carries the version) and
    // with the role's audience.
    Mock::given(method("POST"))
        .and(path("/apis/authentication.k8s.io/v1/tokenreviews"))
        .and(header(
            "authorization",
            format!("Bearer {reviewer}").as_str(),
        ))
        .and(body_partial_json(json!({
            "spec": { "token": sa_token, "audiences": ["vault"] },
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": { "creationTimestamp": null },
            "spec": { "token": sa_token, "audiences": ["vault"] },
            "status": {
                "authenticated": true,
                "user": {
                    "username": format!("system:serviceaccount:{NAMESPACE}:{ROLE}"),
                    "uid": service_account_uid(ROLE),
                    "groups": [
                        "system:serviceaccounts",
                        format!("system:serviceaccounts:{NAMESPACE}"),
                        "system:authenticated"
                    ],
                },
                "audiences": ["vault"]
            }
        })))
        .expect(1)
        .mount(&kube)
        .await;
    // Any other token: authenticated false, as the API says it.
    Mock::given(method("POST"))
        .and(path("/apis/authentication.k8s.io/v1/tokenreviews"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": { "creationTimestamp": null },
            "spec": { "token": "" },
            "status": { "user": {}, "error": "[invalid bearer token, token lookup failed]" }
        })))
        .with_priority(10)
        .mount(&kube)
        .await;
    bao.run(&["auth", "enable", "kubernetes"]);
    bao.run(&[
        "write",
        "auth/kubernetes/config",
        &format!("kubernetes_host={}", kube.uri()),
        &format!("token_reviewer_jwt={reviewer}"),
        // Required when Vault runs outside a pod; unused over plain HTTP.
        &format!(
            "kubernetes_ca_cert=@{}",
            cluster_ca(bao.dir().as_path()).display()
        ),
        "disable_local_ca_jwt=true",
    ]);
    bao.run(&[
        "write",
        &format!("auth/kubernetes/role/{ROLE}"),
        &format!("bound_service_account_names={ROLE}"),
        &format!("bound_service_account_namespaces={NAMESPACE}"),
        "audience=vault",
        "token_policies=sandbox-read",
        "token_ttl=5m",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let login = Login::Kubernetes {
        mount: "kubernetes".into(),
        role: ROLE.into(),
        token_file: write_token(dir.path(), &sa_token),
    };
    let creds = credentials(config(bao.addr(), login), &Redactor::new());
    let url = vault_ref("vault://secret/sandboxes/{environment}/db#url");
    assert_eq!(creds.resolve(&url).await.unwrap().expose(), DB_URL);

    // A token the cluster does not vouch for is refused: precondition.
    let forged = key.projected_token(NAMESPACE, ROLE, "vault") + "x";
    let err = VaultClient::login(&config(
        bao.addr(),
        Login::Kubernetes {
            mount: "kubernetes".into(),
            role: ROLE.into(),
            token_file: write_token(dir.path(), &forged),
        },
    ))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Precondition, "{err}");
    kube.verify().await;
}

#[tokio::test(flavor = "current_thread")]
async fn namespace_and_ca_file_over_tls() {
    let tls = TlsBao::start();
    tls.bao(&["namespace", "create", "team-a"]);
    tls.bao(&["secrets", "enable", "-ns=team-a", "-path=secret", "kv-v2"]);
    tls.bao(&[
        "kv",
        "put",
        "-ns=team-a",
        "-mount=secret",
        "sandboxes/sbx-pr-7/db",
        &format!("url={DB_URL}"),
    ]);
    let url = vault_ref("vault://secret/sandboxes/{environment}/db#url");
    let mut cfg = config(tls.addr(), Login::Token(Secret::new("root")));
    cfg.ca_file = Some(tls.ca_file());
    cfg.namespace = Some("team-a".into());
    let creds = credentials(cfg.clone(), &Redactor::new());
    assert_eq!(creds.resolve(&url).await.unwrap().expose(), DB_URL);

    // Without the namespace the secret is not there.
    let mut root_ns = cfg.clone();
    root_ns.namespace = None;
    let err = credentials(root_ns, &Redactor::new())
        .resolve(&url)
        .await
        .unwrap_err();
    assert!(matches!(err, CredentialError::MissingPath { .. }), "{err}");

    // Without the CA the certificate is not trusted: a connection failure,
    // retried, then transient.
    let mut no_ca = cfg;
    no_ca.ca_file = None;
    let err = credentials(no_ca, &Redactor::new())
        .resolve(&url)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_sealed_vault_is_transient_after_retries() {
    let bao = openbao();
    bao.run(&["operator", "seal"]);
    let creds = credentials(
        config(bao.addr(), Login::Token(Secret::new(bao.token()))),
        &Redactor::new(),
    );
    let started = std::time::Instant::now();
    let err = creds
        .resolve(&vault_ref("vault://secret/shared/github#token"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert!(error_chain(&err).contains("503"), "{}", error_chain(&err));
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A throwaway cluster CA certificate (the kubernetes auth config insists
/// on one when Vault does not run in a pod).
fn cluster_ca(dir: &Path) -> PathBuf {
    let cert = dir.join("cluster-ca.pem");
    let out = Command::new(tool("openssl"))
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args([
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=kubernetes-test-ca",
            "-keyout",
        ])
        .arg(dir.join("cluster-ca.key"))
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    cert
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

/// An OpenBao dev server with TLS (`-dev-tls`): its own CA, written to a
/// directory, so the CA-file setting is tested for real.
struct TlsBao {
    _process: ServiceProcess,
    port: u16,
    dir: tempfile::TempDir,
}

impl TlsBao {
    fn start() -> Self {
        let dir = scratch_dir("openbao-tls");
        let certs = dir.path().join("certs");
        std::fs::create_dir(&certs).unwrap();
        let port = sandbox_harness::free_port();
        let mut cmd = Command::new(tool("bao"));
        cmd.args(["server", "-dev", "-dev-no-store-token", "-dev-tls"])
            .arg("-dev-root-token-id=root")
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .arg(format!("-dev-tls-cert-dir={}", certs.display()))
            .env("HOME", dir.path());
        let mut process = ServiceProcess::spawn("bao", cmd, dir.path());
        wait_until("OpenBao (TLS)", Duration::from_secs(30), || {
            process.check_alive(dir.path());
            // Ready once the CLI, trusting the generated CA, gets an answer.
            tls_cli(port, dir.path())
                .arg("status")
                .output()
                .is_ok_and(|o| o.status.success())
        });
        TlsBao {
            _process: process,
            port,
            dir,
        }
    }

    fn addr(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn ca_file(&self) -> PathBuf {
        self.dir.path().join("certs/vault-ca.pem")
    }

    fn bao(&self, args: &[&str]) {
        let out = tls_cli(self.port, self.dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "bao {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The `bao` CLI pointed at a TLS dev server, trusting its CA.
fn tls_cli(port: u16, dir: &Path) -> Command {
    let mut cmd = Command::new(tool("bao"));
    cmd.env("BAO_ADDR", format!("https://127.0.0.1:{port}"))
        .env("BAO_TOKEN", "root")
        .env("BAO_CACERT", dir.join("certs/vault-ca.pem"))
        .env("HOME", dir);
    cmd
}
