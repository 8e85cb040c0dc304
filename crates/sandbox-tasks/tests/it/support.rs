//! What every task test shares: running a task binary the way Argo does
//! (outputs to a directory, one JSON line on stdout) and reading the
//! result; finding the third-party fixtures.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How a task run ended.
pub(crate) struct Run {
    /// The exit code (-1 when killed by a signal).
    pub(crate) code: i32,
    /// The JSON result line (the last line of stdout).
    pub(crate) result: Value,
    /// Everything on stdout.
    pub(crate) stdout: String,
    /// The logs.
    pub(crate) stderr: String,
}

impl Run {
    /// An output of a successful run, "" when absent.
    pub(crate) fn output(&self, name: &str) -> String {
        self.result["outputs"][name]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A task binary about to run, with a fresh outputs directory.
pub(crate) struct Task {
    name: String,
    cmd: Command,
    outputs: PathBuf,
    _temp: tempfile::TempDir,
}

/// Prepare task binary `name`: outputs to a temporary directory, text
/// logs, no parameters file or emulator from the test's environment, and a
/// deadline so a hang fails the test.
pub(crate) fn task(name: &str) -> Task {
    let temp = tempfile::tempdir().unwrap();
    let mut cmd = Command::cargo_bin(name).unwrap();
    cmd.env_remove("SANDBOX_PARAMS")
        .env_remove("STORAGE_EMULATOR_HOST")
        .env("SANDBOX_LOG_FORMAT", "text")
        .timeout(Duration::from_secs(120));
    Task {
        name: name.to_string(),
        cmd,
        outputs: temp.path().to_path_buf(),
        _temp: temp,
    }
}

impl Task {
    /// The command, to add arguments and variables.
    pub(crate) fn cmd(&mut self) -> &mut Command {
        &mut self.cmd
    }

    /// Add arguments.
    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Set variables.
    pub(crate) fn envs<'a>(
        mut self,
        envs: impl IntoIterator<Item = &'a (&'a str, &'a str)>,
    ) -> Self {
        for (k, v) in envs {
            self.cmd.env(k, v);
        }
        self
    }

    /// Write the outputs to `dir` instead of a temporary directory.
    pub(crate) fn outputs_to(mut self, dir: &Path) -> Self {
        self.outputs = dir.to_path_buf();
        self
    }

    /// Run it; the output files must say what the JSON result says.
    pub(crate) fn run(mut self) -> Run {
        let out = self
            .cmd
            .arg("--outputs-dir")
            .arg(&self.outputs)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let result: Value = serde_json::from_str(stdout.lines().last().unwrap_or("null"))
            .unwrap_or_else(|e| {
                panic!(
                    "{}: the last line of stdout is not the JSON result ({e}): {stdout}",
                    self.name
                )
            });
        if let Some(map) = result["outputs"].as_object() {
            for (k, v) in map {
                let file = std::fs::read_to_string(self.outputs.join(k))
                    .unwrap_or_else(|e| panic!("{}: output file {k}: {e}", self.name));
                assert_eq!(Some(file.as_str()), v.as_str(), "output file {k}");
            }
        }
        Run {
            code: out.status.code().unwrap_or(-1),
            result,
            stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// The result of a task process a test ran itself (to hold it, kill it,
/// or give it an environment of its own).
pub(crate) fn result_of(out: std::process::Output) -> Run {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    Run {
        code: out.status.code().unwrap_or(-1),
        result: serde_json::from_str(stdout.lines().last().unwrap_or_default())
            .unwrap_or(Value::Null),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The third-party fixtures, through the harness's one rule (missing ones
/// fail under CI); a task test cannot run without them, so it fails here
/// too, naming how to get them.
pub(crate) fn fixtures() -> PathBuf {
    sandbox_harness::fixtures::path("github/rest/pulls-get.json")
        .and_then(|_| sandbox_harness::fixtures::dir())
        .expect("the GitHub REST fixtures are needed: run scripts/test, or set SANDBOX_FIXTURES")
}

/// curl as the independent client of the storage tests: fails the test on
/// an error, returns the body.
pub(crate) fn curl(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(sandbox_harness::tool("curl"))
        .args(["-sS", "--fail-with-body"])
        .args(args)
        .output()
        .expect("curl (installed by scripts/test)");
    assert!(
        out.status.success(),
        "curl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// An object name or prefix as a URL query value.
pub(crate) fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Create a bucket in the emulator at `endpoint`.
pub(crate) fn make_bucket(endpoint: &str, name: &str) {
    curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        &format!(r#"{{"name":"{name}"}}"#),
        &format!("{endpoint}/storage/v1/b"),
    ]);
}

/// A GitHub double's listing of open pull requests: the recorded
/// `pulls-list.json` entry renumbered and relabelled for each of `pulls`,
/// served `per_page` at a time (the `per_page` query, at most 100) with
/// `Link: <…>; rel="next"` as GitHub pages a listing.
pub(crate) struct OpenPulls {
    pulls: Vec<Value>,
}

impl OpenPulls {
    /// The open pull requests `(number, labels)`.
    pub(crate) fn new(pulls: &[(u64, &[&str])]) -> OpenPulls {
        let recorded: Vec<Value> = serde_json::from_str(
            &std::fs::read_to_string(fixtures().join("github/rest/pulls-list.json")).unwrap(),
        )
        .unwrap();
        let template = recorded[0].clone();
        let pulls = pulls
            .iter()
            .map(|(n, labels)| {
                let mut pr = template.clone();
                pr["number"] = serde_json::json!(n);
                pr["state"] = serde_json::json!("open");
                let label = pr["labels"][0].clone();
                pr["labels"] = labels
                    .iter()
                    .map(|name| {
                        let mut l = label.clone();
                        l["name"] = serde_json::json!(name);
                        l
                    })
                    .collect();
                pr
            })
            .collect();
        OpenPulls { pulls }
    }
}

impl wiremock::Respond for OpenPulls {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let query = |key: &str| {
            request
                .url
                .query_pairs()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.parse::<usize>().ok())
        };
        let per_page = query("per_page").unwrap_or(30).clamp(1, 100);
        let page = query("page").unwrap_or(1).max(1);
        let start = (page - 1) * per_page;
        let items: Vec<&Value> = self.pulls.iter().skip(start).take(per_page).collect();
        let mut response = wiremock::ResponseTemplate::new(200).set_body_json(items);
        if start + per_page < self.pulls.len() {
            // The request's URL lacks the port: the Host header has it.
            let mut next = request.url.clone();
            if let Some(host) = request.headers.get("host").and_then(|h| h.to_str().ok()) {
                next = url::Url::parse(&format!("http://{host}{}", request.url.path())).unwrap();
                next.set_query(request.url.query());
            }
            let pairs: Vec<(String, String)> = next
                .query_pairs()
                .filter(|(k, _)| k != "page")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            next.query_pairs_mut()
                .clear()
                .extend_pairs(pairs)
                .append_pair("page", &(page + 1).to_string());
            response = response.insert_header("link", format!("<{next}>; rel=\"next\"").as_str());
        }
        response
    }
}
