//! The backup's table of contents: which tables it holds and, where the
//! dump tells, how many rows. For a plain dump the [`crate::plain`] scanner
//! learns it on the way; for a custom dump `pg_restore -l` reads it from the
//! archive's head, which the pipeline keeps a copy of.

use crate::DbError;
use crate::error::ToolFailure;
use serde::Serialize;
use std::path::Path;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// A table in the backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableEntry {
    /// Its schema.
    pub schema: String,
    /// Its name, unquoted.
    pub name: String,
    /// Rows in its data, when the dump tells (plain dumps do).
    pub rows: Option<u64>,
}

/// How much of a custom archive's head is kept for `pg_restore -l`. The
/// table of contents comes first and is small (a few KiB for dozens of
/// tables); data follows it.
pub const HEAD_LIMIT: usize = 16 << 20;

/// The entry types `pg_restore -l` writes that begin with the word TABLE
/// but are not a table: its data, and a partition attached to its parent
/// (pg_dump 11+). pg_dump's `_printTocEntry` prints the entry's `desc` as
/// is, and a desc may be several words (`TABLE DATA`, `TABLE ATTACH`,
/// `INDEX ATTACH`, `FK CONSTRAINT`, `MATERIALIZED VIEW DATA`, …); only the
/// one-word `TABLE` names a table.
const NOT_TABLES: &[&str] = &["TABLE DATA ", "TABLE ATTACH "];

/// Parse the output of `pg_restore -l`: one line per entry,
/// `id; oid oid DESC schema name owner`, where DESC is the entry's type
/// (one or more words). Tables are the entries whose type is exactly
/// `TABLE`.
pub fn parse_list(list: &str) -> Vec<TableEntry> {
    let mut tables: Vec<TableEntry> = Vec::new();
    for line in list.lines() {
        if line.starts_with(';') {
            continue;
        }
        let Some((_, rest)) = line.split_once("; ") else {
            continue;
        };
        // Skip the two catalog ids.
        let mut fields = rest.splitn(3, ' ');
        let (Some(_), Some(_), Some(rest)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if NOT_TABLES.iter().any(|desc| rest.starts_with(desc)) {
            continue;
        }
        let Some(rest) = rest.strip_prefix("TABLE ") else {
            continue;
        };
        // schema, name (may contain spaces), owner (last word).
        let Some((schema, rest)) = rest.split_once(' ') else {
            continue;
        };
        let name = rest.rsplit_once(' ').map_or(rest, |(name, _owner)| name);
        if !tables.iter().any(|t| t.schema == schema && t.name == name) {
            tables.push(TableEntry {
                schema: schema.to_string(),
                name: name.to_string(),
                rows: None,
            });
        }
    }
    tables
}

/// Run `pg_restore -l` on the head of a custom archive (or on a whole
/// archive file) and return its tables.
pub async fn custom_toc(
    pg_restore: &Path,
    head: Option<&[u8]>,
    file: Option<&Path>,
) -> Result<Vec<TableEntry>, DbError> {
    let mut cmd = tokio::process::Command::new(pg_restore);
    cmd.arg("-l")
        .stdin(if head.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(file) = file {
        cmd.arg(file);
    }
    let mut child = cmd.spawn().map_err(|source| DbError::Spawn {
        tool: "pg_restore",
        source,
    })?;
    if let (Some(head), Some(mut stdin)) = (head, child.stdin.take()) {
        // pg_restore may stop reading once it has the TOC: a broken pipe
        // here is not an error.
        let _ = stdin.write_all(head).await;
        drop(stdin);
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|source| DbError::Spawn {
            tool: "pg_restore",
            source,
        })?;
    if !out.status.success() {
        return Err(DbError::Tool {
            tool: "pg_restore",
            failure: ToolFailure::Dump,
            message: format!(
                "cannot read the archive's table of contents: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(parse_list(&String::from_utf8_lossy(&out.stdout)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_read_from_the_list() {
        let list = ";\n; Archive created at 2026-11-27\n;\n\
216; 1259 16391 TABLE public pgbench_accounts postgres\n\
217; 1259 16394 TABLE public my table owner_x\n\
3358; 0 16391 TABLE DATA public pgbench_accounts postgres\n\
3211; 2606 16406 CONSTRAINT public pgbench_accounts pgbench_accounts_pkey postgres\n";
        let tables = parse_list(list);
        let names: Vec<_> = tables
            .iter()
            .map(|t| format!("{}.{}", t.schema, t.name))
            .collect();
        assert_eq!(names, ["public.pgbench_accounts", "public.my table"]);
    }

    /// Entry types of several words are never read as a schema: a
    /// partition's `TABLE ATTACH` is not a table in schema `ATTACH`.
    #[test]
    fn entry_types_of_several_words_are_not_tables() {
        let list = "220; 1259 16500 TABLE public payment postgres\n\
221; 1259 16503 TABLE public payment_p2022_01 postgres\n\
3400; 0 0 TABLE ATTACH public payment_p2022_01 postgres\n\
3401; 0 0 INDEX ATTACH public payment_p2022_01_paid_idx postgres\n\
3402; 0 16503 TABLE DATA public payment_p2022_01 postgres\n\
3403; 2606 16510 FK CONSTRAINT public payment payment_fk postgres\n\
3404; 0 16520 MATERIALIZED VIEW DATA public totals postgres\n";
        let names: Vec<_> = parse_list(list).into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["payment", "payment_p2022_01"]);
    }
}
