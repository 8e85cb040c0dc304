//! The credentialed task binaries against a real OpenBao dev server:
//! cleanup-secrets removes exactly the environment's tree, check-params
//! --check-remote reads every vault:// reference, hostile references stop
//! at validation.
//!
//! Every binary run goes through [`run`], which greps the run's whole
//! stdout and stderr (logs at debug level) for every secret value the tests
//! planted — in Vault, in token files and in the environment — and fails on
//! the first one found.

use super::support::{self, Run};
use sandbox_harness::OpenBao;
use sandbox_vault::testing::{ISSUER, ServiceAccountKey};
use std::path::PathBuf;

const DB_URL: &str = "postgres://sbx:planted-db-password-91d3@db:5432/sbx_pr_7";
const API_KEY: &str = "planted-api-key-5e0f";
const CERT: &str = "planted-cert-body-a7c2";
const NOTE: &str = "planted-note-3b88";
const SIBLING: &str = "planted-sibling-url-0d4e";
const SHARED: &str = "planted-shared-token-c915";
const ROLE: &str = "sandbox-tasks";
const NAMESPACE: &str = "argo";

/// A dev server holding the environment's tree (a secret at the path
/// itself, nested folders, several versions), a sibling whose name extends
/// the environment's, another environment, and a shared path; a jwt login
/// whose policy reads and deletes only below `sandboxes/`.
struct Vault {
    bao: OpenBao,
    key: ServiceAccountKey,
    dir: tempfile::TempDir,
}

impl Vault {
    fn start() -> Self {
        let bao = OpenBao::start();
        let put = |path: &str, kv: &str| bao.run(&["kv", "put", "-mount=secret", path, kv]);
        put("sandboxes/sbx-pr-7/db", "url=postgres://old-version@db/x");
        put("sandboxes/sbx-pr-7/db", &format!("url={DB_URL}"));
        put("sandboxes/sbx-pr-7/app/api", &format!("key={API_KEY}"));
        put("sandboxes/sbx-pr-7/app/deep/cert", &format!("pem={CERT}"));
        put("sandboxes/sbx-pr-7", &format!("note={NOTE}"));
        put("sandboxes/sbx-pr-70/db", &format!("url={SIBLING}"));
        put("sandboxes/sbx-pr-8/db", &format!("url={SIBLING}"));
        put("shared/github", &format!("token={SHARED}"));

        let policy = bao.dir().join("sandbox-tasks.hcl");
        std::fs::write(
            &policy,
            "path \"secret/data/sandboxes/*\" { capabilities = [\"read\"] }\n\
             path \"secret/data/shared/*\" { capabilities = [\"read\"] }\n\
             path \"secret/metadata/sandboxes/*\" { capabilities = [\"read\", \"list\", \"delete\"] }\n",
        )
        .unwrap();
        bao.run(&["policy", "write", "sandbox-tasks", policy.to_str().unwrap()]);
        let key = ServiceAccountKey::generate();
        bao.run(&["auth", "enable", "jwt"]);
        bao.run(&[
            "write",
            "auth/jwt/config",
            &format!("jwt_validation_pubkeys={}", key.public_pem()),
            &format!("bound_issuer={ISSUER}"),
        ]);
        bao.run(&[
            "write",
            &format!("auth/jwt/role/{ROLE}"),
            "role_type=jwt",
            "user_claim=sub",
            &format!("bound_subject=system:serviceaccount:{NAMESPACE}:{ROLE}"),
            "bound_audiences=vault",
            "token_policies=sandbox-tasks",
            "token_ttl=5m",
        ]);
        Vault {
            bao,
            key,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A projected token file for the task's service account.
    fn token_file(&self) -> PathBuf {
        let file = self.dir.path().join("sa-token");
        std::fs::write(&file, self.key.projected_token(NAMESPACE, ROLE, "vault")).unwrap();
        file
    }

    /// Flags of a jwt login as the task's service account.
    fn jwt_login(&self) -> Vec<String> {
        vec![
            "--vault-auth=jwt".into(),
            format!("--vault-role={ROLE}"),
            format!("--vault-token-file={}", self.token_file().display()),
            format!("--vault-addr={}", self.bao.addr()),
            "--vault-base=secret/sandboxes,secret/shared".into(),
        ]
    }

    /// Every value a test planted, the logins included.
    fn planted(&self) -> Vec<String> {
        let mut planted: Vec<String> = [DB_URL, API_KEY, CERT, NOTE, SIBLING, SHARED]
            .map(str::to_string)
            .to_vec();
        planted.push("planted-db-password-91d3".into());
        planted.push(self.bao.token().to_string());
        planted.push(std::fs::read_to_string(self.token_file()).unwrap());
        planted
    }

    /// `bao` succeeds with these arguments.
    fn has(&self, args: &[&str]) -> bool {
        self.bao.cli().args(args).output().unwrap().status.success()
    }
}

/// Run a task binary with debug logs; fail if any planted value shows up
/// in what it printed.
fn run(vault: &Vault, bin: &str, args: &[String], env: &[(&str, &str)]) -> Run {
    let mut task = support::task(bin);
    for var in [
        "VAULT_ADDR",
        "VAULT_TOKEN",
        "VAULT_NAMESPACE",
        "VAULT_CACERT",
    ] {
        task.cmd().env_remove(var);
    }
    task.cmd()
        .env("SANDBOX_LOG_FORMAT", "json")
        .env("SANDBOX_LOG_LEVEL", "debug");
    let run = task.args(args).envs(env).run();
    for secret in vault.planted() {
        for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            assert!(
                !text.contains(secret.trim()),
                "{bin} {args:?} printed a planted secret on {stream}:\n{text}"
            );
        }
    }
    run
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn secrets_list(outcome: &Run) -> Vec<String> {
    serde_json::from_str(&outcome.output("secrets")).unwrap()
}

#[test]
fn cleanup_secrets_removes_exactly_the_environment_tree() {
    let vault = Vault::start();
    let mut flags = args(&["--environment=sbx-pr-7"]);
    flags.extend(vault.jwt_login());

    // Dry run: lists, deletes nothing.
    let mut dry = flags.clone();
    dry.push("--dry-run".into());
    let planned = run(&vault, "cleanup-secrets", &dry, &[]);
    assert_eq!(planned.code, 0, "{}", planned.result);
    let expected = [
        "secret/sandboxes/sbx-pr-7",
        "secret/sandboxes/sbx-pr-7/app/api",
        "secret/sandboxes/sbx-pr-7/app/deep/cert",
        "secret/sandboxes/sbx-pr-7/db",
    ];
    assert_eq!(secrets_list(&planned), expected);
    assert_eq!(planned.output("secrets_deleted"), "0");
    assert!(vault.has(&["kv", "get", "-mount=secret", "sandboxes/sbx-pr-7/db"]));

    let done = run(&vault, "cleanup-secrets", &flags, &[]);
    assert_eq!(done.code, 0, "{}\n{}", done.result, done.stderr);
    assert_eq!(done.output("secrets_deleted"), "4");
    assert_eq!(secrets_list(&done), expected);
    // Versions and metadata are gone: nothing to list, no metadata, no
    // version to undelete.
    assert!(!vault.has(&["kv", "list", "-mount=secret", "sandboxes/sbx-pr-7"]));
    for secret in expected {
        let path = secret.trim_start_matches("secret/");
        assert!(
            !vault.has(&["kv", "metadata", "get", "-mount=secret", path]),
            "{secret} still has metadata"
        );
        assert!(
            !vault.has(&["kv", "get", "-mount=secret", "-version=1", path]),
            "{secret} still has version 1"
        );
    }
    let left = vault
        .bao
        .run(&["kv", "list", "-format=json", "-mount=secret", "sandboxes"]);
    let left: Vec<String> = serde_json::from_str(&left).unwrap();
    assert_eq!(left, ["sbx-pr-70/", "sbx-pr-8/"]);
    for survivor in [
        "sandboxes/sbx-pr-70/db",
        "sandboxes/sbx-pr-8/db",
        "shared/github",
    ] {
        assert!(
            vault.has(&["kv", "get", "-mount=secret", survivor]),
            "{survivor}"
        );
    }

    // Idempotent: nothing left, exit 0.
    let again = run(&vault, "cleanup-secrets", &flags, &[]);
    assert_eq!(again.code, 0, "{}", again.result);
    assert_eq!(again.output("secrets_deleted"), "0");
    assert_eq!(secrets_list(&again), Vec::<String>::new());
}

#[test]
fn cleanup_secrets_refuses_paths_outside_the_environment() {
    let vault = Vault::start();
    for (path, code) in [
        ("secret/sandboxes/sbx-pr-8", 5),
        ("secret/sandboxes", 5),
        ("secret/shared", 5),
        ("secret/sandboxes/sbx-pr-7/..", 2),
        ("secret/sandboxes//sbx-pr-7", 2),
    ] {
        let mut flags = args(&["--environment=sbx-pr-7", &format!("--vault-path={path}")]);
        flags.extend(vault.jwt_login());
        let outcome = run(&vault, "cleanup-secrets", &flags, &[]);
        assert_eq!(outcome.code, code, "{path}: {}", outcome.result);
    }
    // A shared environment name is not a sandbox.
    let mut flags = args(&["--environment=production"]);
    flags.extend(vault.jwt_login());
    assert_eq!(run(&vault, "cleanup-secrets", &flags, &[]).code, 5);
    for survivor in [
        "sandboxes/sbx-pr-7/db",
        "sandboxes/sbx-pr-8/db",
        "shared/github",
    ] {
        assert!(
            vault.has(&["kv", "get", "-mount=secret", survivor]),
            "{survivor}"
        );
    }
}

#[test]
fn check_params_reads_every_vault_reference_with_the_configured_login() {
    let vault = Vault::start();
    let check = |database_url: &str, login: &[String], env: &[(&str, &str)]| {
        let mut flags = args(&[
            "--environment=sbx-pr-7",
            &format!("--database-url={database_url}"),
            "--check-remote",
        ]);
        flags.extend(login.iter().cloned());
        run(&vault, "check-params", &flags, env)
    };
    let token_login = args(&[
        "--vault-auth=token",
        "--vault-base=secret/sandboxes,secret/shared",
    ]);
    let token_env = [
        ("VAULT_ADDR", vault.bao.addr()),
        ("VAULT_TOKEN", vault.bao.token().to_string()),
    ];
    let token_env: Vec<(&str, &str)> = token_env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    for login in [vault.jwt_login(), token_login.clone()] {
        let ok = check(
            "vault://secret/sandboxes/{environment}/db#url",
            &login,
            &token_env,
        );
        // The reference is readable; the URL read from Vault names a host
        // that does not exist here, so only the database check fails, and
        // its message shows the URL came from Vault (password masked). A
        // server that cannot be reached is transient (exit 4).
        assert_eq!(ok.code, 4, "{}\n{}", ok.result, ok.stderr);
        let details = ok.result["error"]["details"].as_array().unwrap();
        assert_eq!(details.len(), 1, "{}", ok.result);
        assert_eq!(details[0]["rule"], "database-reachable");
        let message = details[0]["message"].as_str().unwrap();
        assert!(
            message.contains("postgres://***@db:5432/sbx_pr_7"),
            "{message}"
        );
        assert!(ok.stderr.contains("is readable with"), "{}", ok.stderr);
    }

    // Missing key or path: precondition naming the path, not a value.
    let missing = check(
        "vault://secret/sandboxes/{environment}/db#password",
        &token_login,
        &token_env,
    );
    assert_eq!(missing.code, 3, "{}", missing.result);
    let message = missing.result["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("secret secret/sandboxes/sbx-pr-7/db has no key password"),
        "{message}"
    );
    let gone = check(
        "vault://secret/sandboxes/{environment}/nothing#url",
        &token_login,
        &token_env,
    );
    assert_eq!(gone.code, 3, "{}", gone.result);

    // Denied by policy: precondition naming role and path.
    let mut wide = vault.jwt_login();
    wide.push("--vault-base=secret/shared,secret/sandboxes,secret/admin".into());
    vault
        .bao
        .run(&["kv", "put", "-mount=secret", "admin/root", "k=v"]);
    let denied = check("vault://secret/admin/root#k", &wide, &[]);
    assert_eq!(denied.code, 3, "{}", denied.result);
    let message = denied.result["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(
            "permission denied: read secret/admin/root with jwt login as role sandbox-tasks"
        ),
        "{message}"
    );

    // Hostile references: invalid before any request. The "Vault" is a
    // bare listener that must not see a single connection.
    let canary = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    canary.set_nonblocking(true).unwrap();
    let canary_env = [
        (
            "VAULT_ADDR",
            format!("http://{}", canary.local_addr().unwrap()),
        ),
        ("VAULT_TOKEN", "canary-token".to_string()),
    ];
    let nowhere: Vec<(&str, &str)> = canary_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for hostile in [
        "vault://secret/sandboxes/../shared/github#token",
        "vault://secret/sandboxes/{environment}/db#",
        "vault://secret/elsewhere/db#url",
        "vault://secret/sandboxes/{env}/db#url",
    ] {
        let outcome = check(hostile, &args(&["--vault-auth=token"]), &nowhere);
        assert_eq!(outcome.code, 2, "{hostile}: {}", outcome.result);
        assert_eq!(outcome.result["error"]["kind"], "invalid-params");
    }
    assert!(
        matches!(canary.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a hostile reference reached Vault"
    );
}

#[test]
fn a_vault_that_is_down_is_transient() {
    let vault = Vault::start();
    let port = sandbox_harness::free_port();
    let flags = args(&[
        "--environment=sbx-pr-7",
        "--database-url=vault://secret/sandboxes/{environment}/db#url",
        "--check-remote",
        "--vault-auth=token",
        &format!("--vault-addr=http://127.0.0.1:{port}"),
    ]);
    let outcome = run(
        &vault,
        "check-params",
        &flags,
        &[("VAULT_TOKEN", vault.bao.token())],
    );
    assert_eq!(outcome.code, 4, "{}", outcome.result);
    assert!(outcome.stderr.contains("retrying"), "{}", outcome.stderr);
}

/// Issue 12, "the whole name": cleaning PR 42's tree leaves PR 420's and
/// PR 4's, and cleaning PR 4's leaves PR 42's and PR 420's.
#[test]
fn cleanup_secrets_for_pr_42_never_touches_pr_420_or_pr_4() {
    let vault = Vault::start();
    for env in ["sbx-pr-42", "sbx-pr-420", "sbx-pr-4"] {
        vault.bao.run(&[
            "kv",
            "put",
            "-mount=secret",
            &format!("sandboxes/{env}/db"),
            &format!("url={SIBLING}"),
        ]);
    }
    let clean = |env: &str| {
        let mut flags = args(&[&format!("--environment={env}")]);
        flags.extend(vault.jwt_login());
        run(&vault, "cleanup-secrets", &flags, &[])
    };
    let done = clean("sbx-pr-42");
    assert_eq!(done.code, 0, "{}", done.result);
    assert_eq!(secrets_list(&done), ["secret/sandboxes/sbx-pr-42/db"]);
    let present =
        |env: &str| vault.has(&["kv", "get", "-mount=secret", &format!("sandboxes/{env}/db")]);
    assert!(!present("sbx-pr-42"));
    assert!(present("sbx-pr-420") && present("sbx-pr-4"));
    let done = clean("sbx-pr-4");
    assert_eq!(done.code, 0, "{}", done.result);
    assert_eq!(secrets_list(&done), ["secret/sandboxes/sbx-pr-4/db"]);
    assert!(present("sbx-pr-420") && !present("sbx-pr-4"));
    // PR 420's path given to PR 42's run is refused.
    let mut flags = args(&[
        "--environment=sbx-pr-42",
        "--vault-path=secret/sandboxes/sbx-pr-420",
    ]);
    flags.extend(vault.jwt_login());
    assert_eq!(run(&vault, "cleanup-secrets", &flags, &[]).code, 5);
    assert!(present("sbx-pr-420"));
}
