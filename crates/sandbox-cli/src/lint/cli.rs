//! `sandbox lint` as a command: its flags, the findings on stdout, the
//! summary on stderr and the exit code.

use super::{Options, RULES, lint_paths};
use clap::Args;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// The flags of `sandbox lint`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Prints file:line: rule: message per finding.\n\
                        Exit codes: 0 clean (warnings allowed), 1 findings, 2 unreadable input or a bad flag.")]
pub struct LintArgs {
    /// Files or directories (searched recursively for *.yaml and *.yml).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Do not report this rule (repeatable); see the README for the list.
    #[arg(long, value_name = "RULE")]
    pub skip: Vec<String>,
}

/// Lint, print, and say how it went: 0 clean (warnings do not count), 1
/// findings, 2 unreadable input.
#[allow(clippy::print_stderr)]
pub fn run(args: LintArgs) -> ExitCode {
    if let Some(unknown) = args.skip.iter().find(|s| !RULES.contains(&s.as_str())) {
        eprintln!(
            "sandbox lint: --skip {unknown}: no such rule (rules: {})",
            RULES.join(", ")
        );
        return ExitCode::from(2);
    }
    let report = lint_paths(&args.paths, &Options { skip: args.skip });
    let mut stdout = std::io::stdout().lock();
    for finding in &report.findings {
        if let Err(e) = writeln!(stdout, "{finding}") {
            eprintln!("sandbox lint: cannot write findings: {e}");
            return ExitCode::from(1);
        }
    }
    for unreadable in &report.unreadable {
        eprintln!("{unreadable}");
    }
    let warnings = report.findings.len() - report.errors();
    eprintln!(
        "sandbox lint: {} finding(s){} in {} document(s){}",
        report.errors(),
        if warnings == 0 {
            String::new()
        } else {
            format!(" and {warnings} warning(s)")
        },
        report.documents,
        if report.unreadable.is_empty() {
            String::new()
        } else {
            format!(", {} unreadable file(s)", report.unreadable.len())
        }
    );
    if !report.unreadable.is_empty() {
        ExitCode::from(2)
    } else if report.errors() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
