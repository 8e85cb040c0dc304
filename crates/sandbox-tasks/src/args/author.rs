//! Who the commits a task pushes are by.

use clap::Args;
use sandbox_core::Problem;
use sandbox_core::params::Problems;
use sandbox_git::Author;

/// The commit author.
#[derive(Debug, Clone, Args)]
pub struct AuthorArgs {
    /// Commit author name.
    #[arg(long, env = "SANDBOX_GIT_AUTHOR_NAME", value_name = "NAME", default_value = sandbox_git::DEFAULT_AUTHOR_NAME)]
    pub git_author_name: String,
    /// Commit author e-mail.
    #[arg(long, env = "SANDBOX_GIT_AUTHOR_EMAIL", value_name = "EMAIL", default_value = sandbox_git::DEFAULT_AUTHOR_EMAIL)]
    pub git_author_email: String,
}

impl Default for AuthorArgs {
    fn default() -> Self {
        AuthorArgs {
            git_author_name: sandbox_git::DEFAULT_AUTHOR_NAME.into(),
            git_author_email: sandbox_git::DEFAULT_AUTHOR_EMAIL.into(),
        }
    }
}

impl AuthorArgs {
    /// The author, validated: what git would refuse or misread is a problem.
    pub fn validate(&self, problems: &mut Problems) -> Option<Author> {
        let mut ok = true;
        for (field, value) in [
            ("git_author_name", &self.git_author_name),
            ("git_author_email", &self.git_author_email),
        ] {
            if value.trim().is_empty() || value.contains(['<', '>', '\n']) {
                ok = false;
                problems.push(Problem {
                    field: field.into(),
                    rule: "git-identity".into(),
                    message: format!("{field} must be non-empty without '<', '>' or newlines"),
                    value: Some(value.clone()),
                    fix: "give e.g. argo-sandbox / argo-sandbox@example.com".into(),
                });
            }
        }
        ok.then(|| Author {
            name: self.git_author_name.clone(),
            email: self.git_author_email.clone(),
        })
    }
}
