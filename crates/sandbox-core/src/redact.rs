//! Keeping secrets out of everything printed: URLs lose their userinfo, and
//! a [`Redactor`] masks every secret value a run has resolved.

use std::sync::{Arc, RwLock};

/// The mask printed instead of a secret.
pub const MASK: &str = "***";

/// `scheme://user:pass@host/…` → `scheme://***@host/…`; anything else is
/// returned as is.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{MASK}@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// Masks registered secret values in any text; shared by every part of one
/// run (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

impl Redactor {
    /// A redactor that knows no secrets yet.
    pub fn new() -> Self {
        Redactor::default()
    }

    /// Remember a secret value; values shorter than 4 bytes are too common
    /// to mask without mangling ordinary text and are ignored.
    pub fn add(&self, secret: &str) {
        if secret.len() < 4 {
            return;
        }
        if let Ok(mut secrets) = self.secrets.write()
            && !secrets.iter().any(|s| s == secret)
        {
            secrets.push(secret.to_string());
            // Longest first, so a secret containing another is masked whole.
            secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// `text` with URL credentials and every known secret masked.
    pub fn mask(&self, text: &str) -> String {
        let mut out = mask_urls(text);
        if let Ok(secrets) = self.secrets.read() {
            for secret in secrets.iter() {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }
}

/// Mask the userinfo of every URL inside free text.
fn mask_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let start = rest[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.'))
            .map_or(0, |p| p + 1);
        let end = rest[i..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '>')
            .map_or(rest.len(), |p| i + p);
        out.push_str(&rest[..start]);
        out.push_str(&redact_url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_userinfo_is_masked() {
        assert_eq!(redact_url("https://u:p@h/x@y"), "https://***@h/x@y");
        assert_eq!(redact_url("https://h/x"), "https://h/x");
        assert_eq!(
            redact_url("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
    }

    #[test]
    fn secrets_and_urls_in_text_are_masked() {
        let r = Redactor::new();
        r.add("s3cr3t-token");
        r.add("ab");
        let text = "push to https://x:s3cr3t-token@h/r failed; token s3cr3t-token; ab stays";
        assert_eq!(
            r.mask(text),
            "push to https://***@h/r failed; token ***; ab stays"
        );
    }
}
