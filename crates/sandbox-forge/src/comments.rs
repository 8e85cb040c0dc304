//! The sticky pull-request comment: one comment per pull request, found by
//! a hidden marker (an HTML comment GitHub does not render) and edited in
//! place, so a pipeline that reports many times leaves one comment.
//!
//! Several tasks write the same comment: pr-feedback the sandbox's state
//! (creating, ready, failed, hibernated, deleted), report-tests the test
//! summary. A task owns its [`section`]s (delimited by two more hidden
//! markers) and rewrites only those, through
//! [`GitHub::sticky_comment_with`], which hands it the comment as it is.

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
        // Refused before any request: it would be posted again on every run.
        if !body.contains(marker) {
            return Err(ForgeError::Config {
                message: "the comment body does not contain its marker".into(),
            });
        }
        self.sticky_comment_with(repo, number, marker, |_| body.to_string())
            .await
    }

    /// [`GitHub::sticky_comment`] with the body built from the comment as
    /// it is now (`None` when there is none yet, with `\r\n` read as
    /// `\n`): how a task changes its own [section](put_section) and keeps
    /// the others' (pr-feedback keeps the test summary, report-tests keeps
    /// the state).
    pub async fn sticky_comment_with(
        &self,
        repo: &GithubRepo,
        number: u64,
        marker: &str,
        build: impl FnOnce(Option<&str>) -> String,
    ) -> Result<(Comment, CommentAction), ForgeError> {
        #[derive(Serialize)]
        struct Body<'a> {
            body: &'a str,
        }
        let existing = self.find_comment(repo, number, marker).await?;
        // GitHub stores bodies with \r\n when edited in the browser.
        let current = existing.as_ref().map(|c| c.body.replace("\r\n", "\n"));
        let body = build(current.as_deref());
        if !body.contains(marker) {
            return Err(ForgeError::Config {
                message: "the comment body does not contain its marker".into(),
            });
        }
        match existing {
            Some(existing) if current.as_deref() == Some(body.as_str()) => {
                Ok((existing, CommentAction::Unchanged))
            }
            Some(existing) => {
                let url = format!(
                    "{}/repos/{}/{}/issues/comments/{}",
                    self.api, repo.owner, repo.name, existing.id
                );
                let comment = self
                    .send_json(Method::PATCH, &url, Some(&Body { body: &body }))
                    .await?;
                Ok((comment, CommentAction::Updated))
            }
            None => {
                let url = format!(
                    "{}/repos/{}/{}/issues/{number}/comments",
                    self.api, repo.owner, repo.name
                );
                let comment = self
                    .send_json(Method::POST, &url, Some(&Body { body: &body }))
                    .await?;
                Ok((comment, CommentAction::Created))
            }
        }
    }
}

/// The opening line of section `name` of a sticky comment (an HTML
/// comment: GitHub does not render it).
fn section_open(name: &str) -> String {
    format!("<!-- argo-sandbox:section:{name} -->")
}

/// The closing line of section `name`.
fn section_close(name: &str) -> String {
    format!("<!-- /argo-sandbox:section:{name} -->")
}

/// Section `name` with `body`, between its two markers.
pub fn section(name: &str, body: &str) -> String {
    format!(
        "{}\n{}\n{}",
        section_open(name),
        body.trim_end_matches('\n'),
        section_close(name)
    )
}

/// Every whole section of `text` (markers included), in order, with its
/// name: what a task that rewrites the rest of the comment carries over.
pub fn sections(text: &str) -> Vec<(String, String)> {
    const OPEN: &str = "<!-- argo-sandbox:section:";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(OPEN) {
        let after = &rest[at + OPEN.len()..];
        let Some(end) = after.find(" -->") else { break };
        let name = &after[..end];
        let close = section_close(name);
        let Some(close_at) = rest[at..].find(&close) else {
            break;
        };
        let whole = &rest[at..at + close_at + close.len()];
        out.push((name.to_string(), whole.to_string()));
        rest = &rest[at + close_at + close.len()..];
    }
    out
}

/// `text` with section `name` set to `body` (replaced where it is, else
/// appended), or removed when `body` is `None`. Everything else is kept
/// as it is.
pub fn put_section(text: &str, name: &str, body: Option<&str>) -> String {
    let open = section_open(name);
    let close = section_close(name);
    let found = text.find(&open).and_then(|at| {
        text[at..]
            .find(&close)
            .map(|end| (at, at + end + close.len()))
    });
    match (found, body) {
        (Some((start, end)), Some(body)) => {
            format!("{}{}{}", &text[..start], section(name, body), &text[end..])
        }
        (Some((start, end)), None) => {
            let tail = text[end..].strip_prefix('\n').unwrap_or(&text[end..]);
            format!("{}{tail}", &text[..start])
        }
        (None, Some(body)) => {
            let sep = if text.ends_with('\n') { "" } else { "\n" };
            format!("{text}{sep}{}\n", section(name, body))
        }
        (None, None) => text.to_string(),
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

    #[test]
    fn a_section_is_replaced_in_place_and_the_rest_kept() {
        let text = format!("{MARKER}\nstate: ready\n<sub>footer</sub>\n");
        let with = put_section(&text, "tests", Some("12 passed"));
        assert_eq!(
            with,
            format!(
                "{MARKER}\nstate: ready\n<sub>footer</sub>\n<!-- argo-sandbox:section:tests -->\n12 passed\n<!-- /argo-sandbox:section:tests -->\n"
            )
        );
        let again = put_section(&with, "tests", Some("11 passed, 1 failed"));
        assert!(again.contains("\n11 passed, 1 failed\n") && !again.contains("12 passed"));
        assert_eq!(sections(&again).len(), 1);
        assert_eq!(sections(&again)[0].0, "tests");
        // Another section is left alone; removing one leaves no trace.
        let two = put_section(&again, "links", Some("x"));
        assert_eq!(
            sections(&two)
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>(),
            ["tests", "links"]
        );
        let removed = put_section(&two, "tests", None);
        assert!(!removed.contains("argo-sandbox:section:tests"), "{removed}");
        assert!(removed.contains("argo-sandbox:section:links"));
        assert_eq!(put_section(&text, "tests", None), text);
        // A section without its closing marker is not one.
        assert!(sections("<!-- argo-sandbox:section:tests -->\nhalf").is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_body_is_built_from_the_comment_as_it_is() {
        let server = MockServer::start().await;
        let existing = format!("{MARKER}\r\nready\r\n{}\n", section("tests", "3 passed"));
        Mock::given(method("GET"))
            .and(path("/repos/o/r/issues/5/comments"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([comment(7, &existing)])))
            .mount(&server)
            .await;
        Mock::given(method("PATCH"))
            .and(path("/repos/o/r/issues/comments/7"))
            .respond_with(ResponseTemplate::new(200).set_body_json(comment(7, "x")))
            .expect(1)
            .mount(&server)
            .await;
        let github = GitHub::new(&server.uri(), Some("t"), Limits::default()).unwrap();
        let repo = GithubRepo::parse("o/r").unwrap();
        let mut seen = None;
        let (_, action) = github
            .sticky_comment_with(&repo, 5, MARKER, |now| {
                seen = now.map(str::to_string);
                put_section(now.unwrap(), "tests", Some("2 passed, 1 failed"))
            })
            .await
            .unwrap();
        assert_eq!(action, CommentAction::Updated);
        // The \r\n of a browser edit reads as \n.
        assert_eq!(seen.unwrap(), existing.replace("\r\n", "\n"));
        let patched: serde_json::Value = serde_json::from_slice(
            &server
                .received_requests()
                .await
                .unwrap()
                .last()
                .unwrap()
                .body,
        )
        .unwrap();
        let body = patched["body"].as_str().unwrap();
        assert!(body.starts_with(&format!("{MARKER}\nready\n")), "{body}");
        assert!(body.contains("\n2 passed, 1 failed\n") && !body.contains("3 passed"));
    }
}
