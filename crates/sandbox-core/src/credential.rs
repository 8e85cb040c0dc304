//! Where a credential comes from: `file:<path>`, `env:<NAME>` or
//! `vault://<mount>/<path>#<key>` (KV v2). Never the secret itself on a
//! command line (DESIGN §3). This module only parses references; resolving
//! them is the job of the task that needs the credential.

use crate::params::{Invalid, Violation};
use std::fmt;
use std::path::PathBuf;

/// A reference to a credential.
#[derive(Clone, PartialEq, Eq)]
pub enum CredentialRef {
    /// The contents of a file (trailing newline trimmed).
    File(PathBuf),
    /// The value of an environment variable.
    Env(String),
    /// A key of a KV v2 secret; `{environment}` in the path is filled in
    /// from the validated environment name.
    Vault {
        /// The secrets engine mount, e.g. `secret`.
        mount: String,
        /// The secret's path below the mount.
        path: String,
        /// The key inside the secret.
        key: String,
    },
}

const FIX: &str = "pass file:<path>, env:<VARIABLE> or vault://<mount>/<path>#<key>";

impl CredentialRef {
    /// Parse a reference. The value is never echoed in a violation: a user
    /// who pasted a secret here must not see it in the logs.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if let Some(path) = s.strip_prefix("file:") {
            if path.is_empty() {
                return Err(Invalid::one(
                    "credential-ref",
                    "file: reference has no path",
                    FIX,
                ));
            }
            return Ok(CredentialRef::File(PathBuf::from(path)));
        }
        if let Some(name) = s.strip_prefix("env:") {
            let ok = !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !name.as_bytes()[0].is_ascii_digit();
            if !ok {
                return Err(Invalid::one(
                    "credential-ref",
                    "env: reference must name an environment variable (letters, digits, '_')",
                    FIX,
                ));
            }
            return Ok(CredentialRef::Env(name.to_string()));
        }
        if let Some(rest) = s.strip_prefix("vault://") {
            return Self::parse_vault(rest);
        }
        Err(Invalid::one(
            "credential-ref",
            "credentials are accepted only as a reference, never as a value",
            FIX,
        ))
    }

    fn parse_vault(rest: &str) -> Result<Self, Invalid> {
        let mut v = Vec::new();
        let (location, key) = rest.split_once('#').unwrap_or((rest, ""));
        if key.is_empty() {
            v.push(Violation::new(
                "vault-ref",
                "vault reference has no #key",
                FIX,
            ));
        }
        let (mount, path) = location.split_once('/').unwrap_or((location, ""));
        let segments: Vec<&str> = path.split('/').collect();
        if mount.is_empty() || path.is_empty() || segments.iter().any(|s| s.is_empty()) {
            v.push(Violation::new(
                "vault-ref",
                "vault reference needs a mount and a path with no empty segments",
                FIX,
            ));
        }
        if mount == ".." || segments.iter().any(|s| *s == "." || *s == "..") {
            v.push(Violation::new(
                "path-traversal",
                "vault reference must not contain '.' or '..' segments",
                FIX,
            ));
        }
        if rest.chars().any(|c| c.is_control() || c.is_whitespace()) {
            v.push(Violation::new(
                "vault-ref",
                "vault reference contains spaces or control characters",
                FIX,
            ));
        }
        Invalid::check(v)?;
        Ok(CredentialRef::Vault {
            mount: mount.to_string(),
            path: path.to_string(),
            key: key.to_string(),
        })
    }
}

/// Printed form: the reference, never a value. For Vault only the mount and
/// key are shown, as `vault://secret/…#key`.
impl fmt::Display for CredentialRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialRef::File(p) => write!(f, "file:{}", p.display()),
            CredentialRef::Env(n) => write!(f, "env:{n}"),
            CredentialRef::Vault { mount, key, .. } => write!(f, "vault://{mount}/…#{key}"),
        }
    }
}

impl fmt::Debug for CredentialRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms_parse() {
        assert_eq!(
            CredentialRef::parse("env:DB_URL").unwrap(),
            CredentialRef::Env("DB_URL".into())
        );
        assert!(matches!(
            CredentialRef::parse("file:/var/run/secret").unwrap(),
            CredentialRef::File(_)
        ));
        let vault = CredentialRef::parse("vault://secret/sandboxes/{environment}/db#url").unwrap();
        assert_eq!(
            vault,
            CredentialRef::Vault {
                mount: "secret".into(),
                path: "sandboxes/{environment}/db".into(),
                key: "url".into()
            }
        );
        assert_eq!(vault.to_string(), "vault://secret/…#url");
    }

    #[test]
    fn plain_values_and_traversal_are_refused_without_echo() {
        for bad in [
            "postgres://u:hunter2@db/x",
            "hunter2",
            "vault://secret/../x#k",
            "vault://secret/x#",
            "vault://secret#k",
            "env:",
            "env:1X",
        ] {
            let err = CredentialRef::parse(bad).unwrap_err();
            assert!(!err.to_string().contains("hunter2"), "{bad}");
        }
    }
}
