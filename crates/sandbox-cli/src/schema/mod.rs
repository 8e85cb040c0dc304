//! Which keys and value types each Argo and Argo Events object accepts.
//!
//! The tool must work without the upstream JSON schemas, and those files are
//! not ours to ship, so it embeds key tables derived from them
//! (`argo.table`, `events.table`): one line per object type reachable from
//! the kinds we lint, each key with its type. [`Schema::from_json_schema`]
//! derives the same tables from a schema file; a test checks that the
//! embedded tables equal what the fixture schemas give, and rewrites them
//! when `SANDBOX_UPDATE_TABLES=1`.
//!
//! Types that Kubernetes decodes from an integer or a string are widened to
//! accept both: the Argo schema declares `IntOrString` and `Quantity` as
//! plain strings, which rejects upstream-valid files such as
//! `retryStrategy.limit: 10` or `cpu: 1`.

use crate::yaml::{Node, Value};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::OnceLock;

/// The type of a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    /// Anything.
    Any,
    /// A string.
    Str,
    /// An integer.
    Int,
    /// A number.
    Num,
    /// A boolean.
    Bool,
    /// An integer, number or string (widened IntOrString, Quantity).
    Scalar,
    /// An object of a named type.
    Ref(String),
    /// An array.
    Array(Box<Ty>),
    /// An object whose values all have one type.
    Map(Box<Ty>),
    /// Any object.
    Object,
}

/// An object type: its keys, the required ones, and the type of keys not
/// listed (None: other keys are unknown).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectType {
    /// Known keys, sorted.
    pub properties: BTreeMap<String, Ty>,
    /// Keys that must be present.
    pub required: Vec<String>,
}

/// A set of object types and the root type of each kind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    /// Object types by name.
    pub types: BTreeMap<String, ObjectType>,
    /// Named types that are not objects (after widening), e.g. `Time` → string.
    pub aliases: BTreeMap<String, Ty>,
    /// Kind → object type name.
    pub roots: BTreeMap<String, String>,
}

/// Which upstream schema a table is derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Argo Workflows.
    Argo,
    /// Argo Events.
    Events,
}

impl Family {
    /// The kinds linted in this family and their definition names.
    pub fn roots(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Family::Argo => &[
                (
                    "ClusterWorkflowTemplate",
                    "io.argoproj.workflow.v1alpha1.ClusterWorkflowTemplate",
                ),
                ("CronWorkflow", "io.argoproj.workflow.v1alpha1.CronWorkflow"),
                ("Workflow", "io.argoproj.workflow.v1alpha1.Workflow"),
                (
                    "WorkflowTemplate",
                    "io.argoproj.workflow.v1alpha1.WorkflowTemplate",
                ),
            ],
            Family::Events => &[
                ("EventSource", "io.argoproj.events.v1alpha1.EventSource"),
                ("Sensor", "io.argoproj.events.v1alpha1.Sensor"),
            ],
        }
    }

    /// The embedded table text.
    pub fn table(self) -> &'static str {
        match self {
            Family::Argo => include_str!("argo.table"),
            Family::Events => include_str!("events.table"),
        }
    }

    /// The table's file name next to this module.
    pub fn table_file(self) -> &'static str {
        match self {
            Family::Argo => "argo.table",
            Family::Events => "events.table",
        }
    }

    /// The fixture schema, relative to the fixtures directory.
    pub fn fixture_schema(self) -> &'static str {
        match self {
            Family::Argo => "argo/schema.json",
            Family::Events => "argo-events/schema.json",
        }
    }
}

/// Named types that Kubernetes decodes from an integer or a string.
const WIDENED: &[&str] = &[
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    "io.k8s.apimachinery.pkg.api.resource.Quantity",
    "io.argoproj.events.v1alpha1.Int64OrString",
];

/// The embedded schema of a family, parsed once.
pub fn embedded(family: Family) -> &'static Schema {
    static ARGO: OnceLock<Schema> = OnceLock::new();
    static EVENTS: OnceLock<Schema> = OnceLock::new();
    let cell = match family {
        Family::Argo => &ARGO,
        Family::Events => &EVENTS,
    };
    cell.get_or_init(|| {
        Schema::from_table(family.table()).unwrap_or_else(|e| panic!("embedded table: {e}"))
    })
}

/// The schema for a document's kind, if it is one we lint.
pub fn for_kind(kind: &str) -> Option<(&'static Schema, &'static str)> {
    [Family::Argo, Family::Events]
        .into_iter()
        .find_map(|family| {
            let schema = embedded(family);
            schema.roots.get(kind).map(|root| (schema, root.as_str()))
        })
}

impl Schema {
    /// Derive the tables of `family` from an upstream JSON schema document.
    pub fn from_json_schema(family: Family, doc: &Json) -> Result<Schema, String> {
        let defs = doc
            .get("definitions")
            .and_then(Json::as_object)
            .ok_or("the schema has no definitions")?;
        let mut schema = Schema::default();
        let mut queue: Vec<String> = Vec::new();
        for (kind, def) in family.roots() {
            schema.roots.insert((*kind).to_string(), (*def).to_string());
            queue.push((*def).to_string());
        }
        let mut seen = BTreeSet::new();
        while let Some(name) = queue.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let def = defs
                .get(&name)
                .ok_or_else(|| format!("no definition {name}"))?;
            match def_type(&name, def) {
                DefShape::Object(props, required) => {
                    let mut object = ObjectType {
                        required,
                        ..ObjectType::default()
                    };
                    for (key, prop) in props {
                        let ty = ty_of(prop);
                        collect_refs(&ty, &mut queue);
                        object.properties.insert(key.clone(), ty);
                    }
                    schema.types.insert(name, object);
                }
                DefShape::Alias(ty) => {
                    collect_refs(&ty, &mut queue);
                    schema.aliases.insert(name, ty);
                }
            }
        }
        Ok(schema)
    }

    /// Write the schema as a table (the embedded file format).
    pub fn to_table(&self) -> String {
        let mut out = String::from(
            "# Derived from the upstream JSON schema by sandbox-cli's schema module; do not edit.\n\
             # Regenerate: SANDBOX_UPDATE_TABLES=1 cargo test -p sandbox-cli --test schema_tables\n",
        );
        for (kind, root) in &self.roots {
            let _ = writeln!(out, "root {kind} {}", short(root));
        }
        for (name, ty) in &self.aliases {
            let _ = writeln!(out, "alias {} {}", short(name), encode(ty));
        }
        for (name, object) in &self.types {
            let _ = writeln!(out, "type {}", short(name));
            for (key, ty) in &object.properties {
                let mark = if object.required.contains(key) {
                    "!"
                } else {
                    ""
                };
                let _ = writeln!(out, "  {mark}{key} {}", encode(ty));
            }
        }
        out
    }

    /// Read a table written by [`Schema::to_table`].
    pub fn from_table(text: &str) -> Result<Schema, String> {
        let mut schema = Schema::default();
        let mut current: Option<String> = None;
        for (n, line) in text.lines().enumerate() {
            let bad = || format!("line {}: cannot read {line:?}", n + 1);
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("  ") {
                let (key, ty) = rest.split_once(' ').ok_or_else(bad)?;
                let object = current
                    .as_ref()
                    .and_then(|c| schema.types.get_mut(c))
                    .ok_or_else(bad)?;
                let (key, required) = match key.strip_prefix('!') {
                    Some(k) => (k, true),
                    None => (key, false),
                };
                if required {
                    object.required.push(key.to_string());
                }
                object
                    .properties
                    .insert(key.to_string(), decode(ty).ok_or_else(bad)?);
                continue;
            }
            let mut words = line.split(' ');
            match (words.next(), words.next(), words.next()) {
                (Some("root"), Some(kind), Some(name)) => {
                    schema.roots.insert(kind.to_string(), long(name));
                }
                (Some("alias"), Some(name), Some(ty)) => {
                    schema
                        .aliases
                        .insert(long(name), decode(ty).ok_or_else(bad)?);
                }
                (Some("type"), Some(name), None) => {
                    let name = long(name);
                    schema.types.insert(name.clone(), ObjectType::default());
                    current = Some(name);
                }
                _ => return Err(bad()),
            }
        }
        Ok(schema)
    }

    /// Check a document against the object type `root`.
    pub fn check(&self, root: &str, node: &Node, mode: Mode) -> Vec<Problem> {
        let mut problems = Vec::new();
        self.check_ty(&Ty::Ref(root.to_string()), node, "", mode, &mut problems);
        problems
    }

    fn check_ty(&self, ty: &Ty, node: &Node, path: &str, mode: Mode, out: &mut Vec<Problem>) {
        let wrong = |expected: &str, out: &mut Vec<Problem>| {
            out.push(Problem::WrongType {
                line: node.line,
                path: path.to_string(),
                expected: expected.to_string(),
            });
        };
        match ty {
            Ty::Any => {}
            Ty::Str => match (&node.value, mode) {
                (Value::Str(_), _) => {}
                // Argo decodes numbers and booleans into many string fields
                // (parameter values are `AnyString`); lint lets them pass.
                (Value::Int(_) | Value::Float(_) | Value::Bool(_), Mode::Lenient) => {}
                _ => wrong("a string", out),
            },
            Ty::Int => {
                if !matches!(node.value, Value::Int(_)) {
                    wrong("an integer", out);
                }
            }
            Ty::Num => {
                if !matches!(node.value, Value::Int(_) | Value::Float(_)) {
                    wrong("a number", out);
                }
            }
            Ty::Bool => {
                if !matches!(node.value, Value::Bool(_)) {
                    wrong("a boolean", out);
                }
            }
            Ty::Scalar => {
                if !matches!(node.value, Value::Int(_) | Value::Float(_) | Value::Str(_)) {
                    wrong("an integer or a string", out);
                }
            }
            Ty::Array(item) => match &node.value {
                Value::Seq(items) => {
                    for (i, child) in items.iter().enumerate() {
                        self.check_ty(item, child, &format!("{path}[{i}]"), mode, out);
                    }
                }
                Value::Null => {}
                _ => wrong("a list", out),
            },
            Ty::Map(value) => match &node.value {
                Value::Map(entries) => {
                    for (key, child) in entries {
                        self.check_ty(value, child, &join(path, &key.name), mode, out);
                    }
                }
                Value::Null => {}
                _ => wrong("a mapping", out),
            },
            Ty::Object => {
                if !matches!(node.value, Value::Map(_) | Value::Null) {
                    wrong("a mapping", out);
                }
            }
            Ty::Ref(name) => {
                if let Some(alias) = self.aliases.get(name) {
                    return self.check_ty(alias, node, path, mode, out);
                }
                let Some(object) = self.types.get(name) else {
                    return;
                };
                let entries = match &node.value {
                    Value::Map(entries) => entries,
                    Value::Null => return,
                    _ => return wrong("a mapping", out),
                };
                for (key, child) in entries {
                    match object.properties.get(&key.name) {
                        Some(ty) => self.check_ty(ty, child, &join(path, &key.name), mode, out),
                        None => out.push(Problem::UnknownKey {
                            line: key.line,
                            path: join(path, &key.name),
                            within: short_type(name),
                            suggestion: suggest(&key.name, object.properties.keys()),
                        }),
                    }
                }
                if mode == Mode::Strict {
                    for required in &object.required {
                        if !entries.iter().any(|(k, _)| &k.name == required) {
                            out.push(Problem::MissingKey {
                                line: node.line,
                                path: join(path, required),
                                within: short_type(name),
                            });
                        }
                    }
                }
            }
        }
    }
}

/// How strictly values are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Exactly the schema (widened scalars aside), required keys included.
    Strict,
    /// As the controllers decode: numbers and booleans pass as strings;
    /// required keys are not checked (a template may leave them to callers).
    Lenient,
}

/// One way a document does not fit its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A key the type does not have.
    UnknownKey {
        /// Line of the key.
        line: usize,
        /// Dotted path of the key.
        path: String,
        /// The object type it appeared in.
        within: String,
        /// The closest known key, if any is close.
        suggestion: Option<String>,
    },
    /// A value of the wrong type.
    WrongType {
        /// Line of the value.
        line: usize,
        /// Dotted path of the value.
        path: String,
        /// What the schema expects.
        expected: String,
    },
    /// A required key that is absent.
    MissingKey {
        /// Line of the object.
        line: usize,
        /// Dotted path of the key.
        path: String,
        /// The object type.
        within: String,
    },
}

impl Problem {
    /// The line the problem is on.
    pub fn line(&self) -> usize {
        match self {
            Problem::UnknownKey { line, .. }
            | Problem::WrongType { line, .. }
            | Problem::MissingKey { line, .. } => *line,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::UnknownKey {
                path,
                within,
                suggestion,
                ..
            } => {
                write!(f, "unknown key {path} ({within} has no such key")?;
                match suggestion {
                    Some(s) => write!(f, "; did you mean {s:?}?)"),
                    None => write!(f, ")"),
                }
            }
            Problem::WrongType { path, expected, .. } => write!(f, "{path} must be {expected}"),
            Problem::MissingKey { path, within, .. } => write!(f, "{path} is required in {within}"),
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The closest key within edit distance 2 (or differing only in case).
fn suggest<'a>(key: &str, known: impl Iterator<Item = &'a String>) -> Option<String> {
    known
        .map(|k| (distance(&key.to_lowercase(), &k.to_lowercase()), k))
        .filter(|(d, k)| *d <= 2.min(k.len() / 2).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.clone())
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

enum DefShape<'a> {
    Object(&'a serde_json::Map<String, Json>, Vec<String>),
    Alias(Ty),
}

fn def_type<'a>(name: &str, def: &'a Json) -> DefShape<'a> {
    if WIDENED.contains(&name) {
        return DefShape::Alias(Ty::Scalar);
    }
    match def.get("properties").and_then(Json::as_object) {
        Some(props) => {
            let required = def
                .get("required")
                .and_then(Json::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Json::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            DefShape::Object(props, required)
        }
        None => DefShape::Alias(ty_of(def)),
    }
}

fn ty_of(v: &Json) -> Ty {
    if let Some(reference) = v.get("$ref").and_then(Json::as_str) {
        let name = reference.trim_start_matches("#/definitions/");
        return if WIDENED.contains(&name) {
            Ty::Scalar
        } else {
            Ty::Ref(name.to_string())
        };
    }
    match v.get("type") {
        Some(Json::String(t)) => match t.as_str() {
            "string" => Ty::Str,
            "integer" => Ty::Int,
            "number" => Ty::Num,
            "boolean" => Ty::Bool,
            "array" => Ty::Array(Box::new(v.get("items").map_or(Ty::Any, ty_of))),
            "object" => match v.get("additionalProperties") {
                Some(Json::Object(_)) => Ty::Map(Box::new(ty_of(&v["additionalProperties"]))),
                _ => Ty::Object,
            },
            _ => Ty::Any,
        },
        Some(Json::Array(types)) if types.iter().any(|t| t == "string") => Ty::Scalar,
        _ => Ty::Any,
    }
}

fn collect_refs(ty: &Ty, queue: &mut Vec<String>) {
    match ty {
        Ty::Ref(name) => queue.push(name.clone()),
        Ty::Array(inner) | Ty::Map(inner) => collect_refs(inner, queue),
        _ => {}
    }
}

/// Long definition-name prefixes and the short forms used in tables.
const PREFIXES: &[(&str, &str)] = &[
    ("io.argoproj.workflow.v1alpha1.", "wf:"),
    ("io.argoproj.events.v1alpha1.", "ev:"),
    ("io.k8s.api.core.v1.", "core:"),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.", "meta:"),
];

fn short(name: &str) -> String {
    PREFIXES
        .iter()
        .find_map(|(long, short)| name.strip_prefix(long).map(|rest| format!("{short}{rest}")))
        .unwrap_or_else(|| name.to_string())
}

fn long(name: &str) -> String {
    PREFIXES
        .iter()
        .find_map(|(long, short)| name.strip_prefix(short).map(|rest| format!("{long}{rest}")))
        .unwrap_or_else(|| name.to_string())
}

/// A type name as shown to users: the last dotted component.
fn short_type(name: &str) -> String {
    name.rsplit('.').next().unwrap_or(name).to_string()
}

fn encode(ty: &Ty) -> String {
    match ty {
        Ty::Any => "*".into(),
        Ty::Str => "s".into(),
        Ty::Int => "i".into(),
        Ty::Num => "n".into(),
        Ty::Bool => "b".into(),
        Ty::Scalar => "x".into(),
        Ty::Object => "o".into(),
        Ty::Ref(name) => format!("@{}", short(name)),
        Ty::Array(inner) => format!("[{}", encode(inner)),
        Ty::Map(inner) => format!("{{{}", encode(inner)),
    }
}

fn decode(s: &str) -> Option<Ty> {
    let mut chars = s.chars();
    Some(match chars.next()? {
        '*' => Ty::Any,
        's' => Ty::Str,
        'i' => Ty::Int,
        'n' => Ty::Num,
        'b' => Ty::Bool,
        'x' => Ty::Scalar,
        'o' => Ty::Object,
        '@' => Ty::Ref(long(chars.as_str())),
        '[' => Ty::Array(Box::new(decode(chars.as_str())?)),
        '{' => Ty::Map(Box::new(decode(chars.as_str())?)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_tables_read() {
        for family in [Family::Argo, Family::Events] {
            let schema = embedded(family);
            assert_eq!(Schema::from_table(&schema.to_table()).as_ref(), Ok(schema));
            for (_, root) in family.roots() {
                assert!(schema.types.contains_key(*root), "{root}");
            }
        }
    }

    #[test]
    fn suggestions() {
        let keys = [
            "container".to_string(),
            "inputs".to_string(),
            "name".to_string(),
        ];
        assert_eq!(suggest("contianer", keys.iter()), Some("container".into()));
        assert_eq!(suggest("Inputs", keys.iter()), Some("inputs".into()));
        assert_eq!(suggest("zzz", keys.iter()), None);
    }
}
