//! The embedded key tables must be exactly what the upstream schemas give.

use super::common;

use sandbox_cli::schema::{Family, Schema};

#[test]
fn embedded_tables_agree_with_the_fixture_schemas() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    for family in [Family::Argo, Family::Events] {
        let text =
            std::fs::read_to_string(fixtures.join(family.fixture_schema())).expect("read schema");
        let doc: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
        let derived = Schema::from_json_schema(family, &doc)
            .expect("derive")
            .to_table();
        let file = common::crate_dir()
            .join("src/schema")
            .join(family.table_file());
        if std::env::var_os(sandbox_core::env_vars::UPDATE_TABLES).is_some() {
            std::fs::write(&file, &derived).expect("write table");
            continue;
        }
        assert!(
            derived == family.table(),
            "{} is stale: regenerate with SANDBOX_UPDATE_TABLES=1 cargo test -p sandbox-cli --test it schema_tables",
            file.display()
        );
    }
}
