//! The warm pool against a real PostgreSQL: members prepared from a
//! pg_dump backup and kept on a rerun, claims that rename each member
//! once, a stale or empty pool that says why, and a shrink that drops only
//! what a restore made.

use sandbox_core::params::BucketUrl;
use sandbox_db::admin::{Admin, work_names};
use sandbox_db::discovery::Backup;
use sandbox_db::pipeline::{ByteCounter, RestoreOptions};
use sandbox_db::pool::{self, Claim, Prepared};
use sandbox_db::restore::Restore;
use sandbox_db::server::Server;
use sandbox_harness::Postgres;
use sandbox_storage::{Storage, StorageConfig};
use std::path::Path;
use std::process::Command;

fn dump(pg: &Postgres, rows: u32, file: &Path) {
    pg.psql("postgres", "DROP DATABASE IF EXISTS shop");
    pg.psql("postgres", "CREATE DATABASE shop");
    pg.psql(
        "shop",
        &format!(
            "CREATE TABLE orders (id int PRIMARY KEY, note text); \
             INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, {rows}) g"
        ),
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
async fn members_are_prepared_kept_claimed_once_and_shrunk() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    dump(&pg, 500, &dir.path().join("a.dump"));
    let storage = Storage::new(StorageConfig::from_env(Some("http://127.0.0.1:9"))).unwrap();
    let server = Server::from_url(&pg.url("postgres")).unwrap();
    let mut admin = Admin::connect(&server).await.unwrap();
    let first = backup(&storage, dir.path(), "a.dump").await;
    let options = RestoreOptions::default();
    let restore = Restore {
        server: &server,
        target: "",
        owner: None,
        options: &options,
        jobs: 1,
        temp_dir: dir.path(),
        post_sql: &[],
    };
    let mut prepare = async |backup: &Backup, k: u32| {
        let name = pool::member_name("sbx_pool", k);
        pool::prepare_one(
            &mut admin,
            &storage,
            backup,
            &name,
            &restore,
            &ByteCounter::default(),
        )
        .await
        .unwrap()
    };
    for k in 1..=3 {
        assert_eq!(
            prepare(&first, k).await,
            Prepared::Restored(format!("sbx_pool_{k}"))
        );
    }
    assert_eq!(
        prepare(&first, 2).await,
        Prepared::Kept("sbx_pool_2".into())
    );
    for k in 1..=3 {
        assert_eq!(
            pg.psql(
                &format!("sbx_pool_{k}"),
                "SELECT count(*), sum(id) FROM orders"
            ),
            "500|125250"
        );
    }

    // An empty pool and an unknown prefix fall back.
    let mut admin = Admin::connect(&server).await.unwrap();
    let staging = |target: &str| work_names(target).0;
    let claim = pool::claim(&mut admin, "other_pool", &first, None, &staging("sbx_pr_1"))
        .await
        .unwrap();
    assert!(
        matches!(&claim, Claim::Fallback(why) if why.contains("empty")),
        "{claim:?}"
    );

    // Each claim renames one member to the sandbox's staging name.
    let mut claimed = Vec::new();
    for pr in 1..=2 {
        match pool::claim(
            &mut admin,
            "sbx_pool",
            &first,
            None,
            &staging(&format!("sbx_pr_{pr}")),
        )
        .await
        .unwrap()
        {
            Claim::Claimed { member, marker, .. } => {
                assert!(marker.same_backup(&first));
                claimed.push(member);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(claimed, ["sbx_pool_1", "sbx_pool_2"]);
    assert_eq!(
        pg.psql(&staging("sbx_pr_2"), "SELECT count(*) FROM orders"),
        "500"
    );

    // A newer backup makes the rest of the pool stale.
    dump(&pg, 700, &dir.path().join("b.dump"));
    let second = backup(&storage, dir.path(), "b.dump").await;
    let claim = pool::claim(&mut admin, "sbx_pool", &second, None, &staging("sbx_pr_3"))
        .await
        .unwrap();
    assert!(
        matches!(&claim, Claim::Fallback(why) if why.contains("stale")),
        "{claim:?}"
    );

    // A database named like a member that no restore made is neither
    // claimed nor replaced nor dropped.
    pg.psql("postgres", "CREATE DATABASE sbx_pool_9");
    pg.psql(
        "sbx_pool_9",
        "CREATE TABLE mine (x int); INSERT INTO mine VALUES (1)",
    );
    let mut admin = Admin::connect(&server).await.unwrap();
    let restore_run = Restore { ..restore.clone() };
    let refused = pool::prepare_one(
        &mut admin,
        &storage,
        &second,
        "sbx_pool_9",
        &restore_run,
        &ByteCounter::default(),
    )
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("no restore made"), "{refused}");

    // Shrinking to one drops member 3 only.
    let dropped = pool::shrink(&mut admin, "sbx_pool", 1).await.unwrap();
    assert_eq!(dropped, ["sbx_pool_3"]);
    let names = pg.psql(
        "postgres",
        "SELECT string_agg(datname, ',' ORDER BY datname COLLATE \"C\") FROM pg_database WHERE datname LIKE 'sbx%'",
    );
    assert_eq!(
        names,
        format!("sbx_pool_9,{},{}", staging("sbx_pr_1"), staging("sbx_pr_2"))
    );
}
