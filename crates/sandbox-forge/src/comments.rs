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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;
    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const MARKER: &str = "<!-- argo-sandbox:sbx-pr-5 -->";

    fn comment(id: u64, body: &str) -> serde_json::Value {
        json!({"id": id, "body": body, "html_url": format!("https://github.com/o/r/pull/5#issuecomment-{id}")})
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_comment_edited_in_the_browser_is_still_unchanged() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/repos/o/r/issues/5/comments"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                comment(1, "unrelated"),
                comment(2, &format!("{MARKER}\r\nready\r\n")),
                comment(3, &format!("{MARKER}\na copy someone pasted")),
            ])))
            .expect(2)
            .mount(&server)
            .await;
        Mock::given(method("PATCH"))
            .and(path("/repos/o/r/issues/comments/2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(comment(2, "x")))
            .expect(1)
            .mount(&server)
            .await;
        let github = GitHub::new(&server.uri(), Some("t"), Limits::default()).unwrap();
        let repo = GithubRepo::parse("o/r").unwrap();
        let body = format!("{MARKER}\nready\n");
        let (found, action) = github
            .sticky_comment(&repo, 5, MARKER, &body)
            .await
            .unwrap();
        assert_eq!((found.id, action), (2, CommentAction::Unchanged));
        // The oldest comment with the marker is the one edited.
        let (_, action) = github
            .sticky_comment(&repo, 5, MARKER, &format!("{MARKER}\ngone\n"))
            .await
            .unwrap();
        assert_eq!(action, CommentAction::Updated);
        // A body without its marker would be posted again on every run.
        assert!(matches!(
            github.sticky_comment(&repo, 5, MARKER, "no marker").await,
            Err(ForgeError::Config { .. })
        ));
    }
}
