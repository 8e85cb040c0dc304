//! `owner/name` of a GitHub repository, under GitHub's naming rules.

use super::{Invalid, Violation};
use serde::Serialize;
use std::fmt;

/// A repository as `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GithubRepo {
    /// The user or organisation.
    pub owner: String,
    /// The repository name.
    pub name: String,
}

impl GithubRepo {
    /// Validate `owner/name`.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let fix = "give owner/name, e.g. acme/shop";
        let Some((owner, name)) = s.split_once('/') else {
            return Err(Invalid::one("github-repo", "expected owner/name", fix));
        };
        let mut v = Vec::new();
        let owner_ok = (1..=39).contains(&owner.len())
            && owner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !owner.starts_with('-');
        if !owner_ok {
            v.push(Violation::new(
                "github-repo",
                "owner must be 1-39 letters, digits or '-', not starting with '-'",
                fix,
            ));
        }
        let name_ok = (1..=100).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && name != "."
            && name != "..";
        if !name_ok {
            v.push(Violation::new(
                "github-repo",
                "name must be 1-100 letters, digits, '-', '_' or '.'",
                fix,
            ));
        }
        Invalid::check(v)?;
        Ok(GithubRepo {
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }
}

impl fmt::Display for GithubRepo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_and_name() {
        let repo = GithubRepo::parse("acme/shop.web").unwrap();
        assert_eq!(
            (repo.owner.as_str(), repo.name.as_str()),
            ("acme", "shop.web")
        );
        for bad in [
            "acme",
            "/shop",
            "acme/",
            "-acme/shop",
            "acme/..",
            "acme/sh op",
            "a/b/c",
        ] {
            assert!(GithubRepo::parse(bad).is_err(), "{bad:?}");
        }
    }
}
