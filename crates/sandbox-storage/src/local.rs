//! `file://` locations: a directory standing in for a bucket, so local runs
//! and the demo behave as with GCS. Keys are `/`-separated paths relative to
//! the directory, listed in the same byte order GCS lists names in. Writes
//! go to a temporary file in the target directory and are renamed into
//! place, so a crash never leaves half an object under its real name.

use crate::StorageError;
use crate::object::{ByteStream, Entry, EntryStream, ObjectInfo, ObjectStream, escape_non_utf8};
use futures_util::{StreamExt, TryStreamExt};
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Names of unfinished writes start with this; listings skip them.
pub(crate) const PARTIAL_PREFIX: &str = ".sandbox-partial-";
const CHUNK: usize = 256 * 1024;

/// The path of `key` under `root`, refusing keys that would leave it.
pub(crate) fn path_of(root: &Path, key: &str) -> Result<PathBuf, StorageError> {
    if key.is_empty()
        || key.starts_with('/')
        || key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == ".." || s.contains('\0'))
    {
        return Err(StorageError::Unsupported(format!(
            "object name {key:?} cannot be stored under {}",
            root.display()
        )));
    }
    Ok(root.join(key))
}

fn operation(verb: &str, path: &Path) -> String {
    format!("{verb} {}", path.display())
}

fn info(key: String, meta: &std::fs::Metadata) -> ObjectInfo {
    ObjectInfo {
        name: key.clone(),
        key,
        size: meta.len(),
        updated: meta.modified().ok(),
        content_type: None,
        crc32c: None,
        md5: None,
        generation: None,
    }
}

/// Every file below `root`, in byte order of the `/`-joined key: a
/// directory `d` sorts as `d/`, so `a-b` comes before `a/x` as in GCS.
/// A file whose path is not UTF-8 is left out with a warning; see
/// [`list_entries`] to learn which.
pub(crate) fn list(root: PathBuf) -> ObjectStream {
    list_entries(root)
        .try_filter_map(|entry| {
            std::future::ready(Ok(match entry {
                Entry::Object(o) => Some(o),
                Entry::NotUtf8(o) => {
                    tracing::warn!(path = %o.key, "skipping a file whose name is not UTF-8");
                    None
                }
            }))
        })
        .boxed()
}

/// [`list`], with each file whose path is not UTF-8 as an
/// [`Entry::NotUtf8`] where the walk meets it.
pub(crate) fn list_entries(root: PathBuf) -> EntryStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Entry, StorageError>>(1024);
    crate::object::receive(rx, async move {
        let _ = tokio::task::spawn_blocking(move || walk(&root, &tx)).await;
    })
}

/// One directory being walked.
struct Level {
    /// Its entries not yet visited, in key order.
    entries: std::vec::IntoIter<DirEntry>,
    /// Its path on disk.
    path: PathBuf,
    /// Its key with a trailing `/` (empty for the root).
    key: String,
    /// Its path is not UTF-8: nothing below it can be an object.
    not_utf8: bool,
}

fn walk(root: &Path, tx: &tokio::sync::mpsc::Sender<Result<Entry, StorageError>>) {
    match std::fs::metadata(root) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            let _ = tx.blocking_send(Err(StorageError::io(
                operation("list", root),
                std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
            )));
            return;
        }
        Err(e) => {
            let _ = tx.blocking_send(Err(StorageError::io(operation("list", root), e)));
            return;
        }
    }
    // Depth-first; each level holds only its own sorted entries.
    let mut stack = match entries(root) {
        Ok(e) => vec![Level {
            entries: e.into_iter(),
            path: root.to_path_buf(),
            key: String::new(),
            not_utf8: false,
        }],
        Err(e) => {
            let _ = tx.blocking_send(Err(e));
            return;
        }
    };
    while let Some(level) = stack.last_mut() {
        let Some(entry) = level.entries.next() else {
            stack.pop();
            continue;
        };
        let path = level.path.join(&entry.file_name);
        let key = format!("{}{}", level.key, entry.name);
        let not_utf8 = level.not_utf8 || !entry.utf8;
        if entry.is_dir {
            match entries(&path) {
                Ok(e) => stack.push(Level {
                    entries: e.into_iter(),
                    path,
                    key: format!("{key}/"),
                    not_utf8,
                }),
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
            continue;
        }
        let item = std::fs::metadata(&path)
            .map(|m| {
                let object = info(key, &m);
                if not_utf8 {
                    Entry::NotUtf8(object)
                } else {
                    Entry::Object(object)
                }
            })
            .map_err(|e| StorageError::io(operation("stat", &path), e));
        let failed = item.is_err();
        if tx.blocking_send(item).is_err() || failed {
            return;
        }
    }
}

/// One entry of a directory.
struct DirEntry {
    /// Its name on disk.
    file_name: std::ffi::OsString,
    /// Its name as a key segment (bytes that are not UTF-8 as `\xNN`).
    name: String,
    /// The name is UTF-8.
    utf8: bool,
    is_dir: bool,
}

/// A directory's entries sorted by key order: directories as `name/`.
/// Symlinked directories are not followed (no loops); partial writes are
/// skipped.
fn entries(dir: &Path) -> Result<Vec<DirEntry>, StorageError> {
    use std::os::unix::ffi::OsStrExt;
    let read = std::fs::read_dir(dir).map_err(|e| StorageError::io(operation("list", dir), e))?;
    let mut out = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| StorageError::io(operation("list", dir), e))?;
        let file_name = entry.file_name();
        let (name, utf8) = match file_name.to_str() {
            Some(name) => (name.to_string(), true),
            None => (escape_non_utf8(file_name.as_bytes()), false),
        };
        if name.starts_with(PARTIAL_PREFIX) {
            continue;
        }
        let kind = entry
            .file_type()
            .map_err(|e| StorageError::io(operation("stat", &entry.path()), e))?;
        let is_dir = kind.is_dir();
        if kind.is_symlink() && entry.path().is_dir() {
            continue;
        }
        out.push(DirEntry {
            file_name,
            name,
            utf8,
            is_dir,
        });
    }
    fn key(e: &DirEntry) -> impl Iterator<Item = &u8> {
        let slash: &[u8] = if e.is_dir { b"/" } else { b"" };
        e.name.as_bytes().iter().chain(slash)
    }
    out.sort_by(|a, b| key(a).cmp(key(b)));
    Ok(out)
}

/// One file's metadata, or None when absent.
pub(crate) async fn stat(root: &Path, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
    let path = path_of(root, key)?;
    match tokio::fs::metadata(&path).await {
        Ok(m) if m.is_file() => Ok(Some(info(key.to_string(), &m))),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StorageError::io(operation("stat", &path), e)),
    }
}

/// A file's content, or `range` of it.
pub(crate) async fn read(
    root: &Path,
    key: &str,
    range: Option<Range<u64>>,
) -> Result<ByteStream, StorageError> {
    let path = path_of(root, key)?;
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StorageError::ObjectNotFound {
                bucket: format!("file://{}", root.display()),
                object: key.to_string(),
            });
        }
        Err(e) => return Err(StorageError::io(operation("open", &path), e)),
    };
    let (start, len) = match range {
        Some(r) => (r.start, r.end.saturating_sub(r.start)),
        None => (0, u64::MAX),
    };
    if start > 0 {
        file.seek(SeekFrom::Start(start))
            .map_err(|e| StorageError::io(operation("seek", &path), e))?;
    }
    let file = tokio::fs::File::from_std(file);
    let reader = tokio::io::AsyncReadExt::take(file, len);
    Ok(tokio_util::io::ReaderStream::with_capacity(reader, CHUNK)
        .map_err(move |e| StorageError::io(operation("read", &path), e))
        .boxed())
}

/// CRC32C of a file, read in the blocking pool.
pub(crate) async fn crc32c(root: &Path, key: &str) -> Result<u32, StorageError> {
    let path = path_of(root, key)?;
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path)
            .map_err(|e| StorageError::io(operation("open", &path), e))?;
        let mut crc = 0u32;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| StorageError::io(operation("read", &path), e))?;
            if n == 0 {
                return Ok(crc);
            }
            crc = crc32c::crc32c_append(crc, &buf[..n]);
        }
    })
    .await
    .map_err(|e| StorageError::io("checksum", std::io::Error::other(e)))?
}

/// A file being written: a temporary name in the target directory until
/// [`PartialFile::commit`] renames it into place. Dropped uncommitted, it
/// is removed.
pub(crate) struct PartialFile {
    tmp: PathBuf,
    target: PathBuf,
    file: Option<std::fs::File>,
    crc: u32,
    len: u64,
}

impl PartialFile {
    pub(crate) fn create(root: &Path, key: &str) -> Result<Self, StorageError> {
        let target = path_of(root, key)?;
        let dir = target.parent().unwrap_or(root).to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| StorageError::io(operation("mkdir", &dir), e))?;
        let tmp = dir.join(format!(
            "{PARTIAL_PREFIX}{}-{:016x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        let file = std::fs::File::create(&tmp)
            .map_err(|e| StorageError::io(operation("create", &tmp), e))?;
        Ok(PartialFile {
            tmp,
            target,
            file: Some(file),
            crc: 0,
            len: 0,
        })
    }

    pub(crate) fn write(&mut self, chunk: &[u8]) -> Result<(), StorageError> {
        let file = self.file.as_mut().expect("written after commit");
        file.write_all(chunk)
            .map_err(|e| StorageError::io(operation("write", &self.tmp), e))?;
        self.crc = crc32c::crc32c_append(self.crc, chunk);
        self.len += chunk.len() as u64;
        Ok(())
    }

    /// CRC32C and length of what was written.
    pub(crate) fn written(&self) -> (u32, u64) {
        (self.crc, self.len)
    }

    pub(crate) fn commit(mut self) -> Result<(), StorageError> {
        if let Some(file) = self.file.take() {
            file.sync_all()
                .map_err(|e| StorageError::io(operation("sync", &self.tmp), e))?;
        }
        if self.target.is_dir() {
            return Err(StorageError::io(
                operation("rename onto", &self.target),
                std::io::Error::new(
                    std::io::ErrorKind::IsADirectory,
                    "a directory is in the way",
                ),
            ));
        }
        std::fs::rename(&self.tmp, &self.target)
            .map_err(|e| StorageError::io(operation("rename onto", &self.target), e))
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if self.file.is_some() || self.tmp.exists() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Copy a file to another root, through a partial file.
pub(crate) async fn copy(
    src_root: &Path,
    src_key: &str,
    dst_root: &Path,
    dst_key: &str,
) -> Result<u64, StorageError> {
    let src = path_of(src_root, src_key)?;
    let (dst_root, dst_key) = (dst_root.to_path_buf(), dst_key.to_string());
    tokio::task::spawn_blocking(move || {
        let mut input =
            std::fs::File::open(&src).map_err(|e| StorageError::io(operation("open", &src), e))?;
        let mut out = PartialFile::create(&dst_root, &dst_key)?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = input
                .read(&mut buf)
                .map_err(|e| StorageError::io(operation("read", &src), e))?;
            if n == 0 {
                break;
            }
            out.write(&buf[..n])?;
        }
        let (_, len) = out.written();
        out.commit()?;
        Ok(len)
    })
    .await
    .map_err(|e| StorageError::io("copy", std::io::Error::other(e)))?
}

/// A content type for a file without metadata, from its extension.
pub(crate) fn guess_content_type(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("json") => "application/json",
        Some("txt" | "log") => "text/plain",
        Some("html" | "htm") => "text/html",
        Some("csv") => "text/csv",
        Some("xml") => "application/xml",
        Some("pdf") => "application/pdf",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("gz" | "tgz") => "application/gzip",
        Some("zip") => "application/zip",
        Some("sql") => "application/sql",
        Some("yaml" | "yml") => "application/yaml",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn listing_is_in_gcs_byte_order_and_skips_partials() {
        let dir = tempfile::tempdir().unwrap();
        for p in ["a/x", "a-b", "b", "a/y/z", ".sandbox-partial-1-2"] {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, p).unwrap();
        }
        let keys: Vec<String> = list(dir.path().to_path_buf())
            .map_ok(|o| o.key)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(keys, ["a-b", "a/x", "a/y/z", "b"]);
    }

    #[test]
    fn keys_cannot_escape_the_root() {
        let root = Path::new("/srv/docs");
        for bad in ["../etc/passwd", "a/../../b", "/abs", "a//b", ""] {
            assert!(path_of(root, bad).is_err(), "{bad}");
        }
        assert_eq!(path_of(root, "a/b").unwrap(), Path::new("/srv/docs/a/b"));
    }
}
