//! Removing objects: what `cleanup-bucket` needs to empty an environment's
//! location, for `gs://` (the JSON API, see `gcs/delete.rs`) and `file://`
//! alike. Deleting an object that is already gone succeeds, so a rerun
//! after an interruption finishes the work instead of failing on it.

use crate::local::{self, PARTIAL_PREFIX};
use crate::{Storage, StorageError};
use sandbox_core::params::BucketUrl;
use std::path::Path;

impl Storage {
    /// Delete the object `key` (relative to `location`'s prefix, as a
    /// listing names it). `Ok(false)` when it did not exist. For `file://`
    /// the directories the removal leaves empty are removed too, up to the
    /// location's own directory (kept: see [`Storage::remove_location_if_empty`]).
    pub async fn delete(&self, location: &BucketUrl, key: &str) -> Result<bool, StorageError> {
        match location {
            BucketUrl::Gs { bucket, prefix } => {
                self.gcs()?.delete(bucket, &format!("{prefix}{key}")).await
            }
            BucketUrl::File { path } => {
                let root = path.clone();
                let file = local::path_of(&root, key)?;
                tokio::task::spawn_blocking(move || remove_file(&root, &file))
                    .await
                    .map_err(|e| {
                        StorageError::io(
                            format!("delete {key}"),
                            std::io::Error::other(e.to_string()),
                        )
                    })?
            }
        }
    }

    /// Whether `location` can hold anything: its bucket exists (`gs://`),
    /// its directory exists (`file://`). A remover treats a missing
    /// location as one with nothing left in it.
    pub async fn location_exists(&self, location: &BucketUrl) -> Result<bool, StorageError> {
        match location {
            BucketUrl::Gs { bucket, .. } => match self.gcs()?.bucket(bucket).await {
                Ok(()) => Ok(true),
                Err(StorageError::BucketNotFound { .. }) => Ok(false),
                Err(e) => Err(e),
            },
            BucketUrl::File { path } => match tokio::fs::metadata(path).await {
                Ok(m) => Ok(m.is_dir()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(StorageError::io(format!("stat {}", path.display()), e)),
            },
        }
    }

    /// `file://` only: remove the location's directory when no object is
    /// left in it — only empty directories and the unfinished writes of a
    /// killed copy (`.sandbox-partial-*`, which listings skip), so a
    /// directory that stood for the environment's prefix is gone as a GCS
    /// prefix is once its last object is. `true` when it was removed (or
    /// was not there); `gs://` has nothing to remove and returns `true`.
    pub async fn remove_location_if_empty(
        &self,
        location: &BucketUrl,
    ) -> Result<bool, StorageError> {
        match location {
            BucketUrl::Gs { .. } => Ok(true),
            BucketUrl::File { path } => {
                let root = path.clone();
                tokio::task::spawn_blocking(move || remove_if_empty(&root))
                    .await
                    .map_err(|e| {
                        StorageError::io(
                            format!("remove {}", path.display()),
                            std::io::Error::other(e.to_string()),
                        )
                    })?
            }
        }
    }
}

/// Remove `file`, then every directory between it and `root` it leaves
/// empty.
fn remove_file(root: &Path, file: &Path) -> Result<bool, StorageError> {
    let removed = match std::fs::remove_file(file) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(StorageError::io(format!("delete {}", file.display()), e)),
    };
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) {
            break;
        }
        // Fails when the directory is not empty (another object, or a
        // concurrent delete's sibling still there): that is the stop.
        if std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(removed)
}

/// Remove `dir` if it holds nothing but empty directories and partial
/// writes; `false` (and nothing removed but those) when an object is left.
fn remove_if_empty(dir: &Path) -> Result<bool, StorageError> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(StorageError::io(format!("list {}", dir.display()), e)),
    };
    let mut empty = true;
    for entry in read {
        let entry = entry.map_err(|e| StorageError::io(format!("list {}", dir.display()), e))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| StorageError::io(format!("stat {}", path.display()), e))?;
        if kind.is_dir() {
            empty &= remove_if_empty(&path)?;
        } else if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(PARTIAL_PREFIX))
        {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(StorageError::io(format!("delete {}", path.display()), e));
                }
            }
        } else {
            empty = false;
        }
    }
    if empty {
        match std::fs::remove_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StorageError::io(format!("remove {}", dir.display()), e)),
        }
    }
    Ok(empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StorageConfig;

    fn storage() -> Storage {
        Storage::new(StorageConfig::from_env(Some("http://127.0.0.1:1"))).unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn file_deletes_are_idempotent_and_leave_no_empty_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("sbx-pr-42");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/c.txt"), b"x").unwrap();
        std::fs::write(root.join("top.txt"), b"y").unwrap();
        std::fs::write(root.join(format!("a/{PARTIAL_PREFIX}123")), b"z").unwrap();
        let location = BucketUrl::parse(&format!("file://{}", root.display())).unwrap();
        let s = storage();
        assert!(s.delete(&location, "a/b/c.txt").await.unwrap());
        assert!(!s.delete(&location, "a/b/c.txt").await.unwrap());
        assert!(
            !root.join("a/b").exists(),
            "an emptied directory is removed"
        );
        assert!(
            root.join("a").exists(),
            "a partial write keeps its directory"
        );
        assert!(!s.remove_location_if_empty(&location).await.unwrap());
        assert!(
            root.join("top.txt").exists(),
            "an object is never removed by it"
        );
        assert!(s.delete(&location, "top.txt").await.unwrap());
        assert!(s.remove_location_if_empty(&location).await.unwrap());
        assert!(!root.exists());
        assert!(!s.location_exists(&location).await.unwrap());
        assert!(s.delete(&location, "../escape").await.is_err());
    }
}
