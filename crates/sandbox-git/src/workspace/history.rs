//! Reading history, for callers that need to know *when* something happened
//! on a branch (the reaper's sandbox ages). A child of `workspace` so it can
//! use the workspace's remote plumbing; it writes nothing to the remote.

use super::{Workspace, tracking_ref};
use crate::error::GitError;
use sandbox_core::params::BranchName;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// libgit2's `GIT_FETCH_DEPTH_UNSHALLOW`: turn a shallow clone into a full one.
const DEPTH_UNSHALLOW: i32 = i32::MAX;

/// Most commits walked when dating files; older history counts as the
/// oldest commit reached.
const MAX_WALK: usize = 100_000;

impl Workspace {
    /// The committer time (Unix seconds) of `branch`'s tip on the remote;
    /// `None` when the branch is absent. A depth-1 fetch is enough.
    pub fn tip_time(&self, branch: &BranchName) -> Result<Option<i64>, GitError> {
        let Some(oid) = self.fetch_oid(branch)? else {
            return Ok(None);
        };
        let commit = self
            .repo
            .find_commit(oid)
            .map_err(GitError::local("read the branch tip"))?;
        Ok(Some(commit.committer().when().seconds()))
    }

    /// For every file directly in `dir` at `branch`'s tip: when it was added
    /// — the committer time (Unix seconds) of the oldest commit of the
    /// unbroken run, along the first-parent chain from the tip, in which the
    /// file exists. Later edits of a file do not change its time; a file
    /// removed and added again dates from the re-adding. Fetches the
    /// branch's whole history (unshallowing a reused shallow clone).
    /// `None` when the branch is absent.
    pub fn files_added(
        &self,
        branch: &BranchName,
        dir: &str,
    ) -> Result<Option<BTreeMap<String, i64>>, GitError> {
        let Some(tip) = self.fetch_full(branch)? else {
            return Ok(None);
        };
        let dir = dir.trim_matches('/');
        let walk = self
            .repo
            .revwalk()
            .and_then(|mut walk| {
                walk.simplify_first_parent()?;
                walk.push(tip)?;
                Ok(walk)
            })
            .map_err(GitError::local("walk the branch history"))?;
        let mut pending: BTreeSet<String> = BTreeSet::new();
        let mut added = BTreeMap::new();
        let mut previous: Option<i64> = None;
        for (n, oid) in walk.enumerate() {
            let oid = oid.map_err(GitError::local("walk the branch history"))?;
            let commit = self
                .repo
                .find_commit(oid)
                .map_err(GitError::local("read a commit"))?;
            let tree = commit.tree().map_err(GitError::local("read a tree"))?;
            if n == 0 {
                pending = files_in(&self.repo, &tree, dir)?;
            } else {
                let present = files_in(&self.repo, &tree, dir)?;
                let gone: Vec<String> = pending.difference(&present).cloned().collect();
                for name in gone {
                    pending.remove(&name);
                    added.insert(name, previous.unwrap_or_default());
                }
            }
            previous = Some(commit.committer().when().seconds());
            if pending.is_empty() || n + 1 >= MAX_WALK {
                break;
            }
        }
        // Present since the oldest commit reached (the root, usually).
        for name in pending {
            added.insert(name, previous.unwrap_or_default());
        }
        Ok(Some(added))
    }

    /// Fetch `branch` with its whole history; the tip, or `None` when absent.
    fn fetch_full(&self, branch: &BranchName) -> Result<Option<git2::Oid>, GitError> {
        let refspec = format!("+{}:{}", branch.full_ref(), tracking_ref(branch));
        let shallow = self.repo.is_shallow();
        let advertised = self.with_remote("fetch", |remote, callbacks| {
            let mut options = git2::FetchOptions::new();
            options
                .remote_callbacks(callbacks)
                .download_tags(git2::AutotagOption::None)
                .update_fetchhead(false);
            if shallow {
                options.depth(DEPTH_UNSHALLOW);
            }
            remote.fetch(&[refspec.as_str()], Some(&mut options), None)?;
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
}

/// The names of the files (blobs) directly in `dir` of `tree`.
fn files_in(
    repo: &git2::Repository,
    tree: &git2::Tree<'_>,
    dir: &str,
) -> Result<BTreeSet<String>, GitError> {
    let sub = if dir.is_empty() {
        tree.clone()
    } else {
        match tree.get_path(Path::new(dir)) {
            Ok(entry) if entry.kind() == Some(git2::ObjectType::Tree) => repo
                .find_tree(entry.id())
                .map_err(GitError::local("read a tree"))?,
            Ok(_) => return Ok(BTreeSet::new()),
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(BTreeSet::new()),
            Err(e) => return Err(GitError::local("read a tree")(e)),
        }
    };
    Ok(sub
        .iter()
        .filter(|e| e.kind() == Some(git2::ObjectType::Blob))
        .filter_map(|e| e.name().ok().map(str::to_string))
        .collect())
}
