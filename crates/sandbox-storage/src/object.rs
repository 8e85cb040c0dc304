//! What a listing yields and what a read returns: object metadata, and
//! streams of objects and of bytes.

use crate::StorageError;
use bytes::Bytes;
use futures_util::TryStreamExt;
use futures_util::stream::BoxStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One object, as listed or looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The name relative to the location's prefix (for `file://`, the path
    /// relative to the directory, `/`-separated). Pass it back to
    /// [`crate::Storage::read`] with the same location.
    pub key: String,
    /// The full object name in the bucket (prefix + key); for `file://` the
    /// same as `key`.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// When the object was last written, where known.
    pub updated: Option<SystemTime>,
    /// Its `Content-Type`, where known (GCS keeps it; files have none).
    pub content_type: Option<String>,
    /// CRC32C of the content, where known (GCS always; files on demand).
    pub crc32c: Option<u32>,
    /// MD5 of the content, where known (GCS, except composite objects).
    pub md5: Option<[u8; 16]>,
    /// The GCS generation, used as a write precondition.
    pub generation: Option<i64>,
}

impl ObjectInfo {
    /// True when `other` certainly holds the same bytes: same size and an
    /// equal checksum that both sides know (crc32c first, then md5). Equal
    /// sizes with no common checksum are not enough.
    pub fn same_content(&self, other: &ObjectInfo) -> bool {
        if self.size != other.size {
            return false;
        }
        if let (Some(a), Some(b)) = (self.crc32c, other.crc32c) {
            return a == b;
        }
        if let (Some(a), Some(b)) = (self.md5, other.md5) {
            return a == b;
        }
        false
    }
}

/// A listing: objects in name order, fetched page by page as it is polled.
pub type ObjectStream = BoxStream<'static, Result<ObjectInfo, StorageError>>;

/// One entry of a listing that also reports what it cannot list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// An object, in name order with the other objects.
    Object(ObjectInfo),
    /// A `file://` file whose path is not UTF-8, so it cannot be an object
    /// name (GCS names are UTF-8). Its `key` shows each byte that is not
    /// UTF-8 as `\xNN`; it can be neither read nor copied.
    NotUtf8(ObjectInfo),
}

/// A listing with the entries it could not list as objects, in walk order.
pub type EntryStream = BoxStream<'static, Result<Entry, StorageError>>;

/// `bytes` as text: valid UTF-8 as it is, every other byte as `\xNN`.
pub(crate) fn escape_non_utf8(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02X}");
        }
    }
    out
}

/// The content of an object, chunk by chunk.
pub type ByteStream = BoxStream<'static, Result<Bytes, StorageError>>;

/// The stream of what `producer` sends on the channel behind `rx`. The
/// producer starts at once when called inside a Tokio runtime (so two
/// listings asked for together run together), else on the first poll.
pub(crate) fn receive<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<Result<T, StorageError>>,
    producer: impl std::future::Future<Output = ()> + Send + 'static,
) -> BoxStream<'static, Result<T, StorageError>> {
    use futures_util::StreamExt;
    let items = |rx: tokio::sync::mpsc::Receiver<Result<T, StorageError>>| {
        futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(producer);
            items(rx).boxed()
        }
        Err(_) => futures_util::stream::once(async move {
            tokio::spawn(producer);
            items(rx)
        })
        .flatten()
        .boxed(),
    }
}

/// A byte stream as an [`tokio::io::AsyncRead`], e.g. to pipe into a child
/// process's stdin with `tokio::io::copy`.
pub fn into_async_read(stream: ByteStream) -> impl tokio::io::AsyncRead + Send + Unpin {
    tokio_util::io::StreamReader::new(stream.map_err(|e| {
        std::io::Error::other(Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
    }))
}

/// Parse an RFC 3339 timestamp as GCS writes it (`2024-05-01T03:04:05.678Z`,
/// or with a `+hh:mm` offset).
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let mut n: u64 = 0;
        for (i, d) in frac[..digits].bytes().enumerate() {
            if i < 9 {
                n = n * 10 + u64::from(d - b'0');
            }
        }
        for _ in digits..9 {
            n *= 10;
        }
        nanos = n as u32;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(rest.as_bytes()[0], b'+' | b'-') => {
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let secs = sandbox_core::time::days_from_civil(year, month, day) * 86_400
        + hour * 3600
        + min * 60
        + sec
        - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_as_gcs_writes_it() {
        let t = parse_rfc3339("2024-05-01T03:04:05.678Z").unwrap();
        let d = t.duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(d.as_secs(), 1_714_532_645);
        assert_eq!(d.subsec_millis(), 678);
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(UNIX_EPOCH));
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn same_content_needs_a_common_checksum() {
        let a = ObjectInfo {
            key: "a".into(),
            name: "a".into(),
            size: 3,
            updated: None,
            content_type: None,
            crc32c: Some(1),
            md5: None,
            generation: None,
        };
        let mut b = a.clone();
        assert!(a.same_content(&b));
        b.crc32c = Some(2);
        assert!(!a.same_content(&b));
        b.crc32c = None;
        assert!(!a.same_content(&b), "size alone is not enough");
    }
}
