//! Container image references: `[registry[:port]/]repository[:tag][@digest]`
//! under the OCI distribution grammar.

use super::{Invalid, Violation};
use serde::Serialize;
use std::fmt;

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRef {
    /// Registry host (and port), when given.
    pub registry: Option<String>,
    /// The repository path, e.g. `acme/shop`.
    pub repository: String,
    /// The tag, when given.
    pub tag: Option<String>,
    /// The digest (`sha256:<64 hex>`), when given.
    pub digest: Option<String>,
}

const FIX: &str = "write registry/repository:tag or repository@sha256:<64 hex digits>";

fn repo_component_ok(c: &str) -> bool {
    // [a-z0-9]+ joined by '.', '_', '__' or runs of '-'
    let b = c.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    if !b
        .iter()
        .all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || matches!(x, b'.' | b'_' | b'-'))
    {
        return false;
    }
    !(c.contains("..")
        || c.contains("___")
        || c.contains("._")
        || c.contains("_.")
        || c.contains(".-")
        || c.contains("-.")
        || c.contains("_-")
        || c.contains("-_"))
}

impl ImageRef {
    /// Validate an image reference.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let mut v = Vec::new();
        let (rest, digest) = match s.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (s, None),
        };
        if let Some(d) = digest {
            let ok = d.strip_prefix("sha256:").is_some_and(|h| {
                h.len() == 64
                    && h.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            });
            if !ok {
                v.push(Violation::new(
                    "image-digest",
                    "digest must be sha256:<64 lowercase hex digits>",
                    FIX,
                ));
            }
        }
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !ok {
                v.push(Violation::new("image-tag", "tag must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'", FIX));
            }
        }
        let mut parts: Vec<&str> = name.split('/').collect();
        let registry = if parts.len() > 1
            && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
        {
            Some(parts.remove(0).to_string())
        } else {
            None
        };
        if let Some(r) = &registry {
            let ok = r
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
            if !ok {
                v.push(Violation::new(
                    "image-registry",
                    "registry must be a host name with an optional port",
                    FIX,
                ));
            }
        }
        if name.is_empty() || !parts.iter().all(|c| repo_component_ok(c)) {
            v.push(Violation::new(
                "image-repository",
                "repository must be lowercase path components of letters and digits joined by '.', '_' or '-'",
                FIX,
            ));
        }
        Invalid::check(v)?;
        Ok(ImageRef {
            registry,
            repository: parts.join("/"),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    /// `registry/repository` without tag or digest: the name Kustomize matches.
    pub fn name(&self) -> String {
        match &self.registry {
            Some(r) => format!("{r}/{}", self.repository),
            None => self.repository.clone(),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_references_round_trip() {
        let digest = format!("sha256:{}", "a".repeat(64));
        for s in [
            "nginx".to_string(),
            "acme/shop:1.2.3".to_string(),
            "localhost:5000/acme/shop:v1".to_string(),
            format!("ghcr.io/acme/shop:1.0@{digest}"),
            format!("eu.gcr.io/p/shop@{digest}"),
        ] {
            assert_eq!(ImageRef::parse(&s).unwrap().to_string(), s);
        }
        let r = ImageRef::parse("localhost:5000/acme/shop:v1").unwrap();
        assert_eq!(r.registry.as_deref(), Some("localhost:5000"));
        assert_eq!(r.tag.as_deref(), Some("v1"));
    }

    #[test]
    fn malformed_references_are_refused() {
        for bad in [
            "Acme/shop",
            "shop:",
            "shop:-x",
            "shop@sha256:abc",
            "a//b",
            "",
            "shop:a b",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?}");
        }
    }
}
