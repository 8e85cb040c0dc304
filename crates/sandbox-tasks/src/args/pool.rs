//! The warm pool and the template database that `prepare-db` fills at
//! night and `restore-db` takes from, and the guard rail that keeps them
//! apart from every sandbox's own database.

use super::Refusals;
use clap::Args;
use sandbox_core::params::{DatabaseName, EnvPrefix, Invalid, Problems, parse_duration};
use sandbox_core::policy::{PROTECTED_DATABASES, Refusal};
use sandbox_db::pool::{self, DEFAULT_PREFIX, DEFAULT_TEMPLATE};
use std::time::Duration;

/// Where the prepared databases are.
#[derive(Debug, Clone, Args)]
pub struct PoolArgs {
    /// Pool databases are <pool_prefix>_1, <pool_prefix>_2, …; never a sandbox's name.
    #[arg(long, env = "SANDBOX_POOL_PREFIX", value_name = "NAME", default_value = DEFAULT_PREFIX)]
    pub pool_prefix: String,
    /// The template database the nightly job restores into.
    #[arg(long, env = "SANDBOX_TEMPLATE_NAME", value_name = "NAME", default_value = DEFAULT_TEMPLATE)]
    pub template_name: String,
    /// How long a clone waits for the template to have no other connections (e.g. 30s).
    #[arg(long, env = "SANDBOX_TEMPLATE_WAIT", value_name = "DURATION", default_value = DEFAULT_TEMPLATE_WAIT)]
    pub template_wait: String,
}

/// How long a clone waits for the template when not told: PostgreSQL
/// itself waits 5 s in `CREATE DATABASE` for other sessions to leave
/// (`src/backend/storage/ipc/procarray.c` `CountOtherDBBackends`: 50 tries
/// 100 ms apart, ending autovacuum workers on the way).
pub const DEFAULT_TEMPLATE_WAIT: &str = "30s";

impl Default for PoolArgs {
    fn default() -> Self {
        PoolArgs {
            pool_prefix: DEFAULT_PREFIX.into(),
            template_name: DEFAULT_TEMPLATE.into(),
            template_wait: DEFAULT_TEMPLATE_WAIT.into(),
        }
    }
}

/// [`PoolArgs`], validated.
#[derive(Debug, Clone)]
pub struct PoolPlan {
    /// The pool's prefix (a valid database name, with room for `_<k>`).
    pub prefix: DatabaseName,
    /// The template database.
    pub template: DatabaseName,
    /// How long a clone waits for the template to be free.
    pub template_wait: Duration,
}

impl PoolArgs {
    /// Validate both names.
    pub fn validate(&self, problems: &mut Problems) -> Option<PoolPlan> {
        let prefix = problems.parse("pool_prefix", &self.pool_prefix, |s| {
            // Room for "_64" and the staging suffix of a member's restore.
            if s.len() > 40 {
                return Err(Invalid::one(
                    "pool-prefix-length",
                    "pool_prefix must be at most 40 characters",
                    "pass a shorter prefix such as sbx_pool",
                ));
            }
            DatabaseName::parse(s)
        });
        let template = problems.parse("template_name", &self.template_name, DatabaseName::parse);
        let template_wait = problems.parse("template_wait", &self.template_wait, parse_duration);
        Some(PoolPlan {
            prefix: prefix?,
            template: template?,
            template_wait: template_wait?,
        })
    }
}

impl PoolPlan {
    /// True when `name` is a pool member or the template.
    pub fn holds(&self, name: &str) -> bool {
        name == self.template.as_str() || pool::member_index(self.prefix.as_str(), name).is_some()
    }

    /// The pool and the template are the nightly job's: never protected,
    /// never the backups' source, never a pull request's database
    /// (`<env_prefix>pr_<N>`). Sandboxes named otherwise are kept off the
    /// pool's names by [`PoolPlan::target_refusal`].
    pub fn refusals(
        &self,
        env_prefix: &EnvPrefix,
        protected: &[String],
        source: Option<&DatabaseName>,
        refusals: &mut Refusals,
    ) {
        // What every pull request's database starts with, e.g. sbx_pr_.
        let sandbox_stem = format!("{}pr_", env_prefix.as_str().replace('-', "_"));
        for (field, name) in [
            ("pool_prefix", self.prefix.as_str()),
            ("template_name", self.template.as_str()),
        ] {
            let probe = if field == "pool_prefix" {
                pool::member_name(name, 1)
            } else {
                name.to_string()
            };
            // Each field against its own names only, so a refusal names the
            // field at fault.
            let names = |db: &str| {
                if field == "pool_prefix" {
                    pool::member_index(name, db).is_some()
                } else {
                    db == name
                }
            };
            let protected_hit = PROTECTED_DATABASES
                .iter()
                .map(|s| s.to_string())
                .chain(protected.iter().cloned())
                .any(|p| p == probe || names(&p));
            let result = if protected_hit {
                Err(refusal(
                    "protected-database",
                    format!("{field} {name} names a protected database"),
                ))
            } else if source.is_some_and(|s| names(s.as_str())) {
                Err(refusal(
                    "restore-source",
                    format!("{field} {name} names the restore source"),
                ))
            } else if probe.starts_with(&sandbox_stem) {
                Err(refusal(
                    "sandbox-database",
                    format!("{field} {name} gives {probe}, the name of a sandbox's database"),
                ))
            } else {
                Ok(())
            };
            refusals.check(field, name, result);
        }
    }

    /// A sandbox's own database must never be one of the pool's.
    pub fn target_refusal(&self, target: &DatabaseName, refusals: &mut Refusals) {
        let result = if self.holds(target.as_str()) {
            Err(refusal(
                "pool-database",
                format!("database {target} is a prepared pool or template database"),
            ))
        } else {
            Ok(())
        };
        refusals.check("database_name", target.as_str(), result);
    }
}

fn refusal(rule: &'static str, message: String) -> Refusal {
    Refusal {
        rule,
        message,
        fix: "choose a --pool-prefix and --template-name of their own, e.g. the defaults"
            .to_string(),
    }
}
