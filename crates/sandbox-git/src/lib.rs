//! Every Git operation a sandbox task makes, on libgit2: a workdir that is
//! reused between runs (fetching only what changed), shallow single-branch
//! fetches, creating and deleting remote branches, and
//! [`Workspace::commit_and_push`], which edits a branch's tree without a
//! checkout and retries on a rejected push by re-applying the same edit on
//! the new tip.
//!
//! Every remote failure is a [`GitError`] that knows its DESIGN §3 kind:
//! authentication and missing repositories are preconditions, network
//! trouble and server errors are transient. Nothing printed ever holds a
//! credential: remote URLs never carry one (they are refused by
//! `GitRemote::parse`), and tokens reach libgit2 only through its credential
//! callback.
#![warn(missing_docs)]

mod auth;
mod edit;
mod error;
mod known_hosts;
mod workspace;

pub use auth::Auth;
pub use edit::{EditError, TreeEdit};
pub use error::GitError;
/// The workspace's one secret type, re-exported for callers that build an
/// [`Auth`] (`sandbox_core::credential::Secret`).
pub use sandbox_core::credential::Secret;
pub use workspace::{
    Author, BranchCreated, DEFAULT_AUTHOR_EMAIL, DEFAULT_AUTHOR_NAME, IfExists, Options,
    PushOutcome, Workspace,
};
