//! Where a credential comes from: `file:<path>`, `env:<NAME>` or
//! `vault://<mount>/<path>#<key>` (KV v2). Never the secret itself on a
//! command line (DESIGN §3).
//!
//! This module parses references, fills in `{environment}`, confines Vault
//! references to the configured bases ([`VaultScope`]) and holds a resolved
//! value ([`Secret`]). It sends nothing anywhere: resolving a reference
//! (reading the file, the variable, or Vault over HTTP) is
//! `sandbox_vault::Credentials`, so this crate stays free of HTTP clients.

use crate::names::DEFAULT_VAULT_BASE;
use crate::params::{EnvironmentName, Invalid, Violation};
use std::fmt;
use std::path::PathBuf;

/// The one template variable a Vault path may hold, filled from the
/// validated environment name.
pub const ENVIRONMENT_VARIABLE: &str = "{environment}";

/// A reference to a credential.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum CredentialRef {
    /// The contents of a file (trailing newline trimmed).
    File(PathBuf),
    /// The value of an environment variable.
    Env(String),
    /// A key of a KV v2 secret; `{environment}` in the path is filled in
    /// from the validated environment name by [`CredentialRef::bind`].
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

    /// Parse, fill in `{environment}` and confine to `scope` in one step:
    /// what a task's validation calls for each credential flag.
    pub fn parse_bound(
        s: &str,
        environment: Option<&EnvironmentName>,
        scope: &VaultScope,
    ) -> Result<Self, Invalid> {
        Self::parse(s)?.bind(environment, scope)
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
        // The location becomes part of a request URL: nothing that could
        // start a query, escape a segment or smuggle another path in.
        if location
            .chars()
            .any(|c| !(c.is_ascii_alphanumeric() || "-_./{}@+=:".contains(c)))
        {
            v.push(Violation::new(
                "vault-ref",
                "vault mount and path may contain only letters, digits and - _ . @ + = :",
                FIX,
            ));
        }
        let without_variable = location.replace(ENVIRONMENT_VARIABLE, "");
        if without_variable.contains(['{', '}']) || mount.contains(ENVIRONMENT_VARIABLE) {
            v.push(Violation::new(
                "template-variable",
                "the only template variable is {environment}, and only in the path",
                "write e.g. vault://secret/sandboxes/{environment}/db#url",
            ));
        }
        Invalid::check(v)?;
        Ok(CredentialRef::Vault {
            mount: mount.to_string(),
            path: path.to_string(),
            key: key.to_string(),
        })
    }

    /// True for a `vault://` reference.
    pub fn is_vault(&self) -> bool {
        matches!(self, CredentialRef::Vault { .. })
    }

    /// `mount/path` of a Vault reference: names the secret, holds no value,
    /// so it may appear in errors.
    pub fn vault_location(&self) -> Option<String> {
        match self {
            CredentialRef::Vault { mount, path, .. } => Some(format!("{mount}/{path}")),
            _ => None,
        }
    }

    /// Fill `{environment}` in a Vault path and confine the result to
    /// `scope`. Files and variables are returned as they are. A reference
    /// that uses `{environment}` without a known environment, or points
    /// outside every base of the scope, is invalid (exit 2) — checked
    /// before any request is sent.
    pub fn bind(
        self,
        environment: Option<&EnvironmentName>,
        scope: &VaultScope,
    ) -> Result<Self, Invalid> {
        let CredentialRef::Vault { mount, path, key } = self else {
            return Ok(self);
        };
        let path = if path.contains(ENVIRONMENT_VARIABLE) {
            let Some(env) = environment else {
                return Err(Invalid::one(
                    "template-variable",
                    "vault reference uses {environment} but no environment is known",
                    "pass --environment or --pr-number",
                ));
            };
            path.replace(ENVIRONMENT_VARIABLE, env.as_str())
        } else {
            path
        };
        if !scope.contains(&mount, &path) {
            return Err(Invalid::one(
                "outside-vault-base",
                format!("vault path {mount}/{path} is outside the allowed bases {scope}"),
                "reference a secret below one of them, or add its base with --vault-base",
            ));
        }
        Ok(CredentialRef::Vault { mount, path, key })
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

/// Where Vault references may point: one or more `<mount>/<path>` bases
/// (the tree Terraform writes: per-environment paths and shared paths). A
/// reference is inside a base when it has the base's mount and lies strictly
/// below its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultScope {
    bases: Vec<(String, Vec<String>)>,
}

impl Default for VaultScope {
    /// `secret/sandboxes`.
    fn default() -> Self {
        VaultScope::parse(&[DEFAULT_VAULT_BASE]).expect("the default base is valid")
    }
}

impl VaultScope {
    /// Parse bases such as `secret/sandboxes` and `secret/shared`: a mount
    /// and at least one path segment each, no `.`/`..`, no templates.
    pub fn parse<S: AsRef<str>>(bases: &[S]) -> Result<Self, Invalid> {
        let mut parsed = Vec::new();
        let mut v = Vec::new();
        for base in bases {
            let trimmed = base.as_ref().trim_matches('/');
            let segments: Vec<&str> = trimmed.split('/').collect();
            let bad = segments.len() < 2
                || segments
                    .iter()
                    .any(|s| s.is_empty() || *s == "." || *s == "..")
                || trimmed
                    .chars()
                    .any(|c| !(c.is_ascii_alphanumeric() || "-_.@+=:/".contains(c)));
            if bad {
                v.push(Violation::new(
                    "vault-base",
                    format!("vault base {trimmed:?} must be <mount>/<path> of plain segments"),
                    "give e.g. secret/sandboxes",
                ));
                continue;
            }
            parsed.push((
                segments[0].to_string(),
                segments[1..].iter().map(|s| s.to_string()).collect(),
            ));
        }
        if parsed.is_empty() && v.is_empty() {
            v.push(Violation::new(
                "vault-base",
                "no vault base given",
                "give e.g. secret/sandboxes",
            ));
        }
        Invalid::check(v)?;
        Ok(VaultScope { bases: parsed })
    }

    /// True when `mount/path` lies strictly below one of the bases.
    pub fn contains(&self, mount: &str, path: &str) -> bool {
        let segments: Vec<&str> = path.split('/').collect();
        if segments
            .iter()
            .any(|s| s.is_empty() || *s == "." || *s == "..")
        {
            return false;
        }
        self.bases.iter().any(|(base_mount, prefix)| {
            base_mount == mount
                && segments.len() > prefix.len()
                && prefix.iter().zip(&segments).all(|(a, b)| a == b)
        })
    }
}

impl fmt::Display for VaultScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bases: Vec<String> = self
            .bases
            .iter()
            .map(|(m, p)| format!("{m}/{}", p.join("/")))
            .collect();
        f.write_str(&bases.join(", "))
    }
}

/// A resolved credential. It prints as `***` in every format, so it cannot
/// reach a log by accident; [`Secret::expose`] is the one way to the value.
/// The one secret type of the workspace: git credentials, Vault tokens and
/// every resolved reference are this.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a value. Trailing line breaks are dropped: a file written with
    /// `echo` or `kubectl create secret --from-file` ends in one, and no
    /// token, password or URL does — sent along, it would make a valid
    /// credential fail.
    pub fn new(value: impl Into<String>) -> Self {
        let mut value = value.into();
        while value.ends_with(['\n', '\r']) {
            value.pop();
        }
        Secret(value)
    }

    /// The value, for the one place that needs it (a header, a URL given
    /// to a client). Never format it into a message.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", crate::redact::MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::redact::MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> EnvironmentName {
        EnvironmentName::parse("sbx-pr-7").unwrap()
    }

    fn scope() -> VaultScope {
        VaultScope::parse(&["secret/sandboxes", "secret/shared"]).unwrap()
    }

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
            "vault://secret/x?list=true#k",
            "vault://secret/x%2F..#k",
            "vault://secret/{env}/x#k",
            "vault://{environment}/x#k",
            "env:",
            "env:1X",
        ] {
            let err = CredentialRef::parse(bad).unwrap_err();
            assert!(!err.to_string().contains("hunter2"), "{bad}");
        }
    }

    #[test]
    fn environment_is_filled_and_the_scope_confines() {
        let bound = CredentialRef::parse_bound(
            "vault://secret/sandboxes/{environment}/db#url",
            Some(&env()),
            &scope(),
        )
        .unwrap();
        assert_eq!(
            bound.vault_location().unwrap(),
            "secret/sandboxes/sbx-pr-7/db"
        );
        assert!(
            CredentialRef::parse_bound("vault://secret/shared/github#token", None, &scope())
                .is_ok()
        );
        for (outside, rule) in [
            ("vault://secret/other/x#k", "outside-vault-base"),
            ("vault://kv/sandboxes/x#k", "outside-vault-base"),
            ("vault://secret/sandboxes#k", "outside-vault-base"),
            ("vault://secret/sandboxesX/y#k", "outside-vault-base"),
        ] {
            let err = CredentialRef::parse_bound(outside, Some(&env()), &scope()).unwrap_err();
            assert_eq!(err.0[0].rule, rule, "{outside}");
        }
        let err =
            CredentialRef::parse_bound("vault://secret/sandboxes/{environment}#k", None, &scope())
                .unwrap_err();
        assert_eq!(err.0[0].rule, "template-variable");
        // Files and variables are not confined.
        assert!(CredentialRef::parse_bound("env:X", None, &scope()).is_ok());
    }

    #[test]
    fn bad_bases_are_refused() {
        for bad in [
            "secret",
            "",
            "secret/../x",
            "secret//x",
            "secret/{environment}",
        ] {
            assert!(VaultScope::parse(&[bad]).is_err(), "{bad}");
        }
        assert_eq!(VaultScope::default().to_string(), "secret/sandboxes");
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2-value\r\n");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.expose(), "hunter2-value");
    }
}
