//! Whole restores into a real PostgreSQL, one per strategy, and the
//! finished-restore marker read back from the server.

use sandbox_core::params::BucketUrl;
use sandbox_db::admin::Admin;
use sandbox_db::discovery::Backup;
use sandbox_db::pipeline::{ByteCounter, RestoreOptions};
use sandbox_db::restore::{self, RestoreMarker, RestoreRun, Strategy};
use sandbox_db::server::Server;
use sandbox_harness::Postgres;
use sandbox_storage::{Storage, StorageConfig};
use std::io::Write;
use std::path::Path;
use std::process::Command;

/// A database `shop` with 500 rows, dumped in custom format to `file`.
fn dump(pg: &Postgres, file: &Path) {
    pg.psql("postgres", "CREATE DATABASE shop");
    pg.psql(
        "shop",
        "CREATE TABLE orders (id int PRIMARY KEY, note text); \
         INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 500) g",
    );
    let out = Command::new(pg.bin("pg_dump"))
        .args(["-Fc", "-d", &pg.url("shop"), "-f"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn gzip(from: &Path, to: &Path) {
    let mut out = flate2::write::GzEncoder::new(
        std::fs::File::create(to).unwrap(),
        flate2::Compression::fast(),
    );
    out.write_all(&std::fs::read(from).unwrap()).unwrap();
    out.finish().unwrap();
}

async fn backup(storage: &Storage, dir: &Path, key: &str) -> Backup {
    let location = BucketUrl::parse(&format!("file://{}", dir.display())).unwrap();
    let object = storage.stat(&location, key).await.unwrap().unwrap();
    Backup {
        location,
        object,
        time: None,
    }
}

#[tokio::test(flavor = "current_thread")]
async fn every_strategy_restores_the_same_rows() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    dump(&pg, &dir.path().join("shop.dump"));
    gzip(
        &dir.path().join("shop.dump"),
        &dir.path().join("shop.dump.gz"),
    );
    let storage = Storage::new(StorageConfig::from_env(Some("http://127.0.0.1:9"))).unwrap();
    let server = Server::from_url(&pg.url("postgres")).unwrap();
    let mut admin = Admin::connect(&server).await.unwrap();
    let options = RestoreOptions::default();
    for (database, key, jobs, strategy) in [
        ("serial", "shop.dump", 1, Strategy::Stream),
        (
            "in_place",
            "shop.dump",
            2,
            Strategy::InPlace(dir.path().join("shop.dump")),
        ),
        ("spooled", "shop.dump.gz", 2, Strategy::Spool),
    ] {
        let backup = backup(&storage, dir.path(), key).await;
        let counter = ByteCounter::default();
        let opened_format = {
            let stream = storage.read(&backup.location, key).await.unwrap();
            sandbox_db::pipeline::open(sandbox_storage::into_async_read(stream), &counter)
                .await
                .unwrap()
                .format
        };
        assert_eq!(
            Strategy::choose(opened_format, jobs, &backup.location, key),
            strategy,
            "{database}"
        );
        admin.create_database(database, None).await.unwrap();
        let run = RestoreRun {
            server: &server,
            database,
            options: &options,
            jobs,
            temp_dir: dir.path(),
        };
        let counter = ByteCounter::default();
        let report = restore::restore_backup(&storage, &backup, &run, &counter)
            .await
            .unwrap();
        assert!(
            report.tables.iter().any(|t| t.name == "orders"),
            "{database}: {:?}",
            report.tables
        );
        assert_eq!(
            pg.psql(database, "SELECT count(*), sum(id) FROM orders"),
            "500|125250",
            "{database}"
        );
        assert!(counter.get() > 0, "{database}: bytes read are counted");
    }
    // A parallel restore leaves no temporary file behind.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with("restore-db-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn the_marker_survives_the_server_and_names_its_backup_exactly() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("nightly.sql"), "SELECT 1;\n").unwrap();
    let storage = Storage::new(StorageConfig::from_env(Some("http://127.0.0.1:9"))).unwrap();
    let backup = backup(&storage, dir.path(), "nightly.sql").await;
    let server = Server::from_url(&pg.url("postgres")).unwrap();
    let mut admin = Admin::connect(&server).await.unwrap();
    admin.create_database("sbx_pr_1", None).await.unwrap();

    let marker = RestoreMarker::new(&backup, 10, 3);
    admin
        .set_comment("sbx_pr_1", &marker.to_comment())
        .await
        .unwrap();
    let comment = admin.database("sbx_pr_1").await.unwrap().unwrap().comment;
    let read = RestoreMarker::parse(comment.as_deref()).expect("a marker");
    assert_eq!(read, marker);
    assert!(read.same_backup(&backup));

    // The same name rewritten (another size) is another backup.
    let mut rewritten = backup.clone();
    rewritten.object.size += 1;
    assert!(!read.same_backup(&rewritten));

    // Someone else's comment, even in the same shape, is not a marker.
    let foreign = marker.to_comment().replace("restore-db", "pg-admin");
    admin.set_comment("sbx_pr_1", &foreign).await.unwrap();
    let comment = admin.database("sbx_pr_1").await.unwrap().unwrap().comment;
    assert_eq!(RestoreMarker::parse(comment.as_deref()), None);
    assert_eq!(RestoreMarker::parse(Some("nightly restore")), None);
    assert_eq!(RestoreMarker::parse(None), None);
}

#[tokio::test(flavor = "current_thread")]
async fn the_target_decides_whether_to_restore() {
    use sandbox_db::restore::{Target, inspect_target};
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("nightly.sql"), "SELECT 1;\n").unwrap();
    let storage = Storage::new(StorageConfig::from_env(Some("http://127.0.0.1:9"))).unwrap();
    let backup = backup(&storage, dir.path(), "nightly.sql").await;
    let server = Server::from_url(&pg.url("postgres")).unwrap();
    let mut admin = Admin::connect(&server).await.unwrap();
    let mut inspect = async |replace: bool| {
        inspect_target(&mut admin, &server, "sbx_pr_2", &backup, replace)
            .await
            .unwrap()
    };
    assert_eq!(inspect(false).await, Target::Absent);

    pg.psql("postgres", "CREATE DATABASE sbx_pr_2");
    let replace = Target::Replace {
        owner: "postgres".into(),
    };
    assert_eq!(inspect(false).await, replace, "empty: replaced");

    pg.psql(
        "sbx_pr_2",
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1)",
    );
    assert_eq!(inspect(false).await, Target::HoldsData);
    assert_eq!(inspect(true).await, replace, "asked to replace data");

    let marker = RestoreMarker::new(&backup, 10, 1);
    pg.psql(
        "postgres",
        &format!(
            "COMMENT ON DATABASE sbx_pr_2 IS '{}'",
            marker.to_comment().replace('\'', "''")
        ),
    );
    assert_eq!(inspect(false).await, Target::Restored(marker));
    assert_eq!(inspect(true).await, replace, "asked to restore again");
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_restore_leaves_the_target_as_it_was_and_no_staging_database() {
    use sandbox_db::restore::{Restore, Target, inspect_target, restore_and_swap};
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    dump(&pg, &dir.path().join("shop.dump"));
    let storage = Storage::new(StorageConfig::from_env(Some("http://127.0.0.1:9"))).unwrap();
    let backup = backup(&storage, dir.path(), "shop.dump").await;
    let server = Server::from_url(&pg.url("postgres")).unwrap();
    let mut admin = Admin::connect(&server).await.unwrap();
    pg.psql("postgres", "CREATE DATABASE sbx_pr_3");
    pg.psql("sbx_pr_3", "CREATE TABLE kept (id int)");
    let options = RestoreOptions::default();
    let failing_sql = [(
        "bad.sql".to_string(),
        "SELECT no_such_column FROM orders".to_string(),
    )];
    let mut restore = Restore {
        server: &server,
        target: "sbx_pr_3",
        owner: None,
        options: &options,
        jobs: 1,
        temp_dir: dir.path(),
        post_sql: &failing_sql,
    };
    let existing = inspect_target(&mut admin, &server, "sbx_pr_3", &backup, true)
        .await
        .unwrap();
    assert!(existing.exists());
    let err = restore_and_swap(
        &mut admin,
        &storage,
        &backup,
        &restore,
        &existing,
        &ByteCounter::default(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("bad.sql") || format!("{err:?}").contains("no_such_column"),
        "{err:?}"
    );
    let databases = pg.psql("postgres", "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname LIKE 'sbx_pr_3%'");
    assert_eq!(databases, "sbx_pr_3", "no staging database left");
    assert_eq!(
        pg.psql(
            "sbx_pr_3",
            "SELECT count(*) FROM pg_tables WHERE tablename = 'kept'"
        ),
        "1"
    );

    restore.post_sql = &[];
    let done = restore_and_swap(
        &mut admin,
        &storage,
        &backup,
        &restore,
        &existing,
        &ByteCounter::default(),
    )
    .await
    .unwrap();
    assert_eq!(done.marker.tables_restored, 1);
    assert_eq!(pg.psql("sbx_pr_3", "SELECT count(*) FROM orders"), "500");
    let databases = pg.psql("postgres", "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname LIKE 'sbx_pr_3%'");
    assert_eq!(databases, "sbx_pr_3", "the replaced database is dropped");
    assert_eq!(
        inspect_target(&mut admin, &server, "sbx_pr_3", &backup, false)
            .await
            .unwrap(),
        Target::Restored(done.marker)
    );
}
