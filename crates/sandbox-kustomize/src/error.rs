//! Why an edit or a rendering failed, and which kind of failure that is.

use sandbox_core::{Classify, ErrorKind};

/// A kustomization could not be edited or rendered. Every variant is about
/// the repository's content, so each is a precondition failure (exit 3):
/// the overlay is not as the task needs it.
#[derive(Debug, thiserror::Error)]
pub enum KustomizeError {
    /// The file is not valid YAML.
    #[error("kustomization is not valid YAML: {0}")]
    Syntax(String),
    /// The file holds no mapping to edit.
    #[error("kustomization has no top-level mapping")]
    NotAMapping,
    /// A key holds a value of the wrong shape, e.g. `images` as a mapping.
    #[error("`{key}` must be {expected}")]
    Shape {
        /// Where, as a path like `images[2]`.
        key: String,
        /// What it must be.
        expected: &'static str,
    },
    /// `--set-literal` names a generator the kustomization does not have.
    #[error(
        "no configMapGenerator or secretGenerator is named {0:?}; literals are set on existing generators only"
    )]
    NoSuchGenerator(String),
    /// A generator name is used in both lists.
    #[error("{0:?} is both a configMapGenerator and a secretGenerator")]
    AmbiguousGenerator(String),
    /// No replacement has a source of that name.
    #[error("no replacement has source.name {0:?}")]
    NoSuchReplacementSource(String),
    /// The template could not be parsed or rendered.
    #[error("template {name} cannot be rendered")]
    Template {
        /// The template's path in the repository.
        name: String,
        /// Tera's error chain, flattened.
        #[source]
        source: tera::Error,
    },
}

impl Classify for KustomizeError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Precondition
    }
}
