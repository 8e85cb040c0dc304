//! Globs over object keys, as `gsutil` and `rclone` filters read them:
//! `*` matches within one path segment, `**` across segments, `?` one
//! character, `[abc]`/`[a-z]`/`[!a]` one character of a class.

/// A compiled glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    source: String,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    Any,
    Star,
    /// `**`; `dir` when written `**/`: then it matches whole segments only.
    DoubleStar {
        dir: bool,
    },
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Why a glob cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("glob {glob:?}: {message}")]
pub struct GlobError {
    /// The glob.
    pub glob: String,
    /// What is wrong.
    pub message: String,
}

impl Glob {
    /// Compile a glob.
    pub fn new(glob: &str) -> Result<Self, GlobError> {
        let err = |message: &str| GlobError {
            glob: glob.to_string(),
            message: message.to_string(),
        };
        if glob.is_empty() {
            return Err(err("empty pattern"));
        }
        let chars: Vec<char> = glob.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' if chars.get(i + 1) == Some(&'*') => {
                    i += 2;
                    // `**/` also matches zero directories.
                    let dir = chars.get(i) == Some(&'/');
                    if dir {
                        i += 1;
                    }
                    tokens.push(Token::DoubleStar { dir });
                    continue;
                }
                '*' => tokens.push(Token::Star),
                '?' => tokens.push(Token::Any),
                '[' => {
                    let mut j = i + 1;
                    let negated = matches!(chars.get(j), Some('!' | '^'));
                    if negated {
                        j += 1;
                    }
                    let mut ranges = Vec::new();
                    let mut first = true;
                    loop {
                        let Some(&c) = chars.get(j) else {
                            return Err(err("unclosed '['"));
                        };
                        if c == ']' && !first {
                            break;
                        }
                        first = false;
                        if chars.get(j + 1) == Some(&'-')
                            && chars.get(j + 2).is_some_and(|&e| e != ']')
                        {
                            let end = chars[j + 2];
                            if end < c {
                                return Err(err("reversed range in '[...]'"));
                            }
                            ranges.push((c, end));
                            j += 3;
                        } else {
                            ranges.push((c, c));
                            j += 1;
                        }
                    }
                    tokens.push(Token::Class { negated, ranges });
                    i = j;
                }
                '\\' if i + 1 < chars.len() => {
                    tokens.push(Token::Literal(chars[i + 1]));
                    i += 1;
                }
                c => tokens.push(Token::Literal(c)),
            }
            i += 1;
        }
        Ok(Glob {
            source: glob.to_string(),
            tokens,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True when the whole of `key` matches.
    pub fn matches(&self, key: &str) -> bool {
        let text: Vec<char> = key.chars().collect();
        matches_at(&self.tokens, &text)
    }
}

/// Backtracking match; `*` and `**` try the shortest extension first.
/// Patterns are short and keys bounded (1024 bytes), so this stays cheap.
fn matches_at(tokens: &[Token], text: &[char]) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return text.is_empty();
    };
    match first {
        Token::Literal(c) => text.first() == Some(c) && matches_at(rest, &text[1..]),
        Token::Any => text.first().is_some_and(|&c| c != '/') && matches_at(rest, &text[1..]),
        Token::Class { negated, ranges } => {
            text.first().is_some_and(|&c| {
                c != '/' && ranges.iter().any(|&(a, b)| a <= c && c <= b) != *negated
            }) && matches_at(rest, &text[1..])
        }
        Token::Star => {
            for n in 0..=text.len() {
                if matches_at(rest, &text[n..]) {
                    return true;
                }
                if text.get(n) == Some(&'/') {
                    return false;
                }
            }
            false
        }
        Token::DoubleStar { dir } => (0..=text.len()).any(|n| {
            // After `**/`, the rest starts at a segment boundary.
            (!dir || n == 0 || text[n - 1] == '/') && matches_at(rest, &text[n..])
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(glob: &str, key: &str) -> bool {
        Glob::new(glob).unwrap().matches(key)
    }

    #[test]
    fn star_stays_in_its_segment() {
        assert!(m("*.pdf", "a.pdf"));
        assert!(!m("*.pdf", "dir/a.pdf"));
        assert!(m("dir/*.pdf", "dir/a.pdf"));
        assert!(!m("*.pdf", "a.pdfx"));
    }

    #[test]
    fn double_star_crosses_segments() {
        assert!(m("**/*.pdf", "a.pdf"));
        assert!(m("**/*.pdf", "x/y/a.pdf"));
        assert!(m("docs/**", "docs/a/b"));
        assert!(!m("docs/**", "other/a"));
        assert!(m("**", "anything/at/all"));
        assert!(m("**/b", "a/b"));
        assert!(!m("**/b", "ab"));
    }

    #[test]
    fn classes_and_single_characters() {
        assert!(m("report-[0-9].csv", "report-7.csv"));
        assert!(!m("report-[!0-9].csv", "report-7.csv"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "a/c"));
        assert!(m(r"a\*", "a*"));
        assert!(Glob::new("[abc").is_err());
        assert!(Glob::new("").is_err());
    }
}
