//! Telling a backup's format from its first bytes, never from its name: a
//! Cloud SQL export called `.sql` is gzip, and a `.dump` may be anything.

use crate::DbError;
use std::fmt;

/// How the dump itself is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFormat {
    /// pg_dump `-Fp`: SQL with psql meta-commands; restored by `psql`.
    Plain,
    /// pg_dump `-Fc`: starts with `PGDMP`; restored by `pg_restore`.
    Custom,
}

/// A compression layer around the dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// The bytes are the dump.
    None,
    /// gzip (one or more members), as Cloud SQL exports and `pg_dump | gzip` are.
    Gzip,
}

/// A backup's format: the dump and what wraps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// The outer layer.
    pub compression: Compression,
    /// What is inside.
    pub dump: DumpFormat,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dump = match self.dump {
            DumpFormat::Plain => "plain",
            DumpFormat::Custom => "custom",
        };
        match self.compression {
            Compression::None => f.write_str(dump),
            Compression::Gzip => write!(f, "gzip+{dump}"),
        }
    }
}

/// How many leading bytes detection wants (it copes with fewer at the end
/// of a short file).
pub const PEEK: usize = 4096;

/// The gzip magic number.
pub fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

/// pg_dump's custom-format magic.
pub const CUSTOM_MAGIC: &[u8] = b"PGDMP";

/// What an uncompressed dump is, from its first bytes.
pub fn detect_dump(head: &[u8]) -> Result<DumpFormat, DbError> {
    if head.starts_with(CUSTOM_MAGIC) {
        return Ok(DumpFormat::Custom);
    }
    if head.is_empty() {
        return Err(DbError::NotADump("it is empty".into()));
    }
    if head.len() >= 512 && &head[257..262] == b"ustar" {
        return Err(DbError::NotADump(
            "it is a tar archive (pg_dump -Ft); export with -Fc or -Fp".into(),
        ));
    }
    if looks_like_sql(head) {
        return Ok(DumpFormat::Plain);
    }
    Err(DbError::NotADump(
        "its first bytes are neither SQL text nor pg_dump's custom format (PGDMP)".into(),
    ))
}

/// SQL text: no NUL or other binary bytes, and the first thing in it is a
/// comment, a psql meta-command or a statement keyword.
fn looks_like_sql(head: &[u8]) -> bool {
    // The peek may end inside a multi-byte character; judge the valid part.
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() => match std::str::from_utf8(&head[..e.valid_up_to()]) {
            Ok(t) => t,
            Err(_) => return false,
        },
        Err(_) => return false,
    };
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c'))
    {
        return false;
    }
    let start = text.trim_start_matches('\u{feff}').trim_start();
    if start.starts_with("--") || start.starts_with("/*") || start.starts_with('\\') {
        return true;
    }
    let word: String = start
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase();
    matches!(
        word.as_str(),
        "SET"
            | "SELECT"
            | "CREATE"
            | "ALTER"
            | "BEGIN"
            | "START"
            | "COMMIT"
            | "INSERT"
            | "COPY"
            | "COMMENT"
            | "GRANT"
            | "REVOKE"
            | "DROP"
            | "DO"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_their_bytes() {
        assert_eq!(
            detect_dump(b"PGDMP\x01\x0e\x00").unwrap(),
            DumpFormat::Custom
        );
        assert_eq!(
            detect_dump(b"--\n-- PostgreSQL database dump\n--\n").unwrap(),
            DumpFormat::Plain
        );
        assert_eq!(
            detect_dump(b"SET statement_timeout = 0;\n").unwrap(),
            DumpFormat::Plain
        );
        assert_eq!(detect_dump(b"\\restrict abc\n").unwrap(), DumpFormat::Plain);
        assert!(is_gzip(&[0x1f, 0x8b, 8, 0]));
    }

    #[test]
    fn anything_else_is_not_a_dump() {
        for bad in [
            &b""[..],
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
            b"hello world, this is prose",
            b"{\"json\": true}",
            b"PK\x03\x04zip",
        ] {
            assert!(
                matches!(detect_dump(bad), Err(DbError::NotADump(_))),
                "{bad:?} accepted"
            );
        }
        let mut tar = vec![b'a'; 600];
        tar[257..262].copy_from_slice(b"ustar");
        assert!(matches!(detect_dump(&tar), Err(DbError::NotADump(m)) if m.contains("tar")));
    }

    #[test]
    fn a_peek_cut_inside_a_character_is_still_text() {
        let mut head = b"-- caf".to_vec();
        head.extend_from_slice(&"é".as_bytes()[..1]);
        assert_eq!(detect_dump(&head).unwrap(), DumpFormat::Plain);
    }
}
