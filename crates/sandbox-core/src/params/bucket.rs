//! Bucket locations: `gs://bucket[/prefix]` under GCS naming rules, or
//! `file:///dir` for local runs and the demo.

use super::{Invalid, Violation, has_control};
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// Where objects live.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "scheme", rename_all = "lowercase")]
pub enum BucketUrl {
    /// A GCS bucket and an object prefix (empty, or ending in `/`).
    Gs {
        /// The bucket name.
        bucket: String,
        /// The object prefix, empty or ending in `/`.
        prefix: String,
    },
    /// A local directory standing in for a bucket.
    File {
        /// Absolute path of the directory.
        path: PathBuf,
    },
}

const GS_FIX: &str = "give gs://<bucket>/<prefix> with a bucket name of 3-63 lowercase letters, digits, '-', '_' or '.', starting and ending with a letter or digit";

fn bucket_name_violations(name: &str) -> Vec<Violation> {
    let mut v = Vec::new();
    let mut rule =
        |rule: &'static str, message: String| v.push(Violation::new(rule, message, GS_FIX));
    let max = if name.contains('.') { 222 } else { 63 };
    if name.len() < 3 || name.len() > max {
        rule(
            "gcs-bucket-name",
            format!(
                "bucket name is {} characters; it must be 3 to {max}",
                name.len()
            ),
        );
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
    {
        rule(
            "gcs-bucket-name",
            "bucket name may contain only lowercase letters, digits, '-', '_' and '.'".into(),
        );
    }
    let alnum = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !alnum(name.as_bytes().first()) || !alnum(name.as_bytes().last()) {
        rule(
            "gcs-bucket-name",
            "bucket name must start and end with a letter or digit".into(),
        );
    }
    if name.contains('.') && name.split('.').any(|c| c.is_empty() || c.len() > 63) {
        rule(
            "gcs-bucket-name",
            "each dot-separated part of a bucket name must be 1 to 63 characters".into(),
        );
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        rule(
            "gcs-bucket-name",
            "bucket name must not be an IP address".into(),
        );
    }
    let folded = name.replace('0', "o").replace('1', "l");
    if name.starts_with("goog") || folded.contains("google") {
        rule(
            "gcs-bucket-name",
            "bucket name must not start with 'goog' or contain 'google'".into(),
        );
    }
    v
}

fn prefix_violations(prefix: &str) -> Vec<Violation> {
    let mut v = Vec::new();
    let fix = "use an object prefix of plain path segments, without '.' or '..'";
    if prefix.len() > 1024 {
        v.push(Violation::new(
            "gcs-object-name",
            "object prefix is longer than 1024 bytes",
            fix,
        ));
    }
    if has_control(prefix) {
        v.push(Violation::new(
            "gcs-object-name",
            "object prefix contains control characters",
            fix,
        ));
    }
    if prefix.starts_with('/') || prefix.contains("//") {
        v.push(Violation::new(
            "gcs-object-name",
            "object prefix has an empty path segment",
            fix,
        ));
    }
    if prefix.split('/').any(|s| s == "." || s == "..") {
        v.push(Violation::new(
            "path-traversal",
            "object prefix must not contain '.' or '..' segments",
            fix,
        ));
    }
    v
}

impl BucketUrl {
    /// Validate a bucket URL.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if let Some(rest) = s.strip_prefix("gs://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let mut v = bucket_name_violations(bucket);
            v.extend(prefix_violations(prefix));
            Invalid::check(v)?;
            let mut prefix = prefix.to_string();
            if !prefix.is_empty() && !prefix.ends_with('/') {
                prefix.push('/');
            }
            return Ok(BucketUrl::Gs {
                bucket: bucket.to_string(),
                prefix,
            });
        }
        if let Some(rest) = s.strip_prefix("file://") {
            let fix = "give file:///absolute/directory";
            if !rest.starts_with('/') {
                return Err(Invalid::one(
                    "file-url",
                    "file:// URL must hold an absolute path",
                    fix,
                ));
            }
            let mut v = Vec::new();
            if has_control(rest) {
                v.push(Violation::new(
                    "file-url",
                    "path contains control characters",
                    fix,
                ));
            }
            if rest.split('/').any(|s| s == "." || s == "..") {
                v.push(Violation::new(
                    "path-traversal",
                    "path must not contain '.' or '..' segments",
                    fix,
                ));
            }
            Invalid::check(v)?;
            return Ok(BucketUrl::File {
                path: PathBuf::from(rest),
            });
        }
        Err(Invalid::one(
            "bucket-url",
            "bucket URL must start with gs:// or file://",
            GS_FIX,
        ))
    }

    /// True when one location contains the other (copying between them
    /// would copy onto the source).
    pub fn overlaps(&self, other: &BucketUrl) -> bool {
        match (self, other) {
            (
                BucketUrl::Gs {
                    bucket: a,
                    prefix: pa,
                },
                BucketUrl::Gs {
                    bucket: b,
                    prefix: pb,
                },
            ) => a == b && (pa.starts_with(pb.as_str()) || pb.starts_with(pa.as_str())),
            (BucketUrl::File { path: a }, BucketUrl::File { path: b }) => {
                a.starts_with(b) || b.starts_with(a)
            }
            _ => false,
        }
    }
}

impl fmt::Display for BucketUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BucketUrl::Gs { bucket, prefix } => write!(f, "gs://{bucket}/{prefix}"),
            BucketUrl::File { path } => write!(f, "file://{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(s: &str) -> Vec<&'static str> {
        BucketUrl::parse(s)
            .unwrap_err()
            .0
            .iter()
            .map(|v| v.rule)
            .collect()
    }

    #[test]
    fn a_two_character_name_ending_in_underscore_breaks_two_rules() {
        assert_eq!(rules("gs://a_"), ["gcs-bucket-name", "gcs-bucket-name"]);
    }

    #[test]
    fn gcs_naming_rules() {
        for bad in [
            "gs://UPPER",
            "gs://192.168.1.1",
            "gs://goog-x",
            "gs://my-g00gle",
            "gs://a..b",
            "gs://-ab",
        ] {
            assert!(BucketUrl::parse(bad).is_err(), "{bad} accepted");
        }
        for good in [
            "gs://integration-docs",
            "gs://a_b",
            "gs://my.bucket.example",
        ] {
            assert!(BucketUrl::parse(good).is_ok(), "{good} refused");
        }
    }

    #[test]
    fn prefixes_are_normalised_and_traversal_refused() {
        let url = BucketUrl::parse("gs://bucket-1/sbx-pr-1/docs").unwrap();
        assert_eq!(url.to_string(), "gs://bucket-1/sbx-pr-1/docs/");
        assert_eq!(rules("gs://bucket-1/a/../b"), ["path-traversal"]);
        assert!(BucketUrl::parse("file://relative/dir").is_err());
        assert!(BucketUrl::parse("file:///srv/../etc").is_err());
    }

    #[test]
    fn overlap_is_prefix_containment() {
        let a = BucketUrl::parse("gs://b-1/docs/").unwrap();
        let b = BucketUrl::parse("gs://b-1/docs/sbx-pr-1/").unwrap();
        let c = BucketUrl::parse("gs://b-1/other/").unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
    }
}
