//! Check runs (`POST /repos/{o}/{r}/check-runs`, `PATCH
//! /repos/{o}/{r}/check-runs/{id}`): a completed run with its conclusion,
//! a Markdown summary and one annotation per finding. GitHub takes at most
//! 50 annotations per request and appends those of each update to the run
//! (REST docs, "Create a check run" / "Update a check run", `output.annotations`),
//! so the first 50 go with the create and the rest in updates of 50.
//! Only a GitHub App's installation token may create check runs.

use crate::{ForgeError, GitHub};
use reqwest::Method;
use sandbox_core::params::GithubRepo;
use serde::{Deserialize, Serialize};

/// Annotations per request, GitHub's limit.
pub const ANNOTATIONS_PER_REQUEST: usize = 50;
/// GitHub's limit on `output.summary` and `output.text` (characters).
pub const MAX_OUTPUT_TEXT: usize = 65_535;
/// GitHub's limit on an annotation's `message` and `raw_details` (64 KB).
const MAX_ANNOTATION_TEXT: usize = 64 * 1024 - 1;
/// GitHub's limit on titles.
const MAX_TITLE: usize = 255;

/// A check run's conclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    /// Everything passed.
    Success,
    /// Something failed.
    Failure,
    /// Nothing to judge.
    Neutral,
}

impl Conclusion {
    /// `success`, `failure` or `neutral`.
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Neutral => "neutral",
        }
    }
}

/// The severity of an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationLevel {
    /// A failure (a failed or errored test).
    Failure,
    /// A warning.
    Warning,
    /// A notice.
    Notice,
}

/// One annotation: a line range of a file and what is wrong there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Annotation {
    /// The file, relative to the repository root.
    pub path: String,
    /// First line (1-based).
    pub start_line: u64,
    /// Last line.
    pub end_line: u64,
    /// Severity.
    pub annotation_level: AnnotationLevel,
    /// What went wrong (≤ 64 KB, cut here).
    pub message: String,
    /// A title (≤ 255 characters, cut here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Details shown folded (the traceback; ≤ 64 KB, cut here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_details: Option<String>,
}

/// A completed check run to publish.
#[derive(Debug, Clone)]
pub struct CheckRun {
    /// The check's name, e.g. `sandbox/tests`.
    pub name: String,
    /// The commit it is about.
    pub head_sha: String,
    /// Its conclusion.
    pub conclusion: Conclusion,
    /// Where to read more (the workflow's page).
    pub details_url: Option<String>,
    /// The output's title (one line).
    pub title: String,
    /// The output's summary (Markdown, cut at [`MAX_OUTPUT_TEXT`]).
    pub summary: String,
    /// Every annotation; sent in pages of [`ANNOTATIONS_PER_REQUEST`].
    pub annotations: Vec<Annotation>,
}

/// What publishing a check run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The run's id.
    pub id: u64,
    /// Its page.
    pub html_url: String,
    /// Requests sent: the create and each update.
    pub requests: usize,
    /// Annotations sent.
    pub annotations: usize,
}

#[derive(Serialize)]
struct Output<'a> {
    title: &'a str,
    summary: &'a str,
    annotations: &'a [Annotation],
}

#[derive(Serialize)]
struct Create<'a> {
    name: &'a str,
    head_sha: &'a str,
    status: &'static str,
    conclusion: Conclusion,
    completed_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    details_url: Option<&'a str>,
    output: Output<'a>,
}

#[derive(Serialize)]
struct Update<'a> {
    output: Output<'a>,
}

#[derive(Deserialize)]
struct Created {
    id: u64,
    #[serde(default)]
    html_url: String,
}

/// `s` cut to at most `max` characters, saying so when it was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    const CUT: &str = "\n… (cut)";
    let keep = max.saturating_sub(CUT.chars().count());
    let mut out: String = s.chars().take(keep).collect();
    out.push_str(CUT);
    out
}

impl Annotation {
    /// The annotation with GitHub's length limits applied.
    fn within_limits(&self) -> Annotation {
        Annotation {
            message: truncate(&self.message, MAX_ANNOTATION_TEXT),
            title: self.title.as_deref().map(|t| truncate(t, MAX_TITLE)),
            raw_details: self
                .raw_details
                .as_deref()
                .map(|d| truncate(d, MAX_ANNOTATION_TEXT)),
            end_line: self.end_line.max(self.start_line),
            ..self.clone()
        }
    }
}

impl GitHub {
    /// Publish `run` as one completed check run: the create carries the
    /// first 50 annotations, each update the next 50.
    pub async fn create_check_run(
        &self,
        repo: &GithubRepo,
        run: &CheckRun,
    ) -> Result<Published, ForgeError> {
        let annotations: Vec<Annotation> = run
            .annotations
            .iter()
            .map(Annotation::within_limits)
            .collect();
        let mut pages = annotations.chunks(ANNOTATIONS_PER_REQUEST);
        let title = truncate(&run.title, MAX_TITLE);
        let summary = truncate(&run.summary, MAX_OUTPUT_TEXT);
        let output = |annotations| Output {
            title: &title,
            summary: &summary,
            annotations,
        };
        let url = format!("{}/repos/{}/{}/check-runs", self.api, repo.owner, repo.name);
        let created: Created = self
            .send_json(
                Method::POST,
                &url,
                Some(&Create {
                    name: &run.name,
                    head_sha: &run.head_sha,
                    status: "completed",
                    conclusion: run.conclusion,
                    completed_at: sandbox_core::time::rfc3339(std::time::SystemTime::now()),
                    details_url: run.details_url.as_deref(),
                    output: output(pages.next().unwrap_or(&[])),
                }),
            )
            .await?;
        let mut requests = 1;
        let update = format!("{url}/{}", created.id);
        for page in pages {
            let _: serde_json::Value = self
                .send_json(
                    Method::PATCH,
                    &update,
                    Some(&Update {
                        output: output(page),
                    }),
                )
                .await?;
            requests += 1;
        }
        Ok(Published {
            id: created.id,
            html_url: created.html_url,
            requests,
            annotations: annotations.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_and_say_so() {
        assert_eq!(truncate("short", 10), "short");
        let cut = truncate(&"é".repeat(100), 20);
        assert_eq!(cut.chars().count(), 20);
        assert!(cut.ends_with("(cut)"));
    }
}
