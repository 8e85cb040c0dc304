//! A small client of the GCS JSON API: the five calls seeding and restoring
//! need (list, get metadata, get media with ranges, rewrite, upload) plus
//! bucket metadata. Every call is retried on 429, 5xx and connection
//! errors with [`Backoff`], honouring `Retry-After`.

use crate::StorageError;
use crate::auth::TokenSource;
use crate::object::{ByteStream, ObjectInfo, ObjectStream, parse_rfc3339};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use sandbox_core::retry::Backoff;
use serde::Deserialize;
use std::ops::Range;
use std::sync::Arc;

mod delete;

/// The fields a listing asks for, so pages stay small.
const LIST_FIELDS: &str =
    "nextPageToken,items(name,size,updated,contentType,crc32c,md5Hash,generation)";

/// A JSON API client for one endpoint and identity.
pub(crate) struct Gcs {
    http: reqwest::Client,
    /// `https://storage.googleapis.com` or an emulator's `http://host:port`.
    base: String,
    tokens: TokenSource,
    backoff: Backoff,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawObject {
    name: String,
    #[serde(default)]
    size: Option<String>,
    updated: Option<String>,
    content_type: Option<String>,
    crc32c: Option<String>,
    md5_hash: Option<String>,
    generation: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListPage {
    #[serde(default)]
    items: Vec<RawObject>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RewriteResponse {
    done: bool,
    rewrite_token: Option<String>,
    total_bytes_rewritten: Option<String>,
}

impl RawObject {
    fn into_info(self, prefix: &str) -> Result<ObjectInfo, String> {
        let size = match &self.size {
            Some(s) => s
                .parse()
                .map_err(|_| format!("size {s:?} of {}", self.name))?,
            None => 0,
        };
        let crc32c = self
            .crc32c
            .as_deref()
            .and_then(|c| STANDARD.decode(c).ok())
            .and_then(|b| <[u8; 4]>::try_from(b.as_slice()).ok())
            .map(u32::from_be_bytes);
        let md5 = self
            .md5_hash
            .as_deref()
            .and_then(|c| STANDARD.decode(c).ok())
            .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok());
        Ok(ObjectInfo {
            key: self
                .name
                .strip_prefix(prefix)
                .unwrap_or(&self.name)
                .to_string(),
            updated: self.updated.as_deref().and_then(parse_rfc3339),
            generation: self.generation.as_deref().and_then(|g| g.parse().ok()),
            content_type: self.content_type,
            name: self.name,
            size,
            crc32c,
            md5,
        })
    }
}

/// Percent-encode an object or bucket name as one URL path segment.
fn segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// At most 200 characters of a server's error body, on one line.
pub(crate) fn shorten(text: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.trim().to_string());
    let one_line: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    one_line
}

/// `url` with query parameters appended, each encoded.
fn with_query(url: &str, query: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(url.len() + 64);
    out.push_str(url);
    for (i, (k, v)) in query.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.extend(url::form_urlencoded::byte_serialize(k.as_bytes()));
        out.push('=');
        out.extend(url::form_urlencoded::byte_serialize(v.as_bytes()));
    }
    out
}

/// What a request is about, to name it in errors.
struct Target<'a> {
    operation: String,
    bucket: &'a str,
    /// The object, when a 404 means the object rather than the bucket.
    object: Option<&'a str>,
}

impl Gcs {
    pub(crate) fn new(
        http: reqwest::Client,
        base: String,
        tokens: TokenSource,
        backoff: Backoff,
    ) -> Self {
        Gcs {
            http,
            base,
            tokens,
            backoff,
        }
    }

    pub(crate) fn identity(&self) -> String {
        self.tokens.identity()
    }

    fn object_url(&self, bucket: &str, name: &str) -> String {
        format!(
            "{}/storage/v1/b/{}/o/{}",
            self.base,
            segment(bucket),
            segment(name)
        )
    }

    /// Send a request built by `build` until it succeeds or fails for good;
    /// error statuses become [`StorageError`]s naming `target`.
    async fn send(
        &self,
        target: &Target<'_>,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, StorageError> {
        self.backoff
            .retry(|_| async {
                let mut request = build();
                if let Some(auth) = self.tokens.header(&self.http).await? {
                    request = request.header("authorization", auth);
                }
                let response = request
                    .send()
                    .await
                    .map_err(|e| StorageError::transport(target.operation.clone(), e))?;
                if response.status().is_success() {
                    return Ok(response);
                }
                Err(self.status_error(target, response).await)
            })
            .await
    }

    async fn status_error(&self, target: &Target<'_>, response: Response) -> StorageError {
        let status = response.status();
        let retry_after = sandbox_http::retry_after(response.headers());
        let message = shorten(&response.text().await.unwrap_or_default());
        let bucket = format!("gs://{}", target.bucket);
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => StorageError::Denied {
                bucket,
                identity: self.identity(),
                status: status.as_u16(),
            },
            StatusCode::NOT_FOUND => match target.object {
                Some(object) if !message.to_ascii_lowercase().contains("bucket") => {
                    StorageError::ObjectNotFound {
                        bucket,
                        object: object.to_string(),
                    }
                }
                _ => StorageError::BucketNotFound {
                    bucket,
                    identity: self.identity(),
                },
            },
            StatusCode::PRECONDITION_FAILED => StorageError::Changed {
                bucket,
                object: target.object.unwrap_or_default().to_string(),
            },
            _ => StorageError::Status {
                operation: target.operation.clone(),
                status: status.as_u16(),
                message,
                retry_after,
            },
        }
    }

    /// Bucket metadata: Ok when it exists and we may see it.
    pub(crate) async fn bucket(&self, bucket: &str) -> Result<(), StorageError> {
        let url = format!("{}/storage/v1/b/{}", self.base, segment(bucket));
        let target = Target {
            operation: format!("get bucket gs://{bucket}"),
            bucket,
            object: None,
        };
        self.send(&target, || {
            self.http.get(with_query(&url, &[("fields", "name")]))
        })
        .await
        .map(drop)
    }

    /// One page of a listing.
    async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        page_size: u32,
        token: Option<&str>,
    ) -> Result<(Vec<ObjectInfo>, Option<String>), StorageError> {
        let url = format!("{}/storage/v1/b/{}/o", self.base, segment(bucket));
        let operation = format!("list gs://{bucket}/{prefix}");
        let target = Target {
            operation: operation.clone(),
            bucket,
            object: None,
        };
        let page_size = page_size.to_string();
        let response = self
            .send(&target, || {
                let mut q = vec![
                    ("prefix", prefix),
                    ("maxResults", page_size.as_str()),
                    ("fields", LIST_FIELDS),
                    ("projection", "noAcl"),
                ];
                if let Some(t) = token {
                    q.push(("pageToken", t));
                }
                self.http.get(with_query(&url, &q))
            })
            .await?;
        let body = response
            .bytes()
            .await
            .map_err(|e| StorageError::transport(operation.clone(), e))?;
        let page: ListPage = serde_json::from_slice(&body)
            .map_err(|e| StorageError::protocol(operation.clone(), e.to_string()))?;
        let items = page
            .items
            .into_iter()
            .map(|raw| raw.into_info(prefix))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StorageError::protocol(operation, e))?;
        Ok((items, page.next_page_token.filter(|t| !t.is_empty())))
    }

    /// Every object under `prefix`, page by page. The next page is fetched
    /// while the consumer works through the current one; at most about two
    /// pages are held.
    pub(crate) fn list_with_page_size(
        self: &Arc<Self>,
        bucket: String,
        prefix: String,
        page_size: u32,
    ) -> ObjectStream {
        let gcs = Arc::clone(self);
        let (tx, rx) =
            tokio::sync::mpsc::channel::<Result<ObjectInfo, StorageError>>(page_size as usize);
        let producer = async move {
            let mut token: Option<String> = None;
            loop {
                match gcs
                    .list_page(&bucket, &prefix, page_size, token.as_deref())
                    .await
                {
                    Ok((items, next)) => {
                        for item in items {
                            if tx.send(Ok(item)).await.is_err() {
                                return; // the consumer is gone
                            }
                        }
                        match next {
                            Some(t) => token = Some(t),
                            None => return,
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        };
        crate::object::receive(rx, producer)
    }

    /// One object's metadata, or None when it does not exist.
    pub(crate) async fn stat(
        &self,
        bucket: &str,
        name: &str,
        prefix: &str,
    ) -> Result<Option<ObjectInfo>, StorageError> {
        let url = self.object_url(bucket, name);
        let operation = format!("get gs://{bucket}/{name}");
        let target = Target {
            operation: operation.clone(),
            bucket,
            object: Some(name),
        };
        let response = match self.send(&target, || self.http.get(&url)).await {
            Ok(r) => r,
            Err(StorageError::ObjectNotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let raw: RawObject = response
            .json()
            .await
            .map_err(|e| StorageError::protocol(operation.clone(), e.to_string()))?;
        raw.into_info(prefix)
            .map(Some)
            .map_err(|e| StorageError::protocol(operation, e))
    }

    /// The content of an object, or of `range` of it, as a stream.
    pub(crate) async fn read(
        &self,
        bucket: &str,
        name: &str,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StorageError> {
        let url = self.object_url(bucket, name);
        let operation = format!("read gs://{bucket}/{name}");
        let target = Target {
            operation: operation.clone(),
            bucket,
            object: Some(name),
        };
        if let Some(r) = &range
            && r.start >= r.end
        {
            return Ok(futures_util::stream::empty().boxed());
        }
        let response = self
            .send(&target, || {
                let request = self.http.get(with_query(&url, &[("alt", "media")]));
                match &range {
                    Some(r) => request.header("range", format!("bytes={}-{}", r.start, r.end - 1)),
                    None => request,
                }
            })
            .await?;
        if range.is_some() && response.status() != StatusCode::PARTIAL_CONTENT {
            return Err(StorageError::protocol(
                operation,
                format!("asked for a range, got HTTP {}", response.status().as_u16()),
            ));
        }
        Ok(response
            .bytes_stream()
            .map_err(move |e| StorageError::transport(operation.clone(), e))
            .boxed())
    }

    /// Server-side copy with `rewriteTo`, following the rewrite token until
    /// the service says done (large or cross-location objects take several
    /// calls). `if_generation_match` guards the destination: `Some(0)` means
    /// "only if absent". Returns the bytes rewritten.
    pub(crate) async fn rewrite(
        &self,
        src_bucket: &str,
        src_name: &str,
        dst_bucket: &str,
        dst_name: &str,
        if_generation_match: Option<i64>,
    ) -> Result<u64, StorageError> {
        let url = format!(
            "{}/rewriteTo/b/{}/o/{}",
            self.object_url(src_bucket, src_name),
            segment(dst_bucket),
            segment(dst_name)
        );
        let operation =
            format!("copy gs://{src_bucket}/{src_name} to gs://{dst_bucket}/{dst_name}");
        let target = Target {
            operation: operation.clone(),
            bucket: src_bucket,
            object: Some(src_name),
        };
        let generation = if_generation_match.map(|g| g.to_string());
        let mut token: Option<String> = None;
        // Bounded: each call makes progress or fails; 10,000 calls of the
        // service's per-call budget covers any object GCS can hold.
        for _ in 0..10_000 {
            let response = self
                .send(&target, || {
                    let mut q: Vec<(&str, &str)> = vec![("projection", "noAcl")];
                    if let Some(t) = &token {
                        q.push(("rewriteToken", t));
                    }
                    if let Some(g) = &generation {
                        q.push(("ifGenerationMatch", g));
                    }
                    self.http
                        .request(Method::POST, with_query(&url, &q))
                        .header("content-type", "application/json")
                        .body("{}")
                })
                .await
                .map_err(|e| match e {
                    // A 412 is the destination's precondition, not the source.
                    StorageError::Changed { .. } => StorageError::Changed {
                        bucket: format!("gs://{dst_bucket}"),
                        object: dst_name.to_string(),
                    },
                    other => other,
                })?;
            let body: RewriteResponse = response
                .json()
                .await
                .map_err(|e| StorageError::protocol(operation.clone(), e.to_string()))?;
            if body.done {
                return Ok(body
                    .total_bytes_rewritten
                    .and_then(|b| b.parse().ok())
                    .unwrap_or(0));
            }
            match body.rewrite_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => {
                    return Err(StorageError::protocol(
                        operation,
                        "rewrite not done and no rewriteToken to continue with",
                    ));
                }
            }
        }
        Err(StorageError::protocol(operation, "rewrite did not finish"))
    }

    /// Upload `body` as one object (simple media upload). `make_body` is
    /// called once per attempt.
    pub(crate) async fn upload(
        &self,
        bucket: &str,
        name: &str,
        content_type: &str,
        if_generation_match: Option<i64>,
        make_body: impl Fn() -> reqwest::Body,
    ) -> Result<(), StorageError> {
        let url = format!("{}/upload/storage/v1/b/{}/o", self.base, segment(bucket));
        let target = Target {
            operation: format!("upload gs://{bucket}/{name}"),
            bucket,
            object: None,
        };
        let generation = if_generation_match.map(|g| g.to_string());
        self.send(&target, || {
            let mut q: Vec<(&str, &str)> = vec![("uploadType", "media"), ("name", name)];
            if let Some(g) = &generation {
                q.push(("ifGenerationMatch", g));
            }
            self.http
                .post(with_query(&url, &q))
                .header("content-type", content_type)
                .body(make_body())
        })
        .await
        .map_err(|e| match e {
            StorageError::Changed { bucket, .. } => StorageError::Changed {
                bucket,
                object: name.to_string(),
            },
            other => other,
        })
        .map(drop)
    }

    /// Upload bytes held in memory.
    pub(crate) async fn upload_bytes(
        &self,
        bucket: &str,
        name: &str,
        content_type: &str,
        data: Bytes,
    ) -> Result<(), StorageError> {
        self.upload(bucket, name, content_type, None, || {
            reqwest::Body::from(data.clone())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_encoded_segment() {
        assert_eq!(segment("a/b c.txt"), "a%2Fb%20c.txt");
        assert_eq!(segment("ü"), "%C3%BC");
    }

    #[test]
    fn error_bodies_are_shortened_to_their_message() {
        assert_eq!(
            shorten(r#"{"error":{"code":404,"message":"Not Found"}}"#),
            "Not Found"
        );
        assert_eq!(shorten("line\nbreak"), "line break");
    }

    #[test]
    fn raw_objects_decode_checksums() {
        let raw: RawObject = serde_json::from_str(
            r#"{"name":"p/a","size":"3","crc32c":"Nks/tw==","md5Hash":"kAFQmDzST7DWlj99KOF/cg==","updated":"2024-05-01T03:04:05Z","generation":"17"}"#,
        )
        .unwrap();
        let info = raw.into_info("p/").unwrap();
        assert_eq!(info.key, "a");
        assert_eq!(info.size, 3);
        assert_eq!(info.crc32c, Some(crc32c::crc32c(b"abc")));
        assert_eq!(info.generation, Some(17));
        assert!(info.md5.is_some() && info.updated.is_some());
    }
}
