//! Object deletion through the JSON API (`DELETE /storage/v1/b/{bucket}/o/{object}`),
//! retried like every other call. A 404 for the object means it is
//! already gone, which is what a delete wants: a retried request whose
//! first attempt succeeded, or a rerun after an interruption, succeeds.

use super::{Gcs, Target};
use crate::StorageError;

impl Gcs {
    /// Delete the live version of `name`; `false` when there was none.
    pub(crate) async fn delete(&self, bucket: &str, name: &str) -> Result<bool, StorageError> {
        let url = self.object_url(bucket, name);
        let target = Target {
            operation: format!("delete gs://{bucket}/{name}"),
            bucket,
            object: Some(name),
        };
        match self.send(&target, || self.http.delete(&url)).await {
            Ok(_) => Ok(true),
            Err(StorageError::ObjectNotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
