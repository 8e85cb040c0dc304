//! Turning a `CredentialRef` into the secret it names. Every task resolves
//! credentials here, and every resolved value is registered with the run's
//! redactor, so it is masked in anything the task reports.

use crate::Context;
use crate::vault_args::VaultArgs;
use sandbox_core::TaskError;
use sandbox_core::credential::CredentialRef;
use sandbox_core::params::{EnvironmentName, Problems};
use sandbox_git::Secret;

/// How a task reaches Vault for a `vault://` reference: its Vault flags and,
/// when it has one, the environment that fills `{environment}`.
#[derive(Debug, Clone, Copy)]
pub struct VaultAccess<'a> {
    /// The task's `--vault-*` flags.
    pub args: &'a VaultArgs,
    /// The environment, for `{environment}` in a path.
    pub environment: Option<&'a EnvironmentName>,
}

/// Resolve `reference` for parameter `field`. `file:` and `env:` are read
/// here; `vault://` through the task's Vault flags (bound to the Vault base
/// and the environment first, so a reference outside them sends nothing).
pub async fn resolve(
    field: &str,
    reference: &CredentialRef,
    ctx: &Context,
    vault: Option<VaultAccess<'_>>,
) -> Result<Secret, TaskError> {
    let value = match reference {
        CredentialRef::File(path) => std::fs::read_to_string(path).map_err(|e| {
            TaskError::precondition(format!(
                "{field}: cannot read the credential file {}",
                path.display()
            ))
            .with_source(e)
        })?,
        CredentialRef::Env(name) => std::env::var(name).map_err(|_| {
            TaskError::precondition(format!(
                "{field}: environment variable {name} is not set (or not UTF-8)"
            ))
        })?,
        CredentialRef::Vault { .. } => resolve_vault(field, reference, ctx, vault).await?,
    };
    let secret = Secret::new(value);
    if secret.expose().is_empty() {
        return Err(TaskError::precondition(format!(
            "{field}: the credential {reference} is empty"
        )));
    }
    ctx.redactor.add(secret.expose());
    Ok(secret)
}

/// A `vault://` reference: bound, then read with the task's Vault login.
async fn resolve_vault(
    field: &str,
    reference: &CredentialRef,
    ctx: &Context,
    vault: Option<VaultAccess<'_>>,
) -> Result<String, TaskError> {
    let Some(access) = vault else {
        return Err(TaskError::precondition(format!(
            "{field}: {reference}: this task has no Vault flags; pass file: or env:"
        )));
    };
    let mut problems = Problems::new();
    let scope = access.args.scope(&mut problems);
    let bound = problems.parse_secret(field, "", |_| {
        reference.clone().bind(access.environment, &scope)
    });
    let config = access.args.config(true, &mut problems);
    let (Some(bound), true) = (bound, problems.is_empty()) else {
        return Err(TaskError::invalid(problems.into_vec()));
    };
    let credentials = access
        .args
        .credentials(ctx, scope, access.environment.cloned(), config);
    let secret = credentials.resolve(&bound).await?;
    Ok(secret.expose().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn files_are_read_and_masked_and_vault_is_a_precondition() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "tok-123456\n").unwrap();
        let ctx = Context::default();
        let secret = resolve("git_token", &CredentialRef::File(path), &ctx, None)
            .await
            .unwrap();
        assert_eq!(secret.expose(), "tok-123456");
        assert_eq!(ctx.redactor.mask("x tok-123456 y"), "x *** y");
        let vault = CredentialRef::parse("vault://secret/x#token").unwrap();
        let err = resolve("git_token", &vault, &ctx, None).await.unwrap_err();
        assert_eq!(err.kind, sandbox_core::ErrorKind::Precondition);
        let missing = CredentialRef::Env("SANDBOX_TEST_SURELY_UNSET_VAR".into());
        assert!(resolve("git_token", &missing, &ctx, None).await.is_err());
    }
}
