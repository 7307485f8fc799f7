//! The OCI distribution protocol and registry authentication.
//!
//! Knows neither builds nor the store. Blocking; a [`Client`] is cheap to
//! clone and is shared by threads (one connection pool, one token cache).
//!
//! - [`ImageRef`] (references normalized as docker does), [`Repository`]
//!   (`domain/path`), [`Digest`] (validated `sha256:`), [`Descriptor`],
//!   [`Platform`] (`os/arch[/variant]`, [`Platform::host`]).
//! - [`Client::new`] with [`ClientOptions`]: insecure registries (plain
//!   HTTP by docker's rule: `host[:port]` entries match exactly, CIDR
//!   entries match the host's addresses; `127.0.0.0/8` and `::1`, hence
//!   `localhost`, always are; everything else is HTTPS, and an HTTPS
//!   request answered in plain HTTP fails at once), user agent,
//!   [`CredentialSource`] (asked once per registry), [`RetryPolicy`],
//!   timeouts, push chunk size. `docker.io` is served by
//!   `registry-1.docker.io`.
//! - [`Client::resolve`]: a tag or digest to one platform's image manifest
//!   (through an OCI index or Docker manifest list), with its config and
//!   layer descriptors: [`Resolved`]. [`Client::fetch_manifest`],
//!   [`Client::manifest_digest`] (HEAD), [`Client::push_manifest`]. OCI
//!   and Docker schema 2 manifests and indexes; schema 1 is refused.
//! - [`Client::fetch_blob`] streams into a [`BlobSink`] (a `File` or a
//!   `Vec<u8>`), resumes with `Range` after dropped connections (a
//!   connection that fails after the last byte lost nothing), retries
//!   connection errors, 5xx and 429 (honouring `Retry-After`) with
//!   backoff, reports [`Progress`], and checks size and sha256 **before**
//!   returning `Ok`. The sink's bytes are unverified until then: callers
//!   write to a temporary file and commit (rename) it only on `Ok`.
//!   [`Client::fetch_blob_to_verifying_sink`] leaves the digest to a sink
//!   that hashes anyway (a content-addressed store's writer), so each
//!   byte is hashed once. [`Client::fetch_blob_bytes`] for small blobs
//!   (configs).
//! - [`Client::blob_exists`]; [`Client::push_blob`] skips present blobs
//!   ([`PushedHow::Exists`]), mounts from another repository of the same
//!   registry ([`PushedHow::Mounted`]), else uploads
//!   ([`PushedHow::Uploaded`]): one PUT (content read into memory) up to
//!   [`ClientOptions::chunk_size`]; above, PATCH chunks of that size,
//!   each read (and hashed) by a reader thread while the one before is
//!   sent, from a few reused buffers, and handed to the HTTP stack whole
//!   (reqwest reads a reader body 8 KiB at a time, with a thread hand-off
//!   each), then the PUT that commits. The upload is committed only if
//!   the content matches the descriptor: [`Client::push_blob`] hashes it,
//!   [`Client::push_stored_blob`] (content from a store that verified it
//!   on commit) checks its size and leaves the digest to the registry,
//!   which refuses a mismatch. A failed chunk resumes from the offset the
//!   registry reports, or in a new session if the registry dropped the
//!   old one (the reference registry does after a cut PATCH), re-reading
//!   the content through `open` when needed.
//! - [`Client::check_login`] and [`Client::login`] (which also returns
//!   the identity token a token service issues) for `login`; [`auth`]:
//!   [`auth::DockerConfig`]
//!   (docker's `config.json`: `auths`, `identitytoken`, `credsStore`,
//!   `credHelpers` through `docker-credential-NAME` processes; `store` and
//!   `erase` as `docker login`/`logout` write them),
//!   [`auth::config_key`] (`docker.io` is `https://index.docker.io/v1/`),
//!   [`auth::StaticCredentials`], [`auth::Anonymous`].
//!
//! Retries: connection errors, 500/502/503/504 and 429 are retried
//! [`RetryPolicy::attempts`] times with doubling backoff (429 and 503 wait
//! `Retry-After`, seconds or an HTTP date, when given, up to
//! [`RetryPolicy::max_retry_after`]); a manifest body cut part-way is
//! fetched again; a
//! blob download resumes with `Range` after a drop or a stall longer than
//! [`ClientOptions::timeout`] and gives up only after that many tries in a
//! row without progress; unknown hosts fail at once.
//!
//! Tests run against Debian's `docker-registry` started by the shared
//! harness `tests/common/registry.rs` (no auth, htpasswd, token server;
//! fault-injecting proxy), and against skopeo for interop.
//!
//! Authentication follows the registry's `WWW-Authenticate` challenge:
//! Basic, or Bearer tokens from its token service (anonymous or with the
//! user's credentials; scopes `repository:NAME:pull` or `pull,push` plus
//! the mount source's pull scope), reused per scope until they expire.
//!
//! Errors ([`Error`]) are one line naming the object and the cause; a
//! registry's error document is rendered as docker renders it:
//! `manifest for localhost:5000/app:nope: manifest unknown: manifest
//! unknown`, `...: unauthorized: authentication required`,
//! `...: toomanyrequests: ...`.

pub mod auth;
mod blob;
mod client;
mod endpoint;
mod error;
mod manifest;
pub mod reference;
mod transport;
mod types;
mod upload;

pub use auth::{CredentialSource, Credentials};
pub use blob::{BlobSink, OpenBlob, PushedHow};
pub use client::{Client, ClientOptions, Progress, RetryPolicy};
pub use error::{Error, Result};
pub use manifest::{parse_image_manifest, Manifest, Resolved};
pub use reference::{ImageRef, Repository};
pub use types::{media_type, Descriptor, Digest, Platform};
