//! The sync engine against a real fake-gcs-server and `file://`
//! directories: what is copied, skipped and left alone, the limits, the
//! dry run, progress, and files whose names cannot be object names.

use crate::gcs::{curl, make_bucket, put, storage, url};
use sandbox_harness::FakeGcs;
use sandbox_storage::sync::{self, Decision, Observer, Select, SyncOptions};
use sandbox_storage::{ObjectInfo, Storage, StorageConfig};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

fn all() -> Select {
    Arc::new(|_: &ObjectInfo| true)
}

/// Every object of `bucket` under `prefix`: name → content, read by curl.
fn contents(gcs: &FakeGcs, bucket: &str, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let list: serde_json::Value = serde_json::from_slice(&curl(&[&format!(
        "{}/storage/v1/b/{bucket}/o?prefix={prefix}",
        gcs.endpoint()
    )]))
    .unwrap();
    let mut out = BTreeMap::new();
    for item in list["items"].as_array().cloned().unwrap_or_default() {
        let name = item["name"].as_str().unwrap().to_string();
        let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
        let body = curl(&[&format!(
            "{}/storage/v1/b/{bucket}/o/{encoded}?alt=media",
            gcs.endpoint()
        )]);
        out.insert(name, body);
    }
    out
}

/// Counts what it is told, as a step's progress would.
#[derive(Default)]
struct Seen {
    selected: AtomicU64,
    decided: Mutex<Vec<(String, Decision)>>,
}

impl Observer for Seen {
    fn selected(&self, total: u64) {
        self.selected.store(total, Ordering::Relaxed);
    }
    fn decided(&self, key: &str, decision: Decision) {
        self.decided
            .lock()
            .unwrap()
            .push((key.to_string(), decision));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn copies_once_then_skips_and_leaves_a_changed_object_alone() {
    let gcs = FakeGcs::start();
    make_bucket(&gcs, "docs-int");
    make_bucket(&gcs, "docs-sbx");
    for i in 0..6 {
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
        "ref/skip.bin",
        "application/octet-stream",
        b"no",
    );
    // Someone's own version of doc-5 is already at the destination.
    put(
        &gcs,
        "docs-sbx",
        "sbx-pr-1/doc-5.txt",
        "text/plain",
        b"edited 5!!",
    );
    let storage = storage(&gcs);
    let (from, to) = (url("gs://docs-int/ref/"), url("gs://docs-sbx/sbx-pr-1/"));
    let txt: Select = Arc::new(|o: &ObjectInfo| o.key.ends_with(".txt"));
    let options = SyncOptions {
        concurrency: 4,
        ..SyncOptions::default()
    };

    let seen = Arc::new(Seen::default());
    let report = sync::sync(&storage, &from, &to, txt.clone(), &options, seen.clone())
        .await
        .unwrap();
    assert_eq!(
        (
            report.selected,
            report.copied,
            report.skipped,
            report.conflicts
        ),
        (6, 5, 0, 1)
    );
    assert_eq!(report.bytes_copied, 5 * 10);
    assert_eq!(seen.selected.load(Ordering::Relaxed), 6);
    assert_eq!(seen.decided.lock().unwrap().len(), 6);
    let copied = contents(&gcs, "docs-sbx", "sbx-pr-1/");
    assert_eq!(copied.len(), 6);
    for i in 0..5 {
        assert_eq!(
            copied[&format!("sbx-pr-1/doc-{i}.txt")],
            format!("document {i}").as_bytes()
        );
    }
    assert_eq!(copied["sbx-pr-1/doc-5.txt"], b"edited 5!!", "left alone");

    // A rerun copies nothing: the same bytes are there.
    let again = sync::sync(&storage, &from, &to, txt.clone(), &options, Arc::new(()))
        .await
        .unwrap();
    assert_eq!((again.copied, again.skipped, again.conflicts), (0, 5, 1));

    // Asked to, it replaces the changed object.
    let overwrite = SyncOptions {
        overwrite_changed: true,
        ..options.clone()
    };
    let replaced = sync::sync(&storage, &from, &to, txt, &overwrite, Arc::new(()))
        .await
        .unwrap();
    assert_eq!((replaced.copied, replaced.skipped), (1, 5));
    assert_eq!(
        contents(&gcs, "docs-sbx", "sbx-pr-1/")["sbx-pr-1/doc-5.txt"],
        b"document 5"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn limits_take_the_first_objects_and_a_dry_run_copies_nothing() {
    let gcs = FakeGcs::start();
    make_bucket(&gcs, "docs-int");
    make_bucket(&gcs, "docs-sbx");
    for i in 0..8 {
        put(
            &gcs,
            "docs-int",
            &format!("ref/d{i}"),
            "text/plain",
            &[b'x'; 100],
        );
    }
    let storage = storage(&gcs);
    let (from, to) = (url("gs://docs-int/ref/"), url("gs://docs-sbx/sbx-pr-2/"));
    let dry = SyncOptions {
        dry_run: true,
        max_bytes: Some(350),
        names_kept: 2,
        ..SyncOptions::default()
    };
    let plan = sync::sync(&storage, &from, &to, all(), &dry, Arc::new(()))
        .await
        .unwrap();
    assert_eq!((plan.selected, plan.copied, plan.bytes_copied), (3, 3, 300));
    assert_eq!(
        plan.first_copied,
        ["d0", "d1"],
        "in name order, as many as kept"
    );
    assert!(contents(&gcs, "docs-sbx", "sbx-pr-2/").is_empty());

    let limited = SyncOptions {
        max_objects: Some(5),
        ..SyncOptions::default()
    };
    let done = sync::sync(&storage, &from, &to, all(), &limited, Arc::new(()))
        .await
        .unwrap();
    assert_eq!((done.selected, done.copied), (5, 5));
    let names: Vec<String> = contents(&gcs, "docs-sbx", "sbx-pr-2/")
        .into_keys()
        .collect();
    assert_eq!(
        names,
        (0..5).map(|i| format!("sbx-pr-2/d{i}")).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn files_to_a_bucket_and_back_keep_their_bytes() {
    let gcs = FakeGcs::start();
    make_bucket(&gcs, "docs-sbx");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    for (name, body) in [("a/one.txt", "one"), ("a-b.txt", "two"), ("z.txt", "three")] {
        let path = src.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    let storage = storage(&gcs);
    let from = url(&format!("file://{}", src.display()));
    let to = url("gs://docs-sbx/sbx-pr-3/");
    let up = sync::sync(
        &storage,
        &from,
        &to,
        all(),
        &SyncOptions::default(),
        Arc::new(()),
    )
    .await
    .unwrap();
    assert_eq!(up.copied, 3);
    let back = url(&format!("file://{}/back", dir.path().display()));
    let down = sync::sync(
        &storage,
        &to,
        &back,
        all(),
        &SyncOptions::default(),
        Arc::new(()),
    )
    .await
    .unwrap();
    assert_eq!(down.copied, 3);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("back/a/one.txt")).unwrap(),
        "one"
    );
    // Files have no stored checksum: a rerun computes them to skip.
    let again = sync::sync(
        &storage,
        &to,
        &back,
        all(),
        &SyncOptions::default(),
        Arc::new(()),
    )
    .await
    .unwrap();
    assert_eq!((again.copied, again.skipped), (0, 3));
}

/// Regression: a `file://` source silently skipped a file whose name is not
/// UTF-8 (a warning on stderr, exit 0, nothing in the outputs). Issue 12,
/// "Real repositories".
#[tokio::test(flavor = "current_thread")]
async fn files_whose_names_are_not_utf8_are_counted_and_named() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let name = |bytes: &[u8]| std::ffi::OsStr::from_bytes(bytes).to_os_string();
    std::fs::write(src.join("good.txt"), "fine").unwrap();
    std::fs::write(src.join(name(b"caf\xe9.txt")), "latin-1").unwrap();
    std::fs::write(src.join(name(b"caf\xe9.bin")), "latin-1").unwrap();
    let bad_dir = src.join(name(b"r\xe9ports"));
    std::fs::create_dir_all(&bad_dir).unwrap();
    std::fs::write(bad_dir.join("q1.txt"), "in a latin-1 directory").unwrap();
    let storage = Storage::new(StorageConfig::from_env(Some("http://127.0.0.1:9"))).unwrap();
    let from = url(&format!("file://{}", src.display()));
    let to = url(&format!("file://{}/dst", dir.path().display()));
    let txt: Select = Arc::new(|o: &ObjectInfo| o.key.ends_with(".txt"));
    let report = sync::sync(
        &storage,
        &from,
        &to,
        txt,
        &SyncOptions::default(),
        Arc::new(()),
    )
    .await
    .unwrap();
    assert_eq!((report.selected, report.copied), (1, 1));
    assert_eq!(report.not_utf8_count, 2, "{:?}", report.not_utf8);
    let mut names = report.not_utf8.clone();
    names.sort();
    assert_eq!(names, ["caf\\xE9.txt", "r\\xE9ports/q1.txt"]);
    assert!(dir.path().join("dst/good.txt").is_file());

    let few = SyncOptions {
        not_utf8_kept: 1,
        ..SyncOptions::default()
    };
    let report = sync::sync(&storage, &from, &to, all(), &few, Arc::new(()))
        .await
        .unwrap();
    assert_eq!(report.not_utf8_count, 3, "every one is counted");
    assert_eq!(report.not_utf8.len(), 1, "as many named as asked");
}
