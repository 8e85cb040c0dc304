//! Full Git commit names: 40 hex digits (SHA-1) or 64 (SHA-256), as Git,
//! GitHub's API and Argo CD's `status.sync.revision` write them.

use super::Invalid;

/// A full commit name, lower case.
pub fn parse_commit(s: &str) -> Result<String, Invalid> {
    if matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(Invalid::one(
            "git-commit",
            format!("{s:?} is not a full commit name (40 or 64 hex digits)"),
            "pass the whole commit SHA, not a branch name or a short SHA",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names_only() {
        let sha = "6DCB09B5B57875F334F61AEBED695E2E4193DB5E";
        assert_eq!(parse_commit(sha).unwrap(), sha.to_ascii_lowercase());
        assert!(parse_commit(&"a".repeat(64)).is_ok());
        for bad in ["main", "6dcb09b", &"g".repeat(40), &"a".repeat(41), ""] {
            assert!(parse_commit(bad).is_err(), "{bad}");
        }
    }
}
