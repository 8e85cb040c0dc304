//! Which files a `junit_path` names: a file, a directory (every `*.xml`
//! below it) or a glob (`reports/**/TEST-*.xml`; `*` stays inside one
//! directory, `**` crosses them). Results are sorted so a run reads its
//! reports in the same order every time.

use globset::GlobBuilder;
use std::path::{Component, Path, PathBuf};

/// Why the reports could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// The pattern is not a valid glob.
    #[error("{pattern:?} is not a valid glob: {reason}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// What the glob parser said.
        reason: String,
    },
    /// A directory could not be read.
    #[error("cannot read the directory {}", dir.display())]
    Read {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// True when `s` has glob syntax.
pub fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// The report files `junit_path` names, sorted. A path that names nothing
/// gives an empty list: the caller decides that no report is a failure.
pub fn find_reports(junit_path: &str) -> Result<Vec<PathBuf>, FilesError> {
    let path = Path::new(junit_path);
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if path.is_dir() {
        let mut out = Vec::new();
        walk(path, &mut |p| {
            if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml")) {
                out.push(p.to_path_buf());
            }
        })?;
        out.sort();
        return Ok(out);
    }
    if !is_glob(junit_path) {
        return Ok(Vec::new());
    }
    let matcher = GlobBuilder::new(junit_path)
        .literal_separator(true)
        .build()
        .map_err(|e| FilesError::Pattern {
            pattern: junit_path.to_string(),
            reason: e.kind().to_string(),
        })?
        .compile_matcher();
    // Walk from the longest leading part without glob syntax.
    let mut base = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(c) if is_glob(&c.to_string_lossy()) => break,
            c => base.push(c),
        }
    }
    let start = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    };
    if !start.is_dir() {
        return Ok(Vec::new());
    }
    let strip_dot = !junit_path.starts_with("./") && start == Path::new(".");
    let mut out = Vec::new();
    walk(&start, &mut |p| {
        let candidate = if strip_dot {
            p.strip_prefix(".").unwrap_or(p)
        } else {
            p
        };
        if matcher.is_match(candidate) {
            out.push(candidate.to_path_buf());
        }
    })?;
    out.sort();
    Ok(out)
}

/// Every regular file below `dir`; symbolic links to directories are not
/// followed (no loops).
fn walk(dir: &Path, found: &mut dyn FnMut(&Path)) -> Result<(), FilesError> {
    let entries = std::fs::read_dir(dir).map_err(|source| FilesError::Read {
        dir: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| FilesError::Read {
            dir: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|source| FilesError::Read {
            dir: dir.to_path_buf(),
            source,
        })?;
        if kind.is_dir() {
            walk(&path, found)?;
        } else if path.is_file() {
            found(&path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_directories_and_globs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in ["a/TEST-1.xml", "a/b/TEST-2.xml", "a/b/notes.txt", "c/x.XML"] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "<testsuite/>").unwrap();
        }
        let s = |p: &Path| p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let names = |v: Vec<PathBuf>| v.iter().map(|p| s(p)).collect::<Vec<_>>();
        let r = root.to_str().unwrap();
        assert_eq!(
            names(find_reports(&format!("{r}/a/TEST-1.xml")).unwrap()),
            ["a/TEST-1.xml"]
        );
        assert_eq!(
            names(find_reports(r).unwrap()),
            ["a/TEST-1.xml", "a/b/TEST-2.xml", "c/x.XML"]
        );
        assert_eq!(
            names(find_reports(&format!("{r}/a/*.xml")).unwrap()),
            ["a/TEST-1.xml"]
        );
        assert_eq!(
            names(find_reports(&format!("{r}/**/TEST-*.xml")).unwrap()),
            ["a/TEST-1.xml", "a/b/TEST-2.xml"]
        );
        assert!(find_reports(&format!("{r}/none/*.xml")).unwrap().is_empty());
        assert!(
            find_reports(&format!("{r}/missing.xml"))
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            find_reports(&format!("{r}/[a.xml")),
            Err(FilesError::Pattern { .. })
        ));
    }
}
