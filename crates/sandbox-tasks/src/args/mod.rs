//! The shared vocabulary of task parameters: one group of flags per family
//! (environment identity, repository, commit author, branches, overlay,
//! apps, buckets, backups, database, restores, the prepared pool, GitHub, Vault), each declared once with
//! its validation. A task's `Params` flattens the groups it takes and adds
//! only its own flags; `check-params` flattens them all, so it validates
//! every parameter with the same code as the task that uses it and can no
//! longer disagree with one.
//!
//! Every group has the same shape: `validate(&self, …, &mut Problems) ->
//! Option<Plan>` records every syntax problem (exit 2) and returns the typed
//! plan when its own fields parsed; guard rails that need the environment
//! are checked on the plan through [`Refusals`] (exit 5), after every field
//! of the task parsed, so a refusal is never caused by a typo. Where a group
//! has a remote check, it is a method of its plan returning
//! [`crate::remote::RemoteCheck`]s.

pub mod apps;
pub mod argocd;
pub mod author;
pub mod backup;
pub mod branch;
pub mod bucket;
pub mod database;
pub mod env;
pub mod github;
pub mod kube;
pub mod overlay;
pub mod pool;
pub mod repo;
pub mod restore;
pub mod sleep;
pub mod vault;

#[cfg(test)]
mod agreement;

pub use apps::{AppsArgs, AppsDirArgs, AppsPlan};
pub use argocd::ArgoCdArgs;
pub use author::AuthorArgs;
pub use backup::{BackupArgs, BackupPlan};
pub use branch::{BaseBranchArgs, BranchArgs, IfExistsArg};
pub use bucket::{BucketArgs, BucketPlan, StorageArgs};
pub use database::{DatabaseArgs, DatabasePlan};
pub use env::{EnvArgs, EnvPlan, PrefixArgs};
pub use github::{Forge, ForgeArgs, GithubArgs, GithubPlan};
pub use kube::{KubeArgs, KubePlan};
pub use overlay::{ImagesFromArgs, OverlayArgs, OverlayPlan};
pub use pool::{PoolArgs, PoolPlan};
pub use repo::{RepoArgs, RepoPlan};
pub use restore::{RestoreArgs, RestorePlan};
pub use sleep::{KubectlArgs, SleepArgs, SleepPlan};
pub use vault::{SecretsArgs, VaultArgs, VaultPlan};

use clap::{Args, Command};
use sandbox_core::policy::Refusal;
use sandbox_core::{Problem, TaskError};

/// Guard-rail refusals gathered over every group of a task, reported
/// together (exit 5).
#[derive(Debug, Default)]
pub struct Refusals(Vec<Problem>);

impl Refusals {
    /// Nothing refused yet.
    pub fn new() -> Self {
        Refusals::default()
    }

    /// Record `result` of a guard rail about `field` = `value`.
    pub fn check(&mut self, field: &str, value: &str, result: Result<(), Refusal>) {
        if let Err(r) = result {
            self.0.push(r.into_problem(field, value));
        }
    }

    /// Exit 5 with every refusal, or go on.
    pub fn finish(self) -> Result<(), TaskError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(TaskError::refused(self.0))
        }
    }
}

/// Exit 2 with every problem unless all of them parsed: the common end of
/// a task's validation (`let (Some(a), Some(b)) = … else { return invalid }`).
pub fn invalid(problems: sandbox_core::params::Problems) -> TaskError {
    TaskError::invalid(problems.into_vec())
}

/// One group as the docs show it: its name, what it is for, and its flags.
#[derive(Debug, Clone, Copy)]
pub struct Group {
    /// The name the README uses, e.g. `environment`.
    pub name: &'static str,
    /// One line: what the group's flags say.
    pub about: &'static str,
    /// Adds the group's arguments to a command.
    augment: fn(Command) -> Command,
}

impl Group {
    const fn of<G: Args>(name: &'static str, about: &'static str) -> Self {
        Group {
            name,
            about,
            augment: G::augment_args,
        }
    }

    /// The ids (snake_case keys) of the group's parameters.
    pub fn keys(&self) -> Vec<String> {
        (self.augment)(Command::new(self.name))
            .get_arguments()
            .map(|a| a.get_id().to_string())
            .collect()
    }
}

/// Every group, in the order the README lists them. Nested groups
/// (`PrefixArgs` inside `EnvArgs`, `AppsDirArgs` inside `AppsArgs`) come
/// before the group that holds them, so a task is described by the
/// largest groups it takes.
pub const GROUPS: &[Group] = &[
    Group::of::<EnvArgs>(
        "environment",
        "Which sandbox: its PR number or name, the name prefix, and the protected lists of the guard rails.",
    ),
    Group::of::<PrefixArgs>(
        "prefix",
        "The prefix of sandbox names (part of environment).",
    ),
    Group::of::<RepoArgs>(
        "repository",
        "The infrastructure Git repository, its credentials and the clone cache.",
    ),
    Group::of::<AuthorArgs>("author", "The author of the commits a task pushes."),
    Group::of::<BranchArgs>("branch", "The environment's branch of the repository."),
    Group::of::<BaseBranchArgs>(
        "base-branch",
        "Where a new environment branch starts, and what to do if it exists.",
    ),
    Group::of::<OverlayArgs>(
        "overlay",
        "The environment's Kustomize overlay and namespace.",
    ),
    Group::of::<ImagesFromArgs>(
        "images-from",
        "The overlay whose image tags a new sandbox starts with.",
    ),
    Group::of::<AppsArgs>(
        "apps",
        "The app-of-apps directory, its branch and the Application's name.",
    ),
    Group::of::<AppsDirArgs>(
        "apps-dir",
        "The app-of-apps directory and its branch (part of apps).",
    ),
    Group::of::<ArgoCdArgs>("argocd", "The namespace Argo CD keeps its Applications in."),
    Group::of::<KubeArgs>(
        "kube",
        "The Kubernetes API a task reads: in a pod its own, else a URL, a token file and a CA.",
    ),
    Group::of::<BucketArgs>("bucket", "Where documents are copied from and to."),
    Group::of::<StorageArgs>("storage", "How buckets are reached (an emulator endpoint)."),
    Group::of::<BackupArgs>(
        "backup",
        "Which nightly backup: where, which object, how fresh.",
    ),
    Group::of::<DatabaseArgs>(
        "database",
        "The sandbox database, its server and the source database.",
    ),
    Group::of::<RestoreArgs>(
        "restore",
        "How a backup is restored: ownership, the role, parallel jobs.",
    ),
    Group::of::<PoolArgs>(
        "pool",
        "The warm pool and the template database prepared at night, never a sandbox's own.",
    ),
    Group::of::<GithubArgs>(
        "github",
        "The application repository on GitHub and its token.",
    ),
    Group::of::<ForgeArgs>(
        "forge",
        "Whether pull requests are looked up on GitHub, or not at all.",
    ),
    Group::of::<VaultArgs>(
        "vault",
        "How vault:// references are read: address, login, allowed bases.",
    ),
    Group::of::<SecretsArgs>("secrets", "The environment's secrets in Vault."),
    Group::of::<KubectlArgs>("kubectl", "The kubectl that renders overlays."),
    Group::of::<SleepArgs>(
        "sleep",
        "Which sandboxes stay awake when the others hibernate, and the schedules savings are counted from.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// One name, one meaning: no key is declared by two groups, except a
    /// nested group's keys inside the group that holds it.
    #[test]
    fn every_key_belongs_to_one_group() {
        let mut owner: BTreeMap<String, &str> = BTreeMap::new();
        for group in GROUPS {
            for key in group.keys() {
                if let Some(first) = owner.get(&key) {
                    let nested = matches!(
                        (*first, group.name),
                        ("environment", "prefix") | ("apps", "apps-dir")
                    );
                    assert!(nested, "{key} is in both {first} and {}", group.name);
                } else {
                    owner.insert(key, group.name);
                }
            }
        }
        assert!(owner.len() > 30, "{owner:?}");
    }
}
