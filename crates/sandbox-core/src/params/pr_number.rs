//! Pull request numbers: positive, and within GitHub's 32-bit range.

use super::Invalid;
use serde::Serialize;
use std::fmt;

/// A pull request number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PrNumber(u32);

impl PrNumber {
    /// Validate a PR number given as text.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s.trim().parse::<u32>() {
            Ok(n) if n >= 1 && n <= i32::MAX as u32 => Ok(PrNumber(n)),
            _ => Err(Invalid::one(
                "positive-integer",
                "PR number must be a whole number from 1 to 2147483647",
                "pass the pull request's number, e.g. 42",
            )),
        }
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for PrNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_negative_and_text_are_refused() {
        for bad in ["0", "-1", "x", "", "4294967296", "2147483648"] {
            assert!(PrNumber::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(PrNumber::parse("42").unwrap().get(), 42);
    }
}
