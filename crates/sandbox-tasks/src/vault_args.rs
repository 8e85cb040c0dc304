//! The Vault flags every task that takes a credential flattens into its
//! `Params` (`#[command(flatten)] pub vault: VaultArgs`), and their
//! validation into a scope and a login before any side effect.
//!
//! Usage in a task (see `crates/sandbox-vault/README.md`):
//!
//! ```ignore
//! // validate():
//! let scope = p.vault.scope(&mut problems);
//! let token = problems.parse_secret("git_token", &p.git_token, |s| {
//!     CredentialRef::parse_bound(s, Some(&env), &scope)
//! });
//! let vault = p.vault.config(token.iter().any(CredentialRef::is_vault), &mut problems);
//! // run():
//! let creds = p.vault.credentials(&ctx, scope, Some(env), vault);
//! let token = creds.resolve(&token).await?; // Secret; token.expose() where needed
//! ```

use crate::Context;
use clap::Args;
use sandbox_core::credential::{Secret, VaultScope};
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

    /// The run's resolver: every value it resolves is masked by the run's
    /// redactor.
    pub fn credentials(
        &self,
        ctx: &Context,
        scope: VaultScope,
        environment: Option<EnvironmentName>,
        vault: Option<VaultConfig>,
    ) -> Credentials {
        Credentials::new(ctx.redactor.clone())
            .with_scope(scope)
            .with_environment(environment)
            .with_vault(vault)
    }
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
