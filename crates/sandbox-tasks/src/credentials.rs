//! Turning a `CredentialRef` into the secret it names. Every task resolves
//! credentials here, and every resolved value is registered with the run's
//! redactor, so it is masked in anything the task reports.

use crate::Context;
use sandbox_core::TaskError;
use sandbox_core::credential::CredentialRef;
use sandbox_git::Secret;

/// Resolve `reference` for parameter `field`. `file:` and `env:` are read
/// here; `vault://` is resolved by the secrets support (until it lands, a
/// precondition error says so).
pub async fn resolve(
    field: &str,
    reference: &CredentialRef,
    ctx: &Context,
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
        CredentialRef::Vault { .. } => return resolve_vault(field, reference, ctx).await,
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

/// The one place Vault references are resolved; replaced by the secrets
/// support (KV v2 read with the run's Vault login).
async fn resolve_vault(
    field: &str,
    reference: &CredentialRef,
    _ctx: &Context,
) -> Result<Secret, TaskError> {
    Err(TaskError::precondition(format!(
        "{field}: {reference}: Vault references are not supported by this build yet; pass file: or env:"
    )))
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
        let secret = resolve("git_token", &CredentialRef::File(path), &ctx)
            .await
            .unwrap();
        assert_eq!(secret.expose(), "tok-123456");
        assert_eq!(ctx.redactor.mask("x tok-123456 y"), "x *** y");
        let vault = CredentialRef::parse("vault://secret/x#token").unwrap();
        let err = resolve("git_token", &vault, &ctx).await.unwrap_err();
        assert_eq!(err.kind, sandbox_core::ErrorKind::Precondition);
        let missing = CredentialRef::Env("SANDBOX_TEST_SURELY_UNSET_VAR".into());
        assert!(resolve("git_token", &missing, &ctx).await.is_err());
    }
}
