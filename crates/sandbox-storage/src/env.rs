//! The environment variables this crate reads, each once, here.

/// `host:port` or `http://host:port` of a GCS emulator: requests go there,
/// anonymously (the convention of Google's client libraries).
pub const STORAGE_EMULATOR_HOST: &str = "STORAGE_EMULATOR_HOST";
/// Path of a service-account key or authorized-user JSON file (ADC).
pub const GOOGLE_APPLICATION_CREDENTIALS: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// Host of the metadata server (default `metadata.google.internal`).
pub const GCE_METADATA_HOST: &str = "GCE_METADATA_HOST";
