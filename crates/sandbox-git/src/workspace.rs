//! A bare clone of one remote in a workdir, and the remote operations on it.
//!
//! The workdir may be a persistent volume shared by the steps of a pipeline:
//! each remote gets its own bare repository below it, locked while in use,
//! and later runs fetch only what changed. Without a workdir a temporary
//! directory is used and removed afterwards.

use crate::auth::{self, Auth, AuthState};
use crate::edit::{EditError, TreeEdit};
use crate::error::{GitError, classify_remote, is_race};
use crate::known_hosts::{HostCheck, KnownHosts, ssh_port};
use sandbox_core::params::{BranchName, GitRemote};
use sandbox_core::redact::redact_url;
use sandbox_core::retry::{Backoff, Retryable};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod history;
mod many;

/// Commits are authored as this unless configured.
pub const DEFAULT_AUTHOR_NAME: &str = "argo-sandbox";
/// Commits are authored with this e-mail unless configured.
pub const DEFAULT_AUTHOR_EMAIL: &str = "argo-sandbox@noreply.invalid";

/// Who commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// The name.
    pub name: String,
    /// The e-mail address.
    pub email: String,
}

impl Default for Author {
    fn default() -> Self {
        Author {
            name: DEFAULT_AUTHOR_NAME.into(),
            email: DEFAULT_AUTHOR_EMAIL.into(),
        }
    }
}

/// How a workspace behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where clones live between runs; `None` for a temporary directory.
    pub workdir: Option<PathBuf>,
    /// The commit author and committer.
    pub author: Author,
    /// Retries of a remote operation that failed on the network or with a
    /// server error.
    pub network: Backoff,
    /// Retries of a push rejected because another writer moved the branch:
    /// many sandboxes register at the same moment, so this is generous.
    pub conflicts: Backoff,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            workdir: None,
            author: Author::default(),
            network: Backoff {
                attempts: 3,
                base: Duration::from_millis(300),
                max: Duration::from_secs(3),
            },
            conflicts: Backoff {
                attempts: 40,
                base: Duration::from_millis(100),
                max: Duration::from_millis(1500),
            },
        }
    }
}

/// What to do when the branch to create exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IfExists {
    /// Use it as it is (a rerun of the pipeline).
    #[default]
    Reuse,
    /// Fail with a precondition error.
    Fail,
}

/// The result of [`Workspace::create_branch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchCreated {
    /// The branch tip.
    pub commit: String,
    /// False when the branch existed and was reused.
    pub created: bool,
}

/// The result of [`Workspace::commit_and_push`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// A new commit is on the remote branch.
    Pushed {
        /// The new commit.
        commit: String,
        /// Its parent, the tip it was built on.
        parent: String,
        /// Push attempts, 1 when no other writer interfered.
        attempts: u32,
    },
    /// The edit changed nothing: already done, no commit made.
    Unchanged {
        /// The branch tip.
        commit: String,
    },
}

impl PushOutcome {
    /// The branch tip afterwards.
    pub fn commit(&self) -> &str {
        match self {
            PushOutcome::Pushed { commit, .. } | PushOutcome::Unchanged { commit } => commit,
        }
    }

    /// True when a commit was pushed.
    pub fn pushed(&self) -> bool {
        matches!(self, PushOutcome::Pushed { .. })
    }
}

/// A bare clone of one remote.
pub struct Workspace {
    repo: git2::Repository,
    url: GitRemote,
    auth: Auth,
    options: Options,
    /// The host keys an SSH server must present, when a file was given.
    known_hosts: Option<KnownHosts>,
    /// Held for the workspace's life: one writer per clone at a time.
    _lock: std::fs::File,
    _temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("url", &redact_url(self.url.as_str()))
            .field("path", &self.repo.path())
            .finish_non_exhaustive()
    }
}

/// How a push went, before it becomes a [`GitError`].
enum PushError {
    /// Another writer moved the branch.
    Race(String),
    /// Anything else.
    Failed(GitError),
}

impl Workspace {
    /// Open (or create) the clone of `url` in the workdir. Nothing is
    /// fetched yet.
    pub fn open(url: &GitRemote, auth: Auth, options: Options) -> Result<Self, GitError> {
        let known_hosts = match &auth {
            Auth::SshKey {
                known_hosts: Some(file),
                ..
            } => Some(KnownHosts::load(file).map_err(|e| GitError::Workdir {
                path: file.display().to_string(),
                message: "cannot read the known_hosts file".into(),
                source: Some(Box::new(e)),
            })?),
            _ => None,
        };
        let (root, temp) = match &options.workdir {
            Some(dir) => (dir.clone(), None),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("sandbox-git-")
                    .tempdir()
                    .map_err(|e| workdir_error(Path::new("$TMPDIR"), "cannot create", e))?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        std::fs::create_dir_all(&root).map_err(|e| workdir_error(&root, "cannot create", e))?;
        let slug = slug(url.as_str());
        let lock_path = root.join(format!("{slug}.lock"));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| workdir_error(&lock_path, "cannot open the lock file", e))?;
        lock.lock()
            .map_err(|e| workdir_error(&lock_path, "cannot lock", e))?;
        let path = root.join(format!("{slug}.git"));
        let repo = if path.join("HEAD").exists() {
            let repo = git2::Repository::open_bare(&path).map_err(|e| GitError::Workdir {
                path: path.display().to_string(),
                message: "is not a usable git repository; remove it".into(),
                source: Some(Box::new(e)),
            })?;
            let recorded = repo
                .config()
                .and_then(|c| c.get_string(REMOTE_KEY))
                .unwrap_or_default();
            if recorded != url.as_str() {
                return Err(GitError::Workdir {
                    path: path.display().to_string(),
                    message: "holds a clone of another remote; remove it".into(),
                    source: None,
                });
            }
            tracing::debug!(path = %path.display(), "reusing the clone in the workdir");
            repo
        } else {
            let repo = git2::Repository::init_bare(&path).map_err(|e| GitError::Workdir {
                path: path.display().to_string(),
                message: "cannot create a repository".into(),
                source: Some(Box::new(e)),
            })?;
            repo.config()
                .and_then(|mut c| c.set_str(REMOTE_KEY, url.as_str()))
                .map_err(GitError::local("record the remote"))?;
            repo
        };
        Ok(Workspace {
            repo,
            url: url.clone(),
            auth,
            options,
            known_hosts,
            _lock: lock,
            _temp: temp,
        })
    }

    /// The remote, redacted for printing.
    pub fn url(&self) -> String {
        redact_url(self.url.as_str())
    }

    /// The bare repository's directory.
    pub fn path(&self) -> &Path {
        self.repo.path()
    }

    /// Every branch on the remote and its tip (`git ls-remote --heads`).
    pub fn remote_heads(&self) -> Result<BTreeMap<String, String>, GitError> {
        self.with_remote("list the refs of", |remote, callbacks| {
            let connection = remote.connect_auth(git2::Direction::Fetch, Some(callbacks), None)?;
            let heads = connection
                .list()?
                .iter()
                .filter_map(|head| {
                    head.name()
                        .strip_prefix("refs/heads/")
                        .map(|b| (b.to_string(), head.oid().to_string()))
                })
                .collect();
            Ok(heads)
        })
    }

    /// The tip of `branch` on the remote, if it exists; nothing is downloaded.
    pub fn remote_branch(&self, branch: &BranchName) -> Result<Option<String>, GitError> {
        Ok(self.remote_heads()?.remove(branch.as_str()))
    }

    /// Fetch `branch` (depth 1, except over file://) and return its tip;
    /// `None` when the remote has no such branch.
    pub fn fetch(&self, branch: &BranchName) -> Result<Option<String>, GitError> {
        Ok(self.fetch_oid(branch)?.map(|oid| oid.to_string()))
    }

    /// Read the tree of `branch`'s remote tip: `read` gets the tree and
    /// returns what it found. Nothing is written.
    pub fn read_branch<T>(
        &self,
        branch: &BranchName,
        read: impl FnOnce(&TreeEdit<'_>) -> Result<T, EditError>,
    ) -> Result<T, GitError> {
        let tip = self
            .fetch_oid(branch)?
            .ok_or_else(|| GitError::BranchNotFound {
                branch: branch.to_string(),
                url: self.url(),
            })?;
        let tree = self
            .repo
            .find_commit(tip)
            .and_then(|c| c.tree())
            .map_err(GitError::local("read the branch tip"))?;
        let view = TreeEdit::new(&self.repo, Some(tree));
        Ok(read(&view)?)
    }

    /// Create `branch` on the remote at the tip of `from`.
    pub fn create_branch(
        &self,
        branch: &BranchName,
        from: &BranchName,
        if_exists: IfExists,
    ) -> Result<BranchCreated, GitError> {
        let heads = self.remote_heads()?;
        if let Some(existing) = heads.get(branch.as_str()) {
            return self.existing_branch(branch, existing.clone(), if_exists);
        }
        if !heads.contains_key(from.as_str()) {
            return Err(GitError::BranchNotFound {
                branch: from.to_string(),
                url: self.url(),
            });
        }
        let tip = self
            .fetch_oid(from)?
            .ok_or_else(|| GitError::BranchNotFound {
                branch: from.to_string(),
                url: self.url(),
            })?;
        self.set_local_ref(branch, tip)?;
        match self.push(&[format!("{0}:{0}", branch.full_ref())]) {
            Ok(()) => Ok(BranchCreated {
                commit: tip.to_string(),
                created: true,
            }),
            // Someone created it between our look and our push.
            Err(PushError::Race(_)) => match self.remote_branch(branch)? {
                Some(existing) => self.existing_branch(branch, existing, if_exists),
                None => Err(GitError::Conflict {
                    branch: branch.to_string(),
                    attempts: 1,
                }),
            },
            Err(PushError::Failed(e)) => Err(e),
        }
    }

    fn existing_branch(
        &self,
        branch: &BranchName,
        commit: String,
        if_exists: IfExists,
    ) -> Result<BranchCreated, GitError> {
        match if_exists {
            IfExists::Reuse => {
                tracing::info!(%branch, %commit, "branch exists; reusing it");
                Ok(BranchCreated {
                    commit,
                    created: false,
                })
            }
            IfExists::Fail => Err(GitError::BranchExists {
                branch: branch.to_string(),
                url: self.url(),
            }),
        }
    }

    /// Delete `branch` on the remote; `false` when it was already absent.
    /// The caller checks the guard rails first.
    pub fn delete_branch(&self, branch: &BranchName) -> Result<bool, GitError> {
        if self.remote_branch(branch)?.is_none() {
            return Ok(false);
        }
        match self.push(&[format!(":{}", branch.full_ref())]) {
            Ok(()) => Ok(true),
            Err(PushError::Race(message)) => Err(GitError::Rejected {
                refname: branch.full_ref(),
                message,
            }),
            Err(PushError::Failed(e)) => Err(e),
        }
    }

    /// Apply `edit` to the tree of `branch`'s tip, commit it and push —
    /// never forced. When another writer moved the branch first, fetch the
    /// new tip, apply the same edit again and retry with jittered backoff.
    /// An edit that changes nothing makes no commit ([`PushOutcome::Unchanged`]).
    pub fn commit_and_push<F>(
        &self,
        branch: &BranchName,
        message: &str,
        edit: F,
    ) -> Result<PushOutcome, GitError>
    where
        F: FnMut(&mut TreeEdit<'_>) -> Result<(), EditError>,
    {
        self.commit_and_push_inner(branch, message, None, edit)
    }

    /// [`Workspace::commit_and_push`] that refuses (exit 5) any change
    /// outside `allowed` paths: how a shared branch such as `main` is
    /// written, where a sandbox may touch only its own file.
    pub fn commit_and_push_only<F>(
        &self,
        branch: &BranchName,
        message: &str,
        allowed: &[String],
        edit: F,
    ) -> Result<PushOutcome, GitError>
    where
        F: FnMut(&mut TreeEdit<'_>) -> Result<(), EditError>,
    {
        self.commit_and_push_inner(branch, message, Some(allowed), edit)
    }

    fn commit_and_push_inner<F>(
        &self,
        branch: &BranchName,
        message: &str,
        allowed: Option<&[String]>,
        mut edit: F,
    ) -> Result<PushOutcome, GitError>
    where
        F: FnMut(&mut TreeEdit<'_>) -> Result<(), EditError>,
    {
        let attempts = self.options.conflicts.attempts.max(1);
        for attempt in 0..attempts {
            let tip = self
                .fetch_oid(branch)?
                .ok_or_else(|| GitError::BranchNotFound {
                    branch: branch.to_string(),
                    url: self.url(),
                })?;
            let parent = self
                .repo
                .find_commit(tip)
                .map_err(GitError::local("read the branch tip"))?;
            let tree = parent
                .tree()
                .map_err(GitError::local("read the tip's tree"))?;
            let mut tree_edit = TreeEdit::new(&self.repo, Some(tree));
            edit(&mut tree_edit)?;
            if let Some(allowed) = allowed
                && let Some(path) = tree_edit
                    .changed_paths()?
                    .into_iter()
                    .find(|p| !allowed.contains(p))
            {
                return Err(GitError::PathNotAllowed {
                    path,
                    branch: branch.to_string(),
                    allowed: allowed.join(", "),
                });
            }
            let Some(new_tree) = tree_edit.build()? else {
                tracing::info!(%branch, commit = %tip, "nothing to change; already done");
                return Ok(PushOutcome::Unchanged {
                    commit: tip.to_string(),
                });
            };
            drop(tree_edit);
            let new_tree = self
                .repo
                .find_tree(new_tree)
                .map_err(GitError::local("read the new tree"))?;
            let signature =
                git2::Signature::now(&self.options.author.name, &self.options.author.email)
                    .map_err(GitError::local("make the commit signature"))?;
            let commit = self
                .repo
                .commit(None, &signature, &signature, message, &new_tree, &[&parent])
                .map_err(GitError::local("commit"))?;
            self.set_local_ref(branch, commit)?;
            match self.push(&[format!("{0}:{0}", branch.full_ref())]) {
                Ok(()) => {
                    tracing::info!(%branch, %commit, attempts = attempt + 1, "pushed");
                    return Ok(PushOutcome::Pushed {
                        commit: commit.to_string(),
                        parent: tip.to_string(),
                        attempts: attempt + 1,
                    });
                }
                Err(PushError::Race(reason)) => {
                    let wait = self.options.conflicts.delay(attempt);
                    tracing::info!(
                        %branch,
                        attempt = attempt + 1,
                        wait_ms = wait.as_millis() as u64,
                        "push rejected ({reason}): another writer moved the branch; re-applying on the new tip"
                    );
                    std::thread::sleep(wait);
                }
                Err(PushError::Failed(e)) => return Err(e),
            }
        }
        Err(GitError::Conflict {
            branch: branch.to_string(),
            attempts,
        })
    }

    fn fetch_oid(&self, branch: &BranchName) -> Result<Option<git2::Oid>, GitError> {
        let shallow = !self.url.as_str().starts_with("file://");
        if !shallow {
            tracing::info!(
                "full fetch over file://: libgit2 cannot fetch shallow over the local transport"
            );
        }
        let refspec = format!("+{}:{}", branch.full_ref(), tracking_ref(branch));
        let advertised = self.with_remote("fetch", |remote, callbacks| {
            let mut options = git2::FetchOptions::new();
            options
                .remote_callbacks(callbacks)
                .download_tags(git2::AutotagOption::None)
                .update_fetchhead(false);
            if shallow {
                options.depth(1);
            }
            remote.fetch(&[refspec.as_str()], Some(&mut options), None)?;
            // The advertisement stays readable after the fetch disconnects.
            let full = branch.full_ref();
            Ok(remote
                .list()?
                .iter()
                .find(|head| head.name() == full)
                .map(|head| head.oid()))
        })?;
        if let Some(oid) = advertised {
            self.repo
                .reference(&tracking_ref(branch), oid, true, "fetch")
                .map_err(GitError::local("update the tracking ref"))?;
        }
        Ok(advertised)
    }

    fn set_local_ref(&self, branch: &BranchName, oid: git2::Oid) -> Result<(), GitError> {
        self.repo
            .reference(&branch.full_ref(), oid, true, "sandbox-git")
            .map(drop)
            .map_err(GitError::local("update the local branch"))
    }

    /// Push refspecs (never forced): a per-ref rejection caused by another
    /// writer is a [`PushError::Race`].
    fn push(&self, refspecs: &[String]) -> Result<(), PushError> {
        let rejected: RefCell<Vec<(String, String)>> = RefCell::new(Vec::new());
        let result = self.with_remote("push to", |remote, mut callbacks| {
            rejected.borrow_mut().clear();
            callbacks.push_update_reference(|refname, status| {
                if let Some(message) = status {
                    rejected
                        .borrow_mut()
                        .push((refname.to_string(), message.to_string()));
                }
                Ok(())
            });
            let mut options = git2::PushOptions::new();
            options.remote_callbacks(callbacks);
            let specs: Vec<&str> = refspecs.iter().map(String::as_str).collect();
            remote.push(&specs, Some(&mut options))
        });
        match result {
            Ok(()) => match rejected.into_inner().into_iter().next() {
                None => Ok(()),
                Some((_, message)) if is_race(&message) => Err(PushError::Race(message)),
                Some((refname, message)) => {
                    Err(PushError::Failed(GitError::Rejected { refname, message }))
                }
            },
            Err(GitError::Remote { source, .. })
                if source.code() == git2::ErrorCode::NotFastForward =>
            {
                Err(PushError::Race(source.message().to_string()))
            }
            Err(e) => Err(PushError::Failed(e)),
        }
    }

    /// Run a remote operation with credentials, classify its failure, and
    /// retry network failures with backoff.
    fn with_remote<'a, T>(
        &'a self,
        op: &'static str,
        mut run: impl FnMut(&mut git2::Remote<'_>, git2::RemoteCallbacks<'a>) -> Result<T, git2::Error>,
    ) -> Result<T, GitError> {
        let backoff = self.options.network;
        let mut attempt = 0;
        loop {
            let state = std::rc::Rc::new(AuthState::default());
            // libgit2 replaces a certificate callback's message with its
            // own; keep ours to report.
            let host_rejected = std::rc::Rc::new(RefCell::new(None::<String>));
            let mut remote = self
                .repo
                .remote_anonymous(self.url.as_str())
                .map_err(GitError::local("set up the remote"))?;
            let mut callbacks = git2::RemoteCallbacks::new();
            let seen = state.clone();
            let credentials = &self.auth;
            callbacks.credentials(move |_url, user, allowed| {
                auth::credentials(credentials, &seen, user, allowed)
            });
            if let Some(known) = &self.known_hosts {
                let port = ssh_port(self.url.as_str());
                let rejected = host_rejected.clone();
                callbacks.certificate_check(move |cert, host| {
                    let Some(key) = cert.as_hostkey().and_then(|k| k.hostkey()) else {
                        return Ok(git2::CertificateCheckStatus::CertificatePassthrough);
                    };
                    let why = match known.check(host, port, key) {
                        HostCheck::Match => return Ok(git2::CertificateCheckStatus::CertificateOk),
                        HostCheck::Mismatch => format!(
                            "host key verification failed: the key of {host} differs from the one in the known_hosts file"
                        ),
                        HostCheck::Unknown => format!(
                            "host key verification failed: {host} (port {port}) is not in the known_hosts file"
                        ),
                    };
                    *rejected.borrow_mut() = Some(why.clone());
                    Err(git2::Error::from_str(&why))
                });
            }
            let result = run(&mut remote, callbacks);
            drop(remote);
            let source = match result {
                Ok(value) => return Ok(value),
                Err(source) => source,
            };
            let detail = host_rejected
                .borrow_mut()
                .take()
                .or_else(|| self.auth_failure(&state, &source));
            let error = classify_remote(op, self.url.as_str(), source, detail);
            if error.is_transient() && attempt + 1 < backoff.attempts {
                let wait = backoff.delay(attempt);
                tracing::warn!(
                    attempt = attempt + 1,
                    wait_ms = wait.as_millis() as u64,
                    "{}; retrying",
                    sandbox_core::TaskError::from(error).full_message()
                );
                std::thread::sleep(wait);
                attempt += 1;
                continue;
            }
            return Err(error);
        }
    }

    /// A clear message when the credential callback is why it failed.
    fn auth_failure(&self, state: &AuthState, source: &git2::Error) -> Option<String> {
        let attempts = state.attempts.get();
        if state.unsupported.get() {
            return Some(match self.auth {
                Auth::None => "the remote requires credentials and none were given (pass --git-token or --ssh-key)".into(),
                _ => format!("the remote does not accept {}", self.auth.describe()),
            });
        }
        let rejected = source.message().contains("credentials rejected")
            || source.message().contains("authentication replays")
            || (source.code() == git2::ErrorCode::Auth && attempts > 0);
        rejected.then(|| {
            format!(
                "{} was rejected by the remote ({attempts} attempt{})",
                self.auth.describe(),
                if attempts == 1 { "" } else { "s" }
            )
        })
    }
}

/// Where the workdir records which remote a clone is of.
const REMOTE_KEY: &str = "sandbox.remote";

fn tracking_ref(branch: &BranchName) -> String {
    format!("refs/remotes/origin/{branch}")
}

/// A directory name for a remote: readable, and unique by a hash.
fn slug(url: &str) -> String {
    let readable: String = url
        .rsplit('/')
        .next()
        .unwrap_or("repo")
        .trim_end_matches(".git")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    // FNV-1a: stable across runs and Rust versions, unlike DefaultHasher.
    let hash = url.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("{readable}-{hash:016x}")
}

fn workdir_error(path: &Path, what: &str, e: std::io::Error) -> GitError {
    GitError::Workdir {
        path: path.display().to_string(),
        message: format!("{what} it"),
        source: Some(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_stable_and_distinct() {
        let a = slug("git://127.0.0.1:1/infra.git");
        assert!(a.starts_with("infra-"));
        assert_eq!(a, slug("git://127.0.0.1:1/infra.git"));
        assert_ne!(a, slug("git://127.0.0.1:2/infra.git"));
    }
}
