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
/// Directory holding the service binaries the test harness starts
/// (installed by `scripts/lib/tools.sh`).
pub const TOOLS_DIR: &str = "SANDBOX_TOOLS_DIR";
/// Directory of the PostgreSQL binaries (`psql`, `pg_restore`, `initdb`)
/// to use instead of the newest installed ones.
pub const PGBIN: &str = "SANDBOX_PGBIN";
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

/// `host:port` or `http://host:port` of a GCS emulator: requests go there,
/// anonymously (the convention of Google's client libraries).
pub const STORAGE_EMULATOR_HOST: &str = "STORAGE_EMULATOR_HOST";
/// Path of a Google service-account key or authorized-user JSON file
/// (Application Default Credentials).
pub const GOOGLE_APPLICATION_CREDENTIALS: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// Host of the GCE/GKE metadata server (default
/// `metadata.google.internal`), as Google's client libraries read it.
pub const GCE_METADATA_HOST: &str = "GCE_METADATA_HOST";

/// Host of the Kubernetes API as the kubelet tells every pod (with
/// `KUBERNETES_SERVICE_PORT`); read by in-cluster clients as client-go's
/// `rest.InClusterConfig` does.
pub const KUBERNETES_SERVICE_HOST: &str = "KUBERNETES_SERVICE_HOST";
/// Port of the Kubernetes API, beside `KUBERNETES_SERVICE_HOST`.
pub const KUBERNETES_SERVICE_PORT: &str = "KUBERNETES_SERVICE_PORT";

/// Set (to anything) by CI systems. Tests that need third-party fixtures
/// fail instead of skipping when it is set and the fixtures are missing.
pub const CI: &str = "CI";
/// Tests: set to rewrite the generated task templates and the README task
/// table instead of failing when they are stale.
pub const UPDATE_TEMPLATES: &str = "SANDBOX_UPDATE_TEMPLATES";
/// Tests: set to rewrite the generated schema tables instead of failing
/// when they are stale.
pub const UPDATE_TABLES: &str = "SANDBOX_UPDATE_TABLES";
/// Tests: the seed of the demo lifecycle kill-point test, to replay a run.
pub const KILL_SEED: &str = "SANDBOX_KILL_SEED";
/// Tests: a named point where restore-db aborts the process (as a kill
/// would), to prove a claim or clone killed there leaves everything
/// consistent; see sandbox-db's `failpoint`.
pub const FAILPOINT: &str = "SANDBOX_FAILPOINT";
/// Tests: cargo's target directory, where the harness also looks for tools.
pub const CARGO_TARGET_DIR: &str = "CARGO_TARGET_DIR";

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
