//! `cleanup-secrets`: a step of the delete pipeline. Deletes every version
//! and the metadata of every KV v2 secret under the environment's Vault
//! path (`<mount>/metadata/<base>/<environment>/…`, listed recursively),
//! and the secret at that path itself if there is one. Never anything
//! outside it: the path must belong to the environment (guard rail, exit
//! 5) and every listed secret is checked to lie below it before deletion.
//! Idempotent: a second run finds nothing and succeeds.

use crate::vault_args::VaultArgs;
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::credential::{ENVIRONMENT_VARIABLE, VaultScope};
use sandbox_core::params::{EnvPrefix, EnvironmentName, Invalid, PrNumber, Problems};
use sandbox_core::policy::Policy;
use sandbox_core::{Outputs, TaskError};
use sandbox_vault::VaultConfig;

/// Delete the environment's secrets from Vault (all versions and metadata).
#[derive(Debug, Clone, Args)]
#[command(
    about = "Delete every secret (all versions and metadata) under the environment's Vault path"
)]
pub struct Params {
    /// The pull request; the environment is <env_prefix>pr-<N>.
    #[arg(long, env = "SANDBOX_PR_NUMBER", value_name = "N")]
    pub pr_number: Option<String>,
    /// Prefix of sandbox names.
    #[arg(long, env = "SANDBOX_ENV_PREFIX", value_name = "PREFIX", default_value = EnvPrefix::DEFAULT)]
    pub env_prefix: String,
    /// The sandbox's name [default: <env_prefix>pr-<pr_number>].
    #[arg(long, env = "SANDBOX_ENVIRONMENT", value_name = "NAME")]
    pub environment: Option<String>,
    /// The environment's secrets, <mount>/<path>; {environment} is filled in [default: <first --vault-base>/<environment>].
    #[arg(long, env = "SANDBOX_VAULT_PATH", value_name = "PATH")]
    pub vault_path: Option<String>,
    /// List what would be deleted; delete nothing.
    #[arg(long, env = "SANDBOX_DRY_RUN")]
    pub dry_run: bool,
    /// How to reach Vault.
    #[command(flatten)]
    pub vault: VaultArgs,
}

/// The task.
pub struct CleanupSecrets;

/// A validated run: which tree to delete, and how to reach Vault.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The environment.
    pub environment: EnvironmentName,
    /// The KV v2 mount.
    pub mount: String,
    /// The environment's folder below the mount.
    pub path: String,
    /// How to reach Vault.
    pub vault: VaultConfig,
    /// The bases `vault://` references are confined to.
    pub scope: VaultScope,
}

impl Task for CleanupSecrets {
    const NAME: &'static str = "cleanup-secrets";
    const NEEDS: &'static [crate::Need] = crate::needs::VAULT;
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "secrets",
            description: "JSON list of the secrets under the environment's path (deleted, or to delete on a dry run).",
        },
        OutputSpec {
            name: "secrets_deleted",
            description: "How many secrets were deleted (0 on a dry run).",
        },
    ];
    type Params = Params;

    #[tracing::instrument(name = "cleanup-secrets", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let plan = validate(&params)?;
        let creds = params.vault.credentials(
            &ctx,
            plan.scope.clone(),
            Some(plan.environment.clone()),
            Some(plan.vault.clone()),
        );
        let vault = creds.vault().await?;
        let (mount, folder) = (plan.mount.as_str(), plan.path.as_str());
        let mut secrets = vault.kv2_list_recursive(mount, folder).await?;
        if vault.kv2_exists(mount, folder).await? {
            secrets.insert(0, folder.to_string());
        }
        // Built from the folder by construction; checked anyway, so a
        // listing bug can never delete a neighbour.
        let below = format!("{folder}/");
        if let Some(stray) = secrets
            .iter()
            .find(|s| *s != folder && !s.starts_with(&below))
        {
            return Err(TaskError::internal(format!(
                "listing {mount}/{folder} returned {mount}/{stray}, which is outside it"
            )));
        }
        let listed: Vec<String> = secrets.iter().map(|s| format!("{mount}/{s}")).collect();
        let mut outputs = Outputs::new();
        outputs.set(
            "secrets",
            serde_json::to_string(&listed)
                .map_err(|e| TaskError::internal("cannot encode the secret list").with_source(e))?,
        );
        if params.dry_run {
            for secret in &listed {
                tracing::info!(secret = %secret, "would delete every version and the metadata");
            }
            outputs.set("secrets_deleted", 0);
            return Ok(outputs);
        }
        ctx.progress.set_total(secrets.len() as u64);
        for (secret, name) in secrets.iter().zip(&listed) {
            vault.kv2_delete_all(mount, secret).await?;
            tracing::info!(secret = %name, "deleted every version and the metadata");
            ctx.progress.advance(1);
        }
        outputs.set("secrets_deleted", secrets.len());
        Ok(outputs)
    }
}

/// Validate every parameter (exit 2), then the guard rails (exit 5).
pub fn validate(p: &Params) -> Result<Plan, TaskError> {
    let mut problems = Problems::new();
    let prefix = problems.parse("env_prefix", &p.env_prefix, EnvPrefix::parse);
    let policy = prefix.map(Policy::new);
    let pr = problems.parse_opt("pr_number", p.pr_number.as_deref(), PrNumber::parse);
    let environment = match (&p.environment, pr, &policy) {
        (Some(env), _, _) => problems.parse("environment", env, EnvironmentName::parse),
        (None, Some(pr), Some(policy)) => problems.parse("environment", &pr.to_string(), |_| {
            policy.environment_for(pr)
        }),
        (None, None, _) if p.pr_number.is_none() => {
            problems.missing("pr_number", "pass --pr-number N (or --environment NAME)");
            None
        }
        _ => None,
    };
    let scope = p.vault.scope(&mut problems);
    let location = match (&p.vault_path, &environment) {
        (Some(path), Some(env)) => {
            let path = path.replace(ENVIRONMENT_VARIABLE, env.as_str());
            problems.parse("vault_path", &path, parse_vault_path)
        }
        (Some(path), None) => problems.parse("vault_path", path, parse_vault_path),
        (None, Some(env)) => {
            let base = p
                .vault
                .vault_base
                .first()
                .map_or("", |b| b.trim_matches('/'));
            problems.parse("vault_path", &format!("{base}/{env}"), parse_vault_path)
        }
        (None, None) => None,
    };
    let vault = p.vault.config(true, &mut problems);
    let (Some(policy), Some(environment), Some((mount, path)), Some(vault)) =
        (policy, environment, location, vault)
    else {
        return Err(TaskError::invalid(problems.into_vec()));
    };
    if !problems.is_empty() {
        return Err(TaskError::invalid(problems.into_vec()));
    }
    let full = format!("{mount}/{path}");
    let refusals: Vec<_> = [
        policy
            .check_environment(&environment)
            .map_err(|r| r.into_problem("environment", environment.as_str())),
        policy
            .check_vault_path(&full, &environment)
            .map_err(|r| r.into_problem("vault_path", &full)),
    ]
    .into_iter()
    .filter_map(Result::err)
    .collect();
    if !refusals.is_empty() {
        return Err(TaskError::refused(refusals));
    }
    Ok(Plan {
        environment,
        mount,
        path,
        vault,
        scope,
    })
}

/// `<mount>/<path>` of plain segments: no `..`, no empty segment, nothing
/// that would change the request URL.
fn parse_vault_path(s: &str) -> Result<(String, String), Invalid> {
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
            "give e.g. secret/sandboxes/<environment>",
        ));
    }
    Ok((segments[0].to_string(), segments[1..].join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbox_core::ErrorKind;

    fn params(env: &str, path: Option<&str>) -> Params {
        Params {
            pr_number: None,
            env_prefix: EnvPrefix::DEFAULT.into(),
            environment: Some(env.into()),
            vault_path: path.map(str::to_string),
            dry_run: false,
            vault: VaultArgs {
                vault_role: Some("sandbox".into()),
                vault_addr: Some("http://127.0.0.1:1".into()),
                ..VaultArgs::default()
            },
        }
    }

    #[test]
    fn the_default_path_is_the_base_and_the_environment() {
        let plan = validate(&params("sbx-pr-7", None)).unwrap();
        assert_eq!(
            (plan.mount.as_str(), plan.path.as_str()),
            ("secret", "sandboxes/sbx-pr-7")
        );
    }

    #[test]
    fn another_environments_path_is_refused() {
        for path in [
            "secret/sandboxes/sbx-pr-8",
            "secret/sandboxes",
            "secret/shared",
        ] {
            let err = validate(&params("sbx-pr-7", Some(path))).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Refused, "{path}");
            assert_eq!(err.details[0].rule, "foreign-secret-path");
        }
        let err = validate(&params("prod", None)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Refused);
    }

    #[test]
    fn params_objects_take_the_vault_keys() {
        let object = serde_json::json!({
            "environment": "sbx-pr-7",
            "vault_role": "sandbox-tasks",
            "vault_auth": "jwt",
            "vault_base": ["secret/sandboxes", "secret/shared"],
            "dry_run": true,
        });
        let params =
            crate::runner::params_from_object::<CleanupSecrets>(object.as_object().unwrap())
                .unwrap();
        assert_eq!(
            params.vault.vault_base,
            ["secret/sandboxes", "secret/shared"]
        );
        assert!(params.dry_run);
        assert!(crate::registry::TASKS.contains(&"cleanup-secrets"));
    }

    #[test]
    fn hostile_paths_are_invalid() {
        for path in [
            "secret/sandboxes/sbx-pr-7/..",
            "secret//sbx-pr-7",
            "sbx-pr-7",
            "secret/sbx-pr-7?list=true",
        ] {
            let err = validate(&params("sbx-pr-7", Some(path))).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidParams, "{path}");
        }
    }
}
