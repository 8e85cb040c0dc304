//! A pass over a plain-SQL dump as it streams to psql: it learns the tables
//! and their row counts (the dump's table of contents), notices a dump cut
//! short, drops ownership statements for `--no-owner`, and stops a dump that
//! would switch to another database (`pg_dump -C` writes `\connect`).
//!
//! Only statement lines are looked at one by one; `COPY` data, nearly all of
//! the bytes, is passed through with a vectorised search for its end marker.

use crate::DbError;
use crate::toc::TableEntry;
use memchr::memmem;

/// The line that ends the data of a `COPY … FROM stdin;`.
const END_OF_COPY: &[u8] = b"\n\\.\n";

/// What pg_dump writes first and last in a plain dump.
const HEADER: &[u8] = b"-- PostgreSQL database dump";
const TRAILER: &[u8] = b"-- PostgreSQL database dump complete";

#[derive(Debug)]
enum State {
    Sql,
    /// Inside the data of the table at this index of `tables`.
    Copy(usize),
}

/// The scanner. Feed it the dump in chunks of any size; it appends what psql
/// should get to `out`.
#[derive(Debug)]
pub struct PlainScanner {
    no_owner: bool,
    state: State,
    /// A statement line cut by a chunk boundary.
    line: Vec<u8>,
    /// The last bytes of COPY data seen, to find an end marker cut by a
    /// chunk boundary. Starts as a newline: the COPY line ended with one.
    tail: Vec<u8>,
    tables: Vec<TableEntry>,
    lines_seen: u64,
    header: bool,
    trailer: bool,
}

/// What the scan learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainSummary {
    /// Every table the dump creates, with the rows its COPY holds.
    pub tables: Vec<TableEntry>,
}

impl PlainScanner {
    /// A scanner; `no_owner` drops `ALTER … OWNER TO` and `SET SESSION
    /// AUTHORIZATION` so the restoring role owns everything.
    pub fn new(no_owner: bool) -> Self {
        PlainScanner {
            no_owner,
            state: State::Sql,
            line: Vec::new(),
            tail: Vec::new(),
            tables: Vec::new(),
            lines_seen: 0,
            header: false,
            trailer: false,
        }
    }

    /// Scan `input`, appending the bytes psql gets to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), DbError> {
        while !input.is_empty() {
            match self.state {
                State::Sql => match memchr::memchr(b'\n', input) {
                    Some(i) => {
                        self.line.extend_from_slice(&input[..=i]);
                        input = &input[i + 1..];
                        self.statement_line(out)?;
                    }
                    None => {
                        self.line.extend_from_slice(input);
                        input = &[];
                    }
                },
                State::Copy(table) => {
                    let (consumed, done) = self.copy_data(table, input);
                    out.extend_from_slice(&input[..consumed]);
                    input = &input[consumed..];
                    if done {
                        self.state = State::Sql;
                        self.tail.clear();
                    }
                }
            }
        }
        Ok(())
    }

    /// Count the rows in `input` up to the end marker; returns the bytes
    /// consumed and whether the marker was found.
    fn copy_data(&mut self, table: usize, input: &[u8]) -> (usize, bool) {
        // A marker that began in the previous chunk.
        for k in (1..END_OF_COPY.len()).rev() {
            if self.tail.ends_with(&END_OF_COPY[..k]) && input.starts_with(&END_OF_COPY[k..]) {
                return (END_OF_COPY.len() - k, true);
            }
        }
        let rows = &mut self.tables[table].rows;
        match memmem::find(input, END_OF_COPY) {
            Some(at) => {
                // The marker's first newline ends the last row.
                *rows = Some(
                    rows.unwrap_or(0) + memchr::memchr_iter(b'\n', &input[..=at]).count() as u64,
                );
                (at + END_OF_COPY.len(), true)
            }
            None => {
                *rows = Some(rows.unwrap_or(0) + memchr::memchr_iter(b'\n', input).count() as u64);
                let keep = END_OF_COPY.len() - 1;
                if input.len() >= keep {
                    self.tail.clear();
                    self.tail.extend_from_slice(&input[input.len() - keep..]);
                } else {
                    self.tail.extend_from_slice(input);
                    let excess = self.tail.len().saturating_sub(keep);
                    self.tail.drain(..excess);
                }
                (input.len(), false)
            }
        }
    }

    fn statement_line(&mut self, out: &mut Vec<u8>) -> Result<(), DbError> {
        let line = std::mem::take(&mut self.line);
        self.lines_seen += 1;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let mut keep = true;
        if text == HEADER {
            // A dump made of several pg_dump runs (schema, then data)
            // has a header per part, and each part must end in its own
            // trailer: a trailer seen before this header says nothing of
            // this part.
            self.header = true;
            self.trailer = false;
        } else if text == TRAILER {
            self.trailer = true;
        } else if text.starts_with(b"\\connect") || text.starts_with(b"\\c ") {
            return Err(DbError::LeavesTarget(
                "it switches databases with \\connect (was it made with pg_dump -C?)".into(),
            ));
        } else if starts_with_words(text, &["CREATE", "DATABASE"])
            || starts_with_words(text, &["DROP", "DATABASE"])
            || starts_with_words(text, &["ALTER", "DATABASE"])
        {
            return Err(DbError::LeavesTarget(format!(
                "it contains `{}` (was it made with pg_dump -C?)",
                String::from_utf8_lossy(&text[..text.len().min(80)])
            )));
        } else if let Some(name) = copy_from_stdin(text) {
            let index = self.table_index(&name);
            self.tables[index].rows.get_or_insert(0);
            self.state = State::Copy(index);
            self.tail.clear();
            self.tail.push(b'\n');
        } else if let Some(name) = create_table(text) {
            self.table_index(&name);
        } else if self.no_owner
            && ((text.starts_with(b"ALTER ") && memmem::find(text, b" OWNER TO ").is_some())
                || text.starts_with(b"SET SESSION AUTHORIZATION"))
        {
            keep = false;
        }
        if keep {
            out.extend_from_slice(&line);
        }
        self.line = line;
        self.line.clear();
        Ok(())
    }

    fn table_index(&mut self, qualified: &str) -> usize {
        let (schema, name) = split_qualified(qualified);
        if let Some(i) = self
            .tables
            .iter()
            .position(|t| t.schema == schema && t.name == name)
        {
            return i;
        }
        self.tables.push(TableEntry {
            schema,
            name,
            rows: None,
        });
        self.tables.len() - 1
    }

    /// The end of the stream: a dump that pg_dump began must also have
    /// been ended by it.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<PlainSummary, DbError> {
        if let State::Copy(table) = self.state {
            let t = &self.tables[table];
            return Err(DbError::Truncated(format!(
                "it ends inside the data of table {}.{}",
                t.schema, t.name
            )));
        }
        if !self.line.is_empty() {
            self.line.push(b'\n');
            self.statement_line(out)?;
        }
        if self.header && !self.trailer {
            return Err(DbError::Truncated(
                "it ends before pg_dump's closing \"dump complete\" line".into(),
            ));
        }
        Ok(PlainSummary {
            tables: self.tables,
        })
    }
}

fn starts_with_words(text: &[u8], words: &[&str]) -> bool {
    let mut rest = text;
    for word in words {
        if rest.len() < word.len() || !rest[..word.len()].eq_ignore_ascii_case(word.as_bytes()) {
            return false;
        }
        rest = &rest[word.len()..];
        let spaces = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
        if spaces == 0 && !rest.is_empty() {
            return false;
        }
        rest = &rest[spaces..];
    }
    true
}

/// `COPY public.t (a, b) FROM stdin;` → `public.t`.
fn copy_from_stdin(text: &[u8]) -> Option<String> {
    let rest = text.strip_prefix(b"COPY ")?;
    if !rest.ends_with(b" FROM stdin;") {
        return None;
    }
    let rest = std::str::from_utf8(rest).ok()?;
    Some(qualified_name_prefix(rest))
}

/// `CREATE TABLE public.t (` → `public.t` (also UNLOGGED and FOREIGN-less forms).
fn create_table(text: &[u8]) -> Option<String> {
    let rest = text
        .strip_prefix(b"CREATE TABLE ")
        .or_else(|| text.strip_prefix(b"CREATE UNLOGGED TABLE "))?;
    let rest = std::str::from_utf8(rest).ok()?;
    Some(qualified_name_prefix(rest))
}

/// The leading possibly-quoted, possibly-qualified name of `s`.
fn qualified_name_prefix(s: &str) -> String {
    let mut end = 0;
    let mut quoted = false;
    let bytes = s.as_bytes();
    while end < bytes.len() {
        match bytes[end] {
            b'"' => quoted = !quoted,
            b' ' | b'(' if !quoted => break,
            _ => {}
        }
        end += 1;
    }
    s[..end].to_string()
}

/// `public."My Table"` → (`public`, `My Table`); an unqualified name is in
/// `public`.
fn split_qualified(s: &str) -> (String, String) {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    match parts.as_slice() {
        [name] => ("public".into(), name.clone()),
        [.., schema, name] => (schema.clone(), name.clone()),
        [] => ("public".into(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "--\n-- PostgreSQL database dump\n--\n\n\\restrict k\n\
SET statement_timeout = 0;\n\
CREATE TABLE public.a (\n    id integer\n);\n\
ALTER TABLE public.a OWNER TO someone;\n\
CREATE TABLE public.\"Odd \"\"name\" (\n    x text\n);\n\
CREATE TABLE public.empty (x int);\n\
COPY public.a (id) FROM stdin;\n1\n2\n3\n\\.\n\n\
COPY public.\"Odd \"\"name\" (x) FROM stdin;\nwith \\\\. inside\n\\.\n\
COPY public.empty (x) FROM stdin;\n\\.\n\
\\unrestrict k\n--\n-- PostgreSQL database dump complete\n--\n\n";

    fn scan(dump: &[u8], chunk: usize, no_owner: bool) -> Result<(PlainSummary, Vec<u8>), DbError> {
        let mut s = PlainScanner::new(no_owner);
        let mut out = Vec::new();
        for c in dump.chunks(chunk) {
            s.feed(c, &mut out)?;
        }
        let summary = s.finish(&mut out)?;
        Ok((summary, out))
    }

    fn rows(summary: &PlainSummary) -> Vec<(String, String, Option<u64>)> {
        summary
            .tables
            .iter()
            .map(|t| (t.schema.clone(), t.name.clone(), t.rows))
            .collect()
    }

    #[test]
    fn tables_and_rows_are_learnt_whatever_the_chunking() {
        let expected = vec![
            ("public".to_string(), "a".to_string(), Some(3)),
            ("public".to_string(), "Odd \"name".to_string(), Some(1)),
            ("public".to_string(), "empty".to_string(), Some(0)),
        ];
        for chunk in [1, 2, 3, 4, 5, 7, 64, 4096] {
            let (summary, out) = scan(DUMP.as_bytes(), chunk, false).unwrap();
            assert_eq!(rows(&summary), expected, "chunk {chunk}");
            assert_eq!(out, DUMP.as_bytes(), "chunk {chunk}");
        }
    }

    #[test]
    fn no_owner_drops_ownership_lines_only() {
        let (_, out) = scan(DUMP.as_bytes(), 5, true).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(!out.contains("OWNER TO"));
        assert_eq!(
            out.len(),
            DUMP.len() - "ALTER TABLE public.a OWNER TO someone;\n".len()
        );
    }

    #[test]
    fn a_cut_dump_is_truncated() {
        let cut = &DUMP[..DUMP.find("2\n3").unwrap()];
        assert!(
            matches!(scan(cut.as_bytes(), 3, false), Err(DbError::Truncated(m)) if m.contains("public.a"))
        );
        let cut = &DUMP[..DUMP.find("\\unrestrict").unwrap()];
        assert!(matches!(
            scan(cut.as_bytes(), 3, false),
            Err(DbError::Truncated(_))
        ));
    }

    /// Two parts, each with its header: the first part's trailer does not
    /// vouch for the second.
    #[test]
    fn every_part_of_a_dump_needs_its_own_trailer() {
        let two = format!("{DUMP}{DUMP}");
        assert!(scan(two.as_bytes(), 7, false).is_ok());
        let cut = &two[..DUMP.len() + DUMP.find("\\unrestrict").unwrap()];
        assert!(matches!(
            scan(cut.as_bytes(), 7, false),
            Err(DbError::Truncated(_))
        ));
    }

    #[test]
    fn switching_databases_is_refused() {
        for bad in [
            "CREATE DATABASE src WITH TEMPLATE = template0;\n",
            "\\connect src\n",
            "\\connect -reuse-previous=on \"dbname='src'\"\n",
            "drop  database x;\n",
        ] {
            let dump = format!("SET x = 1;\n{bad}SELECT 1;\n");
            assert!(
                matches!(
                    scan(dump.as_bytes(), 4, false),
                    Err(DbError::LeavesTarget(_))
                ),
                "{bad}"
            );
        }
        // Words that merely start the same are fine.
        assert!(scan(b"CREATE DATABASEX;\n", 4, false).is_ok());
    }

    #[test]
    fn sql_without_pg_dump_header_needs_no_trailer() {
        let (summary, _) = scan(
            b"CREATE TABLE t (x int);\nINSERT INTO t VALUES (1);",
            4,
            false,
        )
        .unwrap();
        assert_eq!(rows(&summary), vec![("public".into(), "t".into(), None)]);
    }
}
