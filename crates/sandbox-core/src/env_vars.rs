//! Every environment variable the project reads, in one place.
//!
//! Task flags read `SANDBOX_<UPPER_SNAKE>` through clap (see
//! [`flag_env`]); the names below are the ones read outside a flag.

/// Where task binaries write output parameters (default `/tmp/outputs`).
pub const OUTPUTS_DIR: &str = "SANDBOX_OUTPUTS_DIR";
/// `text` or `json`; json when stderr is not a terminal.
pub const LOG_FORMAT: &str = "SANDBOX_LOG_FORMAT";
/// `error`, `warn`, `info` (default), `debug` or `trace`.
pub const LOG_LEVEL: &str = "SANDBOX_LOG_LEVEL";
/// Directory of third-party test fixtures (default `../shared/fixtures`).
pub const FIXTURES: &str = "SANDBOX_FIXTURES";
/// Directory holding the service binaries the test harness starts.
pub const TOOLS_DIR: &str = "SANDBOX_TOOLS_DIR";

/// The environment variable a flag reads: `SANDBOX_` + its name in upper
/// snake case (`base_branch` or `base-branch` → `SANDBOX_BASE_BRANCH`).
pub fn flag_env(name: &str) -> String {
    let mut out = String::from("SANDBOX_");
    out.extend(name.chars().map(|c| {
        if c == '-' {
            '_'
        } else {
            c.to_ascii_uppercase()
        }
    }));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn flag_env_is_prefixed_upper_snake() {
        assert_eq!(super::flag_env("base-branch"), "SANDBOX_BASE_BRANCH");
        assert_eq!(super::flag_env("pr_number"), "SANDBOX_PR_NUMBER");
    }
}
