//! SSH host key verification against a known_hosts file given by the task
//! (`--ssh-known-hosts`, e.g. mounted from a ConfigMap). Without it libgit2
//! only consults `~/.ssh/known_hosts`, which a workflow pod rarely has, and
//! refuses every host; with it the file decides. Hashed entries (`|1|…`)
//! and `@cert-authority` / `@revoked` lines are not supported and ignored.

use std::path::Path;

/// The entries of a known_hosts file.
#[derive(Debug, Clone, Default)]
pub(crate) struct KnownHosts {
    /// (host patterns, base64 key blob)
    entries: Vec<(Vec<String>, String)>,
}

/// What the file says about a host and the key it presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostCheck {
    /// The host is listed with this key.
    Match,
    /// The host is listed, with other keys only: possibly an attack.
    Mismatch,
    /// The host is not listed.
    Unknown,
}

impl KnownHosts {
    /// Read a known_hosts file.
    pub(crate) fn load(path: &Path) -> std::io::Result<Self> {
        Ok(Self::parse(&std::fs::read_to_string(path)?))
    }

    /// Parse known_hosts text: `host1,host2 keytype base64 [comment]`.
    pub(crate) fn parse(text: &str) -> Self {
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('@'))
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let hosts = fields.next()?;
                let _key_type = fields.next()?;
                let key = fields.next()?;
                let hosts = hosts
                    .split(',')
                    .filter(|h| !h.starts_with('|'))
                    .map(str::to_ascii_lowercase)
                    .collect::<Vec<_>>();
                (!hosts.is_empty()).then(|| (hosts, key.to_string()))
            })
            .collect();
        KnownHosts { entries }
    }

    /// Check the raw key blob `key` presented by `host` on `port`. Port 22
    /// is listed as `host`, others as `[host]:port`.
    pub(crate) fn check(&self, host: &str, port: u16, key: &[u8]) -> HostCheck {
        let host = host.to_ascii_lowercase();
        let name = if port == 22 {
            host.clone()
        } else {
            format!("[{host}]:{port}")
        };
        let encoded = base64(key);
        let mut listed = false;
        for (hosts, listed_key) in &self.entries {
            if hosts.contains(&name) {
                listed = true;
                if *listed_key == encoded {
                    return HostCheck::Match;
                }
            }
        }
        if listed {
            HostCheck::Mismatch
        } else {
            HostCheck::Unknown
        }
    }
}

/// Standard base64 with padding (the known_hosts key encoding).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The port of an ssh remote: `ssh://host:2222/…` → 2222; scp-like → 22.
pub(crate) fn ssh_port(url: &str) -> u16 {
    url::Url::parse(url)
        .ok()
        .filter(|u| u.scheme().contains("ssh"))
        .and_then(|u| u.port())
        .unwrap_or(22)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_encoding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn hosts_are_matched_by_name_port_and_key() {
        let key = b"\x00\x00\x00\x0bssh-ed25519-key-bytes";
        let text = format!(
            "# comment\n\
             github.com,140.82.112.3 ssh-ed25519 {k}\n\
             [git.internal]:2222 ssh-ed25519 {k} deploy\n\
             other.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n\
             |1|hashed=|salt= ssh-rsa AAAA\n\
             @revoked * ssh-rsa AAAA\n",
            k = base64(key)
        );
        let known = KnownHosts::parse(&text);
        assert_eq!(known.check("GitHub.com", 22, key), HostCheck::Match);
        assert_eq!(known.check("git.internal", 2222, key), HostCheck::Match);
        assert_eq!(known.check("git.internal", 22, key), HostCheck::Unknown);
        assert_eq!(known.check("other.example", 22, key), HostCheck::Mismatch);
        assert_eq!(known.check("nowhere", 22, key), HostCheck::Unknown);
    }

    #[test]
    fn ports_come_from_the_url() {
        assert_eq!(ssh_port("ssh://git@h:2222/org/infra.git"), 2222);
        assert_eq!(ssh_port("ssh://git@h/org/infra.git"), 22);
        assert_eq!(ssh_port("git@h:org/infra.git"), 22);
    }
}
