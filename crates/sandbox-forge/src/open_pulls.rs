//! Every open pull request of a repository in one paginated listing
//! (`GET /repos/{o}/{r}/pulls?state=open&per_page=100`), with their labels:
//! a run over many sandboxes learns the state and labels of all of them
//! with one listing instead of one request per sandbox.

use crate::{ForgeError, GitHub, PullDetails};
use sandbox_core::params::GithubRepo;
use std::collections::BTreeMap;

impl GitHub {
    /// The open pull requests of `repo`, by number, every page (100 per
    /// page, at most the client's page limit).
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
        let pulls: Vec<PullDetails> = self.get_all(url.as_str()).await?;
        // Keep only open ones in case a double or a proxy ignores the filter.
        Ok(pulls
            .into_iter()
            .filter(PullDetails::is_open)
            .map(|p| (p.number, p))
            .collect())
    }
}
