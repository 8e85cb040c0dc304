//! Credentials and Vault for the sandbox tasks.
//!
//! [`Credentials`] resolves the `file:`, `env:` and `vault://` references
//! parsed by `sandbox_core::credential` — once per run, cached, every value
//! registered with the run's redactor. [`VaultClient`] is the few Vault
//! calls the tasks make (login, KV v2 read, list, delete), over plain
//! HTTP requests with retries; `sandbox-core` stays free of HTTP clients.
#![warn(missing_docs)]

pub mod client;
pub mod config;
pub mod credentials;

pub use client::{VaultClient, VaultError};
pub use config::{DEFAULT_TOKEN_FILE, Login, VaultConfig};
pub use credentials::{CredentialError, Credentials};

#[cfg(feature = "testing")]
pub mod testing;
