//! The sandbox's database: its name, the server it lives on, the database
//! the backups come from; resolving the server's credentials; its remote
//! check.

use super::{EnvPlan, Refusals};
use crate::remote::RemoteCheck;
use clap::Args;
use sandbox_core::TaskError;
use sandbox_core::credential::{CredentialRef, VaultScope};
use sandbox_core::params::{DatabaseName, EnvironmentName, Problems};
use sandbox_db::admin::Admin;
use sandbox_db::server::{Server, ServerRef};
use sandbox_vault::Credentials;

/// The database, its server and its source.
#[derive(Debug, Clone, Default, Args)]
pub struct DatabaseArgs {
    /// The sandbox database [default: <environment> with '-' → '_'].
    #[arg(long, env = "SANDBOX_DATABASE_NAME", value_name = "NAME")]
    pub database_name: Option<String>,
    /// The database the backups were taken from; never restored into or dropped.
    #[arg(long, env = "SANDBOX_SOURCE_DATABASE", value_name = "NAME")]
    pub source_database: Option<String>,
    /// The database server: file:, env: or vault:// reference to a URL, or a URL without a password.
    #[arg(long, env = "SANDBOX_DATABASE_URL", value_name = "REF")]
    pub database_url: Option<String>,
}

/// [`DatabaseArgs`], validated.
#[derive(Debug, Clone)]
pub struct DatabasePlan {
    /// The sandbox database.
    pub database: DatabaseName,
    /// The database backups come from.
    pub source_database: Option<DatabaseName>,
    /// The server (none without `--database-url`).
    pub server: Option<ServerRef>,
}

impl DatabaseArgs {
    /// Validate; a missing `--database-url` is a problem only when
    /// `required`. A `vault://` server reference is bound to the
    /// environment and confined to the Vault bases.
    pub fn validate(
        &self,
        required: bool,
        environment: Option<&EnvironmentName>,
        scope: &VaultScope,
        problems: &mut Problems,
    ) -> Option<DatabasePlan> {
        let database = match (&self.database_name, environment) {
            (Some(name), _) => problems.parse("database_name", name, DatabaseName::parse),
            (None, Some(env)) => problems.parse("environment", env.as_str(), |_| {
                DatabaseName::for_environment(env)
            }),
            (None, None) => None,
        };
        let source_database = problems.parse_opt(
            "source_database",
            self.source_database.as_deref(),
            DatabaseName::parse,
        );
        let server = self.server(required, environment, scope, problems);
        Some(DatabasePlan {
            database: database?,
            source_database,
            server,
        })
    }

    /// Validate only the server, for a task that works on no sandbox's
    /// database (`prepare-db`); a missing `--database-url` is a problem
    /// only when `required`.
    pub fn server(
        &self,
        required: bool,
        environment: Option<&EnvironmentName>,
        scope: &VaultScope,
        problems: &mut Problems,
    ) -> Option<ServerRef> {
        match &self.database_url {
            Some(url) => {
                problems.parse_secret("database_url", url, |s| match ServerRef::parse(s)? {
                    ServerRef::Credential(r) => {
                        Ok(ServerRef::Credential(r.bind(environment, scope)?))
                    }
                    other => Ok(other),
                })
            }
            None => {
                if required {
                    problems.missing(
                    "database_url",
                    "pass --database-url file:<path>, env:<VARIABLE> or vault://<mount>/<path>#<key>",
                );
                }
                None
            }
        }
    }
}

impl DatabasePlan {
    /// The credential reference of the server, if it is one.
    pub fn references(&self) -> impl Iterator<Item = &CredentialRef> {
        match &self.server {
            Some(ServerRef::Credential(r)) => Some(r),
            _ => None,
        }
        .into_iter()
    }

    /// The database must be the environment's, never protected, never the
    /// source.
    pub fn refusals(&self, env: &EnvPlan, refusals: &mut Refusals) {
        refusals.check(
            "database_name",
            self.database.as_str(),
            env.policy.check_database(
                &self.database,
                &env.environment,
                self.source_database.as_ref(),
            ),
        );
    }

    /// `check-params --check-remote`: the server takes the credentials.
    pub async fn remote_checks(&self, creds: &Credentials) -> Vec<RemoteCheck> {
        let Some(reference) = &self.server else {
            return Vec::new();
        };
        let result: Result<String, TaskError> = async {
            let server = resolve_server(reference, creds).await?;
            let mut admin = Admin::connect(&server).await.map_err(TaskError::from)?;
            let version = admin.version().await.map_err(TaskError::from)?;
            Ok(format!("{} (PostgreSQL {version})", server.redacted()))
        }
        .await;
        const CHECK: &str = "database-reachable";
        vec![match result {
            Ok(detail) => RemoteCheck::passed(CHECK, "database_url", detail),
            // Retrying helps only a transient failure (Vault or the server down).
            Err(e) => RemoteCheck::failed(
                CHECK,
                "database_url",
                e.full_message(),
                "check the server address and the credentials --database-url points to",
            )
            .with_kind(e.kind),
        }]
    }
}

/// The database server: a credential reference through the run's
/// credentials (files, variables and Vault alike: the one resolver), a
/// plain URL as it is.
pub async fn resolve_server(
    reference: &ServerRef,
    creds: &Credentials,
) -> Result<Server, TaskError> {
    match reference {
        ServerRef::Credential(r) => {
            let url = creds.resolve(r).await.map_err(TaskError::from)?;
            Server::from_url(url.expose().trim_end()).map_err(TaskError::from)
        }
        ServerRef::Url(url) => Server::from_url(url).map_err(TaskError::from),
    }
}
