//! Finding the backup.
