//! Property tests of sandbox-core's name types against the real systems
//! they must satisfy: every accepted `DatabaseName` round-trips through
//! quoting in a real PostgreSQL.

use proptest::prelude::*;
use sandbox_core::params::DatabaseName;
use sandbox_harness::Postgres;

#[test]
fn accepted_database_names_round_trip_through_postgres_quoting() {
    let pg = Postgres::start();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    });
    // Mostly plausible names, with hostile characters mixed in so some are refused.
    let strategy = prop_oneof!["[a-z_][a-z0-9_]{0,70}", "[a-z_][a-z0-9_\"; A-Z$-]{0,10}"];
    let accepted = std::cell::RefCell::new(Vec::new());
    runner
        .run(&strategy, |candidate| {
            if let Ok(name) = DatabaseName::parse(&candidate) {
                accepted.borrow_mut().push(name);
            }
            Ok(())
        })
        .unwrap();
    let accepted = accepted.into_inner();
    assert!(
        accepted.len() >= 10,
        "too few accepted samples: {}",
        accepted.len()
    );
    // A column alias goes through the same identifier quoting as CREATE DATABASE.
    for name in &accepted {
        let out = std::process::Command::new(pg.bin("psql"))
            .args([
                "-X",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &pg.url("postgres"),
                "-c",
            ])
            .arg(format!("select 1 as {}", name.quoted()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let header = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        assert_eq!(header, name.as_str());
    }
    // And a few real databases, created and found under exactly their names.
    for name in accepted.iter().take(5) {
        pg.psql("postgres", &format!("create database {}", name.quoted()));
        let found = pg.psql(
            "postgres",
            &format!(
                "select count(*) from pg_database where datname = '{}'",
                name.as_str()
            ),
        );
        assert_eq!(found, "1", "{name}");
    }
}
