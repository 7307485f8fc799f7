//! OCI layer tarballs: [`unpack_layer`] writes a layer into a
//! [`crate::PreparedSnapshot`] as an overlayfs lower directory, and
//! [`pack_dir`] (or [`crate::Store::write_layer`]) turns an overlayfs upper
//! directory into a deterministic layer, returning its [`LayerInfo`].
//! [`crate::Store::unpack_blob`] unpacks a stored layer blob into the
//! snapshot for its chain id, once.
//!
//! [`Compression`] names gzip (the default), zstd or a plain tar and maps
//! them to media types. Whiteouts translate between the OCI form
//! (`.wh.NAME`, `.wh..wh..opq`) and overlayfs' (character device 0:0,
//! `trusted.overlay.opaque=y`).

mod compress;
mod entry;
mod header;
mod import;
mod pack;
mod tree;
mod unpack;
mod whiteout;

pub use compress::{Compression, MEDIA_TYPE_DOCKER_LAYER_GZIP};
pub use import::Unpacked;
pub use pack::{pack_dir, LayerInfo, PackOptions};
pub use unpack::{unpack_layer, Skipped, UnpackStats};
