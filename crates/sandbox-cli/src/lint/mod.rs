//! `sandbox lint`: check Argo Workflows and Argo Events YAML without a
//! cluster. Every document of a linted kind is checked against the schema
//! key tables, then by the rules in [`workflow`] and [`sensor`]; references
//! between documents (`templateRef`, `workflowTemplateRef`) resolve against
//! every file given, through the [`index`].

pub mod cli;
mod index;
mod sensor;
mod workflow;

use crate::schema::{self, Mode, Problem};
use crate::yaml::{self, Node};
use index::Index;
use std::fmt;
use std::path::{Path, PathBuf};

/// The kinds `sandbox lint` reads; other documents are skipped.
pub const KINDS: &[&str] = &[
    "ClusterWorkflowTemplate",
    "WorkflowTemplate",
    "Workflow",
    "CronWorkflow",
    "Sensor",
    "EventSource",
];

/// Every rule, as named in findings and `--skip`.
pub const RULES: &[&str] = &[
    "unknown-key",
    "wrong-type",
    "template-ref",
    "missing-argument",
    "unknown-argument",
    "unknown-reference",
    "plugin",
    "unpinned-image",
    "hyphen-in-expression",
    "unanchored-filter",
];

/// One finding: `file:line: rule: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file, as given or found under a given directory.
    pub file: PathBuf,
    /// Line (1-based).
    pub line: usize,
    /// The rule's name, one of [`RULES`].
    pub rule: &'static str,
    /// What is wrong, and how to fix it where that is not obvious.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.rule,
            self.message
        )
    }
}

/// A file that could not be read or parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The path.
    pub file: PathBuf,
    /// Line of a syntax error, 0 when the file could not be read.
    pub line: usize,
    /// Why.
    pub message: String,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}: unreadable: {}", self.file.display(), self.message),
            line => write!(
                f,
                "{}:{line}: unreadable: {}",
                self.file.display(),
                self.message
            ),
        }
    }
}

/// What a lint run found.
#[derive(Debug, Default)]
pub struct Report {
    /// Findings, by file then line.
    pub findings: Vec<Finding>,
    /// Files that could not be read; their documents were not linted.
    pub unreadable: Vec<Unreadable>,
    /// How many documents of a linted kind were checked.
    pub documents: usize,
}

/// Options of a run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Rules not to report.
    pub skip: Vec<String>,
}

/// A parsed file.
pub(crate) struct Source {
    pub(crate) path: PathBuf,
    pub(crate) docs: Vec<Node>,
}

/// Lint files and directories (recursively, `*.yaml` and `*.yml`).
pub fn lint_paths(paths: &[PathBuf], options: &Options) -> Report {
    let mut report = Report::default();
    let mut files = Vec::new();
    for path in paths {
        collect_files(path, &mut files, &mut report.unreadable);
    }
    let mut sources = Vec::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => match yaml::parse_documents(&text) {
                Ok(docs) => sources.push(Source { path: file, docs }),
                Err(e) => report.unreadable.push(Unreadable {
                    file,
                    line: e.line,
                    message: e.message,
                }),
            },
            Err(e) => report.unreadable.push(Unreadable {
                file,
                line: 0,
                message: e.to_string(),
            }),
        }
    }
    let index = Index::build(&sources);
    for source in &sources {
        for doc in &source.docs {
            let Some(kind) = linted_kind(doc) else {
                continue;
            };
            report.documents += 1;
            let mut out = Out {
                file: &source.path,
                findings: &mut report.findings,
            };
            check_document(kind, doc, &index, &mut out);
        }
    }
    report
        .findings
        .retain(|f| !options.skip.iter().any(|s| s == f.rule));
    report
        .findings
        .sort_by(|a, b| (&a.file, a.line, a.rule).cmp(&(&b.file, b.line, b.rule)));
    report.findings.dedup();
    report
}

/// The kind of an `argoproj.io` document we lint.
pub(crate) fn linted_kind(doc: &Node) -> Option<&str> {
    let api = doc.get("apiVersion")?.as_str()?;
    let kind = doc.get("kind")?.as_str()?;
    (api.starts_with("argoproj.io/") && KINDS.contains(&kind)).then_some(kind)
}

/// Where findings go.
pub(crate) struct Out<'a> {
    file: &'a Path,
    findings: &'a mut Vec<Finding>,
}

impl Out<'_> {
    pub(crate) fn push(&mut self, line: usize, rule: &'static str, message: impl Into<String>) {
        self.findings.push(Finding {
            file: self.file.to_path_buf(),
            line,
            rule,
            message: message.into(),
        });
    }
}

/// Schema, then the kind's own rules.
pub(crate) fn check_document(kind: &str, doc: &Node, index: &Index<'_>, out: &mut Out<'_>) {
    if let Some((schema, root)) = schema::for_kind(kind) {
        for problem in schema.check(root, doc, Mode::Lenient) {
            let rule = match problem {
                Problem::UnknownKey { .. } => "unknown-key",
                Problem::WrongType { .. } | Problem::MissingKey { .. } => "wrong-type",
            };
            out.push(problem.line(), rule, problem.to_string());
        }
    }
    match kind {
        "Sensor" => sensor::check(doc, index, out),
        "EventSource" => {}
        _ => workflow::check(kind, doc, index, out),
    }
}

fn collect_files(path: &Path, files: &mut Vec<PathBuf>, unreadable: &mut Vec<Unreadable>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                unreadable.push(Unreadable {
                    file: path.to_path_buf(),
                    line: 0,
                    message: e.to_string(),
                });
                return;
            }
        };
        entries.sort();
        for entry in entries {
            let is_yaml = entry.extension().is_some_and(|e| e == "yaml" || e == "yml");
            if entry.is_dir() || is_yaml {
                collect_files(&entry, files, unreadable);
            }
        }
    } else if path.exists() {
        files.push(path.to_path_buf());
    } else {
        unreadable.push(Unreadable {
            file: path.to_path_buf(),
            line: 0,
            message: "no such file or directory".into(),
        });
    }
}
