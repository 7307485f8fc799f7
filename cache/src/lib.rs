//! The content-addressed store: blobs by digest, image references, unpacked
//! layer snapshots and build-cache records, kept as an OCI image layout on disk.
//!
//! Knows nothing of Dockerfiles. The main types:
//!
//! - [`Store`]: one store root ([`Store::open`], [`Store::default_root`]);
//!   blob reads ([`Store::read_blob`], [`Store::open_blob`], ...), image names
//!   in index.json ([`Store::tag`], [`Store::resolve`], ...), snapshots,
//!   records, [`Store::prune`] and [`Store::verify`].
//! - [`Digest`] and [`Hasher`]: validated content addresses.
//! - [`Writer`]: streams a blob into `ingest/`; [`Writer::commit`] verifies
//!   and renames it into `blobs/`, in the manner of containerd's content store.
//! - [`Lease`]: keeps content written by an operation alive across a prune
//!   until it is referenced; it also documents the locking protocol that lets
//!   several processes share one store.
//! - [`ChainId`], [`PreparedSnapshot`]: unpacked layers, prepare then commit.
//! - [`unpack_layer`], [`Store::unpack_blob`]: OCI layer tars into
//!   snapshots; [`pack_dir`], [`Store::write_layer`]: overlay upper dirs
//!   into deterministic layers.
//! - [`CacheKey`], [`CacheRecord`]: the build cache.
//!
//! Every write goes to a temporary file or folder first and becomes visible
//! by rename only once complete and verified, so a process killed at any
//! point leaves the store consistent; its leftovers are swept by the next
//! [`Store::open`] or [`Store::prune`].

mod digest;
mod error;
mod fsutil;
mod gc;
mod index;
mod layer;
mod lease;
mod records;
mod refs;
mod root;
mod snapshot;
mod store;
mod verify;
mod writer;

pub use digest::{Algorithm, Digest, Hasher};
pub use error::{Error, Result};
pub use gc::PruneReport;
pub use index::{ref_name_of, ImageEntry, ANNOTATION_IMAGE_NAME};
pub use layer::{
    pack_dir, unpack_layer, Compression, LayerInfo, PackOptions, Skipped, UnpackStats, Unpacked,
    MEDIA_TYPE_DOCKER_LAYER_GZIP,
};
pub use lease::Lease;
pub use records::{CacheKey, CacheRecord};
pub use refs::Referrer;
pub use root::{RootEnv, SYSTEM_ROOT};
pub use snapshot::{chain_ids, ChainId, PreparedSnapshot, SnapshotCommit};
pub use store::{Store, IMAGE_LAYOUT_VERSION};
pub use verify::{Problem, VerifyReport};
pub use writer::{BlobInfo, Writer};

/// Re-exported so callers build descriptors with the same oci-spec version.
pub use oci_spec;
