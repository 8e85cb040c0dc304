//! Every open pull request of a repository in one paginated listing
//! (`GET /repos/{o}/{r}/pulls?state=open&per_page=100`), with their labels:
//! a run over many sandboxes learns the state and labels of all of them
//! with one listing instead of one request per sandbox.

use crate::{ForgeError, GitHub, PullDetails};
use sandbox_core::params::GithubRepo;
use std::collections::BTreeMap;

/// Most pages of open pull requests read (100 each): 10,000 open pull
/// requests. A longer listing is an error, never a silent cut: a sandbox
/// whose pull request is not in the list is treated as closed.
const MAX_OPEN_PAGES: usize = 100;

impl GitHub {
    /// The open pull requests of `repo`, by number, every page (100 per
    /// page). A listing longer than 10,000 is an error rather than a cut,
    /// since callers take a pull request missing from it as closed.
    pub async fn open_pulls(
        &self,
        repo: &GithubRepo,
    ) -> Result<BTreeMap<u64, PullDetails>, ForgeError> {
        let mut url = url::Url::parse(&format!(
            "{}/repos/{}/{}/pulls",
            self.api, repo.owner, repo.name
        ))
        .map_err(|e| ForgeError::Config {
            message: format!("bad URL: {e}"),
        })?;
        url.query_pairs_mut()
            .append_pair("state", "open")
            .append_pair("per_page", "100");
        let (pulls, complete): (Vec<PullDetails>, bool) =
            self.get_pages(url.as_str(), MAX_OPEN_PAGES).await?;
        if !complete {
            return Err(ForgeError::Truncated {
                url: url.to_string(),
                limit: pulls.len(),
            });
        }
        // Keep only open ones in case a double or a proxy ignores the filter.
        Ok(pulls
            .into_iter()
            .filter(PullDetails::is_open)
            .map(|p| (p.number, p))
            .collect())
    }
}
