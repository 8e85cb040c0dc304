//! Every environment variable the project reads, in one place.
//!
//! Task flags read `SANDBOX_<UPPER_SNAKE>` through clap (see
//! [`flag_env`]); the names below are the ones read outside a flag.

/// Where task binaries write output parameters (default `/tmp/outputs`).
pub const OUTPUTS_DIR: &str = "SANDBOX_OUTPUTS_DIR";
/// `text` or `json`; json when stderr is not a terminal.
pub const LOG_FORMAT: &str = "SANDBOX_LOG_FORMAT";
/// `error`, `warn`, `info` (default), `debug` or `trace`.
pub const LOG_LEVEL: &str = "SANDBOX_LOG_LEVEL";
/// Directory of third-party test fixtures (default `../shared/fixtures`).
pub const FIXTURES: &str = "SANDBOX_FIXTURES";
/// Directory holding the service binaries the test harness starts.
pub const TOOLS_DIR: &str = "SANDBOX_TOOLS_DIR";
/// Directory of the PostgreSQL binaries (`psql`, `pg_restore`, `initdb`)
/// to use instead of the newest installed ones.
pub const PGBIN: &str = "SANDBOX_PGBIN";
/// Set (to anything) to make the tests rewrite generated files — the task
/// templates and the README's tables — instead of failing on a difference.
pub const UPDATE_TEMPLATES: &str = "SANDBOX_UPDATE_TEMPLATES";
/// The `database_url` parameter's variable, also read by `sandbox demo`.
pub const DATABASE_URL: &str = "SANDBOX_DATABASE_URL";

/// Vault's address (`https://vault:8200`), the standard Vault variable;
/// `--vault-addr` / `SANDBOX_VAULT_ADDR` win over it.
pub const VAULT_ADDR: &str = "VAULT_ADDR";
/// Vault Enterprise / OpenBao namespace, sent as `X-Vault-Namespace`;
/// `--vault-namespace` / `SANDBOX_VAULT_NAMESPACE` win over it.
pub const VAULT_NAMESPACE: &str = "VAULT_NAMESPACE";
/// PEM file of the CA that signed Vault's certificate; `--vault-ca-cert` /
/// `SANDBOX_VAULT_CA_CERT` win over it.
pub const VAULT_CACERT: &str = "VAULT_CACERT";
/// The token of `--vault-auth token` (local runs). Never a flag: a token on
/// a command line is visible to every user of the machine.
pub const VAULT_TOKEN: &str = "VAULT_TOKEN";

/// The environment variable a flag reads: `SANDBOX_` + its name in upper
/// snake case (`base_branch` or `base-branch` → `SANDBOX_BASE_BRANCH`).
pub fn flag_env(name: &str) -> String {
    let mut out = String::from("SANDBOX_");
    out.extend(name.chars().map(|c| {
        if c == '-' {
            '_'
        } else {
            c.to_ascii_uppercase()
        }
    }));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn flag_env_is_prefixed_upper_snake() {
        assert_eq!(super::flag_env("base-branch"), "SANDBOX_BASE_BRANCH");
        assert_eq!(super::flag_env("pr_number"), "SANDBOX_PR_NUMBER");
    }
}
