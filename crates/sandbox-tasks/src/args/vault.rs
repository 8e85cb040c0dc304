//! How credentials are read: the Vault flags every task that takes a
//! credential flattens into its `Params`, the one parser of credential
//! references ([`reference`]: bound to the environment and confined to the
//! Vault bases before any request), and [`VaultPlan`], which resolves them
//! at run time through `sandbox_vault::Credentials` (files, variables and
//! Vault alike, each value masked in everything the run reports). Also the
//! environment's own secrets ([`SecretsArgs`], for cleanup-secrets).
//!
//! Usage in a task:
//!
//! ```ignore
//! // validate():
//! let scope = p.vault.scope(&mut problems);
//! let token = vault::reference(&mut problems, "git_token", p.git_token.as_deref(), Some(&env), &scope);
//! let vault = p.vault.plan(scope, Some(&env), token.iter(), &mut problems);
//! // run():
//! let creds = vault?.credentials(&ctx);
//! let token = creds.resolve(&token).await?; // Secret; token.expose() where needed
//! ```

use super::Refusals;
use crate::Context;
use clap::Args;
use sandbox_core::credential::{CredentialRef, ENVIRONMENT_VARIABLE, Secret, VaultScope};
use sandbox_core::env_vars;
use sandbox_core::names::DEFAULT_VAULT_BASE;
use sandbox_core::params::{EnvironmentName, Invalid, Problems};
use sandbox_vault::{Credentials, DEFAULT_TOKEN_FILE, Login, VaultConfig};
use std::path::PathBuf;

/// How a task reaches Vault for its `vault://` references.
#[derive(Debug, Clone, Args)]
pub struct VaultArgs {
    /// Vault login: kubernetes (service account token), jwt (the same token
    /// against a JWT auth mount) or token (VAULT_TOKEN, for local runs).
    #[arg(
        long,
        env = "SANDBOX_VAULT_AUTH",
        value_name = "METHOD",
        default_value = "kubernetes"
    )]
    pub vault_auth: String,
    /// Vault role of the kubernetes or jwt login.
    #[arg(long, env = "SANDBOX_VAULT_ROLE", value_name = "ROLE")]
    pub vault_role: Option<String>,
    /// Auth mount of the login [default: kubernetes, or jwt].
    #[arg(long, env = "SANDBOX_VAULT_AUTH_MOUNT", value_name = "MOUNT")]
    pub vault_auth_mount: Option<String>,
    /// Service account token the kubernetes or jwt login presents.
    #[arg(long, env = "SANDBOX_VAULT_TOKEN_FILE", value_name = "FILE", default_value = DEFAULT_TOKEN_FILE)]
    pub vault_token_file: PathBuf,
    /// Vault address [default: $VAULT_ADDR].
    #[arg(long, env = "SANDBOX_VAULT_ADDR", value_name = "URL")]
    pub vault_addr: Option<String>,
    /// Vault namespace [default: $VAULT_NAMESPACE].
    #[arg(long, env = "SANDBOX_VAULT_NAMESPACE", value_name = "NAMESPACE")]
    pub vault_namespace: Option<String>,
    /// PEM file of the CA that signed Vault's certificate [default: $VAULT_CACERT].
    #[arg(long, env = "SANDBOX_VAULT_CA_CERT", value_name = "FILE")]
    pub vault_ca_cert: Option<PathBuf>,
    /// Bases (<mount>/<path>) that vault:// references must lie below, comma-separated.
    #[arg(
        long = "vault-base",
        id = "vault_base",
        env = "SANDBOX_VAULT_BASE",
        value_name = "MOUNT/PATH",
        value_delimiter = ',',
        default_value = DEFAULT_VAULT_BASE
    )]
    pub vault_base: Vec<String>,
}

impl Default for VaultArgs {
    fn default() -> Self {
        VaultArgs {
            vault_auth: "kubernetes".into(),
            vault_role: None,
            vault_auth_mount: None,
            vault_token_file: PathBuf::from(DEFAULT_TOKEN_FILE),
            vault_addr: None,
            vault_namespace: None,
            vault_ca_cert: None,
            vault_base: vec![DEFAULT_VAULT_BASE.to_string()],
        }
    }
}

impl VaultArgs {
    /// The bases `vault://` references are confined to; every bad base is
    /// recorded (the default scope is returned then, so validation goes on).
    pub fn scope(&self, problems: &mut Problems) -> VaultScope {
        problems
            .parse("vault_base", &self.vault_base.join(","), |_| {
                VaultScope::parse(&self.vault_base)
            })
            .unwrap_or_default()
    }

    /// The Vault address, namespace, CA file and login, validated. Only
    /// when `needed` (some reference is `vault://`, or the task manages
    /// secrets): a run without Vault references needs no Vault settings.
    pub fn config(&self, needed: bool, problems: &mut Problems) -> Option<VaultConfig> {
        if !needed {
            return None;
        }
        let addr = self
            .vault_addr
            .clone()
            .or_else(|| std::env::var(env_vars::VAULT_ADDR).ok())
            .filter(|a| !a.is_empty());
        let addr = match addr {
            Some(a) => problems.parse_secret("vault_addr", &a, parse_addr),
            None => {
                problems.missing(
                    "vault_addr",
                    "set VAULT_ADDR or pass --vault-addr https://vault.example:8200",
                );
                None
            }
        };
        let (default_mount, needs_role) = match self.vault_auth.as_str() {
            "kubernetes" => ("kubernetes", true),
            "jwt" => ("jwt", true),
            "token" => ("", false),
            _ => {
                problems.parse("vault_auth", &self.vault_auth, |_| {
                    Err::<(), _>(Invalid::one(
                        "vault-auth",
                        "vault_auth must be kubernetes, jwt or token",
                        "pass --vault-auth kubernetes (in a cluster) or token (with VAULT_TOKEN)",
                    ))
                });
                return None;
            }
        };
        let login = if needs_role {
            let mount = problems.parse(
                "vault_auth_mount",
                self.vault_auth_mount.as_deref().unwrap_or(default_mount),
                |s| plain_name(s, "vault_auth_mount", true),
            );
            let role = match &self.vault_role {
                Some(role) => {
                    problems.parse("vault_role", role, |s| plain_name(s, "vault_role", false))
                }
                None => {
                    problems.missing(
                        "vault_role",
                        "pass --vault-role with the Vault role of this service account",
                    );
                    None
                }
            };
            match (mount, role) {
                (Some(mount), Some(role)) => {
                    let token_file = self.vault_token_file.clone();
                    Some(if self.vault_auth == "jwt" {
                        Login::Jwt {
                            mount,
                            role,
                            token_file,
                        }
                    } else {
                        Login::Kubernetes {
                            mount,
                            role,
                            token_file,
                        }
                    })
                }
                _ => None,
            }
        } else {
            match std::env::var(env_vars::VAULT_TOKEN) {
                Ok(token) if !token.is_empty() => Some(Login::Token(Secret::new(token))),
                _ => {
                    problems.missing(
                        "vault_token",
                        "--vault-auth token reads the token from VAULT_TOKEN: set it",
                    );
                    None
                }
            }
        };
        let namespace = self
            .vault_namespace
            .clone()
            .or_else(|| std::env::var(env_vars::VAULT_NAMESPACE).ok())
            .filter(|n| !n.is_empty());
        let namespace = match namespace {
            Some(ns) => problems
                .parse("vault_namespace", &ns, |s| {
                    plain_name(s, "vault_namespace", true)
                })
                .map(Some)?,
            None => None,
        };
        let ca_file = self
            .vault_ca_cert
            .clone()
            .or_else(|| std::env::var_os(env_vars::VAULT_CACERT).map(PathBuf::from))
            .filter(|p| !p.as_os_str().is_empty());
        let mut config = VaultConfig::new(addr?, login?);
        config.namespace = namespace;
        config.ca_file = ca_file;
        Some(config)
    }

    /// Everything the run needs to resolve `references`: the scope, the
    /// environment, and the Vault settings when any reference is
    /// `vault://` (validated here, so a missing address fails before the
    /// run starts, exit 2, not at the first read).
    pub fn plan<'r>(
        &self,
        scope: VaultScope,
        environment: Option<&EnvironmentName>,
        references: impl IntoIterator<Item = &'r CredentialRef>,
        problems: &mut Problems,
    ) -> VaultPlan {
        let needed = references.into_iter().any(CredentialRef::is_vault);
        VaultPlan {
            config: self.config(needed, problems),
            scope,
            environment: environment.cloned(),
        }
    }
}

/// How a run reads its credentials.
#[derive(Debug, Clone, Default)]
pub struct VaultPlan {
    /// The bases `vault://` references are confined to.
    pub scope: VaultScope,
    /// How to reach Vault (only when some reference is `vault://`, or the
    /// task manages secrets).
    pub config: Option<VaultConfig>,
    /// The environment that fills `{environment}`.
    pub environment: Option<EnvironmentName>,
}

impl VaultPlan {
    /// The run's resolver: every value it resolves is masked by the run's
    /// redactor.
    pub fn credentials(&self, ctx: &Context) -> Credentials {
        Credentials::new(ctx.redactor.clone())
            .with_scope(self.scope.clone())
            .with_environment(self.environment.clone())
            .with_vault(self.config.clone())
    }
}

impl VaultPlan {
    /// `check-params --check-remote`: each `vault://` reference read with
    /// the configured login. Values are read, registered with the run's
    /// redactor and dropped; only the reference is reported.
    pub async fn remote_checks(
        &self,
        references: &[(&'static str, CredentialRef)],
        ctx: &Context,
    ) -> Vec<crate::remote::RemoteCheck> {
        use crate::remote::RemoteCheck;
        const CHECK: &str = "vault-reference-readable";
        let creds = self.credentials(ctx);
        let login = self
            .config
            .as_ref()
            .map_or_else(String::new, |v| v.login.to_string());
        let mut checks = Vec::new();
        for (field, reference) in references.iter().filter(|(_, r)| r.is_vault()) {
            let location = reference.vault_location().unwrap_or_default();
            checks.push(match creds.resolve(reference).await {
                Ok(_) => RemoteCheck::passed(
                    CHECK,
                    field,
                    format!("{field}: {reference} ({location}) is readable with {login}"),
                ),
                Err(e) => {
                    let error = sandbox_core::TaskError::from(e);
                    RemoteCheck::failed(
                        CHECK,
                        field,
                        ctx.redactor
                            .mask(&format!("{field}: {}", error.full_message())),
                        "check the reference, the Vault role's policy and --vault-role",
                    )
                    .with_kind(error.kind)
                }
            });
        }
        checks
    }
}

/// Parse the credential reference of `field` (file:, env: or vault://),
/// bound to the environment and confined to `scope`; the value is never
/// echoed in a problem.
pub fn reference(
    problems: &mut Problems,
    field: &str,
    value: Option<&str>,
    environment: Option<&EnvironmentName>,
    scope: &VaultScope,
) -> Option<CredentialRef> {
    problems.parse_secret(field, value?, |s| {
        CredentialRef::parse(s)?.bind(environment, scope)
    })
}

/// The environment's secrets in Vault.
#[derive(Debug, Clone, Default, Args)]
pub struct SecretsArgs {
    /// The environment's secrets, <mount>/<path>; {environment} is filled in [default: <first --vault-base>/<environment>].
    #[arg(long, env = "SANDBOX_VAULT_PATH", value_name = "PATH")]
    pub vault_path: Option<String>,
}

/// The environment's secrets: a KV v2 mount and the folder below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsPlan {
    /// The KV v2 mount, e.g. `secret`.
    pub mount: String,
    /// The folder below it, e.g. `sandboxes/sbx-pr-7`.
    pub path: String,
}

impl std::fmt::Display for SecretsPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.mount, self.path)
    }
}

impl SecretsArgs {
    /// The environment's secrets: `--vault-path` with `{environment}`
    /// filled in, or the first Vault base and the environment.
    pub fn validate(
        &self,
        vault: &VaultArgs,
        environment: Option<&EnvironmentName>,
        problems: &mut Problems,
    ) -> Option<SecretsPlan> {
        let path = match (&self.vault_path, environment) {
            (Some(path), Some(env)) => path.replace(ENVIRONMENT_VARIABLE, env.as_str()),
            (Some(path), None) => path.clone(),
            (None, Some(env)) => {
                let base = vault.vault_base.first().map_or("", |b| b.trim_matches('/'));
                format!("{base}/{env}")
            }
            (None, None) => return None,
        };
        problems.parse("vault_path", &path, parse_vault_path)
    }
}

impl SecretsPlan {
    /// The secrets must be the environment's: one segment of the path is
    /// the environment's name.
    pub fn refusals(&self, env: &super::EnvPlan, refusals: &mut Refusals) {
        let full = self.to_string();
        refusals.check(
            "vault_path",
            &full,
            env.policy.check_vault_path(&full, &env.environment),
        );
    }
}

/// `<mount>/<path>` of plain segments: no `..`, no empty segment, nothing
/// that would change the request URL.
fn parse_vault_path(s: &str) -> Result<SecretsPlan, Invalid> {
    let trimmed = s.trim_matches('/');
    let segments: Vec<&str> = trimmed.split('/').collect();
    let ok = segments.len() >= 2
        && segments
            .iter()
            .all(|seg| !seg.is_empty() && *seg != "." && *seg != "..")
        && trimmed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@+=:/".contains(c));
    if !ok {
        return Err(Invalid::one(
            "vault-path",
            "vault path must be <mount>/<path> of plain segments (no '..', no empty segment)",
            "give e.g. secret/sandboxes/{environment}",
        ));
    }
    Ok(SecretsPlan {
        mount: segments[0].to_string(),
        path: segments[1..].join("/"),
    })
}

/// `http(s)://host[:port][/]` with no credentials, query or fragment.
fn parse_addr(s: &str) -> Result<String, Invalid> {
    let fix = "give e.g. https://vault.example:8200";
    let Some((scheme, rest)) = s.split_once("://") else {
        return Err(Invalid::one(
            "vault-addr",
            "vault address is not a URL",
            fix,
        ));
    };
    if scheme != "http" && scheme != "https" {
        return Err(Invalid::one(
            "vault-addr",
            "vault address must be http:// or https://",
            fix,
        ));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty()
        || authority.contains('@')
        || rest.contains(['?', '#'])
        || s.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(Invalid::one(
            "vault-addr",
            "vault address must be scheme://host[:port] without credentials, query or fragment",
            fix,
        ));
    }
    Ok(s.trim_end_matches('/').to_string())
}

/// A role, mount or namespace: letters, digits, `-`, `_`, `.`, and `/` in
/// mounts and namespaces; no `..`.
fn plain_name(s: &str, field: &str, slashes: bool) -> Result<String, Invalid> {
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c) || (slashes && c == '/'))
        && !s
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..");
    if ok {
        Ok(s.to_string())
    } else {
        Err(Invalid::one(
            "vault-name",
            format!("{field} may contain only letters, digits, '-', '_', '.'"),
            "give a plain name",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_without_vault_references_needs_no_vault_settings() {
        let mut problems = Problems::new();
        assert!(VaultArgs::default().config(false, &mut problems).is_none());
        assert!(problems.is_empty());
    }

    #[test]
    fn every_missing_setting_is_reported() {
        let mut problems = Problems::new();
        let args = VaultArgs {
            vault_addr: Some("https://u:p@vault".into()),
            ..VaultArgs::default()
        };
        assert!(args.config(true, &mut problems).is_none());
        let fields: Vec<String> = problems.into_vec().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["vault_addr", "vault_role"]);
    }

    #[test]
    fn kubernetes_login_takes_role_mount_and_token_file() {
        let mut problems = Problems::new();
        let args = VaultArgs {
            vault_role: Some("sandbox".into()),
            vault_addr: Some("http://127.0.0.1:8200/".into()),
            ..VaultArgs::default()
        };
        let config = args.config(true, &mut problems).unwrap();
        assert_eq!(config.addr, "http://127.0.0.1:8200");
        assert_eq!(
            config.login.to_string(),
            "kubernetes login as role sandbox at auth/kubernetes"
        );
    }
}
