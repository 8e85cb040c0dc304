//! The database server to restore into: where its URL comes from
//! (`--database-url`: a credential reference, or a URL with no password in
//! it), and the forms each client needs — sqlx options for administration,
//! a password-free URL plus `PGPASSWORD` for psql and pg_restore, and a
//! redacted text for messages.

use crate::DbError;
use sandbox_core::credential::CredentialRef;
use sandbox_core::params::Invalid;
use sandbox_core::redact::redact_url;
use sqlx::postgres::PgConnectOptions;
use std::str::FromStr;
use url::Url;

/// Where the server's URL comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerRef {
    /// A `postgres://` URL given as is; it has no password (one may come
    /// from `PGPASSWORD` or a password file, as libpq does it).
    Url(String),
    /// A credential holding the whole URL.
    Credential(CredentialRef),
}

const FIX: &str =
    "put the URL in a file, an environment variable or Vault and pass file:, env: or vault://";

impl ServerRef {
    /// Parse `--database-url`. A URL with a password in it is refused
    /// without echoing it.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            let url = Url::parse(s)
                .map_err(|_| Invalid::one("postgres-url", "database URL cannot be parsed", FIX))?;
            if url.password().is_some() {
                return Err(Invalid::one(
                    "no-embedded-credentials",
                    "database URL has a password in it",
                    FIX,
                ));
            }
            return Ok(ServerRef::Url(s.to_string()));
        }
        CredentialRef::parse(s).map(ServerRef::Credential)
    }
}

/// A resolved server URL.
#[derive(Clone)]
pub struct Server {
    url: Url,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Server {
    /// A server from its URL text.
    pub fn from_url(text: &str) -> Result<Self, DbError> {
        let bad = || {
            DbError::Backup(
                "the database URL is not a postgres:// or postgresql:// URL".to_string(),
            )
        };
        let url = Url::parse(text).map_err(|_| bad())?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(bad());
        }
        Ok(Server { url })
    }

    /// The password, if the URL holds one (to register with the redactor
    /// and to hand to psql through `PGPASSWORD`).
    pub fn password(&self) -> Option<String> {
        self.url.password().map(|p| {
            url::form_urlencoded::parse(format!("p={p}").as_bytes())
                .next()
                .map_or_else(|| p.to_string(), |(_, v)| v.into_owned())
        })
    }

    /// The URL for messages: no credentials.
    pub fn redacted(&self) -> String {
        redact_url(self.url.as_str())
    }

    /// The database the URL names (the maintenance database administration
    /// connects to), `postgres` when it names none.
    pub fn maintenance_database(&self) -> String {
        let db = self.url.path().trim_start_matches('/');
        if db.is_empty() {
            "postgres".into()
        } else {
            db.to_string()
        }
    }

    /// The URL of `database` with no password, for psql and pg_restore.
    pub fn tool_url(&self, database: &str) -> String {
        let mut url = self.url.clone();
        let _ = url.set_password(None);
        url.set_path(&format!("/{database}"));
        url.to_string()
    }

    /// sqlx options for `database` (the maintenance database when `None`).
    pub fn options(&self, database: Option<&str>) -> Result<PgConnectOptions, DbError> {
        let options =
            PgConnectOptions::from_str(self.url.as_str()).map_err(|source| DbError::Connect {
                server: self.redacted(),
                source,
            })?;
        let options = options.application_name("restore-db");
        Ok(match database {
            Some(db) => options.database(db),
            None => options.database(&self.maintenance_database()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_bare_urls() {
        assert!(matches!(
            ServerRef::parse("env:DB").unwrap(),
            ServerRef::Credential(CredentialRef::Env(_))
        ));
        assert!(matches!(
            ServerRef::parse("postgres://app@db:5432/postgres").unwrap(),
            ServerRef::Url(_)
        ));
        let err = ServerRef::parse("postgres://app:hunter2@db/x").unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
        assert!(ServerRef::parse("hunter2").is_err());
    }

    #[test]
    fn tool_urls_carry_no_password() {
        let s = Server::from_url("postgres://app:p%40ss@127.0.0.1:5432/postgres?sslmode=disable")
            .unwrap();
        assert_eq!(s.password().as_deref(), Some("p@ss"));
        assert_eq!(
            s.tool_url("sbx_pr_1"),
            "postgres://app@127.0.0.1:5432/sbx_pr_1?sslmode=disable"
        );
        assert_eq!(s.maintenance_database(), "postgres");
        assert!(!format!("{s:?}").contains("p%40ss"));
    }
}
