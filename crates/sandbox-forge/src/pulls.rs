//! One pull request by number (`GET /repos/{o}/{r}/pulls/{n}`), with the
//! labels and dates pr-feedback and reap read.

use crate::{ForgeError, GitHub, GitRef};
use reqwest::Method;
use sandbox_core::params::GithubRepo;
use serde::{Deserialize, Serialize};

/// A pull request as `GET /repos/{o}/{r}/pulls/{n}` answers it, as much of
/// it as the tasks read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PullDetails {
    /// The number.
    pub number: u64,
    /// `open` or `closed` (merged pull requests are closed too).
    pub state: String,
    /// Its page.
    pub html_url: String,
    /// The head branch and commit: statuses go on this commit.
    pub head: GitRef,
    /// Its labels.
    #[serde(default)]
    pub labels: Vec<Label>,
    /// When it was merged, if it was.
    #[serde(default)]
    pub merged_at: Option<String>,
    /// When it was closed, if it is.
    #[serde(default)]
    pub closed_at: Option<String>,
}

/// A label on an issue or pull request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Label {
    /// Its name.
    pub name: String,
}

impl PullDetails {
    /// True while the pull request is open.
    pub fn is_open(&self) -> bool {
        self.state == "open"
    }

    /// True when it carries the label `name` (GitHub label names are
    /// case-insensitive).
    pub fn has_label(&self, name: &str) -> bool {
        self.labels
            .iter()
            .any(|l| l.name.eq_ignore_ascii_case(name))
    }
}

impl GitHub {
    /// The pull request `number` of `repo`.
    pub async fn pull(&self, repo: &GithubRepo, number: u64) -> Result<PullDetails, ForgeError> {
        let url = format!(
            "{}/repos/{}/{}/pulls/{number}",
            self.api, repo.owner, repo.name
        );
        self.send_json(Method::GET, &url, None::<&()>).await
    }
}
