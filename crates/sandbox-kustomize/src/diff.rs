//! The unified diff `--dry-run` prints.

/// A unified diff of `old` and `new` with three lines of context, headed
/// `a/<path>` and `b/<path>` as `git diff` does; empty when they are equal.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}
