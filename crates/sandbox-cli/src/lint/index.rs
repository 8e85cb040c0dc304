//! The WorkflowTemplates and ClusterWorkflowTemplates of every file given,
//! by name, so references between files resolve.

use super::{Source, linted_kind};
use crate::yaml::Node;
use std::collections::HashMap;

/// Templates by (cluster scope, name).
pub(crate) struct Index<'a> {
    docs: HashMap<(bool, &'a str), &'a Node>,
}

/// How a reference to a WorkflowTemplate resolved.
pub(crate) enum Resolved<'a> {
    /// Found, with its spec.
    Found(&'a Node),
    /// Not in this scope, but in the other one (clusterScope is wrong).
    OtherScope,
    /// Not in any file given.
    Missing,
}

impl<'a> Index<'a> {
    pub(crate) fn build(sources: &'a [Source]) -> Index<'a> {
        let mut docs = HashMap::new();
        for doc in sources.iter().flat_map(|s| &s.docs) {
            let cluster = match linted_kind(doc) {
                Some("ClusterWorkflowTemplate") => true,
                Some("WorkflowTemplate") => false,
                _ => continue,
            };
            if let Some(name) = doc.at(&["metadata", "name"]).and_then(Node::as_str) {
                docs.insert((cluster, name), doc);
            }
        }
        Index { docs }
    }

    /// Resolve a (Cluster)WorkflowTemplate by name.
    pub(crate) fn resolve(&self, name: &str, cluster: bool) -> Resolved<'a> {
        match self
            .docs
            .get(&(cluster, name))
            .and_then(|doc| doc.get("spec"))
        {
            Some(spec) => Resolved::Found(spec),
            None if self.docs.contains_key(&(!cluster, name)) => Resolved::OtherScope,
            None => Resolved::Missing,
        }
    }
}

/// The template named `name` in a workflow spec.
pub(crate) fn template<'n>(spec: &'n Node, name: &str) -> Option<&'n Node> {
    spec.get("templates")?
        .items()
        .iter()
        .find(|t| t.get("name").and_then(Node::as_str) == Some(name))
}

/// Names of a list of parameters or artifacts.
pub(crate) fn names(list: Option<&Node>) -> Vec<&str> {
    list.map(Node::items)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.get("name").and_then(Node::as_str))
        .collect()
}

/// Whether an input parameter must be given: it has no value, default or
/// valueFrom of its own.
pub(crate) fn is_required(param: &Node) -> bool {
    ["value", "default", "valueFrom"]
        .iter()
        .all(|k| param.get(k).is_none())
}
