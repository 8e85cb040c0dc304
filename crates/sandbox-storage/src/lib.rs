//! Buckets for the sandbox tasks: list objects under a location, read an
//! object as a stream (whole or a byte range, for parallel download), and
//! copy objects server-side — for `gs://` (the GCS JSON API; emulators
//! anonymously through `STORAGE_EMULATOR_HOST` or an explicit endpoint) and
//! `file://` (a directory, with the same semantics).
//!
//! Locations are [`BucketUrl`]s; objects are named by their key relative to
//! the location's prefix, as a listing returns them:
//!
//! ```no_run
//! # async fn demo() -> Result<(), sandbox_storage::StorageError> {
//! use futures_util::TryStreamExt;
//! use sandbox_core::params::BucketUrl;
//! use sandbox_storage::{Storage, StorageConfig};
//!
//! let storage = Storage::new(StorageConfig::from_env(None))?;
//! let backups = BucketUrl::parse("gs://backups/nightly/").unwrap();
//! let mut objects = storage.list(&backups);
//! while let Some(object) = objects.try_next().await? {
//!     let bytes = storage.read(&backups, &object.key).await?;
//!     # drop(bytes);
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod auth;
mod delete;
pub mod env;
mod error;
mod gcs;
pub mod glob;
mod local;
mod object;
pub mod sync;

pub use auth::Credentials;
pub use error::StorageError;
pub use object::{
    ByteStream, Entry, EntryStream, ObjectInfo, ObjectStream, into_async_read, parse_rfc3339,
};

use futures_util::TryStreamExt;
use sandbox_core::params::BucketUrl;
use sandbox_core::retry::Backoff;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

/// The public GCS endpoint.
pub const GCS_ENDPOINT: &str = "https://storage.googleapis.com";

/// How to reach GCS.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// `https://storage.googleapis.com`, or an emulator or proxy.
    pub endpoint: String,
    /// Who to be; anonymous for an emulator.
    pub credentials: CredentialSource,
    /// Retries of each request on 429, 5xx and connection errors.
    pub backoff: Backoff,
    /// Most connections kept open to the endpoint (set to the copy
    /// concurrency).
    pub max_idle_connections: usize,
}

/// Where credentials come from.
#[derive(Debug, Clone)]
pub enum CredentialSource {
    /// No credentials (emulators, public buckets).
    Anonymous,
    /// Application Default Credentials, resolved when first needed.
    ApplicationDefault,
    /// These credentials.
    Given(Credentials),
}

impl StorageConfig {
    /// The configuration the environment asks for: an explicit `endpoint`
    /// (anonymous), else `STORAGE_EMULATOR_HOST` (anonymous), else GCS with
    /// Application Default Credentials.
    pub fn from_env(endpoint: Option<&str>) -> Self {
        let emulator = std::env::var(env::STORAGE_EMULATOR_HOST)
            .ok()
            .filter(|s| !s.trim().is_empty());
        let (endpoint, credentials) = match endpoint.map(str::to_string).or(emulator) {
            Some(e) => (normalize_endpoint(&e), CredentialSource::Anonymous),
            None => (
                GCS_ENDPOINT.to_string(),
                CredentialSource::ApplicationDefault,
            ),
        };
        StorageConfig {
            endpoint,
            credentials,
            backoff: Backoff::default(),
            max_idle_connections: 32,
        }
    }
}

/// `host:port`, `http://host:port/`, `http://host:port/storage/v1/` all
/// mean the same server.
pub fn normalize_endpoint(endpoint: &str) -> String {
    let e = endpoint.trim();
    let e = if e.contains("://") {
        e.to_string()
    } else {
        format!("http://{e}")
    };
    let e = e.trim_end_matches('/');
    e.strip_suffix("/storage/v1").unwrap_or(e).to_string()
}

/// Options of [`Storage::copy`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyOptions {
    /// The generation the destination must have for the copy to happen
    /// (`Some(0)`: it must not exist). Guards against overwriting an object
    /// someone else wrote since it was looked at. GCS only.
    pub if_generation_match: Option<i64>,
}

/// A client for both kinds of location. Cheap to clone.
#[derive(Clone)]
pub struct Storage {
    gcs: Result<Arc<gcs::Gcs>, Arc<str>>,
    endpoint: String,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Storage {
    /// A client. Fails only when the HTTP client cannot be built; bad
    /// credentials are reported by the first `gs://` call, so `file://` runs
    /// need none.
    pub fn new(config: StorageConfig) -> Result<Self, StorageError> {
        let http = sandbox_http::ClientOptions {
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(120)),
            max_idle_per_host: Some(config.max_idle_connections),
            ..sandbox_http::ClientOptions::default()
        }
        .build()
        .map_err(|e| match e {
            sandbox_http::ClientError::Build(e) => {
                StorageError::transport("build the HTTP client", e)
            }
            // No CA file is given, so only reqwest can fail; were one given,
            // a bad file would be the configuration's fault.
            other => StorageError::Unsupported(other.to_string()),
        })?;
        let credentials = match config.credentials {
            CredentialSource::Anonymous => Ok(Credentials::Anonymous),
            CredentialSource::Given(c) => Ok(c),
            CredentialSource::ApplicationDefault => Credentials::application_default(),
        };
        let gcs = credentials
            .map(|c| {
                Arc::new(gcs::Gcs::new(
                    http,
                    config.endpoint.clone(),
                    auth::TokenSource::new(c),
                    config.backoff,
                ))
            })
            .map_err(|e| Arc::from(e.to_string()));
        Ok(Storage {
            gcs,
            endpoint: config.endpoint,
        })
    }

    fn gcs(&self) -> Result<&Arc<gcs::Gcs>, StorageError> {
        self.gcs.as_ref().map_err(|m| StorageError::Credentials {
            message: m.trim_start_matches("credentials: ").to_string(),
        })
    }

    /// The GCS endpoint in use.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Who `gs://` requests are made as (for messages; never a secret).
    pub fn identity(&self) -> String {
        match &self.gcs {
            Ok(g) => g.identity(),
            Err(m) => format!("no usable credentials ({m})"),
        }
    }

    /// Every object under `location`, in name order, paged and prefetched.
    /// Must be polled inside a Tokio runtime.
    pub fn list(&self, location: &BucketUrl) -> ObjectStream {
        self.list_with_page_size(location, 1000)
    }

    /// [`Storage::list`] with a page size (1 to 1000), for tests of paging.
    pub fn list_with_page_size(&self, location: &BucketUrl, page_size: u32) -> ObjectStream {
        match location {
            BucketUrl::Gs { bucket, prefix } => match self.gcs() {
                Ok(g) => {
                    g.list_with_page_size(bucket.clone(), prefix.clone(), page_size.clamp(1, 1000))
                }
                Err(e) => futures_util::stream::once(async { Err(e) }).boxed_stream(),
            },
            BucketUrl::File { path } => local::list(path.clone()),
        }
    }

    /// [`Storage::list`], also telling which `file://` files it leaves out
    /// because their path is not UTF-8 (GCS names always are).
    pub fn list_entries(&self, location: &BucketUrl) -> EntryStream {
        match location {
            BucketUrl::File { path } => local::list_entries(path.clone()),
            BucketUrl::Gs { .. } => self.list(location).map_ok(Entry::Object).boxed_stream(),
        }
    }

    /// One object's metadata, or None when it does not exist.
    pub async fn stat(
        &self,
        location: &BucketUrl,
        key: &str,
    ) -> Result<Option<ObjectInfo>, StorageError> {
        match location {
            BucketUrl::Gs { bucket, prefix } => {
                self.gcs()?
                    .stat(bucket, &format!("{prefix}{key}"), prefix)
                    .await
            }
            BucketUrl::File { path } => local::stat(path, key).await,
        }
    }

    /// An object's content as a stream.
    pub async fn read(&self, location: &BucketUrl, key: &str) -> Result<ByteStream, StorageError> {
        self.read_inner(location, key, None).await
    }

    /// Bytes `range` of an object (end exclusive), for parallel or resumed
    /// downloads. A range past the end is cut at the end.
    pub async fn read_range(
        &self,
        location: &BucketUrl,
        key: &str,
        range: Range<u64>,
    ) -> Result<ByteStream, StorageError> {
        self.read_inner(location, key, Some(range)).await
    }

    async fn read_inner(
        &self,
        location: &BucketUrl,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StorageError> {
        match location {
            BucketUrl::Gs { bucket, prefix } => {
                self.gcs()?
                    .read(bucket, &format!("{prefix}{key}"), range)
                    .await
            }
            BucketUrl::File { path } => local::read(path, key, range).await,
        }
    }

    /// An object's whole content in memory (small objects only).
    pub async fn read_to_vec(
        &self,
        location: &BucketUrl,
        key: &str,
    ) -> Result<Vec<u8>, StorageError> {
        let mut out = Vec::new();
        let mut stream = self.read(location, key).await?;
        while let Some(chunk) = stream.try_next().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// The CRC32C of an object: from its metadata on GCS, computed for a
    /// file.
    pub async fn crc32c(
        &self,
        location: &BucketUrl,
        key: &str,
    ) -> Result<Option<u32>, StorageError> {
        match location {
            BucketUrl::Gs { .. } => Ok(self.stat(location, key).await?.and_then(|o| o.crc32c)),
            BucketUrl::File { path } => match local::stat(path, key).await? {
                Some(_) => local::crc32c(path, key).await.map(Some),
                None => Ok(None),
            },
        }
    }

    /// Fill in the checksum of a listed object where the listing did not
    /// carry one (files), so it can be compared.
    pub async fn with_checksum(
        &self,
        location: &BucketUrl,
        mut object: ObjectInfo,
    ) -> Result<ObjectInfo, StorageError> {
        if object.crc32c.is_none()
            && let BucketUrl::File { path } = location
        {
            object.crc32c = Some(local::crc32c(path, &object.key).await?);
        }
        Ok(object)
    }

    /// Write `data` as object `key` (small objects: tests, markers).
    pub async fn write(
        &self,
        location: &BucketUrl,
        key: &str,
        content_type: &str,
        data: bytes::Bytes,
    ) -> Result<(), StorageError> {
        match location {
            BucketUrl::Gs { bucket, prefix } => {
                self.gcs()?
                    .upload_bytes(bucket, &format!("{prefix}{key}"), content_type, data)
                    .await
            }
            BucketUrl::File { path } => {
                let (path, key) = (path.clone(), key.to_string());
                tokio::task::spawn_blocking(move || {
                    let mut out = local::PartialFile::create(&path, &key)?;
                    out.write(&data)?;
                    out.commit()
                })
                .await
                .map_err(|e| StorageError::io("write", std::io::Error::other(e)))?
            }
        }
    }

    /// Copy one object. `gs://` to `gs://` is a server-side rewrite (the
    /// bytes never pass through this process) that keeps the metadata;
    /// other pairs stream through. Returns the bytes copied.
    pub async fn copy(
        &self,
        from: &BucketUrl,
        object: &ObjectInfo,
        to: &BucketUrl,
        to_key: &str,
        options: CopyOptions,
    ) -> Result<u64, StorageError> {
        match (from, to) {
            (
                BucketUrl::Gs {
                    bucket: sb,
                    prefix: sp,
                },
                BucketUrl::Gs {
                    bucket: db,
                    prefix: dp,
                },
            ) => {
                self.gcs()?
                    .rewrite(
                        sb,
                        &format!("{sp}{}", object.key),
                        db,
                        &format!("{dp}{to_key}"),
                        options.if_generation_match,
                    )
                    .await
            }
            (BucketUrl::File { path: sp }, BucketUrl::File { path: dp }) => {
                local::copy(sp, &object.key, dp, to_key).await
            }
            (BucketUrl::Gs { .. }, BucketUrl::File { path }) => {
                self.download(from, object, path, to_key).await
            }
            (BucketUrl::File { path }, BucketUrl::Gs { bucket, prefix }) => {
                let src = local::path_of(path, &object.key)?;
                let content_type = local::guess_content_type(&object.key);
                let name = format!("{prefix}{to_key}");
                self.gcs()?
                    .upload(
                        bucket,
                        &name,
                        content_type,
                        options.if_generation_match,
                        || {
                            let src = src.clone();
                            let stream = futures_util::stream::once(async move {
                                tokio::fs::File::open(src).await
                            })
                            .map_ok(tokio_util::io::ReaderStream::new)
                            .try_flatten();
                            reqwest::Body::wrap_stream(stream)
                        },
                    )
                    .await?;
                Ok(object.size)
            }
        }
    }

    /// GCS to a file: stream into a partial file, check the CRC32C, rename.
    async fn download(
        &self,
        from: &BucketUrl,
        object: &ObjectInfo,
        root: &std::path::Path,
        to_key: &str,
    ) -> Result<u64, StorageError> {
        let mut out = local::PartialFile::create(root, to_key)?;
        let mut stream = self.read(from, &object.key).await?;
        while let Some(chunk) = stream.try_next().await? {
            out.write(&chunk)?;
        }
        let (crc, len) = out.written();
        if len != object.size || object.crc32c.is_some_and(|want| want != crc) {
            return Err(StorageError::Checksum {
                object: format!("{from}{}", object.key),
                message: format!(
                    "read {len} bytes with crc32c {crc:08x}, expected {} bytes{}",
                    object.size,
                    object
                        .crc32c
                        .map(|c| format!(" with crc32c {c:08x}"))
                        .unwrap_or_default()
                ),
            });
        }
        out.commit()?;
        Ok(len)
    }

    /// Ok when objects under `location` can be listed (one page of one).
    pub async fn check_readable(&self, location: &BucketUrl) -> Result<(), StorageError> {
        let mut first = self.list_with_page_size(location, 1);
        first.try_next().await.map(drop)
    }

    /// Ok when the bucket (or, for `file://`, the directory or its nearest
    /// existing parent that it would be created in) exists.
    pub async fn check_bucket_exists(&self, location: &BucketUrl) -> Result<(), StorageError> {
        match location {
            BucketUrl::Gs { bucket, .. } => self.gcs()?.bucket(bucket).await,
            BucketUrl::File { path } => {
                let mut dir = path.as_path();
                loop {
                    if dir.is_dir() {
                        return Ok(());
                    }
                    match dir.parent() {
                        Some(parent) if dir.exists() => {
                            let _ = parent;
                            return Err(StorageError::io(
                                format!("use {} as a directory", dir.display()),
                                std::io::Error::new(
                                    std::io::ErrorKind::NotADirectory,
                                    "not a directory",
                                ),
                            ));
                        }
                        Some(parent) => dir = parent,
                        None => {
                            return Err(StorageError::BucketNotFound {
                                bucket: location.to_string(),
                                identity: "this process".into(),
                            });
                        }
                    }
                }
            }
        }
    }
}

trait BoxedStream: futures_util::Stream + Sized + Send + 'static {
    fn boxed_stream(self) -> futures_util::stream::BoxStream<'static, Self::Item> {
        Box::pin(self)
    }
}
impl<S: futures_util::Stream + Send + 'static> BoxedStream for S {}
