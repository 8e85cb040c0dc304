//! The sticky comment of one sandbox, as tasks other than pr-feedback
//! write it: found by the sandbox's marker, one [section](crate::put_section)
//! of it replaced and the rest kept, so hibernate and wake can say
//! "sleeping" and "awake" under what the create pipeline wrote.

use crate::{CommentAction, ForgeError, GitHub, put_section};
use sandbox_core::params::GithubRepo;

/// The hidden marker of a sandbox's sticky comment.
pub fn sticky_marker(environment: &str) -> String {
    format!("<!-- argo-sandbox:{environment} -->")
}

impl GitHub {
    /// Make section `key` of the sticky comment with `marker` on PR
    /// `number` say `text`; with no such comment, post one holding the
    /// marker and the section.
    pub async fn sticky_section(
        &self,
        repo: &GithubRepo,
        number: u64,
        marker: &str,
        key: &str,
        text: &str,
    ) -> Result<CommentAction, ForgeError> {
        let (_, action) = self
            .sticky_comment_with(repo, number, marker, |now| {
                let base = now.map_or_else(|| format!("{marker}\n"), str::to_string);
                put_section(&base, key, Some(text))
            })
            .await?;
        Ok(action)
    }
}
