//! The sticky pull-request comment: one comment per pull request, found by
//! a hidden marker (an HTML comment GitHub does not render) and edited in
//! place, so a pipeline that reports many times leaves one comment.

use crate::{Comment, ForgeError, GitHub};
use reqwest::Method;
use sandbox_core::params::GithubRepo;
use serde::Serialize;

/// What [`GitHub::sticky_comment`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentAction {
    /// No comment had the marker: one was posted.
    Created,
    /// The comment with the marker was edited.
    Updated,
    /// The comment with the marker already said this.
    Unchanged,
}

impl CommentAction {
    /// `created`, `updated` or `unchanged`.
    pub fn as_str(self) -> &'static str {
        match self {
            CommentAction::Created => "created",
            CommentAction::Updated => "updated",
            CommentAction::Unchanged => "unchanged",
        }
    }
}

impl GitHub {
    /// The first (oldest) comment on issue/PR `number` whose body contains
    /// `marker`, reading every page of the comments.
    pub async fn find_comment(
        &self,
        repo: &GithubRepo,
        number: u64,
        marker: &str,
    ) -> Result<Option<Comment>, ForgeError> {
        let list = format!(
            "{}/repos/{}/{}/issues/{number}/comments?per_page=100",
            self.api, repo.owner, repo.name
        );
        let comments: Vec<Comment> = self.get_all(&list).await?;
        Ok(comments.into_iter().find(|c| c.body.contains(marker)))
    }

    /// Make the one comment with `marker` say `body` (which must contain
    /// the marker): edit it when it exists (`PATCH
    /// /repos/{o}/{r}/issues/comments/{id}`), else post it (`POST
    /// /repos/{o}/{r}/issues/{n}/comments`).
    pub async fn sticky_comment(
        &self,
        repo: &GithubRepo,
        number: u64,
        marker: &str,
        body: &str,
    ) -> Result<(Comment, CommentAction), ForgeError> {
        if !body.contains(marker) {
            return Err(ForgeError::Config {
                message: "the comment body does not contain its marker".into(),
            });
        }
        #[derive(Serialize)]
        struct Body<'a> {
            body: &'a str,
        }
        match self.find_comment(repo, number, marker).await? {
            // GitHub stores bodies with \r\n when edited in the browser.
            Some(existing) if existing.body.replace("\r\n", "\n") == body => {
                Ok((existing, CommentAction::Unchanged))
            }
            Some(existing) => {
                let url = format!(
                    "{}/repos/{}/{}/issues/comments/{}",
                    self.api, repo.owner, repo.name, existing.id
                );
                let comment = self
                    .send_json(Method::PATCH, &url, Some(&Body { body }))
                    .await?;
                Ok((comment, CommentAction::Updated))
            }
            None => {
                let url = format!(
                    "{}/repos/{}/{}/issues/{number}/comments",
                    self.api, repo.owner, repo.name
                );
                let comment = self
                    .send_json(Method::POST, &url, Some(&Body { body }))
                    .await?;
                Ok((comment, CommentAction::Created))
            }
        }
    }
}
