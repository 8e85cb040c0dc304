//! Reading many branches at once, for callers that look at every sandbox
//! (hibernate renders each sandbox's overlay at its branch): one fetch for
//! all of them instead of one per branch. Writes nothing to the remote.

use super::{Workspace, tracking_ref};
use crate::edit::{EditError, TreeEdit};
use crate::error::GitError;
use sandbox_core::params::BranchName;
use std::collections::BTreeMap;

impl Workspace {
    /// Fetch every branch of `branches` in one depth-1 fetch (full over
    /// file://) and return the tip of those the remote has.
    pub fn fetch_many(
        &self,
        branches: &[BranchName],
    ) -> Result<BTreeMap<String, String>, GitError> {
        if branches.is_empty() {
            return Ok(BTreeMap::new());
        }
        let shallow = !self.url.as_str().starts_with("file://");
        let heads = self.remote_heads()?;
        // A refspec for a branch the remote lacks would fail the fetch.
        let present: Vec<&BranchName> = branches
            .iter()
            .filter(|b| heads.contains_key(b.as_str()))
            .collect();
        if present.is_empty() {
            return Ok(BTreeMap::new());
        }
        let refspecs: Vec<String> = present
            .iter()
            .map(|b| format!("+{}:{}", b.full_ref(), tracking_ref(b)))
            .collect();
        let advertised = self.with_remote("fetch", |remote, callbacks| {
            let mut options = git2::FetchOptions::new();
            options
                .remote_callbacks(callbacks)
                .download_tags(git2::AutotagOption::None)
                .update_fetchhead(false);
            if shallow {
                options.depth(1);
            }
            let specs: Vec<&str> = refspecs.iter().map(String::as_str).collect();
            remote.fetch(&specs, Some(&mut options), None)?;
            Ok(remote
                .list()?
                .iter()
                .map(|h| (h.name().to_string(), h.oid()))
                .collect::<BTreeMap<_, _>>())
        })?;
        let mut tips = BTreeMap::new();
        for branch in present {
            if let Some(oid) = advertised.get(&branch.full_ref()) {
                self.repo
                    .reference(&tracking_ref(branch), *oid, true, "fetch")
                    .map_err(GitError::local("update the tracking ref"))?;
                tips.insert(branch.to_string(), oid.to_string());
            }
        }
        Ok(tips)
    }

    /// Read the tree of commit `tip` (fetched before, e.g. by
    /// [`Workspace::fetch_many`]); nothing is fetched or written.
    pub fn read_commit<T>(
        &self,
        tip: &str,
        read: impl FnOnce(&TreeEdit<'_>) -> Result<T, EditError>,
    ) -> Result<T, GitError> {
        let oid = git2::Oid::from_str(tip).map_err(GitError::local("parse the commit id"))?;
        let tree = self
            .repo
            .find_commit(oid)
            .and_then(|c| c.tree())
            .map_err(GitError::local("read the commit"))?;
        let view = TreeEdit::new(&self.repo, Some(tree));
        Ok(read(&view)?)
    }
}
