//! Running `psql` and `pg_restore`: where they are, how they are called so
//! they never prompt and never see a password on their command line, and
//! what their error output means for a retry.

use crate::DbError;
use crate::error::ToolFailure;
use crate::server::Server;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{ChildStderr, Command};

/// Directory of the PostgreSQL binaries, when not the newest installed
/// ([`crate::pgbin`]).
pub const PGBIN_ENV: &str = sandbox_core::env_vars::PGBIN;

/// The application name restore sessions carry in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "restore-db";

/// The path of a PostgreSQL client binary ([`crate::pgbin::bin`]).
pub fn bin(name: &str) -> PathBuf {
    crate::pgbin::bin(name)
}

/// A command for `tool` against `database`: no prompt, no password on the
/// command line (it goes through `PGPASSWORD`), and a recognisable
/// application name.
pub fn command(tool: &'static str, server: &Server, database: &str) -> Command {
    let mut cmd = Command::new(bin(tool));
    cmd.env("PGAPPNAME", APPLICATION_NAME)
        .env_remove("PGDATABASE")
        .kill_on_drop(true)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(password) = server.password() {
        cmd.env("PGPASSWORD", password);
    }
    match tool {
        "psql" => {
            cmd.args([
                "-X",
                "-q",
                "-w",
                "-v",
                "ON_ERROR_STOP=1",
                "-1",
                "-o",
                "/dev/null",
                "-d",
            ])
            .arg(server.tool_url(database))
            .args(["-f", "-"]);
        }
        _ => {
            cmd.args(["--exit-on-error", "-w", "-d"])
                .arg(server.tool_url(database));
        }
    }
    cmd
}

/// Bytes of pipe buffer asked for between us and the tool.
const PIPE_SIZE: i32 = 1 << 20;

/// Ask for a 1 MiB pipe to the tool instead of Linux's 64 KiB: psql reads
/// its input 4 KiB at a time, and a deeper pipe lets it keep reading while
/// this process waits for its next turn on a busy machine. Best effort.
#[allow(unsafe_code)]
pub fn widen_pipe(stdin: &tokio::process::ChildStdin) {
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl(F_SETPIPE_SZ) on a pipe descriptor we own changes only
    // the kernel's buffer size; an error leaves the pipe as it was.
    let result = unsafe { libc::fcntl(stdin.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE) };
    if result < 0 {
        tracing::debug!(
            "cannot widen the pipe to the restore tool: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Lines that mean the server went away, not that the dump is wrong.
const CONNECTION_LOST: &[&str] = &[
    "server closed the connection unexpectedly",
    "terminating connection due to administrator command",
    "connection to server was lost",
    "could not connect to server",
    "connection refused",
    "no connection to the server",
    "could not receive data from server",
    "could not send data to server",
    "ssl syscall error",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "sorry, too many clients already",
    "server conn crashed",
];

/// What a tool's error output means.
pub fn classify(stderr: &str) -> ToolFailure {
    let lower = stderr.to_ascii_lowercase();
    let login = [
        "password authentication failed",
        "no pg_hba.conf entry",
        "authentication failed",
        "permission denied to create database",
    ];
    if login.iter().any(|p| lower.contains(p))
        || lower
            .lines()
            .any(|l| l.contains("fatal:") && l.contains("does not exist"))
    {
        return ToolFailure::Login;
    }
    if CONNECTION_LOST.iter().any(|p| lower.contains(p)) {
        return ToolFailure::ConnectionLost;
    }
    if lower.contains("fatal:") {
        return ToolFailure::Login;
    }
    ToolFailure::Dump
}

/// The lines worth showing from a tool's error output: errors and their
/// context, at most a few, each once.
pub fn summarize(stderr: &str) -> String {
    let important: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter(|l| {
            let lower = l.to_ascii_lowercase();
            [
                "error",
                "fatal",
                "could not",
                "unexpected",
                "server closed",
                "detail:",
                "line ",
            ]
            .iter()
            .any(|k| lower.contains(k))
        })
        .collect();
    let lines = if important.is_empty() {
        stderr
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    } else {
        important
    };
    let mut out = String::new();
    for line in lines.iter().take(8) {
        if !out.is_empty() {
            out.push_str("; ");
        }
        out.push_str(line);
    }
    if out.len() > 2000 {
        let mut cut = 2000;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// Keeps the last lines of a tool's stderr (bounded) and logs each line.
pub async fn collect_stderr(tool: &'static str, stderr: ChildStderr) -> String {
    const KEEP: usize = 200;
    let mut lines = BufReader::new(stderr).lines();
    let mut kept: VecDeque<String> = VecDeque::new();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!(tool, "{line}");
        if kept.len() == KEEP {
            kept.pop_front();
        }
        kept.push_back(line);
    }
    kept.into_iter().collect::<Vec<_>>().join("\n")
}

/// A failed tool run as an error.
pub fn failure(tool: &'static str, status: std::process::ExitStatus, stderr: &str) -> DbError {
    let message = summarize(stderr);
    DbError::Tool {
        tool,
        failure: classify(stderr),
        message: if message.is_empty() {
            format!("exited with {status} and no message")
        } else {
            message
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classified_by_their_message() {
        assert_eq!(
            classify(
                "FATAL:  terminating connection due to administrator command\nserver closed the connection unexpectedly"
            ),
            ToolFailure::ConnectionLost
        );
        assert_eq!(
            classify("psql:<stdin>:42: ERROR:  relation \"x\" does not exist"),
            ToolFailure::Dump
        );
        assert_eq!(
            classify(
                "psql: error: connection to server at \"127.0.0.1\", port 1 failed: Connection refused"
            ),
            ToolFailure::ConnectionLost
        );
        assert_eq!(
            classify("pg_restore: error: could not read input file: end of file"),
            ToolFailure::Dump
        );
        assert_eq!(
            classify("FATAL:  password authentication failed for user \"x\""),
            ToolFailure::Login
        );
    }

    #[test]
    fn summaries_keep_error_lines() {
        let s = summarize(
            "NOTICE: foo\npsql:<stdin>:7: ERROR:  syntax error at or near \"x\"\nLINE 1: x\n",
        );
        assert!(s.contains("syntax error"), "{s}");
        assert!(!s.contains("NOTICE"), "{s}");
    }
}
