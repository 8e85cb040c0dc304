//! Paths inside a repository (overlays, the app-of-apps directory): relative
//! and never escaping the repository.

use super::{Invalid, Violation, has_control};
use serde::Serialize;
use std::fmt;

/// A relative path of plain segments inside a repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct RepoPath(String);

impl RepoPath {
    /// Validate a repository path; a trailing `/` is dropped.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let fix = "give a path relative to the repository root, e.g. overlays/sandbox";
        let trimmed = s.trim_end_matches('/');
        let mut v = Vec::new();
        if trimmed.is_empty() {
            v.push(Violation::new("repo-path", "path is empty", fix));
        }
        if s.starts_with('/') || s.contains('\\') {
            v.push(Violation::new(
                "path-traversal",
                "path must be relative to the repository root",
                fix,
            ));
        }
        if trimmed.split('/').any(|seg| seg == ".." || seg == ".") {
            v.push(Violation::new(
                "path-traversal",
                "path must not contain '.' or '..' segments",
                fix,
            ));
        }
        if trimmed.contains("//") || has_control(s) || trimmed.split('/').any(|seg| seg == ".git") {
            v.push(Violation::new(
                "repo-path",
                "path has an empty segment, a control character or a .git segment",
                fix,
            ));
        }
        Invalid::check(v)?;
        Ok(RepoPath(trimmed.to_string()))
    }

    /// The path as text, without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_paths_are_refused() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc",
            "",
            "a//b",
            ".git/config",
            "a\\b",
        ] {
            assert!(RepoPath::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            RepoPath::parse("overlays/sbx/").unwrap().as_str(),
            "overlays/sbx"
        );
    }
}
