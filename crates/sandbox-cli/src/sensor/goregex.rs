//! Go regular expressions (`regexp`, RE2 syntax) on the Rust `regex`
//! crate. The two accept nearly the same syntax, but Go's Perl classes
//! `\d \w \s` and word boundaries `\b \B` are ASCII-only (Go's
//! `regexp/syntax` `perlGroup` and `EmptyWordBoundary` on ASCII word bytes)
//! while the Rust crate makes them Unicode-aware. A pattern is rewritten so
//! they stay ASCII; octal escapes and `\Q…\E` are spelled the way Rust
//! reads them; a `[`, `&` or `~` inside a class is a plain character in Go
//! but an operator in Rust, so it is escaped.

use regex::Regex;

const DIGIT: &str = "0-9";
const WORD: &str = "0-9A-Za-z_";
const SPACE: &str = r"\t\n\f\r ";

/// Compile `pattern` as Go's `regexp.Compile` would read it.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let translated = translate(pattern)?;
    Regex::new(&translated).map_err(|e| format!("error parsing regexp {pattern:?}: {e}"))
}

/// The Rust spelling of a Go pattern.
pub fn translate(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut i = 0;
    // Inside a bracketed class: set after `[` (and `^`), so a leading `]`
    // is a literal as in both dialects.
    let mut in_class = false;
    let mut class_start = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let Some(&next) = chars.get(i + 1) else {
                return Err(format!(
                    "error parsing regexp: trailing backslash at end of expression: `{pattern}`"
                ));
            };
            i += 2;
            class_start = false;
            match next {
                'd' | 'D' | 'w' | 'W' | 's' | 'S' => {
                    let set = match next.to_ascii_lowercase() {
                        'd' => DIGIT,
                        'w' => WORD,
                        _ => SPACE,
                    };
                    let negated = next.is_ascii_uppercase();
                    match (in_class, negated) {
                        (true, false) => out.push_str(set),
                        (_, true) => {
                            out.push_str("[^");
                            out.push_str(set);
                            out.push(']');
                        }
                        (false, false) => {
                            out.push('[');
                            out.push_str(set);
                            out.push(']');
                        }
                    }
                }
                // Punctuation escapes are literals in Go; Rust reads these
                // two as word-start and word-end assertions.
                '<' | '>' => out.push(next),
                // Go's any-byte `\C`; on valid UTF-8 text, any character.
                'C' if !in_class => out.push_str("(?s:.)"),
                'b' | 'B' if !in_class => {
                    out.push_str("(?-u:\\");
                    out.push(next);
                    out.push(')');
                }
                'Q' => {
                    // Literal text up to \E (or the end).
                    let rest: String = chars[i..].iter().collect();
                    let (literal, tail) = match rest.find("\\E") {
                        Some(end) => (&rest[..end], end + 2),
                        None => (rest.as_str(), rest.len()),
                    };
                    out.push_str(&regex::escape(literal));
                    i += rest[..tail].chars().count();
                }
                '0'..='7' => {
                    // Go: `\0` and `\1`-`\7` followed by an octal digit start an
                    // octal escape of up to three digits; a lone `\1` is a
                    // backreference, which RE2 rejects.
                    let mut digits = String::from(next);
                    if next != '0' && !chars.get(i).is_some_and(|d| ('0'..='7').contains(d)) {
                        return Err(format!(
                            "error parsing regexp: invalid escape sequence: `\\{next}`"
                        ));
                    }
                    while digits.len() < 3 && chars.get(i).is_some_and(|d| ('0'..='7').contains(d))
                    {
                        digits.push(chars[i]);
                        i += 1;
                    }
                    let code = u32::from_str_radix(&digits, 8).unwrap_or(0);
                    out.push_str(&format!("\\x{{{code:X}}}"));
                }
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
            continue;
        }
        if in_class {
            match c {
                ']' if !class_start => in_class = false,
                '[' if chars.get(i + 1) == Some(&':') => {
                    // A POSIX class such as [:alpha:]: copy it whole.
                    if let Some(end) = chars[i..].iter().collect::<String>().find(":]") {
                        let text: String = chars[i..].iter().collect();
                        out.push_str(&text[..end + 2]);
                        i += text[..end + 2].chars().count();
                        class_start = false;
                        continue;
                    }
                    out.push_str("\\[");
                    i += 1;
                    class_start = false;
                    continue;
                }
                '[' | '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                    i += 1;
                    class_start = false;
                    continue;
                }
                '^' if class_start && chars.get(i - 1) == Some(&'[') => {
                    out.push(c);
                    i += 1;
                    continue;
                }
                _ => {}
            }
            class_start = false;
            out.push(c);
            i += 1;
            continue;
        }
        if c == '[' {
            in_class = true;
            class_start = true;
        }
        if c == '('
            && chars.get(i + 1) == Some(&'?')
            && !(chars.get(i + 2) == Some(&'P') && chars.get(i + 3) == Some(&'<'))
        {
            // Go's flags are i, m, s and U (regexp/syntax parsePerlFlags);
            // Rust also takes x, u, R.
            let flags: String = chars[i + 2..]
                .iter()
                .take_while(|c| c.is_ascii_alphabetic() || **c == '-')
                .collect();
            if flags
                .chars()
                .any(|f| !matches!(f, 'i' | 'm' | 's' | 'U' | '-'))
            {
                return Err(format!(
                    "error parsing regexp: invalid or unsupported Perl syntax: `(?{flags}`"
                ));
            }
        }
        if c == '{' {
            // Go refuses a repetition count above 1000.
            let count: String = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit() || **c == ',')
                .collect();
            if chars.get(i + 1 + count.chars().count()) == Some(&'}')
                && count
                    .split(',')
                    .any(|n| n.parse::<u32>().is_ok_and(|n| n > 1000))
            {
                return Err(format!(
                    "error parsing regexp: invalid repeat count: `{{{count}}}`"
                ));
            }
        }
        out.push(c);
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_match(pattern: &str, text: &str) -> bool {
        compile(pattern).unwrap().is_match(text)
    }

    #[test]
    fn perl_classes_and_boundaries_are_ascii() {
        // Arabic-Indic digit five, a Cyrillic letter, a no-break space.
        assert!(!is_match(r"^\d$", "٥"));
        assert!(is_match(r"^\D$", "٥"));
        assert!(!is_match(r"^\w+$", "жук"));
        assert!(!is_match(r"^\s$", "\u{a0}"));
        assert!(is_match(r"^[\d.]+$", "1.5"));
        assert!(!is_match(r"^[\w]+$", "é"));
        assert!(is_match(r"^[^\s]+$", "é"));
        // No ASCII word character on either side of the Cyrillic word.
        assert!(!is_match(r"\bжук\b", "a жук"));
        assert!(is_match(r"\bpr\b", "my pr here"));
        // Unicode stays Unicode where Go has it so.
        assert!(is_match(r"^\pL+$", "жук"));
        assert!(is_match(r"^.$", "ж"));
        assert!(is_match(r"(?i)^ЖУК$", "жук"));
    }

    #[test]
    fn go_only_spellings() {
        assert!(is_match(r"^\101$", "A"));
        assert!(is_match(r"^\Qa.b\E$", "a.b"));
        assert!(!is_match(r"^\Qa.b\E$", "axb"));
        assert!(is_match(r"^[a[]+$", "[a["));
        assert!(is_match(r"^[a&&b]+$", "&a"));
        assert!(is_match(r"^[[:alpha:]]+$", "abc"));
        assert!(is_match(r"^[]a]+$", "]a"));
        assert!(compile(r"\1").is_err());
        assert!(is_match(r"^\<a\>$", "<a>"));
        assert!(compile(r"(?x) a").is_err());
        assert!(compile(r"(?i)a").is_ok());
        assert!(is_match(r"^(?P<n>a)(?:b)(?<m>c)$", "abc"));
        assert!(compile(r"a{1001}").is_err());
        assert!(compile(r"a{2,1000}").is_ok());
        assert!(compile(r"a\").is_err());
    }
}
