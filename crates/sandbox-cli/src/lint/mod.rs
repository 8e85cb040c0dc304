//! `sandbox lint`: check Argo Workflows and Argo Events YAML without a
//! cluster. Every document of a linted kind is checked against the schema
//! key tables, then by Argo's validator rules ([`validate`], [`dag`],
//! [`scope`]: argo-workflows `workflow/validate/validate.go`) and our own
//! ([`workflow`], [`sensor`]); references between documents (`templateRef`,
//! `workflowTemplateRef`) resolve against every file given, through the
//! [`index`].

pub mod cli;
mod dag;
mod index;
mod scope;
mod sensor;
mod validate;
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
    // Argo's validator (argo-workflows workflow/validate/validate.go).
    "name",
    "template-type",
    "image",
    "field-not-allowed",
    "container-set",
    "volume-mount",
    "outputs",
    "arguments",
    "loop",
    "resource",
    "pod-gc",
    "deadline",
    "cron",
    "retry-policy",
    "metric",
    "hook",
    "dag",
    "variable-scope",
    "entrypoint",
    "duplicate-key",
    // Schema and references.
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

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Argo would reject the document, or it would not run as written.
    Error,
    /// Worth a look, but Argo accepts it; does not fail the run.
    Warning,
}

/// One finding: `file:line: rule: message` (`rule: warning: message` for
/// a warning).
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
    /// Error or warning.
    pub severity: Severity,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let warning = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        write!(
            f,
            "{}:{}: {}: {warning}{}",
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

impl Report {
    /// Findings that fail the run (warnings do not).
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }
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
    /// Keys given twice in one mapping.
    pub(crate) duplicates: Vec<yaml::Key>,
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
            Ok(text) => match yaml::parse_stream(&text) {
                Ok(stream) => sources.push(Source {
                    path: file,
                    docs: stream.documents,
                    duplicates: stream.duplicates,
                }),
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
        if source.docs.iter().any(|d| linted_kind(d).is_some()) {
            for key in &source.duplicates {
                report.findings.push(Finding {
                    file: source.path.clone(),
                    line: key.line,
                    rule: "duplicate-key",
                    message: format!(
                        "key {:?} is given twice in one mapping; strict readers (argo lint) reject it, others keep one silently: remove one",
                        key.name
                    ),
                    severity: Severity::Error,
                });
            }
        }
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
            severity: Severity::Error,
        });
    }

    pub(crate) fn warn(&mut self, line: usize, rule: &'static str, message: impl Into<String>) {
        self.findings.push(Finding {
            file: self.file.to_path_buf(),
            line,
            rule,
            message: message.into(),
            severity: Severity::Warning,
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
        _ => {
            validate::check(kind, doc, index, out);
            workflow::check(kind, doc, index, out);
        }
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
