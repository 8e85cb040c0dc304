//! `seed-bucket` end to end against fake-gcs-server: the binary copies, and
//! the result is checked with curl against the JSON API (an independent
//! client): exact object set, contents byte for byte, content types.

use super::support::{self, Run, curl, enc, make_bucket};
use sandbox_harness::FakeGcs;
use sandbox_harness::fake_gcs::Backend;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Upload objects with one curl process (many URLs, each with its body).
fn put_all(endpoint: &str, bucket: &str, objects: &[(String, &str, Vec<u8>)]) {
    let dir = tempfile::tempdir().unwrap();
    for chunk in objects.chunks(500) {
        let mut config = String::new();
        for (i, (name, content_type, data)) in chunk.iter().enumerate() {
            let file = dir.path().join(format!("body-{i}"));
            std::fs::write(&file, data).unwrap();
            config.push_str(&format!(
                "next\nrequest = \"POST\"\nheader = \"content-type: {content_type}\"\ndata-binary = \"@{}\"\nurl = \"{endpoint}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={}\"\noutput = \"/dev/null\"\nfail\n",
                file.display(),
                enc(name)
            ));
        }
        let config_file = dir.path().join("curl.cfg");
        std::fs::write(&config_file, config.trim_start_matches("next\n")).unwrap();
        curl(&["-K", &config_file.to_string_lossy()]);
    }
}

/// Every object under `prefix` by the JSON API: name → (size, content type, md5).
fn listing(endpoint: &str, bucket: &str, prefix: &str) -> BTreeMap<String, (u64, String, String)> {
    let mut out = BTreeMap::new();
    let mut token = String::new();
    for _ in 0..10_000 {
        let url = format!(
            "{endpoint}/storage/v1/b/{bucket}/o?prefix={}&maxResults=1000{}",
            enc(prefix),
            if token.is_empty() {
                String::new()
            } else {
                format!("&pageToken={}", enc(&token))
            }
        );
        let page: Value = serde_json::from_slice(&curl(&[&url])).unwrap();
        for item in page["items"].as_array().cloned().unwrap_or_default() {
            out.insert(
                item["name"].as_str().unwrap().to_string(),
                (
                    item["size"].as_str().unwrap().parse().unwrap(),
                    item["contentType"].as_str().unwrap_or_default().to_string(),
                    item["md5Hash"].as_str().unwrap_or_default().to_string(),
                ),
            );
        }
        match page["nextPageToken"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_string(),
            _ => return out,
        }
    }
    panic!("listing never ended");
}

/// The content of every named object, downloaded by one curl process.
fn download_all(endpoint: &str, bucket: &str, names: &[String]) -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = BTreeMap::new();
    for chunk in names.chunks(500) {
        let mut config = String::new();
        for (i, name) in chunk.iter().enumerate() {
            config.push_str(&format!(
                "url = \"{endpoint}/storage/v1/b/{bucket}/o/{}?alt=media\"\noutput = \"{}\"\n",
                enc(name),
                dir.path().join(format!("o-{i}")).display()
            ));
        }
        let config_file = dir.path().join("curl.cfg");
        std::fs::write(&config_file, config).unwrap();
        curl(&["-K", &config_file.to_string_lossy()]);
        for (i, name) in chunk.iter().enumerate() {
            out.insert(
                name.clone(),
                std::fs::read(dir.path().join(format!("o-{i}"))).unwrap(),
            );
        }
    }
    out
}

fn seed(endpoint: &str, args: &[&str]) -> Run {
    support::task("seed-bucket")
        .args(["--endpoint", endpoint])
        .args(args)
        .run()
}

fn doc(i: usize) -> Vec<u8> {
    format!("reference document {i}\n")
        .repeat(1 + i % 7)
        .into_bytes()
}

/// A source with a few kinds of objects, and an empty destination bucket.
fn small_world(gcs: &FakeGcs) {
    let e = gcs.endpoint();
    make_bucket(&e, "docs-int");
    make_bucket(&e, "docs-sbx");
    let objects: Vec<(String, &str, Vec<u8>)> = vec![
        ("ref/a/1.pdf".into(), "application/pdf", doc(1)),
        ("ref/a/2.txt".into(), "text/plain", doc(2)),
        ("ref/b/3.pdf".into(), "application/pdf", doc(3)),
        ("ref/c.pdf".into(), "application/pdf", doc(4)),
        ("ref/skip/5.pdf".into(), "application/pdf", doc(5)),
        ("ref/z.json".into(), "application/json", doc(6)),
        ("other/6.pdf".into(), "application/pdf", doc(7)),
    ];
    put_all(&e, "docs-int", &objects);
}

#[test]
fn globs_select_and_copies_keep_content_and_content_type() {
    let gcs = FakeGcs::start();
    small_world(&gcs);
    let e = gcs.endpoint();
    let run = seed(
        &e,
        &[
            "--source-bucket",
            "gs://docs-int/ref",
            "--dest-bucket",
            "gs://docs-sbx",
            "--pr-number",
            "7",
            "--include",
            "**/*.pdf",
            "--exclude",
            "skip/**",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert_eq!(run.output("objects_copied"), "3");
    assert_eq!(run.output("objects_skipped"), "0");
    let expected_bytes: usize = [1, 3, 4].iter().map(|&i| doc(i).len()).sum();
    assert_eq!(run.output("bytes_copied"), expected_bytes.to_string());

    let dest = listing(&e, "docs-sbx", "");
    let names: Vec<&str> = dest.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["sbx-pr-7/a/1.pdf", "sbx-pr-7/b/3.pdf", "sbx-pr-7/c.pdf"]
    );
    assert!(
        dest.values().all(|(_, ct, _)| ct == "application/pdf"),
        "{dest:?}"
    );
    let names: Vec<String> = dest.keys().cloned().collect();
    let bodies = download_all(&e, "docs-sbx", &names);
    assert_eq!(bodies["sbx-pr-7/a/1.pdf"], doc(1));
    assert_eq!(bodies["sbx-pr-7/b/3.pdf"], doc(3));
    assert_eq!(bodies["sbx-pr-7/c.pdf"], doc(4));

    // A rerun finds everything in place and copies nothing.
    let again = seed(
        &e,
        &[
            "--source-bucket",
            "gs://docs-int/ref",
            "--dest-bucket",
            "gs://docs-sbx",
            "--pr-number",
            "7",
            "--include",
            "**/*.pdf",
            "--exclude",
            "skip/**",
        ],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.output("objects_copied"), "0");
    assert_eq!(again.output("objects_skipped"), "3");
    assert_eq!(listing(&e, "docs-sbx", ""), dest);
}

#[test]
fn limits_take_the_first_objects_in_name_order() {
    let gcs = FakeGcs::start();
    small_world(&gcs);
    let e = gcs.endpoint();
    let run = seed(
        &e,
        &[
            "--source-bucket",
            "gs://docs-int/ref/",
            "--dest-bucket",
            "gs://docs-sbx/sbx-pr-8/",
            "--environment",
            "sbx-pr-8",
            "--max-objects",
            "2",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let names: Vec<String> = listing(&e, "docs-sbx", "").into_keys().collect();
    assert_eq!(names, ["sbx-pr-8/a/1.pdf", "sbx-pr-8/a/2.txt"]);
    assert_eq!(
        listing(&e, "docs-sbx", "")["sbx-pr-8/a/2.txt"].1,
        "text/plain"
    );

    let budget = doc(1).len() + doc(2).len() + doc(3).len() + 1;
    let run = seed(
        &e,
        &[
            "--source-bucket",
            "gs://docs-int/ref/",
            "--dest-bucket",
            "gs://docs-sbx/sbx-pr-9/",
            "--environment",
            "sbx-pr-9",
            "--max-bytes",
            &budget.to_string(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let names: Vec<String> = listing(&e, "docs-sbx", "sbx-pr-9/").into_keys().collect();
    assert_eq!(
        names,
        ["sbx-pr-9/a/1.pdf", "sbx-pr-9/a/2.txt", "sbx-pr-9/b/3.pdf"]
    );

    // Everything was written seconds ago: a day's window takes all, and
    // nothing is older than that.
    let run = seed(
        &e,
        &[
            "--source-bucket",
            "gs://docs-int/ref/",
            "--dest-bucket",
            "gs://docs-sbx/sbx-pr-10/",
            "--environment",
            "sbx-pr-10",
            "--newer-than",
            "1d",
            "--dry-run",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.output("objects_to_copy"), "6");
}

#[test]
fn dry_run_shows_the_plan_and_touches_nothing() {
    let gcs = FakeGcs::start();
    small_world(&gcs);
    let e = gcs.endpoint();
    let run = seed(
        &e,
        &[
            "--source-bucket",
            "gs://docs-int/ref",
            "--dest-bucket",
            "gs://docs-sbx",
            "--pr-number",
            "7",
            "--dry-run",
            "--show",
            "2",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.output("objects_to_copy"), "6");
    assert_eq!(run.output("objects_copied"), "0");
    assert_eq!(run.output("first_objects"), r#"["a/1.pdf","a/2.txt"]"#);
    assert!(
        run.stderr.contains("would copy gs://docs-int/ref/a/1.pdf"),
        "{}",
        run.stderr
    );
    assert!(listing(&e, "docs-sbx", "").is_empty());
}

#[test]
fn a_changed_destination_object_is_left_alone_unless_asked() {
    let gcs = FakeGcs::start();
    small_world(&gcs);
    let e = gcs.endpoint();
    put_all(
        &e,
        "docs-sbx",
        &[
            (
                "sbx-pr-7/c.pdf".into(),
                "application/pdf",
                b"edited in the sandbox".to_vec(),
            ),
            (
                "sbx-pr-7/mine.txt".into(),
                "text/plain",
                b"the sandbox's own".to_vec(),
            ),
        ],
    );
    let args = [
        "--source-bucket",
        "gs://docs-int/ref",
        "--dest-bucket",
        "gs://docs-sbx",
        "--pr-number",
        "7",
        "--include",
        "*.pdf",
    ];
    let run = seed(&e, &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.output("objects_conflicting"), "1");
    assert_eq!(run.output("objects_copied"), "0");
    let names: Vec<String> = vec!["sbx-pr-7/c.pdf".into(), "sbx-pr-7/mine.txt".into()];
    let bodies = download_all(&e, "docs-sbx", &names);
    assert_eq!(bodies["sbx-pr-7/c.pdf"], b"edited in the sandbox");
    assert_eq!(bodies["sbx-pr-7/mine.txt"], b"the sandbox's own");

    let mut forced = args.to_vec();
    forced.push("--overwrite-changed");
    let run = seed(&e, &forced);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.output("objects_copied"), "1");
    let bodies = download_all(&e, "docs-sbx", &names);
    assert_eq!(bodies["sbx-pr-7/c.pdf"], doc(4));
    assert_eq!(
        bodies["sbx-pr-7/mine.txt"], b"the sandbox's own",
        "never touched"
    );
}

#[test]
fn hostile_input_gets_the_right_exit_codes() {
    let gcs = FakeGcs::start();
    small_world(&gcs);
    let e = gcs.endpoint();
    let base = |src: &str, dst: &str| {
        vec![
            "--source-bucket".to_string(),
            src.into(),
            "--dest-bucket".into(),
            dst.into(),
            "--pr-number".into(),
            "7".into(),
        ]
    };
    let case = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        seed(&e, &refs)
    };
    // Bucket names breaking GCS rules, and traversal, are invalid: exit 2,
    // every problem listed.
    let run = case(base("gs://Docs_INT/ref", "gs://goog-sbx/../x"));
    assert_eq!(run.code, 2, "{}", run.result);
    let fields: Vec<&str> = run.result["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"source_bucket") && fields.contains(&"dest_bucket"),
        "{fields:?}"
    );
    assert!(
        run.result["error"]["details"]
            .to_string()
            .contains("path-traversal")
    );
    // Onto the source, or outside the environment: refused, exit 5.
    assert_eq!(
        case(base("gs://docs-int/ref", "gs://docs-int/ref/sbx-pr-7/")).code,
        5
    );
    assert_eq!(case(base("gs://docs-int/ref", "gs://docs-int/ref")).code, 5);
    assert_eq!(
        case(base("gs://docs-int/ref", "gs://docs-sbx/shared/")).code,
        5
    );
    // Globs that match nothing: a clear message and exit 0, or exit 3 when
    // objects are required.
    let mut nothing = base("gs://docs-int/ref", "gs://docs-sbx");
    nothing.extend(["--include".into(), "*.docx".into()]);
    let run = case(nothing.clone());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.output("objects_copied"), "0");
    assert!(
        run.stderr.contains(
            "no object under gs://docs-int/ref/ matches the selection (--include *.docx)"
        ),
        "{}",
        run.stderr
    );
    nothing.push("--require-objects".into());
    let run = case(nothing);
    assert_eq!(run.code, 3, "{}", run.result);
    assert_eq!(run.result["error"]["kind"], "precondition");
    // A source bucket that does not exist: exit 3 naming it and the identity.
    let run = case(base("gs://no-such-docs/ref", "gs://docs-sbx"));
    assert_eq!(run.code, 3, "{}", run.result);
    let message = run.result["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("gs://no-such-docs") && message.contains("anonymous"),
        "{message}"
    );
    // A destination bucket that does not exist: exit 3 too.
    assert_eq!(case(base("gs://docs-int/ref", "gs://no-such-sbx")).code, 3);
    assert!(
        listing(&e, "docs-sbx", "").is_empty(),
        "nothing written by any of these"
    );
}

#[test]
fn file_locations_have_the_same_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("docs");
    for (key, body) in [("a/1.pdf", doc(1)), ("a/2.txt", doc(2)), ("b.pdf", doc(3))] {
        let p = src.join(key);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    let dst = dir.path().join("sbx-pr-7");
    let args = [
        "--source-bucket".to_string(),
        format!("file://{}", src.display()),
        "--dest-bucket".into(),
        format!("file://{}", dst.display()),
        "--pr-number".into(),
        "7".into(),
        "--include".into(),
        "**/*.pdf".into(),
    ];
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = seed("http://127.0.0.1:9", &refs);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.output("objects_copied"), "2");
    assert_eq!(std::fs::read(dst.join("a/1.pdf")).unwrap(), doc(1));
    assert_eq!(std::fs::read(dst.join("b.pdf")).unwrap(), doc(3));
    assert!(!dst.join("a/2.txt").exists());
    let again = seed("http://127.0.0.1:9", &refs);
    assert_eq!(again.output("objects_skipped"), "2", "{}", again.stderr);
    assert_eq!(again.output("objects_copied"), "0");
}

/// Regression: a `file://` source skipped a file whose name is not UTF-8
/// with a warning on stderr only and exit 0. The outputs now count and name
/// what was left out. Issue 12, "Real repositories".
#[test]
fn source_files_whose_names_are_not_utf8_are_counted_and_named_in_the_outputs() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("docs");
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::write(src.join("a/1.pdf"), doc(1)).unwrap();
    std::fs::write(
        src.join("a")
            .join(std::ffi::OsStr::from_bytes(b"r\xe9sum\xe9.pdf")),
        doc(2),
    )
    .unwrap();
    std::fs::write(src.join(std::ffi::OsStr::from_bytes(b"\xff.txt")), doc(3)).unwrap();
    let dst = dir.path().join("sbx-pr-7");
    let args = [
        "--source-bucket".to_string(),
        format!("file://{}", src.display()),
        "--dest-bucket".into(),
        format!("file://{}", dst.display()),
        "--pr-number".into(),
        "7".into(),
        "--include".into(),
        "**/*.pdf".into(),
    ];
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = seed("http://127.0.0.1:9", &refs);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.output("objects_copied"), "1");
    assert_eq!(run.output("objects_not_utf8"), "1", "only the selected one");
    let names: Vec<String> = serde_json::from_str(&run.output("not_utf8_names")).unwrap();
    assert_eq!(names, ["a/r\\xE9sum\\xE9.pdf"]);
    assert!(run.stderr.contains("not UTF-8"), "{}", run.stderr);

    let clean = dir.path().join("clean");
    std::fs::create_dir_all(&clean).unwrap();
    std::fs::write(clean.join("x.pdf"), doc(4)).unwrap();
    let args = [
        "--source-bucket".to_string(),
        format!("file://{}", clean.display()),
        "--dest-bucket".into(),
        format!("file://{}", dst.display()),
        "--pr-number".into(),
        "7".into(),
    ];
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = seed("http://127.0.0.1:9", &refs);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.output("objects_not_utf8"), "0");
    assert_eq!(run.output("not_utf8_names"), "[]");
}

fn many(n: usize) -> Vec<(String, &'static str, Vec<u8>)> {
    (0..n)
        .map(|i| {
            (
                format!("ref/{:03}/doc-{i:05}.txt", i % 97),
                "text/plain",
                doc(i),
            )
        })
        .collect()
}

fn assert_exact_copy(e: &str, objects: &[(String, &str, Vec<u8>)], dest_prefix: &str) {
    let dest = listing(e, "docs-sbx", "");
    let expected: Vec<String> = objects
        .iter()
        .map(|(name, _, _)| name.replacen("ref/", dest_prefix, 1))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let got: Vec<String> = dest.keys().cloned().collect();
    assert_eq!(got.len(), expected.len(), "object count");
    assert_eq!(got, expected);
    let bodies = download_all(e, "docs-sbx", &got);
    for (name, _, body) in objects {
        let copy = name.replacen("ref/", dest_prefix, 1);
        assert!(bodies[&copy] == *body, "{copy} differs");
        assert_eq!(dest[&copy].1, "text/plain");
    }
}

#[test]
fn emulator_stopped_mid_copy_exits_4_and_a_rerun_completes() {
    let mut gcs = FakeGcs::start_with(Backend::Filesystem);
    let e = gcs.endpoint();
    make_bucket(&e, "docs-int");
    make_bucket(&e, "docs-sbx");
    let objects = many(1000);
    put_all(&e, "docs-int", &objects);
    let outputs = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("seed-bucket"))
        .env_remove("STORAGE_EMULATOR_HOST")
        .env("SANDBOX_LOG_FORMAT", "text")
        .args([
            "--endpoint",
            &e,
            "--source-bucket",
            "gs://docs-int/ref",
            "--dest-bucket",
            "gs://docs-sbx",
            "--pr-number",
            "7",
            "--concurrency",
            "4",
            "--retry-attempts",
            "4",
            "--outputs-dir",
        ])
        .arg(outputs.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until copying is under way, then stop the emulator under it.
    let started = Instant::now();
    loop {
        let copied = listing(&e, "docs-sbx", "").len();
        if copied >= 50 {
            assert!(
                copied < objects.len(),
                "copy finished before the crash: make it bigger"
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no copy started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    gcs.stop();
    let status = wait(&mut child, Duration::from_secs(60));
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert_eq!(status, Some(4), "{stdout}");
    assert!(stdout.contains(r#""kind":"transient""#), "{stdout}");

    gcs.restart();
    // The restarted emulator answers before its filesystem backend shows
    // every bucket again, and a bucket can answer once and then not while
    // it reloads; wait, bounded, until both buckets' listings answer three
    // times in a row, as a client would after a server restart.
    let listed = |bucket: &str| {
        std::process::Command::new("curl")
            .args([
                "-sf",
                "-o",
                "/dev/null",
                &format!("{e}/storage/v1/b/{bucket}/o"),
            ])
            .status()
            .is_ok_and(|s| s.success())
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let mut in_a_row = 0;
    while in_a_row < 3 && std::time::Instant::now() < deadline {
        if listed("docs-sbx") && listed("docs-int") {
            in_a_row += 1;
        } else {
            in_a_row = 0;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        in_a_row, 3,
        "the restarted emulator did not list both buckets within 90 s"
    );
    let run = seed(
        &e,
        &[
            "--source-bucket",
            "gs://docs-int/ref",
            "--dest-bucket",
            "gs://docs-sbx",
            "--pr-number",
            "7",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let copied: usize = run.output("objects_copied").parse().unwrap();
    let skipped: usize = run.output("objects_skipped").parse().unwrap();
    assert!(skipped >= 50, "the rerun skipped only {skipped}");
    assert_eq!(copied + skipped, objects.len());
    assert_exact_copy(&e, &objects, "sbx-pr-7/");
}

fn wait(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

/// An HTTP/1.1 proxy in front of the emulator that answers every fourth
/// request with 503 and every seventh with 429 + `Retry-After: 1`, and
/// passes the rest on (one request per connection).
struct FaultyProxy {
    port: u16,
    faults: Arc<AtomicU64>,
}

impl FaultyProxy {
    fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let faults = Arc::new(AtomicU64::new(0));
        let seen = Arc::new(AtomicU64::new(0));
        let f = Arc::clone(&faults);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (seen, faults) = (Arc::clone(&seen), Arc::clone(&f));
                std::thread::spawn(move || {
                    let _ = serve(conn, upstream, &seen, &faults);
                });
            }
        });
        FaultyProxy { port, faults }
    }
}

fn serve(
    mut client: TcpStream,
    upstream: u16,
    seen: &AtomicU64,
    faults: &AtomicU64,
) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    loop {
        // Read one request: head, then Content-Length bytes of body.
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if client.read(&mut byte)? == 0 {
                return Ok(());
            }
            head.push(byte[0]);
            if head.len() > 64 * 1024 {
                return Ok(());
            }
        }
        let text = String::from_utf8_lossy(&head).to_string();
        let length: usize = text
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap_or(0))
            })
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        client.read_exact(&mut body)?;
        let n = seen.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(4) {
            faults.fetch_add(1, Ordering::Relaxed);
            client.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")?;
            continue;
        }
        if n.is_multiple_of(7) {
            faults.fetch_add(1, Ordering::Relaxed);
            client.write_all(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: 45\r\n\r\n{\"error\":{\"code\":429,\"message\":\"slow down\"}}\n")?;
            continue;
        }
        // Pass it on, asking the server to close after answering, and
        // relay the answer until it does.
        let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
        let first_line_end = text.find("\r\n").unwrap() + 2;
        let mut forwarded = Vec::new();
        forwarded.extend_from_slice(&text.as_bytes()[..first_line_end]);
        forwarded.extend_from_slice(b"Connection: close\r\n");
        for line in text[first_line_end..].split("\r\n") {
            if !line.is_empty() && !line.to_ascii_lowercase().starts_with("connection:") {
                forwarded.extend_from_slice(line.as_bytes());
                forwarded.extend_from_slice(b"\r\n");
            }
        }
        forwarded.extend_from_slice(b"\r\n");
        forwarded.extend_from_slice(&body);
        server.write_all(&forwarded)?;
        std::io::copy(&mut server, &mut client)?;
        return Ok(());
    }
}

#[test]
fn throttling_and_unavailability_are_retried_until_done() {
    let gcs = FakeGcs::start();
    let e = gcs.endpoint();
    make_bucket(&e, "docs-int");
    make_bucket(&e, "docs-sbx");
    let objects = many(150);
    put_all(&e, "docs-int", &objects);
    let proxy = FaultyProxy::start(gcs.port());
    let run = seed(
        &format!("http://127.0.0.1:{}", proxy.port),
        &[
            "--source-bucket",
            "gs://docs-int/ref",
            "--dest-bucket",
            "gs://docs-sbx",
            "--pr-number",
            "7",
            "--concurrency",
            "8",
            "--retry-attempts",
            "8",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.result, run.stderr);
    assert!(
        proxy.faults.load(Ordering::Relaxed) >= 20,
        "the proxy hardly interfered"
    );
    assert!(run.stderr.contains("retrying"), "no retry logged");
    assert_eq!(run.output("objects_copied"), "150");
    assert_exact_copy(&e, &objects, "sbx-pr-7/");
}

/// Issue 12, "the whole name": PR 42's copy never writes into PR 420's or
/// PR 4's prefix or bucket, and PR 4's never into PR 42's; a bare shared
/// bucket gets exactly `sbx-pr-42/` and the neighbours' objects stay as
/// they were.
#[test]
fn pr_42_never_writes_where_pr_420_or_pr_4_live() {
    let gcs = FakeGcs::start();
    small_world(&gcs);
    let e = gcs.endpoint();
    make_bucket(&e, "docs-sbx-pr-420");
    let neighbours: Vec<(String, &str, Vec<u8>)> = ["sbx-pr-420/a/1.pdf", "sbx-pr-4/a/1.pdf"]
        .iter()
        .map(|n| (n.to_string(), "text/plain", b"neighbour".to_vec()))
        .collect();
    put_all(&e, "docs-sbx", &neighbours);
    let before = listing(&e, "docs-sbx", "");
    for (pr, dest) in [
        ("42", "gs://docs-sbx/sbx-pr-420/"),
        ("42", "gs://docs-sbx/sbx-pr-4/"),
        ("42", "gs://docs-sbx-pr-420/x/"),
        ("4", "gs://docs-sbx/sbx-pr-42/"),
        ("4", "gs://docs-sbx/sbx-pr-420/"),
    ] {
        let run = seed(
            &e,
            &[
                "--source-bucket",
                "gs://docs-int/ref",
                "--dest-bucket",
                dest,
                "--pr-number",
                pr,
            ],
        );
        assert_eq!(run.code, 5, "PR {pr} into {dest}: {}", run.result);
        assert_eq!(
            run.result["error"]["details"][0]["rule"], "foreign-destination",
            "PR {pr} into {dest}"
        );
    }
    assert_eq!(listing(&e, "docs-sbx", ""), before, "nothing written");
    assert!(listing(&e, "docs-sbx-pr-420", "").is_empty());

    let run = seed(
        &e,
        &[
            "--source-bucket",
            "gs://docs-int/ref",
            "--dest-bucket",
            "gs://docs-sbx",
            "--pr-number",
            "42",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let after = listing(&e, "docs-sbx", "");
    for (name, meta) in &before {
        assert_eq!(after.get(name), Some(meta), "{name} changed");
    }
    let new: Vec<&String> = after.keys().filter(|n| !before.contains_key(*n)).collect();
    assert!(!new.is_empty());
    assert!(new.iter().all(|n| n.starts_with("sbx-pr-42/")), "{new:?}");
}
