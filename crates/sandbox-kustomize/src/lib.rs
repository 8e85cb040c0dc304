//! Format-preserving edits of Kustomize `kustomization.yaml` files,
//! rendering of a kustomization from a tera template, and the check that
//! an edited overlay still builds ([`render`]).
//!
//! An environment's overlay is a file people read and review: the diff of
//! an automated edit must touch only the values that changed. Edits go
//! through [yaml-edit]'s lossless syntax tree, so comments, key order,
//! quoting, indentation, blank lines, anchors and line endings (LF or CRLF)
//! stay as they were; a value keeps the quoting style it had, unless the new
//! value cannot be written in it.
//!
//! ```
//! use sandbox_kustomize::{Edit, ImageEdit, Kustomization};
//!
//! let text = "namespace: old # set per sandbox\nimages:\n  - name: shop\n    newTag: \"1.0\"\n";
//! let mut k = Kustomization::parse(text).unwrap();
//! k.apply(&Edit::Namespace("apps-sbx-pr-7".into())).unwrap();
//! k.apply(&Edit::Image(ImageEdit::parse("shop:1.1").unwrap())).unwrap();
//! assert_eq!(
//!     k.to_string(),
//!     "namespace: apps-sbx-pr-7 # set per sandbox\nimages:\n  - name: shop\n    newTag: \"1.1\"\n"
//! );
//! ```
//!
//! [yaml-edit]: https://docs.rs/yaml-edit

pub mod application;
mod diff;
mod edit;
mod error;
mod kustomization;
pub mod render;
mod template;
pub mod workloads;

pub use diff::unified_diff;
pub use edit::{Edit, ImageEdit, LabelEdit, LiteralEdit, ReplacementSourceEdit};
pub use error::KustomizeError;
pub use kustomization::{Image, KUSTOMIZATION_FILE_NAMES, Kustomization};
pub use template::{TemplateContext, render_template};

/// Apply `edits` in order to the text of a kustomization file and return
/// the new text (equal to `text` when nothing changed).
pub fn edit(text: &str, edits: &[Edit]) -> Result<String, KustomizeError> {
    let mut k = Kustomization::parse(text)?;
    for e in edits {
        k.apply(e)?;
    }
    Ok(k.to_string())
}
