//! The edits a kustomization can take, and their command-line forms
//! (`--set-image`, `--set-literal`, `--label`, ...), validated before any
//! file is touched.

use sandbox_core::params::{ImageRef, Invalid, Violation};
use std::fmt;

/// One change to a kustomization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Set the top-level `namespace`.
    Namespace(String),
    /// Set the top-level `nameSuffix`.
    NameSuffix(String),
    /// Set a label (in `labels[].pairs`, or in `commonLabels` where the key
    /// already is).
    Label(LabelEdit),
    /// Set an `images` entry, adding it when absent.
    Image(ImageEdit),
    /// Set a literal of a `configMapGenerator` or `secretGenerator`.
    Literal(LiteralEdit),
    /// Set a field of the `source` of `replacements` entries.
    ReplacementSource(ReplacementSourceEdit),
}

/// An `images` entry to write: `--set-image name=newName:tag@digest`.
///
/// Like `kustomize edit set image`, a tag or digest given replaces the
/// entry's pair: `shop:v2` sets `newTag: v2` and removes a `digest` left
/// from before, which would otherwise still pin the old image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEdit {
    /// The image name the entry matches (`name:`), without tag or digest.
    pub name: String,
    /// `newName`, when given.
    pub new_name: Option<String>,
    /// `newTag`, when given.
    pub new_tag: Option<String>,
    /// `digest`, when given.
    pub digest: Option<String>,
}

const IMAGE_FIX: &str =
    "write NAME:TAG, NAME@sha256:<digest> or NAME=NEW_NAME[:TAG][@sha256:<digest>]";

impl ImageEdit {
    /// Parse `name:tag`, `name@digest`, `name=newName`,
    /// `name=newName:tag@digest` (any of tag and digest).
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let edit = match s.split_once('=') {
            Some((name, target)) => {
                let name = ImageRef::parse(name)?;
                if name.tag.is_some() || name.digest.is_some() {
                    return Err(Invalid::one(
                        "image-name",
                        "the image name before '=' must not have a tag or digest",
                        IMAGE_FIX,
                    ));
                }
                let target = ImageRef::parse(target)?;
                ImageEdit {
                    name: name.name(),
                    new_name: Some(target.name()),
                    new_tag: target.tag,
                    digest: target.digest,
                }
            }
            None => {
                let image = ImageRef::parse(s)?;
                ImageEdit {
                    name: image.name(),
                    new_name: None,
                    new_tag: image.tag,
                    digest: image.digest,
                }
            }
        };
        if edit.new_name.is_none() && edit.new_tag.is_none() && edit.digest.is_none() {
            return Err(Invalid::one(
                "image-edit",
                "nothing to set: give a tag, a digest or a new name",
                IMAGE_FIX,
            ));
        }
        Ok(edit)
    }
}

impl fmt::Display for ImageEdit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(n) = &self.new_name {
            write!(f, "={n}")?;
        }
        if let Some(t) = &self.new_tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// A label to set: `--label key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelEdit {
    /// The label key, e.g. `app.kubernetes.io/instance`.
    pub key: String,
    /// Its value.
    pub value: String,
}

impl LabelEdit {
    /// Parse `key=value` under the Kubernetes label rules.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let fix = "write KEY=VALUE, e.g. app.kubernetes.io/instance=sbx-pr-42";
        let Some((key, value)) = s.split_once('=') else {
            return Err(Invalid::one("label", "label must be KEY=VALUE", fix));
        };
        let mut v = Vec::new();
        if !label_key_ok(key) {
            v.push(Violation::new(
                "label-key",
                "label key must be [prefix/]name: a DNS subdomain prefix and a name of at most 63 letters, digits, '-', '_' or '.'",
                fix,
            ));
        }
        if !(value.is_empty() || label_name_ok(value)) {
            v.push(Violation::new(
                "label-value",
                "label value must be at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric",
                fix,
            ));
        }
        Invalid::check(v)?;
        Ok(LabelEdit {
            key: key.to_string(),
            value: value.to_string(),
        })
    }
}

fn label_name_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn label_key_ok(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => {
            prefix.len() <= 253
                && prefix.split('.').all(|seg| {
                    let b = seg.as_bytes();
                    !b.is_empty()
                        && b[0].is_ascii_alphanumeric()
                        && b[b.len() - 1].is_ascii_alphanumeric()
                        && b.iter()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                })
                && label_name_ok(name)
        }
        None => label_name_ok(s),
    }
}

/// A generator literal to set: `--set-literal <generator>/<KEY>=<VALUE>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteralEdit {
    /// The `name` of the `configMapGenerator` or `secretGenerator` entry.
    pub generator: String,
    /// The key of the literal.
    pub key: String,
    /// Its value.
    pub value: String,
}

impl LiteralEdit {
    /// Parse `<generator>/<KEY>=<VALUE>`; the value may hold any character
    /// but a control character.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let fix = "write GENERATOR/KEY=VALUE, e.g. app-config/LOG_LEVEL=debug";
        let parsed = s
            .split_once('=')
            .and_then(|(path, value)| path.split_once('/').map(|(g, k)| (g, k, value)));
        let Some((generator, key, value)) = parsed else {
            return Err(Invalid::one(
                "literal",
                "literal must be GENERATOR/KEY=VALUE",
                fix,
            ));
        };
        let mut v = Vec::new();
        if generator.is_empty()
            || generator
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
        {
            v.push(Violation::new(
                "generator-name",
                "generator name must be non-empty, without spaces",
                fix,
            ));
        }
        // Kubernetes ConfigMap and Secret keys: [-._a-zA-Z0-9]+, at most 253.
        if key.is_empty()
            || key.len() > 253
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            v.push(Violation::new(
                "literal-key",
                "key must be 1-253 letters, digits, '-', '_' or '.'",
                fix,
            ));
        }
        if value.chars().any(char::is_control) {
            v.push(Violation::new(
                "literal-value",
                "value must not contain control characters",
                fix,
            ));
        }
        Invalid::check(v)?;
        Ok(LiteralEdit {
            generator: generator.to_string(),
            key: key.to_string(),
            value: value.to_string(),
        })
    }
}

/// A field of the `source` of every `replacements` entry whose source has
/// `name: <source>`: `<source>/<field>=<value>`, e.g.
/// `env-config/fieldPath=data.HOST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplacementSourceEdit {
    /// The current `source.name` of the replacements to change.
    pub source: String,
    /// The field of `source` to set.
    pub field: String,
    /// Its new value.
    pub value: String,
}

/// The fields of a replacement's `source` (kustomize `ReplacementSource`
/// and its `ResId`).
pub(crate) const REPLACEMENT_SOURCE_FIELDS: &[&str] =
    &["group", "version", "kind", "name", "namespace", "fieldPath"];

impl ReplacementSourceEdit {
    /// Parse `<source-name>/<field>=<value>`.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let fix = format!(
            "write SOURCE_NAME/FIELD=VALUE with FIELD one of {}",
            REPLACEMENT_SOURCE_FIELDS.join(", ")
        );
        let parsed = s
            .split_once('=')
            .and_then(|(path, value)| path.split_once('/').map(|(n, f)| (n, f, value)));
        let Some((source, field, value)) = parsed else {
            return Err(Invalid::one(
                "replacement-source",
                "replacement source edit must be SOURCE_NAME/FIELD=VALUE",
                fix,
            ));
        };
        let mut v = Vec::new();
        if source.is_empty() {
            v.push(Violation::new(
                "replacement-source",
                "source name is empty",
                fix.clone(),
            ));
        }
        if !REPLACEMENT_SOURCE_FIELDS.contains(&field) {
            v.push(Violation::new(
                "replacement-source-field",
                format!("{field:?} is not a field of a replacement source"),
                fix.clone(),
            ));
        }
        if value.is_empty() || value.chars().any(char::is_control) {
            v.push(Violation::new(
                "replacement-source-value",
                "value must be non-empty, without control characters",
                fix,
            ));
        }
        Invalid::check(v)?;
        Ok(ReplacementSourceEdit {
            source: source.to_string(),
            field: field.to_string(),
            value: value.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_forms() {
        let d = format!("sha256:{}", "b".repeat(64));
        let e = ImageEdit::parse("ghcr.io/acme/shop:1.2").unwrap();
        assert_eq!(
            (e.name.as_str(), e.new_name, e.new_tag.as_deref()),
            ("ghcr.io/acme/shop", None, Some("1.2"))
        );
        let e = ImageEdit::parse(&format!("shop=eu.gcr.io/p/shop:v3@{d}")).unwrap();
        assert_eq!(e.name, "shop");
        assert_eq!(e.new_name.as_deref(), Some("eu.gcr.io/p/shop"));
        assert_eq!(e.new_tag.as_deref(), Some("v3"));
        assert_eq!(e.digest.as_deref(), Some(d.as_str()));
        assert_eq!(e.to_string(), format!("shop=eu.gcr.io/p/shop:v3@{d}"));
        let e = ImageEdit::parse("shop=mirror/shop").unwrap();
        assert_eq!(e.new_tag, None);
        for bad in [
            "shop",
            "shop:1=x:2",
            "Shop:1",
            "shop=:1",
            "shop:bad tag",
            "",
        ] {
            assert!(ImageEdit::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn label_and_literal_forms() {
        assert!(LabelEdit::parse("app.kubernetes.io/instance=sbx-pr-1").is_ok());
        assert!(LabelEdit::parse("team=").is_ok());
        for bad in [
            "team",
            "=x",
            "a/b/c=x",
            "Bad_Prefix.io/x=y",
            "k=has space",
            "k=-x",
        ] {
            assert!(LabelEdit::parse(bad).is_err(), "{bad:?}");
        }
        let l = LiteralEdit::parse("app-config/DB_URL=postgres://h/db?x=1").unwrap();
        assert_eq!(
            (l.generator.as_str(), l.key.as_str(), l.value.as_str()),
            ("app-config", "DB_URL", "postgres://h/db?x=1")
        );
        assert_eq!(LiteralEdit::parse("g/K=").unwrap().value, "");
        for bad in ["nokey", "g/=v", "/K=v", "g/K", "g/K K=v", "g/K=a\nb"] {
            assert!(LiteralEdit::parse(bad).is_err(), "{bad:?}");
        }
        let r = ReplacementSourceEdit::parse("env-config/fieldPath=data.HOST").unwrap();
        assert_eq!(r.field, "fieldPath");
        for bad in ["env-config/targets=x", "x/name=", "name=x"] {
            assert!(ReplacementSourceEdit::parse(bad).is_err(), "{bad:?}");
        }
    }
}
