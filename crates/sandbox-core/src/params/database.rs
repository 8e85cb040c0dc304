//! Postgres database names. We accept only what needs no quoting (lowercase
//! letters, digits, `_`), at most 63 bytes (NAMEDATALEN - 1), so a name
//! reads the same in every tool, log line and connection string.

use super::{Invalid, Violation};
use serde::Serialize;
use std::fmt;

/// A database name that is a plain lowercase Postgres identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DatabaseName(String);

impl DatabaseName {
    /// Postgres truncates identifiers longer than this.
    pub const MAX_LEN: usize = 63;

    /// Validate a database name.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let fix = "use at most 63 lowercase letters, digits and '_', starting with a letter or '_'";
        let mut v = Vec::new();
        if s.is_empty() || s.len() > Self::MAX_LEN {
            v.push(Violation::new(
                "length",
                format!(
                    "database name is {} bytes; it must be 1 to {}",
                    s.len(),
                    Self::MAX_LEN
                ),
                fix,
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            v.push(Violation::new(
                "postgres-identifier",
                "database name may contain only lowercase letters, digits and '_'",
                fix,
            ));
        }
        if s.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            v.push(Violation::new(
                "postgres-identifier",
                "database name must not start with a digit",
                fix,
            ));
        }
        Invalid::check(v)?;
        Ok(DatabaseName(s.to_string()))
    }

    /// The database of an environment: its name with `-` → `_`.
    pub fn for_environment(env: &super::EnvironmentName) -> Result<Self, Invalid> {
        Self::parse(&env.as_str().replace('-', "_"))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as a quoted SQL identifier.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0.replace('"', "\"\""))
    }
}

impl fmt::Display for DatabaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_refused() {
        for bad in [
            "a\"b",
            "a;drop",
            "A",
            "1abc",
            "",
            "a-b",
            &"a".repeat(64),
            "ä",
        ] {
            assert!(DatabaseName::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(DatabaseName::parse(&"a".repeat(63)).is_ok());
    }
}
