//! Integration tests of sandbox-kustomize, one binary: edits of
//! hand-written kustomization files, and the render check with the real
//! `kubectl kustomize`.

mod comments;
mod edits;
mod render;
