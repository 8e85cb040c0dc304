//! The read and copy API against a real fake-gcs-server, with objects put
//! there and checked by curl (an independent client).

use futures_util::TryStreamExt;
use sandbox_core::params::BucketUrl;
use sandbox_core::{Classify, ErrorKind};
use sandbox_harness::FakeGcs;
use sandbox_storage::{CopyOptions, Storage, StorageConfig};
use std::process::Command;

pub(crate) fn curl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-sS", "--fail-with-body"])
        .args(args)
        .output()
        .expect("curl (installed by scripts/test)");
    assert!(
        out.status.success(),
        "curl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub(crate) fn make_bucket(gcs: &FakeGcs, name: &str) {
    curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        &format!(r#"{{"name":"{name}"}}"#),
        &format!("{}/storage/v1/b", gcs.endpoint()),
    ]);
}

pub(crate) fn put(gcs: &FakeGcs, bucket: &str, name: &str, content_type: &str, data: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body");
    std::fs::write(&file, data).unwrap();
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    curl(&[
        "-X",
        "POST",
        "-H",
        &format!("content-type: {content_type}"),
        "--data-binary",
        &format!("@{}", file.display()),
        &format!(
            "{}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={encoded}",
            gcs.endpoint()
        ),
    ]);
}

pub(crate) fn storage(gcs: &FakeGcs) -> Storage {
    Storage::new(StorageConfig::from_env(Some(&gcs.endpoint()))).unwrap()
}

pub(crate) fn url(s: &str) -> BucketUrl {
    BucketUrl::parse(s).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn lists_pages_reads_and_ranges() {
    let gcs = FakeGcs::start();
    make_bucket(&gcs, "docs-int");
    for i in 0..5 {
        put(
            &gcs,
            "docs-int",
            &format!("ref/doc-{i}.txt"),
            "text/plain",
            format!("document {i}").as_bytes(),
        );
    }
    put(
        &gcs,
        "docs-int",
        "other/x",
        "text/plain",
        b"outside the prefix",
    );
    let storage = storage(&gcs);
    let loc = url("gs://docs-int/ref");

    let listed: Vec<_> = storage
        .list_with_page_size(&loc, 2)
        .try_collect()
        .await
        .unwrap();
    let keys: Vec<&str> = listed.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "doc-0.txt",
            "doc-1.txt",
            "doc-2.txt",
            "doc-3.txt",
            "doc-4.txt"
        ]
    );
    let first = &listed[0];
    assert_eq!(first.name, "ref/doc-0.txt");
    assert_eq!(first.size, 10);
    assert_eq!(first.content_type.as_deref(), Some("text/plain"));
    assert_eq!(first.crc32c, Some(crc32c::crc32c(b"document 0")));
    assert!(first.updated.is_some());

    assert_eq!(
        storage.read_to_vec(&loc, "doc-3.txt").await.unwrap(),
        b"document 3"
    );
    let range: Vec<u8> = storage
        .read_range(&loc, "doc-3.txt", 2..6)
        .await
        .unwrap()
        .try_fold(Vec::new(), |mut v, c| async move {
            v.extend_from_slice(&c);
            Ok(v)
        })
        .await
        .unwrap();
    assert_eq!(range, b"cume");
    assert!(storage.stat(&loc, "nope").await.unwrap().is_none());
    assert_eq!(
        storage.stat(&loc, "doc-1.txt").await.unwrap().unwrap().size,
        10
    );
    storage.check_readable(&loc).await.unwrap();
    storage.check_bucket_exists(&loc).await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn missing_bucket_is_a_precondition_naming_bucket_and_identity() {
    let gcs = FakeGcs::start();
    let storage = storage(&gcs);
    let err = storage
        .check_readable(&url("gs://no-such-bucket/x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Precondition, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("gs://no-such-bucket") && text.contains("anonymous"),
        "{text}"
    );
    let err = storage
        .check_bucket_exists(&url("gs://no-such-bucket/"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Precondition, "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn rewrite_copies_server_side_with_metadata() {
    let gcs = FakeGcs::start();
    make_bucket(&gcs, "docs-int");
    make_bucket(&gcs, "docs-sbx");
    put(
        &gcs,
        "docs-int",
        "a/report.json",
        "application/json",
        b"{\"a\":1}",
    );
    let storage = storage(&gcs);
    let src = url("gs://docs-int/a/");
    let dst = url("gs://docs-sbx/sbx-pr-1/");
    let object = storage.stat(&src, "report.json").await.unwrap().unwrap();
    let n = storage
        .copy(&src, &object, &dst, "report.json", CopyOptions::default())
        .await
        .unwrap();
    assert_eq!(n, 7);
    let meta: serde_json::Value = serde_json::from_slice(&curl(&[&format!(
        "{}/storage/v1/b/docs-sbx/o/sbx-pr-1%2Freport.json",
        gcs.endpoint()
    )]))
    .unwrap();
    assert_eq!(meta["contentType"], "application/json");
    let body = curl(&[&format!(
        "{}/storage/v1/b/docs-sbx/o/sbx-pr-1%2Freport.json?alt=media",
        gcs.endpoint()
    )]);
    assert_eq!(body, b"{\"a\":1}");
}

#[tokio::test(flavor = "current_thread")]
async fn files_work_like_a_bucket() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src/sub")).unwrap();
    std::fs::write(dir.path().join("src/sub/a.txt"), b"hello world").unwrap();
    let storage = Storage::new(StorageConfig::from_env(Some("http://127.0.0.1:9"))).unwrap();
    let src = BucketUrl::parse(&format!("file://{}/src", dir.path().display())).unwrap();
    let dst = BucketUrl::parse(&format!("file://{}/dst", dir.path().display())).unwrap();
    let listed: Vec<_> = storage.list(&src).try_collect().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, "sub/a.txt");
    let range = storage.read_range(&src, "sub/a.txt", 6..11).await.unwrap();
    let bytes: Vec<u8> = range
        .try_fold(Vec::new(), |mut v, c| async move {
            v.extend_from_slice(&c);
            Ok(v)
        })
        .await
        .unwrap();
    assert_eq!(bytes, b"world");
    storage
        .copy(&src, &listed[0], &dst, "sub/a.txt", CopyOptions::default())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("dst/sub/a.txt")).unwrap(),
        b"hello world"
    );
    assert_eq!(
        storage.crc32c(&dst, "sub/a.txt").await.unwrap(),
        Some(crc32c::crc32c(b"hello world"))
    );
}
