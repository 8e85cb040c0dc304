# Per-sandbox cloud resources (one Terraform workspace per environment).
# In the demo, the pipeline's Terraform steps are replaced by local
# stand-ins; this module shows where the real ones live.
# The state lives in GCS: sandbox-terraform passes the bucket and the
# per-environment prefix with -backend-config.
terraform {
  backend "gcs" {}
}

variable "environment" {
  type = string
}

resource "google_storage_bucket" "documents" {
  name     = "acme-sandbox-docs-${var.environment}"
  location = "EU"
}
