//! Named sections of the sticky comment, so two tasks can each own a part
//! of the one comment a pull request gets: `report-tests` writes the
//! `tests` section while `pr-feedback` writes the rest. A section is the
//! text between `<!-- argo-sandbox:section:NAME -->` and
//! `<!-- /argo-sandbox:section:NAME -->`; replacing it leaves everything
//! else as it was. A writer that renders the whole comment keeps the other
//! writers' sections with [`carry_sections`].

use crate::{Comment, CommentAction, ForgeError, GitHub};
use sandbox_core::params::GithubRepo;

/// The hidden marker of an environment's sticky comment
/// (`<!-- argo-sandbox:<environment> -->`, as pr-feedback writes it).
pub fn sticky_marker(environment: &str) -> String {
    format!("<!-- argo-sandbox:{environment} -->")
}

fn open(name: &str) -> String {
    format!("<!-- argo-sandbox:section:{name} -->")
}

fn close(name: &str) -> String {
    format!("<!-- /argo-sandbox:section:{name} -->")
}

/// `body` with section `name` holding `content`: replaced where it is,
/// appended (after a blank line) when absent.
pub fn with_section(body: &str, name: &str, content: &str) -> String {
    let (open, close) = (open(name), close(name));
    let block = format!("{open}\n{}\n{close}", content.trim_end());
    if let Some(start) = body.find(&open)
        && let Some(len) = body[start..].find(&close)
    {
        let end = start + len + close.len();
        return format!("{}{block}{}", &body[..start], &body[end..]);
    }
    let body = body.trim_end();
    if body.is_empty() {
        block
    } else {
        format!("{body}\n\n{block}")
    }
}

/// Every section of `old` that `new` lacks, appended to `new`: how a
/// writer that renders the whole comment keeps the others' sections.
pub fn carry_sections(old: &str, new: &str) -> String {
    let mut out = new.to_string();
    let tag = "<!-- argo-sandbox:section:";
    let mut rest = old;
    while let Some(at) = rest.find(tag) {
        let after = &rest[at + tag.len()..];
        let Some(name_end) = after.find(" -->") else {
            break;
        };
        let name = &after[..name_end];
        let (o, c) = (open(name), close(name));
        let Some(len) = rest[at..].find(&c) else {
            break;
        };
        let content = rest[at + o.len()..at + len].trim_matches('\n');
        if !out.contains(&o) {
            out = with_section(&out, name, content);
        }
        rest = &rest[at + len + c.len()..];
    }
    out
}

impl GitHub {
    /// Set section `section` of the sticky comment with `marker` on
    /// issue/PR `number`, keeping the rest of it; posts the comment (the
    /// marker and the section) when there is none yet.
    pub async fn sticky_comment_section(
        &self,
        repo: &GithubRepo,
        number: u64,
        marker: &str,
        section: &str,
        content: &str,
    ) -> Result<(Comment, CommentAction), ForgeError> {
        let base = match self.find_comment(repo, number, marker).await? {
            Some(existing) => existing.body.replace("\r\n", "\n"),
            None => format!("{marker}\n"),
        };
        let body = with_section(&base, section, content);
        self.sticky_comment(repo, number, marker, &body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_replaced_in_place_or_appended() {
        let body = "<!-- m -->\nready\n";
        let one = with_section(body, "tests", "3 passed");
        assert_eq!(
            one,
            "<!-- m -->\nready\n\n<!-- argo-sandbox:section:tests -->\n3 passed\n<!-- /argo-sandbox:section:tests -->"
        );
        let two = with_section(&format!("{one}\nfooter"), "tests", "1 failed");
        assert!(
            two.contains("\n1 failed\n") && !two.contains("3 passed"),
            "{two}"
        );
        assert!(two.ends_with("footer") && two.starts_with("<!-- m -->\nready"));
        // A writer that renders the whole comment keeps the section.
        let rerendered = carry_sections(&two, "<!-- m -->\ndeleted\n");
        assert!(rerendered.contains("1 failed") && rerendered.contains("deleted"));
        assert_eq!(carry_sections(&two, &two), two);
    }
}
