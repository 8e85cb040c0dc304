//! The bearer token the agent sends. The agent's init container writes a
//! random token to `/var/run/argo/token` in the plugin's own volume; every
//! call must carry `Authorization: Bearer <that token>`.
//!
//! The file is read at start and re-read when it changes (checked at most
//! once a second on the hot path, and at once when a token does not match,
//! so a rotated token is accepted without waiting). An unreadable or empty
//! file matches nothing: better every call refused than any call accepted.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime};

/// How often a matching token still triggers a look at the file.
const RECHECK_EVERY_MS: u64 = 1_000;

/// The token file and what was last read from it.
#[derive(Debug)]
pub struct TokenFile {
    path: PathBuf,
    /// Milliseconds since `epoch` of the last look at the file's metadata.
    last_check_ms: AtomicU64,
    epoch: Instant,
    loaded: RwLock<Arc<Loaded>>,
}

#[derive(Debug, Default)]
struct Loaded {
    /// What identifies a version of the file, to notice a change cheaply.
    stamp: Option<Stamp>,
    /// The token, trimmed; `None` when the file is missing, unreadable or empty.
    token: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl TokenFile {
    /// Watch `path`; it is read now, and need not exist yet.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let file = TokenFile {
            path: path.into(),
            last_check_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            loaded: RwLock::new(Arc::new(Loaded::default())),
        };
        file.reload(true);
        file
    }

    /// The file this token comes from.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Whether the file currently holds a usable token.
    pub fn is_loaded(&self) -> bool {
        self.current().token.is_some()
    }

    /// Whether an `Authorization` header value carries the token.
    pub fn authorizes(&self, header: Option<&[u8]>) -> bool {
        let Some(presented) = header.and_then(|h| h.strip_prefix(b"Bearer ")) else {
            return false;
        };
        let now_ms = self.epoch.elapsed().as_millis() as u64;
        if now_ms.saturating_sub(self.last_check_ms.load(Ordering::Relaxed)) >= RECHECK_EVERY_MS {
            self.reload(false);
        }
        if self.matches(presented) {
            return true;
        }
        // The token may have been rotated since the last look.
        self.reload(false) && self.matches(presented)
    }

    fn matches(&self, presented: &[u8]) -> bool {
        self.current()
            .token
            .as_deref()
            .is_some_and(|token| constant_time_eq(token, presented))
    }

    fn current(&self) -> Arc<Loaded> {
        match self.loaded.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Re-read the file if its metadata changed (or always, with `force`);
    /// returns whether the token changed.
    fn reload(&self, force: bool) -> bool {
        self.last_check_ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        let stamp = stamp(&self.path);
        if !force && self.current().stamp == stamp {
            return false;
        }
        let token = std::fs::read(&self.path).ok().and_then(|bytes| {
            let trimmed = bytes.trim_ascii();
            (!trimmed.is_empty()).then(|| trimmed.to_vec())
        });
        match &token {
            Some(_) => tracing::info!(path = %self.path.display(), "token loaded"),
            None => {
                tracing::warn!(path = %self.path.display(), "no token: every call will be refused")
            }
        }
        let next = Arc::new(Loaded { stamp, token });
        let mut guard = match self.loaded.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let changed = guard.token != next.token;
        *guard = next;
        changed
    }
}

fn stamp(path: &std::path::Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode: meta.ino(),
    })
}

/// Compare without an early exit, so the time taken does not tell how many
/// leading bytes of a guess were right. The length is not secret (the
/// agent's tokens all have the same length).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn token_is_trimmed_and_a_rewrite_is_picked_up_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first-token\n").unwrap();
        let file = TokenFile::new(&path);
        assert!(file.authorizes(Some(b"Bearer first-token")));
        assert!(!file.authorizes(Some(b"Bearer first-token\n")));
        assert!(!file.authorizes(Some(b"first-token")));
        assert!(!file.authorizes(None));

        std::fs::write(&path, "second-token-longer").unwrap();
        assert!(file.authorizes(Some(b"Bearer second-token-longer")));
    }

    #[test]
    fn a_missing_or_empty_file_refuses_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let file = TokenFile::new(&path);
        assert!(!file.authorizes(Some(b"Bearer ")));
        assert!(!file.authorizes(Some(b"Bearer x")));
        std::fs::write(&path, "  \n").unwrap();
        assert!(!file.authorizes(Some(b"Bearer ")));
        assert!(!file.is_loaded());
    }
}
