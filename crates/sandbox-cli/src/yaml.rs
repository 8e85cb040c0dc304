//! YAML documents that remember the line of every key and value, so lint
//! findings can say `file:line`.
//!
//! The reader is `saphyr-parser`: a YAML 1.2 event parser whose every event
//! carries a span. It is safe Rust with two small dependencies (arraydeque,
//! thiserror). `yaml_serde` keeps libyaml's marks private, and `yaml-rust2`
//! would add encoding_rs and hashlink for the same events.
//!
//! Kubernetes tools read YAML with go-yaml (`sigs.k8s.io/yaml`), which is
//! laxer than YAML 1.2 in one way Argo's own examples rely on: the lines of
//! a flow collection or a quoted scalar may continue at, or left of, the
//! indentation of the key that holds them (argo-workflows
//! `examples/sidecar.yaml`: `args: ["` … `"]` with `"]` under `args`). When
//! strict parsing fails, [`go_yaml_indentation`] indents such continuation
//! lines and the text is parsed again; leading spaces on those lines mean
//! nothing to YAML (flow whitespace, folded quoted lines), so values and
//! line numbers stay as written.
//!
//! Duplicate mapping keys are kept (the first wins for [`Node::get`]) and
//! listed in [`Stream::duplicates`]: strict readers such as `argo lint`
//! reject them, and which one Kubernetes keeps is easy to get wrong.

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};
use serde_json::{Map, Number, Value as Json};
use std::collections::HashMap;

/// A node of a document and the line (1-based) where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Line of the node's first character.
    pub line: usize,
    /// What the node holds.
    pub value: Value,
}

/// The value of a node, scalars already resolved by the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Any other scalar.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(Key, Node)>),
}

/// A mapping key and its line.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key as text.
    pub name: String,
    /// Line of the key.
    pub line: usize,
}

/// A YAML syntax error and where it is.
#[derive(Debug)]
pub struct SyntaxError {
    /// Line (1-based).
    pub line: usize,
    /// What the parser said.
    pub message: String,
}

impl std::error::Error for SyntaxError {}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl From<ScanError> for SyntaxError {
    fn from(e: ScanError) -> Self {
        SyntaxError {
            line: e.marker().line(),
            message: e.info().to_string(),
        }
    }
}

impl Node {
    /// The value under `key` when this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key entry (with its line) when this is a mapping.
    pub fn key(&self, key: &str) -> Option<&Key> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(k, _)| k),
            _ => None,
        }
    }

    /// Follow a path of mapping keys.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, key| node.get(key))
    }

    /// The scalar as text (strings, numbers and booleans).
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The scalar rendered as text, whatever its type.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => Some(String::new()),
            _ => None,
        }
    }

    /// Items of a sequence; empty for anything else.
    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    /// Entries of a mapping; empty for anything else.
    pub fn entries(&self) -> &[(Key, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The node as JSON (what Kubernetes would store).
    pub fn to_json(&self) -> Json {
        match &self.value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::Number((*i).into()),
            Value::Float(f) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::Str(s) => Json::String(s.clone()),
            Value::Seq(items) => Json::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect::<Map<_, _>>(),
            ),
        }
    }
}

/// Parse every document of a YAML stream. Empty documents are skipped.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, SyntaxError> {
    parse_stream(text).map(|stream| stream.documents)
}

/// A parsed YAML stream.
#[derive(Debug, Default)]
pub struct Stream {
    /// The documents, empty ones skipped.
    pub documents: Vec<Node>,
    /// Keys that appear twice in one mapping: the second occurrence.
    pub duplicates: Vec<Key>,
}

/// Parse every document of a YAML stream, as go-yaml would read it, and
/// list duplicate keys.
pub fn parse_stream(text: &str) -> Result<Stream, SyntaxError> {
    match parse_strict(text) {
        Ok(stream) => Ok(stream),
        Err(strict) => match go_yaml_indentation(text) {
            Some(relaxed) => parse_strict(&relaxed).map_err(|_| strict),
            None => Err(strict),
        },
    }
}

fn parse_strict(text: &str) -> Result<Stream, SyntaxError> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event?;
        builder.push(event, span.start.line())?;
    }
    Ok(Stream {
        documents: builder.documents,
        duplicates: builder.duplicates,
    })
}

/// The text with every continuation line of a flow collection or quoted
/// scalar indented past the line that opened it, or `None` when no line
/// needed it. Block scalars (`|`, `>`) and comments are passed over.
pub fn go_yaml_indentation(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut changed = false;
    // Open flow collections, and the quote of an unfinished scalar.
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    // Minimum indentation for continuation lines of the open construct.
    let mut min_indent = 0usize;
    // Indentation of the line that started a block scalar.
    let mut block_scalar: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let blank = line.trim().is_empty();
        if let Some(parent) = block_scalar {
            if blank || indent > parent {
                out.push_str(line);
                continue;
            }
            block_scalar = None;
        }
        let continuing = depth > 0 || quote.is_some();
        if continuing && !blank && indent < min_indent {
            out.push_str(&" ".repeat(min_indent - indent));
            changed = true;
        }
        out.push_str(line);
        if !continuing {
            // Where a construct opened on this line must continue: past the
            // column of the line's first key or value.
            let body = line.trim_start_matches([' ', '-']);
            min_indent = line.len() - body.len() + 1;
        }
        let mut prev = ' ';
        let mut chars = line.chars().peekable();
        let mut token_start = !continuing || depth > 0;
        while let Some(c) = chars.next() {
            if let Some(q) = quote {
                if q == '"' && c == '\\' {
                    chars.next();
                } else if c == q {
                    if q == '\'' && chars.peek() == Some(&'\'') {
                        chars.next();
                    } else {
                        quote = None;
                        token_start = false;
                    }
                }
                prev = c;
                continue;
            }
            match c {
                '#' if prev == ' ' || prev == '\t' => break,
                '"' | '\'' if token_start => quote = Some(c),
                '[' | '{' if token_start => depth += 1,
                ']' | '}' if depth > 0 => {
                    depth -= 1;
                    token_start = false;
                }
                ',' if depth > 0 => token_start = true,
                '|' | '>' if token_start && depth == 0 => {
                    let rest: String = chars.clone().collect();
                    let rest = rest.split(" #").next().unwrap_or("").trim();
                    if rest.chars().all(|r| matches!(r, '+' | '-' | '0'..='9')) {
                        block_scalar = Some(indent);
                    }
                    break;
                }
                ' ' | '\t' | '\r' | '\n' => {}
                ':' | '-' | '?' if matches!(chars.peek(), None | Some(' ' | '\n' | '\r')) => {
                    token_start = true;
                }
                ':' if depth > 0 => token_start = true,
                _ => token_start = false,
            }
            prev = c;
        }
    }
    changed.then_some(out)
}

/// A partly built collection.
enum Open {
    Seq {
        line: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        line: usize,
        anchor: usize,
        entries: Vec<(Key, Node)>,
        key: Option<Key>,
    },
}

#[derive(Default)]
struct Builder {
    documents: Vec<Node>,
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    duplicates: Vec<Key>,
}

impl Builder {
    fn push(&mut self, event: Event<'_>, line: usize) -> Result<(), SyntaxError> {
        match event {
            Event::DocumentStart(_) => {
                self.anchors.clear();
                self.root = None;
            }
            Event::DocumentEnd => {
                if let Some(root) = self.root.take()
                    && root.value != Value::Null
                {
                    self.documents.push(root);
                }
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Open::Seq {
                line,
                anchor,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _) => {
                self.stack.push(Open::Map {
                    line,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Open::Seq {
                        line,
                        anchor,
                        items,
                    }) => (
                        Node {
                            line,
                            value: Value::Seq(items),
                        },
                        anchor,
                    ),
                    Some(Open::Map {
                        line,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            line,
                            value: Value::Map(entries),
                        },
                        anchor,
                    ),
                    None => {
                        return Err(SyntaxError {
                            line,
                            message: "unbalanced collection".into(),
                        });
                    }
                };
                self.value(node, anchor);
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = if style == ScalarStyle::Plain && tag.is_none() {
                    resolve_plain(&text)
                } else {
                    Value::Str(text.into_owned())
                };
                self.value(Node { line, value }, anchor);
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| SyntaxError {
                    line,
                    message: "alias to an unknown anchor".into(),
                })?;
                self.value(Node { line, ..node }, 0);
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd => {}
        }
        Ok(())
    }

    fn value(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map { entries, key, .. }) => match key.take() {
                Some(k) => {
                    if entries.iter().any(|(seen, _)| seen.name == k.name) {
                        self.duplicates.push(k.clone());
                    }
                    entries.push((k, node));
                }
                None => {
                    let name = node_key_text(&node);
                    *key = Some(Key {
                        name,
                        line: node.line,
                    });
                }
            },
            None => self.root = Some(node),
        }
    }
}

fn node_key_text(node: &Node) -> String {
    node.scalar_text()
        .unwrap_or_else(|| node.to_json().to_string())
}

/// Resolve a plain scalar by the YAML 1.2 core schema.
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = text.parse::<i64>()
    {
        return Value::Int(i);
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Value::Int(i);
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Value::Int(i);
    }
    let looks_float = digits
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits.bytes().any(|b| b.is_ascii_digit());
    if looks_float && let Ok(f) = text.parse::<f64>() {
        return Value::Float(f);
    }
    Value::Str(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_types() {
        let docs = parse_documents("a: 1\nb:\n  - x\n  - 'true'\n  - true\n---\nc: ~\n").unwrap();
        assert_eq!(docs.len(), 2);
        let a = &docs[0];
        assert_eq!(a.key("b").unwrap().line, 2);
        assert_eq!(a.get("b").unwrap().items()[1].line, 4);
        assert_eq!(a.get("a").unwrap().value, Value::Int(1));
        assert_eq!(
            a.get("b").unwrap().items()[1].value,
            Value::Str("true".into())
        );
        assert_eq!(a.get("b").unwrap().items()[2].value, Value::Bool(true));
        assert_eq!(docs[1].to_json(), serde_json::json!({"c": null}));
    }

    #[test]
    fn anchors_are_copied() {
        let docs = parse_documents("a: &x {k: v}\nb: *x\n").unwrap();
        assert_eq!(
            docs[0].get("b").unwrap().to_json(),
            serde_json::json!({"k": "v"})
        );
    }

    #[test]
    fn go_yaml_continuation_at_the_key_indentation() {
        // As in argo-workflows examples/sidecar.yaml and resource-flags.yaml.
        let text = "a:\n  args: [\"\n    one &&\n    two\n  \"]\n  flags: [\n    \"--x\"  # why\n  ]\n  b: 1\n";
        let docs = parse_documents(text).unwrap();
        let a = docs[0].get("a").unwrap();
        assert_eq!(
            a.get("args").unwrap().items()[0].as_str(),
            Some(" one && two ")
        );
        assert_eq!(a.get("flags").unwrap().items()[0].as_str(), Some("--x"));
        assert_eq!(a.get("b").unwrap().line, 9);
    }

    #[test]
    fn block_scalars_are_left_alone() {
        let text = "a: |\n  [not flow\n  'nor quote\nb: [1,\n 2]\n";
        assert!(go_yaml_indentation(text).is_none());
        let docs = parse_documents(text).unwrap();
        assert_eq!(
            docs[0].get("a").unwrap().as_str(),
            Some("[not flow\n'nor quote\n")
        );
    }

    #[test]
    fn duplicate_keys_are_listed() {
        let stream = parse_stream("a: 1\nb: {c: 1}\na: 2\n").unwrap();
        assert_eq!(stream.duplicates.len(), 1);
        assert_eq!(stream.duplicates[0].line, 3);
        assert_eq!(stream.documents[0].get("a").unwrap().value, Value::Int(1));
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let err = parse_documents("a: [1, 2\nb: c\n").unwrap_err();
        assert!(err.line >= 1, "{err}");
    }
}
