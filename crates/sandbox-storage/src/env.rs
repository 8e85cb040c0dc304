//! The environment variables this crate reads; the names live with every
//! other one in [`sandbox_core::env_vars`].

pub use sandbox_core::env_vars::{
    GCE_METADATA_HOST, GOOGLE_APPLICATION_CREDENTIALS, STORAGE_EMULATOR_HOST,
};
