//! Which nightly backup a sandbox's database starts from, and its remote
//! check (present and fresh enough).

use crate::remote::RemoteCheck;
use clap::Args;
use sandbox_core::TaskError;
use sandbox_core::params::{BucketUrl, Invalid, Problems, parse_duration};
use sandbox_db::discovery::{self, BackupQuery, NamePattern};
use sandbox_storage::{Storage, StorageConfig};
use std::time::Duration;

/// Where the backups are and which one is restored.
#[derive(Debug, Clone, Default, Args)]
pub struct BackupArgs {
    /// Where nightly backups are (gs://bucket/prefix/ or file:///dir); the newest is restored.
    #[arg(long, env = "SANDBOX_BACKUP_URL", value_name = "URL")]
    pub backup_url: Option<String>,
    /// Restore this object (its name below --backup-url) instead of the newest.
    #[arg(long, env = "SANDBOX_BACKUP_OBJECT", value_name = "NAME")]
    pub backup_object: Option<String>,
    /// Where the timestamp is in backup names, e.g. nightly-%Y%m%d-%H%M%S.sql.gz; the
    /// newest by that time wins (default: the newest by update time).
    #[arg(long, env = "SANDBOX_NAME_PATTERN", value_name = "PATTERN")]
    pub name_pattern: Option<String>,
    /// Refuse a backup older than this (e.g. 36h, 2d).
    #[arg(long, env = "SANDBOX_MAX_AGE", value_name = "DURATION")]
    pub max_age: Option<String>,
}

/// [`BackupArgs`], validated.
#[derive(Debug, Clone, Default)]
pub struct BackupPlan {
    /// What to look for (none without `--backup-url`).
    pub query: Option<BackupQuery>,
    /// Oldest acceptable backup.
    pub max_age: Option<Duration>,
}

impl BackupArgs {
    /// Validate; a missing `--backup-url` is a problem only when `required`.
    pub fn validate(&self, required: bool, problems: &mut Problems) -> BackupPlan {
        let location = match &self.backup_url {
            Some(url) => problems.parse("backup_url", url, BucketUrl::parse),
            None => {
                if required {
                    problems.missing("backup_url", "pass --backup-url gs://<bucket>/<prefix>/");
                }
                None
            }
        };
        let object = problems.parse_opt(
            "backup_object",
            self.backup_object.as_deref(),
            parse_object_key,
        );
        let name_pattern = problems.parse_opt(
            "name_pattern",
            self.name_pattern.as_deref(),
            NamePattern::parse,
        );
        let max_age = problems.parse_opt("max_age", self.max_age.as_deref(), parse_duration);
        BackupPlan {
            query: location.map(|location| BackupQuery {
                location,
                object,
                name_pattern,
            }),
            max_age,
        }
    }
}

/// An object key below the backup location.
fn parse_object_key(s: &str) -> Result<String, Invalid> {
    let bad = s.is_empty()
        || s.starts_with('/')
        || s.split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        || s.chars().any(char::is_control);
    if bad {
        return Err(Invalid::one(
            "object-name",
            "backup object must be a name below --backup-url, without '.' or '..' segments",
            "give e.g. nightly-20261127.sql.gz",
        ));
    }
    Ok(s.to_string())
}

impl BackupPlan {
    /// `check-params --check-remote`: the backup is there and fresh enough.
    pub async fn remote_checks(&self, storage: Option<&StorageConfig>) -> Vec<RemoteCheck> {
        const CHECK: &str = "backup-present-and-fresh";
        const FIX: &str = "check --backup-url and --name-pattern, and that the nightly backup ran";
        let (Some(query), Some(storage)) = (&self.query, storage) else {
            return Vec::new();
        };
        let result = async {
            let storage = Storage::new(storage.clone()).map_err(|e| e.to_string())?;
            let found = discovery::find(&storage, query)
                .await
                .map_err(|e| TaskError::from(e).full_message())?;
            match (self.max_age, found.age()) {
                (Some(max), Some(age)) if age > max => Err(format!(
                    "newest backup {} is {} old, more than {}",
                    found.url(),
                    human_duration(age),
                    human_duration(max)
                )),
                (Some(_), None) => Err(format!("the age of {} is unknown", found.url())),
                (_, age) => Ok(format!(
                    "{} ({} bytes{})",
                    found.url(),
                    found.object.size,
                    age.map(|a| format!(", {} old", human_duration(a)))
                        .unwrap_or_default()
                )),
            }
        }
        .await;
        vec![match result {
            Ok(detail) => RemoteCheck::passed(CHECK, "backup_url", detail),
            Err(detail) => RemoteCheck::failed(CHECK, "backup_url", detail, FIX),
        }]
    }
}

/// `1d2h`, `5m3s`, `42s`: a backup's age for people.
pub fn human_duration(d: Duration) -> String {
    match d.as_secs() {
        s if s >= 86_400 => format!("{}d{}h", s / 86_400, (s % 86_400) / 3_600),
        s if s >= 3_600 => format!("{}h{}m", s / 3_600, (s % 3_600) / 60),
        s if s >= 60 => format!("{}m{}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}
