//! Git remote URLs: https, http, ssh, git, file and scp-like
//! `user@host:path`; credentials embedded in the URL are refused.

use super::{Invalid, Violation, has_control};
use serde::Serialize;
use std::fmt;

/// The transport a remote uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// `https://`
    Https,
    /// `http://` (test servers on loopback)
    Http,
    /// `ssh://` or scp-like `git@host:org/repo.git`
    Ssh,
    /// `git://`
    Git,
    /// `file://` (local runs and the demo)
    File,
}

/// A Git remote URL without credentials in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GitRemote {
    url: String,
    transport: Transport,
}

const CREDENTIALS_FIX: &str = "remove the credentials from the URL and pass them with --git-token (file:, env: or vault:// reference)";

impl GitRemote {
    /// Validate a remote URL. The value is a credential risk: callers echo
    /// it only through [`crate::redact::redact_url`].
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if s.is_empty() || has_control(s) || s.contains(char::is_whitespace) {
            return Err(Invalid::one(
                "git-url",
                "repository URL is empty or contains spaces or control characters",
                "give a URL such as https://github.com/org/infra.git",
            ));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            let transport = match scheme {
                "https" => Transport::Https,
                "http" => Transport::Http,
                "ssh" | "git+ssh" => Transport::Ssh,
                "git" => Transport::Git,
                "file" => Transport::File,
                other => {
                    return Err(Invalid::one(
                        "git-url",
                        format!("unsupported scheme {other:?}"),
                        "use https://, ssh://, git:// or file://",
                    ));
                }
            };
            let url = url::Url::parse(s).map_err(|e| {
                Invalid::one(
                    "git-url",
                    format!("not a valid URL: {e}"),
                    "give a URL such as https://github.com/org/infra.git",
                )
            })?;
            let mut v = Vec::new();
            let has_password = url.password().is_some();
            let has_user = !url.username().is_empty();
            // A username alone is how ssh names its account; over http(s) it
            // is usually a token.
            if has_password || (has_user && matches!(transport, Transport::Https | Transport::Http))
            {
                v.push(Violation::new(
                    "no-embedded-credentials",
                    "repository URL has credentials in it",
                    CREDENTIALS_FIX,
                ));
            }
            if transport != Transport::File && url.host_str().is_none_or(str::is_empty) {
                v.push(Violation::new(
                    "git-url",
                    "repository URL has no host",
                    "give a URL such as https://github.com/org/infra.git",
                ));
            }
            if url.path().trim_matches('/').is_empty() {
                v.push(Violation::new(
                    "git-url",
                    "repository URL has no repository path",
                    "add the repository path, e.g. /org/infra.git",
                ));
            }
            Invalid::check(v)?;
            return Ok(GitRemote {
                url: s.to_string(),
                transport,
            });
        }
        // scp-like: [user@]host:path
        match s.split_once(':') {
            Some((user_host, path)) if !user_host.contains('/') && !path.is_empty() => {
                let host = user_host.rsplit_once('@').map_or(user_host, |(_, h)| h);
                if host.is_empty() || path.starts_with("//") {
                    return Err(Invalid::one(
                        "git-url",
                        "scp-like remote needs host:path",
                        "give a remote such as git@github.com:org/infra.git",
                    ));
                }
                Ok(GitRemote {
                    url: s.to_string(),
                    transport: Transport::Ssh,
                })
            }
            _ => Err(Invalid::one(
                "git-url",
                "repository URL has no scheme",
                "give a URL such as https://github.com/org/infra.git",
            )),
        }
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The transport the URL uses.
    pub fn transport(&self) -> Transport {
        self.transport
    }
}

impl fmt::Display for GitRemote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_transport_is_recognised() {
        let cases = [
            ("https://github.com/org/infra.git", Transport::Https),
            ("http://127.0.0.1:8080/git/infra.git", Transport::Http),
            ("ssh://git@github.com/org/infra.git", Transport::Ssh),
            ("git@github.com:org/infra.git", Transport::Ssh),
            ("git://127.0.0.1:9418/infra.git", Transport::Git),
            ("file:///srv/git/infra.git", Transport::File),
        ];
        for (url, transport) in cases {
            assert_eq!(
                GitRemote::parse(url).unwrap().transport(),
                transport,
                "{url}"
            );
        }
    }

    #[test]
    fn embedded_credentials_are_refused() {
        for url in [
            "https://user:hunter2@github.com/org/infra.git",
            "https://ghp_token@github.com/org/infra.git",
            "ssh://git:pw@github.com/org/infra.git",
        ] {
            let Invalid(v) = GitRemote::parse(url).unwrap_err();
            assert_eq!(v[0].rule, "no-embedded-credentials", "{url}");
            assert!(!v[0].message.contains("hunter2"));
        }
    }

    #[test]
    fn nonsense_is_refused() {
        for url in ["", "infra", "ftp://x/y", "https://", "https://host", "a b"] {
            assert!(GitRemote::parse(url).is_err(), "{url:?} was accepted");
        }
    }
}
