//! Layer compression: [`Compression`] and its OCI media types, detection
//! from magic bytes, and the hashing readers and writers that compute a
//! layer's digest (compressed) and diff id (uncompressed) in one pass.

use std::io::{self, Chain, Cursor, Read, Write};

use oci_spec::image::MediaType;

use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Error, Result};

/// Docker's media type for gzip layers, accepted on unpack.
pub const MEDIA_TYPE_DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker's foreign (non-distributable) gzip layers, accepted on unpack.
const MEDIA_TYPE_DOCKER_FOREIGN_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
/// Docker's uncompressed layers, accepted on unpack.
const MEDIA_TYPE_DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";

/// Gzip level for packed layers; fixed so output is byte-stable.
const GZIP_LEVEL: u32 = 6;
/// Zstd level for packed layers (single-threaded, so output is stable).
const ZSTD_LEVEL: i32 = 3;
/// "Unknown" operating system in the gzip header, as Go's gzip writes.
const GZIP_OS_UNKNOWN: u8 = 255;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// How a layer tar is compressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip, the default for new layers.
    #[default]
    Gzip,
    /// zstd.
    Zstd,
}

impl Compression {
    /// The OCI layer media type for this compression.
    pub fn media_type(self) -> MediaType {
        match self {
            Compression::None => MediaType::ImageLayer,
            Compression::Gzip => MediaType::ImageLayerGzip,
            Compression::Zstd => MediaType::ImageLayerZstd,
        }
    }

    /// The compression a layer media type names: OCI's three (and their
    /// non-distributable forms) and Docker's tar and gzip layers.
    pub fn from_media_type(media_type: &MediaType) -> Result<Compression> {
        match media_type {
            MediaType::ImageLayer | MediaType::ImageLayerNonDistributable => Ok(Compression::None),
            MediaType::ImageLayerGzip | MediaType::ImageLayerNonDistributableGzip => {
                Ok(Compression::Gzip)
            }
            MediaType::ImageLayerZstd | MediaType::ImageLayerNonDistributableZstd => {
                Ok(Compression::Zstd)
            }
            MediaType::Other(s)
                if s == MEDIA_TYPE_DOCKER_LAYER_GZIP || s == MEDIA_TYPE_DOCKER_FOREIGN_GZIP =>
            {
                Ok(Compression::Gzip)
            }
            MediaType::Other(s) if s == MEDIA_TYPE_DOCKER_LAYER_TAR => Ok(Compression::None),
            other => Err(Error::UnsupportedMediaType {
                media_type: other.to_string(),
            }),
        }
    }

    /// Guesses the compression from a stream's first bytes.
    pub fn detect(prefix: &[u8]) -> Compression {
        if prefix.starts_with(&GZIP_MAGIC) {
            Compression::Gzip
        } else if prefix.starts_with(&ZSTD_MAGIC) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// A stream with its first bytes read ahead and put back.
type Peeked<R> = Chain<Cursor<Vec<u8>>, R>;

/// Reads up to four bytes and returns them chained back in front of `reader`.
fn peek<R: Read>(mut reader: R) -> io::Result<(Vec<u8>, Peeked<R>)> {
    let mut prefix = Vec::with_capacity(ZSTD_MAGIC.len());
    (&mut reader)
        .take(ZSTD_MAGIC.len() as u64)
        .read_to_end(&mut prefix)?;
    Ok((prefix.clone(), Cursor::new(prefix).chain(reader)))
}

/// The uncompressed tar stream of a layer; `None` detects the compression.
pub(crate) fn decoder<'a, R: Read + 'a>(
    reader: R,
    compression: Option<Compression>,
) -> io::Result<Box<dyn Read + 'a>> {
    let (prefix, reader) = peek(reader)?;
    Ok(
        match compression.unwrap_or_else(|| Compression::detect(&prefix)) {
            Compression::None => Box::new(reader),
            // Multi-member: pigz and some registries split gzip layers.
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(reader)?),
        },
    )
}

/// A compressing writer whose header and settings never vary.
pub(crate) enum Encoder<W: Write> {
    None(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    pub(crate) fn new(out: W, compression: Compression) -> io::Result<Encoder<W>> {
        Ok(match compression {
            Compression::None => Encoder::None(out),
            // No name and mtime 0: the header depends on nothing but the level.
            Compression::Gzip => Encoder::Gzip(
                flate2::GzBuilder::new()
                    .operating_system(GZIP_OS_UNKNOWN)
                    .write(out, flate2::Compression::new(GZIP_LEVEL)),
            ),
            Compression::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?),
        })
    }

    /// Writes the trailer and returns the inner writer.
    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            Encoder::None(w) => Ok(w),
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::None(w) => w.write(buf),
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::None(w) => w.flush(),
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
        }
    }
}

/// Hashes and counts what passes through it, read or written.
pub(crate) struct Hashing<T> {
    pub(crate) inner: T,
    hasher: Hasher,
    size: u64,
}

impl<T> Hashing<T> {
    pub(crate) fn new(inner: T) -> Hashing<T> {
        Hashing {
            inner,
            hasher: Hasher::new(Algorithm::Sha256),
            size: 0,
        }
    }

    /// The digest and size of everything so far.
    pub(crate) fn finish(self) -> (T, Digest, u64) {
        (self.inner, self.hasher.finish(), self.size)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
