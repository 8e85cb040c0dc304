//! `cleanup-secrets`: a step of the delete pipeline. Deletes every version
//! and the metadata of every KV v2 secret under the environment's Vault
//! path (`<mount>/metadata/<base>/<environment>/…`, listed recursively),
//! and the secret at that path itself if there is one. Never anything
//! outside it: the path must belong to the environment (guard rail, exit
//! 5) and every listed secret is checked to lie below it before deletion.
//! Idempotent: a second run finds nothing and succeeds.

use crate::args::{self, EnvArgs, Refusals, SecretsArgs, VaultArgs, VaultPlan};
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::params::Problems;
use sandbox_core::{Outputs, TaskError};

/// Delete the environment's secrets from Vault (all versions and metadata).
#[derive(Debug, Clone, Default, Args)]
#[command(
    about = "Delete every secret (all versions and metadata) under the environment's Vault path"
)]
pub struct Params {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub env: EnvArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub secrets: SecretsArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
}

/// The task.
pub struct CleanupSecrets;

/// A validated run: which tree to delete, and how to reach Vault.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The KV v2 mount.
    pub mount: String,
    /// The environment's folder below the mount.
    pub path: String,
    /// How to reach Vault (always configured: the task manages secrets).
    pub vault: VaultPlan,
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

    fn validate(params: &Params) -> Result<(), TaskError> {
        validate(params).map(drop)
    }

    #[tracing::instrument(name = "cleanup-secrets", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let plan = validate(&params)?;
        let creds = plan.vault.credentials(&ctx);
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
        if ctx.dry_run {
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
    let env = p.env.validate(None, &mut problems);
    let name = env.as_ref().map(|e| &e.environment);
    let scope = p.vault.scope(&mut problems);
    let secrets = p.secrets.validate(&p.vault, name, &mut problems);
    // The task manages secrets: Vault's settings are always needed.
    let config = p.vault.config(true, &mut problems);
    let (Some(env), Some(secrets), Some(config), true) =
        (env, secrets, config, problems.is_empty())
    else {
        return Err(args::invalid(problems));
    };
    let mut refusals = Refusals::new();
    env.refusals(&mut refusals);
    secrets.refusals(&env, &mut refusals);
    refusals.finish()?;
    Ok(Plan {
        mount: secrets.mount,
        path: secrets.path,
        vault: VaultPlan {
            scope,
            config: Some(config),
            environment: Some(env.environment),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbox_core::ErrorKind;

    fn params(env: &str, path: Option<&str>) -> Params {
        Params {
            env: EnvArgs {
                environment: Some(env.into()),
                ..EnvArgs::default()
            },
            secrets: SecretsArgs {
                vault_path: path.map(str::to_string),
            },
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
        let (params, common) =
            crate::runner::params_from_object::<CleanupSecrets>(object.as_object().unwrap())
                .unwrap();
        assert_eq!(
            params.vault.vault_base,
            ["secret/sandboxes", "secret/shared"]
        );
        assert!(common.dry_run);
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
