//! GitHub REST.
