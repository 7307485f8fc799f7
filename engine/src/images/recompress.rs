//! [`recompress`]: the new layers of a build in the compression asked for.
//! A step taken from the build cache keeps the layer it was recorded with,
//! which may be compressed otherwise (`--compression zstd` after a gzip
//! build); such layers are rewritten, as BuildKit's exporter converts
//! them. The diff ids, and so the image config, do not change; base image
//! layers are kept as they are.

use std::collections::HashSet;
use std::io::{self, Write};

use rdock_cache::oci_spec::image::Descriptor;
use rdock_cache::{Compression, Digest, Lease, Store};

use super::rootfs::layer_tar;
use crate::error::{Error, Result};

/// The same settings as the store's packer, so output is byte-stable.
const GZIP_LEVEL: u32 = 6;
const ZSTD_LEVEL: i32 = 3;
const GZIP_OS_UNKNOWN: u8 = 255;

/// `layers` with every one not in `keep` compressed as `to`.
pub(crate) fn recompress(
    store: &Store,
    lease: &Lease,
    layers: Vec<Descriptor>,
    keep: &HashSet<String>,
    to: Compression,
) -> Result<Vec<Descriptor>> {
    layers
        .into_iter()
        .map(|layer| {
            let same = Compression::from_media_type(layer.media_type()).is_ok_and(|c| c == to);
            if same || keep.contains(&layer.digest().to_string()) {
                return Ok(layer);
            }
            convert(store, lease, &layer, to)
        })
        .collect()
}

fn convert(
    store: &Store,
    lease: &Lease,
    layer: &Descriptor,
    to: Compression,
) -> Result<Descriptor> {
    let err = |source| Error::WriteArchive { source };
    let mut tar = layer_tar(store, &Digest::try_from(layer.digest())?)?;
    let writer = store.writer(lease)?;
    let writer = match to {
        Compression::None => {
            let mut w = writer;
            io::copy(&mut tar, &mut w).map_err(err)?;
            w
        }
        Compression::Gzip => {
            let mut e = flate2::GzBuilder::new()
                .operating_system(GZIP_OS_UNKNOWN)
                .write(writer, flate2::Compression::new(GZIP_LEVEL));
            io::copy(&mut tar, &mut e).map_err(err)?;
            e.finish().map_err(err)?
        }
        Compression::Zstd => {
            let mut e = zstd::stream::write::Encoder::new(writer, ZSTD_LEVEL).map_err(err)?;
            io::copy(&mut tar, &mut e).map_err(err)?;
            e.finish().map_err(err)?
        }
    };
    let mut writer = writer;
    writer.flush().map_err(err)?;
    let info = writer.commit(None)?;
    Ok(Descriptor::new(to.media_type(), info.size, &info.digest))
}
