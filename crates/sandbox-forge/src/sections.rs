//! One part of the sticky comment that another pipeline owns: a section
//! between `<!-- argo-sandbox:section:KEY -->` and
//! `<!-- argo-sandbox:section-end:KEY -->`, replaced in place (or added at
//! the end) without touching the rest of the comment, so hibernate and
//! wake can say "sleeping" and "awake" under what the create pipeline
//! wrote.

use crate::{CommentAction, ForgeError, GitHub};
use sandbox_core::params::GithubRepo;

/// The hidden marker of a sandbox's sticky comment.
pub fn sticky_marker(environment: &str) -> String {
    format!("<!-- argo-sandbox:{environment} -->")
}

/// `body` with section `key` saying `text` (replaced when present, else
/// added at the end).
pub fn with_section(body: &str, key: &str, text: &str) -> String {
    let start = format!("<!-- argo-sandbox:section:{key} -->");
    let end = format!("<!-- argo-sandbox:section-end:{key} -->");
    let block = format!("{start}\n{}\n{end}", text.trim_end());
    if let Some(i) = body.find(&start)
        && let Some(j) = body[i..].find(&end)
    {
        return format!("{}{block}{}", &body[..i], &body[i + j + end.len()..]);
    }
    let mut out = body.trim_end().to_string();
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str(&block);
    out.push('\n');
    out
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
        let current = self
            .find_comment(repo, number, marker)
            .await?
            .map(|c| c.body.replace("\r\n", "\n"))
            .unwrap_or_else(|| format!("{marker}\n"));
        let body = with_section(&current, key, text);
        let (_, action) = self.sticky_comment(repo, number, marker, &body).await?;
        Ok(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_added_then_replaced_and_the_rest_kept() {
        let body = "<!-- argo-sandbox:sbx-pr-5 -->\n### ready\nlinks\n";
        let once = with_section(body, "sleep", "sleeping since 20:00");
        assert!(once.starts_with(body.trim_end()), "{once}");
        assert!(once.contains("sleeping since 20:00"));
        let twice = with_section(&once, "sleep", "awake");
        assert!(
            twice.contains("awake") && !twice.contains("sleeping"),
            "{twice}"
        );
        assert!(twice.starts_with(body.trim_end()));
        assert_eq!(with_section(&twice, "sleep", "awake"), twice);
        // Another section is left alone.
        let other = with_section(&twice, "tests", "12 passed");
        assert_eq!(
            with_section(&other, "sleep", "asleep")
                .matches("12 passed")
                .count(),
            1
        );
    }
}
