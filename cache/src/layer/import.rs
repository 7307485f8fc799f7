//! [`Store::unpack_blob`]: a stored layer blob into the snapshot for its
//! chain id, once. The snapshot holds only this layer's changes; an overlay
//! mount stacks the snapshots of a chain as its lower directories.

use std::io;

use oci_spec::image::Descriptor;

use super::compress::{Compression, Hashing};
use super::unpack::{unpack_to_dir, UnpackStats};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::lease::Lease;
use crate::snapshot::ChainId;
use crate::store::Store;

/// What [`Store::unpack_blob`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unpacked {
    /// The snapshot's key: the chain id of the parent chain plus this layer.
    pub chain_id: ChainId,
    /// `None` when the snapshot already existed and nothing was read.
    pub stats: Option<UnpackStats>,
}

impl Store {
    /// Unpacks the stored blob `layer` into the snapshot for `parent`'s
    /// chain plus `diff_id`, unless that snapshot exists. The blob is
    /// re-hashed while it is read and, like the diff id, checked before
    /// the snapshot is committed; on any error nothing is committed.
    pub fn unpack_blob(
        &self,
        lease: &Lease,
        layer: &Descriptor,
        diff_id: &Digest,
        parent: Option<&ChainId>,
    ) -> Result<Unpacked> {
        let chain_id = match parent {
            Some(parent) => parent.child(diff_id),
            None => ChainId::base(diff_id),
        };
        if self.has_snapshot(&chain_id) {
            return Ok(Unpacked {
                chain_id,
                stats: None,
            });
        }
        let compression = Compression::from_media_type(layer.media_type())?;
        let digest = Digest::try_from(layer.digest())?;
        let mut blob = Hashing::new(self.open_blob(&digest)?);
        let prepared = self.prepare_snapshot(lease)?;
        let stats = unpack_to_dir(
            &mut blob,
            Some(compression),
            &prepared.path(),
            Some(diff_id),
        )?;
        // Bytes after the compressed stream still belong to the blob.
        io::copy(&mut blob, &mut io::sink()).map_err(|source| Error::ReadBlob {
            digest: digest.clone(),
            source,
        })?;
        let (_, actual, size) = blob.finish();
        if actual != digest {
            return Err(Error::DigestMismatch {
                expected: digest,
                actual,
            });
        }
        if size != layer.size() {
            return Err(Error::SizeMismatch {
                digest,
                expected: layer.size(),
                actual: size,
            });
        }
        prepared.commit(&chain_id)?;
        Ok(Unpacked {
            chain_id,
            stats: Some(stats),
        })
    }
}
