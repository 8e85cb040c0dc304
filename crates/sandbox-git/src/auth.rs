//! Credentials for a remote, and the libgit2 credential callback that hands
//! them out — counting attempts, so a rejected credential ends in a clear
//! error instead of libgit2's "too many authentication replays".

use std::cell::Cell;
use std::path::PathBuf;

use sandbox_core::credential::Secret;

/// How to authenticate to a remote.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// Anonymous (git://, file://, public HTTPS).
    #[default]
    None,
    /// HTTPS basic auth with a token as the password. GitHub accepts any
    /// user name with a token; `x-access-token` is what its apps use.
    Token {
        /// The user name sent with the token.
        user: String,
        /// The token.
        token: Secret,
    },
    /// An SSH private key file (a deploy key).
    SshKey {
        /// The key file.
        private_key: PathBuf,
        /// Its passphrase, if it has one.
        passphrase: Option<Secret>,
        /// A known_hosts file the server's host key must be listed in;
        /// without it only `~/.ssh/known_hosts` is consulted (by libgit2).
        known_hosts: Option<PathBuf>,
    },
}

impl Auth {
    /// The name of the method, for messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Auth::None => "no credentials",
            Auth::Token { .. } => "the HTTPS token",
            Auth::SshKey { .. } => "the SSH key",
        }
    }
}

/// What the credential callback saw, for the error when it gave up.
#[derive(Debug, Default)]
pub(crate) struct AuthState {
    /// Calls of the callback during one remote operation.
    pub(crate) attempts: Cell<u32>,
    /// The server asked for credentials and none fit what it accepts.
    pub(crate) unsupported: Cell<bool>,
}

/// libgit2 calls the credential callback again after the server rejects a
/// credential; a second call for the same operation means the first was
/// refused. Two attempts cover the ssh "username first, then key" dance.
const MAX_ATTEMPTS: u32 = 2;

/// The credential callback body.
pub(crate) fn credentials(
    auth: &Auth,
    state: &AuthState,
    username_from_url: Option<&str>,
    allowed: git2::CredentialType,
) -> Result<git2::Cred, git2::Error> {
    let attempt = state.attempts.get() + 1;
    state.attempts.set(attempt);
    let give_up = || git2::Error::from_str("credentials rejected by the remote");
    match auth {
        Auth::Token { user, token }
            if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT) =>
        {
            if attempt > 1 {
                return Err(give_up());
            }
            git2::Cred::userpass_plaintext(user, token.expose())
        }
        Auth::SshKey {
            private_key,
            passphrase,
            ..
        } => {
            let user = username_from_url.unwrap_or("git");
            if allowed.contains(git2::CredentialType::USERNAME) {
                return git2::Cred::username(user);
            }
            if !allowed.contains(git2::CredentialType::SSH_KEY) {
                state.unsupported.set(true);
                return Err(git2::Error::from_str("the remote does not accept SSH keys"));
            }
            if attempt > MAX_ATTEMPTS {
                return Err(give_up());
            }
            git2::Cred::ssh_key(
                user,
                None,
                private_key,
                passphrase.as_ref().map(Secret::expose),
            )
        }
        _ => {
            state.unsupported.set(true);
            Err(git2::Error::from_str(
                "the remote asks for credentials this run does not have",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("ghp_abcdef\n");
        assert_eq!(s.expose(), "ghp_abcdef");
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        let auth = Auth::Token {
            user: "x".into(),
            token: s,
        };
        assert!(!format!("{auth:?}").contains("ghp_"));
    }

    #[test]
    fn a_second_request_for_the_same_token_gives_up() {
        let auth = Auth::Token {
            user: "x".into(),
            token: Secret::new("t0ken"),
        };
        let state = AuthState::default();
        let allowed = git2::CredentialType::USER_PASS_PLAINTEXT;
        assert!(credentials(&auth, &state, None, allowed).is_ok());
        assert!(credentials(&auth, &state, None, allowed).is_err());
        let none = AuthState::default();
        assert!(credentials(&Auth::None, &none, None, allowed).is_err());
        assert!(none.unsupported.get());
    }
}
