//! How a backup is restored, wherever it goes (a sandbox's database, the
//! warm pool, the template): who owns what, and how many jobs.

use clap::Args;
use sandbox_core::params::{Invalid, Problems};
use sandbox_db::pipeline::RestoreOptions;
use std::path::PathBuf;

/// Ownership and parallelism of a restore.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// Role owning the database when it is created.
    #[arg(long, env = "SANDBOX_OWNER", value_name = "ROLE")]
    pub owner: Option<String>,
    /// Do not restore the dump's ownership: objects belong to the restoring role.
    #[arg(long, env = "SANDBOX_NO_OWNER")]
    pub no_owner: bool,
    /// Role to restore as (SET ROLE), so it owns what --no-owner leaves.
    #[arg(long, env = "SANDBOX_ROLE", value_name = "ROLE")]
    pub role: Option<String>,
    /// Parallel restore jobs; above 1 a custom-format backup is first
    /// downloaded to a temporary file with parallel ranged reads.
    #[arg(long, env = "SANDBOX_JOBS", value_name = "N", default_value = "1")]
    pub jobs: String,
    /// Directory for the temporary file of a parallel restore [default: the system's].
    #[arg(long, env = "SANDBOX_TEMP_DIR", value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,
}

impl Default for RestoreArgs {
    fn default() -> Self {
        RestoreArgs {
            owner: None,
            no_owner: false,
            role: None,
            jobs: "1".into(),
            temp_dir: None,
        }
    }
}

/// [`RestoreArgs`], validated.
#[derive(Debug, Clone)]
pub struct RestorePlan {
    /// Owner of a created database.
    pub owner: Option<String>,
    /// How the tool restores.
    pub options: RestoreOptions,
    /// Parallel jobs.
    pub jobs: u32,
    /// Where a parallel restore's file goes.
    pub temp_dir: PathBuf,
}

impl RestoreArgs {
    /// Validate every field.
    pub fn validate(&self, problems: &mut Problems) -> Option<RestorePlan> {
        let owner = problems.parse_opt("owner", self.owner.as_deref(), parse_role);
        let role = problems.parse_opt("role", self.role.as_deref(), parse_role);
        let jobs = problems.parse("jobs", &self.jobs, parse_jobs);
        Some(RestorePlan {
            owner,
            options: RestoreOptions {
                no_owner: self.no_owner,
                role,
            },
            jobs: jobs?,
            temp_dir: self.temp_dir.clone().unwrap_or_else(std::env::temp_dir),
        })
    }
}

/// A role name: what needs no more than plain quoting and reads the same
/// in every tool.
fn parse_role(s: &str) -> Result<String, Invalid> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !s.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(s.to_string())
    } else {
        Err(Invalid::one(
            "role-name",
            "role name must be 1 to 63 letters, digits, '_' or '-', not starting with a digit",
            "give the role's plain name",
        ))
    }
}

fn parse_jobs(s: &str) -> Result<u32, Invalid> {
    s.parse::<u32>()
        .ok()
        .filter(|n| (1..=64).contains(n))
        .ok_or_else(|| {
            Invalid::one(
                "jobs",
                "jobs must be a whole number from 1 to 64",
                "pass e.g. 2",
            )
        })
}
