//! Editing a branch's tree without a working tree: reads come from the
//! commit, writes are collected and turned into a new tree in one pass.
//! A checkout of a 5,000-file repository costs more than the whole edit.

use crate::error::GitError;
use sandbox_core::{Classify, ErrorKind};
use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::path::Path;

/// Why an edit function stopped; its kind becomes the task's exit code.
/// Any error that implements `Classify` converts with `?`.
#[derive(Debug)]
pub struct EditError {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
    pub(crate) source: Option<Box<dyn StdError + Send + Sync>>,
}

impl EditError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        EditError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The tree is not as the edit needs it (a missing file): exit 3.
    pub fn precondition(message: impl Into<String>) -> Self {
        EditError::new(ErrorKind::Precondition, message)
    }

    /// Attach the cause.
    pub fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        self.source = Some(source.into());
        self
    }
}

impl<E> From<E> for EditError
where
    E: Classify + StdError + Send + Sync + 'static,
{
    fn from(error: E) -> Self {
        EditError {
            kind: error.kind(),
            message: error.to_string(),
            source: error.source().map(|s| s.to_string().into()),
        }
    }
}

impl From<EditError> for GitError {
    fn from(e: EditError) -> Self {
        GitError::Edit {
            kind: e.kind,
            message: e.message,
            source: e.source,
        }
    }
}

/// The tree of a branch tip being edited. Paths are `/`-separated and
/// relative to the repository root (validate them as `RepoPath` first).
pub struct TreeEdit<'r> {
    repo: &'r git2::Repository,
    base: Option<git2::Tree<'r>>,
    /// Path → new contents, or `None` for removal.
    changes: BTreeMap<String, Option<Vec<u8>>>,
}

impl<'r> TreeEdit<'r> {
    pub(crate) fn new(repo: &'r git2::Repository, base: Option<git2::Tree<'r>>) -> Self {
        TreeEdit {
            repo,
            base,
            changes: BTreeMap::new(),
        }
    }

    /// The contents of a file as edited so far; `None` when absent.
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        if let Some(change) = self.changes.get(path) {
            return Ok(change.clone());
        }
        let Some(base) = &self.base else {
            return Ok(None);
        };
        let entry = match base.get_path(Path::new(path)) {
            Ok(entry) => entry,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => {
                return Err(GitError::Local {
                    op: "read tree entry",
                    source: e,
                });
            }
        };
        if entry.kind() != Some(git2::ObjectType::Blob) {
            return Ok(None);
        }
        let blob = self
            .repo
            .find_blob(entry.id())
            .map_err(GitError::local("read blob"))?;
        Ok(Some(blob.content().to_vec()))
    }

    /// The contents of a file as UTF-8 text; `None` when absent.
    pub fn read_string(&self, path: &str) -> Result<Option<String>, GitError> {
        self.read(path)?
            .map(|bytes| {
                String::from_utf8(bytes).map_err(|_| GitError::Edit {
                    kind: ErrorKind::Precondition,
                    message: format!("{path} is not UTF-8 text"),
                    source: None,
                })
            })
            .transpose()
    }

    /// True when the file exists (as edited so far).
    pub fn exists(&self, path: &str) -> Result<bool, GitError> {
        Ok(self.read(path)?.is_some())
    }

    /// Create or replace a file.
    pub fn write(&mut self, path: &str, contents: impl Into<Vec<u8>>) {
        self.changes.insert(path.to_string(), Some(contents.into()));
    }

    /// Remove a file (nothing happens if it is absent).
    pub fn remove(&mut self, path: &str) {
        self.changes.insert(path.to_string(), None);
    }

    /// The names of the files directly in `dir` (as edited so far), sorted.
    pub fn list(&self, dir: &str) -> Result<Vec<String>, GitError> {
        let dir = dir.trim_end_matches('/');
        let mut names = std::collections::BTreeSet::new();
        if let Some(base) = &self.base {
            let tree = if dir.is_empty() {
                Some(base.clone())
            } else {
                match base.get_path(Path::new(dir)) {
                    Ok(entry) if entry.kind() == Some(git2::ObjectType::Tree) => Some(
                        self.repo
                            .find_tree(entry.id())
                            .map_err(GitError::local("read tree"))?,
                    ),
                    Ok(_) => None,
                    Err(e) if e.code() == git2::ErrorCode::NotFound => None,
                    Err(e) => {
                        return Err(GitError::Local {
                            op: "read tree",
                            source: e,
                        });
                    }
                }
            };
            if let Some(tree) = tree {
                for entry in tree.iter() {
                    if entry.kind() == Some(git2::ObjectType::Blob)
                        && let Ok(name) = entry.name()
                    {
                        names.insert(name.to_string());
                    }
                }
            }
        }
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        for (path, change) in &self.changes {
            let Some(name) = path.strip_prefix(&prefix).filter(|n| !n.contains('/')) else {
                continue;
            };
            if change.is_some() {
                names.insert(name.to_string());
            } else {
                names.remove(name);
            }
        }
        Ok(names.into_iter().collect())
    }

    /// Write the edited tree to `dir` (for tools that need files, such as
    /// `kubectl kustomize`). Only regular files are written.
    pub fn materialize(&self, dir: &Path) -> Result<(), GitError> {
        let io = |e: std::io::Error| GitError::Workdir {
            path: dir.display().to_string(),
            message: "cannot write the edited tree".into(),
            source: Some(Box::new(e)),
        };
        if let Some(base) = &self.base {
            let mut failure = None;
            base.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
                if entry.kind() != Some(git2::ObjectType::Blob) {
                    return git2::TreeWalkResult::Ok;
                }
                let Ok(name) = entry.name() else {
                    return git2::TreeWalkResult::Ok;
                };
                let rel = format!("{root}{name}");
                if self.changes.contains_key(&rel) {
                    return git2::TreeWalkResult::Ok;
                }
                let result = self
                    .repo
                    .find_blob(entry.id())
                    .map_err(GitError::local("read blob"))
                    .and_then(|blob| write_file(&dir.join(&rel), blob.content()).map_err(io));
                match result {
                    Ok(()) => git2::TreeWalkResult::Ok,
                    Err(e) => {
                        failure = Some(e);
                        git2::TreeWalkResult::Abort
                    }
                }
            })
            .map_err(GitError::local("walk tree"))
            .or_else(|e| if failure.is_some() { Ok(()) } else { Err(e) })?;
            if let Some(e) = failure {
                return Err(e);
            }
        }
        for (path, change) in &self.changes {
            if let Some(bytes) = change {
                write_file(&dir.join(path), bytes).map_err(io)?;
            }
        }
        Ok(())
    }

    /// The paths changed (written or removed), whether or not the contents
    /// differ from the base.
    pub fn touched(&self) -> impl Iterator<Item = &str> {
        self.changes.keys().map(String::as_str)
    }

    /// Build the new tree; `None` when it equals the base (nothing to commit).
    pub(crate) fn build(&self) -> Result<Option<git2::Oid>, GitError> {
        let mut builder = git2::build::TreeUpdateBuilder::new();
        for (path, change) in &self.changes {
            match change {
                Some(bytes) => {
                    let oid = self
                        .repo
                        .blob(bytes)
                        .map_err(GitError::local("write blob"))?;
                    builder.upsert(path.as_str(), oid, git2::FileMode::Blob);
                }
                // libgit2 fails on removing what is not there; absent is removed.
                None if self.base_has(path)? => {
                    builder.remove(path.as_str());
                }
                None => {}
            }
        }
        let new = match &self.base {
            Some(base) => builder
                .create_updated(self.repo, base)
                .map_err(GitError::local("build tree"))?,
            None => {
                let empty = self
                    .repo
                    .treebuilder(None)
                    .and_then(|b| b.write())
                    .map_err(GitError::local("build empty tree"))?;
                let empty = self
                    .repo
                    .find_tree(empty)
                    .map_err(GitError::local("read tree"))?;
                builder
                    .create_updated(self.repo, &empty)
                    .map_err(GitError::local("build tree"))?
            }
        };
        let unchanged = self.base.as_ref().is_some_and(|b| b.id() == new);
        Ok((!unchanged).then_some(new))
    }

    fn base_has(&self, path: &str) -> Result<bool, GitError> {
        let Some(base) = &self.base else {
            return Ok(false);
        };
        match base.get_path(Path::new(path)) {
            Ok(_) => Ok(true),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(false),
            Err(e) => Err(GitError::Local {
                op: "read tree entry",
                source: e,
            }),
        }
    }

    /// The paths whose contents really differ from the base.
    pub(crate) fn changed_paths(&self) -> Result<Vec<String>, GitError> {
        let mut out = Vec::new();
        for (path, change) in &self.changes {
            let before = match &self.base {
                Some(base) => match base.get_path(Path::new(path)) {
                    Ok(entry) => Some(entry.id()),
                    Err(e) if e.code() == git2::ErrorCode::NotFound => None,
                    Err(e) => {
                        return Err(GitError::Local {
                            op: "read tree entry",
                            source: e,
                        });
                    }
                },
                None => None,
            };
            let after = match change {
                Some(bytes) => Some(
                    git2::Oid::hash_object(git2::ObjectType::Blob, bytes)
                        .map_err(GitError::local("hash blob"))?,
                ),
                None => None,
            };
            if before != after {
                out.push(path.clone());
            }
        }
        Ok(out)
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, bytes)
}
