//! Environment names, their prefix, and Kubernetes namespaces: all DNS-1123
//! labels.

use super::{Invalid, Violation};
use serde::Serialize;
use std::fmt;

/// The longest DNS-1123 label Kubernetes accepts.
const LABEL_MAX: usize = 63;
/// The namespace is `apps-<environment>`, so the environment leaves room
/// for that prefix.
pub(crate) const NAMESPACE_PREFIX: &str = "apps-";

fn label_violations(s: &str, max: usize, what: &str) -> Vec<Violation> {
    let mut v = Vec::new();
    if s.is_empty() {
        v.push(Violation::new(
            "dns-1123-label",
            format!("{what} is empty"),
            "give a lowercase name such as sbx-pr-42",
        ));
        return v;
    }
    if s.len() > max {
        v.push(Violation::new(
            "length",
            format!("{what} is {} characters, the limit is {max}", s.len()),
            format!("shorten it to at most {max} characters"),
        ));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        v.push(Violation::new(
            "dns-1123-label",
            format!("{what} may contain only lowercase letters, digits and '-'"),
            "use lowercase letters, digits and '-' only",
        ));
    }
    let first = s.as_bytes()[0];
    let last = s.as_bytes()[s.len() - 1];
    if !(first.is_ascii_lowercase() || first.is_ascii_digit())
        || !(last.is_ascii_lowercase() || last.is_ascii_digit())
    {
        v.push(Violation::new(
            "dns-1123-label",
            format!("{what} must start and end with a lowercase letter or digit"),
            "start and end with a lowercase letter or digit",
        ));
    }
    v
}

/// A sandbox's name (`sbx-pr-42`): a DNS-1123 label short enough that
/// `apps-<name>` is one too.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EnvironmentName(String);

impl EnvironmentName {
    /// The longest environment name: the namespace adds `apps-`.
    pub const MAX_LEN: usize = LABEL_MAX - NAMESPACE_PREFIX.len();

    /// Validate an environment name.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Invalid::check(label_violations(s, Self::MAX_LEN, "environment name"))?;
        Ok(EnvironmentName(s.to_string()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvironmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Kubernetes namespace name: a DNS-1123 label of at most 63 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Namespace(String);

impl Namespace {
    /// Validate a namespace name.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Invalid::check(label_violations(s, LABEL_MAX, "namespace"))?;
        Ok(Namespace(s.to_string()))
    }

    /// The namespace of an environment: `apps-<environment>`.
    pub fn for_environment(env: &EnvironmentName) -> Self {
        Namespace(format!("{NAMESPACE_PREFIX}{env}"))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The prefix of every sandbox name (`sbx-`): lowercase, starts with a
/// letter, at most 20 characters, so names stay short and recognisable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct EnvPrefix(String);

impl EnvPrefix {
    /// The default prefix.
    pub const DEFAULT: &'static str = "sbx-";
    const MAX_LEN: usize = 20;

    /// Validate a prefix.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let mut v = Vec::new();
        if s.is_empty() || s.len() > Self::MAX_LEN {
            v.push(Violation::new(
                "length",
                format!("env prefix must be 1 to {} characters", Self::MAX_LEN),
                "use a short prefix such as sbx-",
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            || !s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        {
            v.push(Violation::new(
                "dns-1123-label",
                "env prefix must start with a lowercase letter and hold only lowercase letters, digits and '-'",
                "use a prefix such as sbx-",
            ));
        }
        Invalid::check(v)?;
        Ok(EnvPrefix(s.to_string()))
    }

    /// The prefix as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for EnvPrefix {
    fn default() -> Self {
        EnvPrefix(Self::DEFAULT.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn is_dns1123_label(s: &str) -> bool {
        let b = s.as_bytes();
        !b.is_empty()
            && b.len() <= 63
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    }

    #[test]
    fn upper_case_and_length_are_both_reported() {
        let long_upper = format!("Sbx-{}", "a".repeat(60));
        let Invalid(v) = EnvironmentName::parse(&long_upper).unwrap_err();
        let rules: Vec<&str> = v.iter().map(|v| v.rule).collect();
        assert_eq!(rules, ["length", "dns-1123-label", "dns-1123-label"]);
    }

    #[test]
    fn namespace_of_the_longest_environment_is_a_label() {
        let env = EnvironmentName::parse(&"a".repeat(EnvironmentName::MAX_LEN)).unwrap();
        assert!(is_dns1123_label(Namespace::for_environment(&env).as_str()));
    }

    proptest! {
        #[test]
        fn accepted_environment_names_and_their_namespaces_are_dns_labels(s in "[a-zA-Z0-9._-]{0,70}") {
            if let Ok(env) = EnvironmentName::parse(&s) {
                prop_assert!(is_dns1123_label(env.as_str()));
                prop_assert!(is_dns1123_label(Namespace::for_environment(&env).as_str()));
            }
            if let Ok(ns) = Namespace::parse(&s) {
                prop_assert!(is_dns1123_label(ns.as_str()));
            }
        }

        #[test]
        fn generated_labels_are_accepted(s in "[a-z0-9]([a-z0-9-]{0,56}[a-z0-9])?") {
            prop_assert!(EnvironmentName::parse(&s).is_ok());
        }
    }
}
