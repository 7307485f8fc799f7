//! The content-addressed store: blobs by digest, image references, unpacked
//! layer snapshots and build-cache records, kept as an OCI image layout on disk.
//!
//! Knows nothing of Dockerfiles. Filled in by the rbuild issue.
