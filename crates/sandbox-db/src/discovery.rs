//! Finding the backup to restore: one named object, or the newest under a
//! location — newest by a timestamp in its name when a pattern says where
//! it is (`nightly-%Y%m%d-%H%M%S.sql.gz`), else by the time it was written.
//! The listing is streamed; only the best candidate is kept.

use crate::DbError;
use futures_util::TryStreamExt;
use sandbox_core::params::{BucketUrl, Invalid};
use sandbox_storage::{ObjectInfo, Storage, StorageError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One piece of a name pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `*`: any run of characters.
    Any,
    /// A fixed-width number: which field and how many digits.
    Field(Field, usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

/// Where the timestamp is in a backup's name: `%Y %m %d %H %M %S` (UTC),
/// `*` for anything, `%%` for a percent sign; the whole object key (below
/// the location's prefix) must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    text: String,
    tokens: Vec<Token>,
}

impl NamePattern {
    /// Parse a pattern; it needs at least the date (`%Y`, `%m`, `%d`).
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let fix = "write e.g. nightly-%Y%m%d-%H%M%S.sql.gz (%Y %m %d %H %M %S, * for anything)";
        let mut tokens = Vec::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '*' => tokens.push(Token::Any),
                '%' => {
                    let field = match chars.next() {
                        Some('Y') => Token::Field(Field::Year, 4),
                        Some('m') => Token::Field(Field::Month, 2),
                        Some('d') => Token::Field(Field::Day, 2),
                        Some('H') => Token::Field(Field::Hour, 2),
                        Some('M') => Token::Field(Field::Minute, 2),
                        Some('S') => Token::Field(Field::Second, 2),
                        Some('%') => Token::Literal('%'),
                        other => {
                            return Err(Invalid::one(
                                "name-pattern",
                                format!(
                                    "%{} is not a timestamp field",
                                    other.map(String::from).unwrap_or_default()
                                ),
                                fix,
                            ));
                        }
                    };
                    tokens.push(field);
                }
                c if c.is_control() => {
                    return Err(Invalid::one(
                        "name-pattern",
                        "name pattern contains control characters",
                        fix,
                    ));
                }
                c => tokens.push(Token::Literal(c)),
            }
        }
        for needed in [Field::Year, Field::Month, Field::Day] {
            if !tokens
                .iter()
                .any(|t| matches!(t, Token::Field(f, _) if *f == needed))
            {
                return Err(Invalid::one(
                    "name-pattern",
                    "name pattern needs at least %Y, %m and %d",
                    fix,
                ));
            }
        }
        Ok(NamePattern {
            text: s.to_string(),
            tokens,
        })
    }

    /// The time in `name`, when it matches.
    pub fn time_of(&self, name: &str) -> Option<SystemTime> {
        let chars: Vec<char> = name.chars().collect();
        let mut fields = [0i64, 1, 1, 0, 0, 0];
        if !match_at(&self.tokens, &chars, &mut fields) {
            return None;
        }
        let [y, mo, d, h, mi, s] = fields;
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
            return None;
        }
        let secs = sandbox_core::time::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s;
        u64::try_from(secs)
            .ok()
            .map(|s| UNIX_EPOCH + Duration::from_secs(s))
    }
}

impl std::fmt::Display for NamePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

fn match_at(tokens: &[Token], name: &[char], fields: &mut [i64; 6]) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return name.is_empty();
    };
    match first {
        Token::Literal(c) => name.first() == Some(c) && match_at(rest, &name[1..], fields),
        Token::Any => (0..=name.len()).any(|skip| match_at(rest, &name[skip..], fields)),
        Token::Field(field, width) => {
            if name.len() < *width || !name[..*width].iter().all(char::is_ascii_digit) {
                return false;
            }
            let value: i64 = name[..*width]
                .iter()
                .collect::<String>()
                .parse()
                .unwrap_or(0);
            let saved = *fields;
            fields[*field as usize] = value;
            if match_at(rest, &name[*width..], fields) {
                true
            } else {
                *fields = saved;
                false
            }
        }
    }
}

/// What to look for.
#[derive(Debug, Clone)]
pub struct BackupQuery {
    /// Where backups are.
    pub location: BucketUrl,
    /// One object by its key below the location, instead of the newest.
    pub object: Option<String>,
    /// Where the timestamp is in the names.
    pub name_pattern: Option<NamePattern>,
}

/// The backup chosen.
#[derive(Debug, Clone)]
pub struct Backup {
    /// The location it was found in.
    pub location: BucketUrl,
    /// The object.
    pub object: ObjectInfo,
    /// When it was taken: from its name when a pattern is given, else when
    /// it was written.
    pub time: Option<SystemTime>,
}

impl Backup {
    /// Its full URL, e.g. `gs://backups/nightly/db-20261127.sql.gz`.
    pub fn url(&self) -> String {
        format!("{}{}", self.location.to_string().trim_end_matches('/'), {
            let mut k = String::from("/");
            k.push_str(&self.object.key);
            k
        })
    }

    /// Its age now, when its time is known.
    pub fn age(&self) -> Option<Duration> {
        self.time
            .map(|t| SystemTime::now().duration_since(t).unwrap_or_default())
    }
}

fn storage_error(e: StorageError) -> DbError {
    use sandbox_core::Classify;
    DbError::Source {
        kind: e.kind(),
        source: Box::new(e),
    }
}

/// A `file://` URL naming one file means that file: its directory is the
/// location and its name the object.
fn split_file_url(query: &BackupQuery) -> BackupQuery {
    if query.object.is_none()
        && let BucketUrl::File { path } = &query.location
        && path.is_file()
        && let (Some(dir), Some(name)) = (path.parent(), path.file_name())
    {
        return BackupQuery {
            location: BucketUrl::File {
                path: dir.to_path_buf(),
            },
            object: Some(name.to_string_lossy().into_owned()),
            name_pattern: query.name_pattern.clone(),
        };
    }
    query.clone()
}

/// Find the backup `query` asks for.
pub async fn find(storage: &Storage, query: &BackupQuery) -> Result<Backup, DbError> {
    let query = split_file_url(query);
    let time_of = |object: &ObjectInfo| match &query.name_pattern {
        Some(p) => p.time_of(&object.key),
        None => object.updated,
    };
    if let Some(key) = &query.object {
        let object = storage
            .stat(&query.location, key)
            .await
            .map_err(storage_error)?
            .ok_or_else(|| {
                DbError::Backup(format!("backup {}{key} does not exist", query.location))
            })?;
        let time = query
            .name_pattern
            .as_ref()
            .and_then(|p| p.time_of(&object.key))
            .or(object.updated);
        return Ok(Backup {
            location: query.location.clone(),
            object,
            time,
        });
    }
    let mut objects = storage.list(&query.location);
    let mut best: Option<(SystemTime, ObjectInfo)> = None;
    let mut seen = 0u64;
    while let Some(object) = objects.try_next().await.map_err(storage_error)? {
        seen += 1;
        if object.key.ends_with('/') {
            continue;
        }
        let Some(time) = time_of(&object) else {
            continue;
        };
        let newer = match &best {
            None => true,
            Some((t, o)) => (time, &object.key) > (*t, &o.key),
        };
        if newer {
            best = Some((time, object));
        }
    }
    match best {
        Some((time, object)) => Ok(Backup {
            location: query.location.clone(),
            object,
            time: Some(time),
        }),
        None => Err(DbError::Backup(match &query.name_pattern {
            Some(p) if seen > 0 => format!(
                "none of the {seen} objects under {} matches the name pattern {p}",
                query.location
            ),
            _ => format!("no backup under {}", query.location),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbox_core::time::rfc3339;

    #[test]
    fn timestamps_come_from_names() {
        let p = NamePattern::parse("nightly/*-%Y%m%dT%H%M%SZ.sql.gz").unwrap();
        let t = p
            .time_of("nightly/integration-20261127T021500Z.sql.gz")
            .unwrap();
        assert_eq!(rfc3339(t), "2026-11-27T02:15:00Z");
        assert_eq!(p.time_of("nightly/integration-20261127T021500Z.sql"), None);
        assert_eq!(p.time_of("nightly/x-20261327T021500Z.sql.gz"), None);
        let d = NamePattern::parse("db-%Y-%m-%d.dump").unwrap();
        assert_eq!(
            rfc3339(d.time_of("db-2024-02-29.dump").unwrap()),
            "2024-02-29T00:00:00Z"
        );
        assert!(NamePattern::parse("db-%H.dump").is_err());
        assert!(NamePattern::parse("db-%Q%Y%m%d").is_err());
    }

    #[test]
    fn rfc3339_round_numbers() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_714_532_645)),
            "2024-05-01T03:04:05Z"
        );
    }
}
