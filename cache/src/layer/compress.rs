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
    Gzip(MemberGzip<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    pub(crate) fn new(out: W, compression: Compression) -> io::Result<Encoder<W>> {
        Ok(match compression {
            Compression::None => Encoder::None(out),
            Compression::Gzip => Encoder::Gzip(MemberGzip::new(out)),
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

/// Input bytes per gzip member.
const GZIP_MEMBER: usize = 1 << 20;
/// Members compressed at once, in parallel.
const GZIP_BATCH: usize = 8;

/// Gzip as a series of members of [`GZIP_MEMBER`] input bytes each (RFC
/// 1952 allows several; every gzip reader, Go's included, reads them all
/// as one stream), compressed in parallel, as pigz does. Members start at
/// fixed offsets of the input, so the output never depends on how the
/// input was written or on the number of threads.
pub(crate) struct MemberGzip<W: Write> {
    out: W,
    current: Vec<u8>,
    pending: Vec<Vec<u8>>,
    members: u64,
}

impl<W: Write> MemberGzip<W> {
    fn new(out: W) -> Self {
        MemberGzip {
            out,
            current: Vec::with_capacity(GZIP_MEMBER),
            pending: Vec::new(),
            members: 0,
        }
    }

    fn drain(&mut self) -> io::Result<()> {
        use rayon::prelude::*;
        let compressed: Vec<io::Result<Vec<u8>>> =
            self.pending.par_iter().map(|p| gzip_member(p)).collect();
        for member in compressed {
            self.out.write_all(&member?)?;
            self.members += 1;
        }
        self.pending.clear();
        Ok(())
    }

    /// Writes what is left and returns the inner writer.
    fn finish(mut self) -> io::Result<W> {
        // Empty input is still one (empty) member: a valid gzip file.
        if !self.current.is_empty() || self.members + self.pending.len() as u64 == 0 {
            self.pending.push(std::mem::take(&mut self.current));
        }
        self.drain()?;
        Ok(self.out)
    }
}

/// One gzip member: no name and mtime 0, so the header depends on nothing
/// but the level.
fn gzip_member(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut e = flate2::GzBuilder::new()
        .operating_system(GZIP_OS_UNKNOWN)
        .write(
            Vec::with_capacity(data.len() / 2 + 64),
            flate2::Compression::new(GZIP_LEVEL),
        );
    e.write_all(data)?;
    e.finish()
}

impl<W: Write> Write for MemberGzip<W> {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let n = data.len();
        while !data.is_empty() {
            let take = (GZIP_MEMBER - self.current.len()).min(data.len());
            self.current.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.current.len() == GZIP_MEMBER {
                let full = std::mem::replace(&mut self.current, Vec::with_capacity(GZIP_MEMBER));
                self.pending.push(full);
                if self.pending.len() == GZIP_BATCH {
                    self.drain()?;
                }
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
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

#[cfg(test)]
mod member_tests {
    use super::*;
    use std::io::Read;

    fn packed(data: &[u8], piece: usize) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new(), Compression::Gzip).unwrap();
        for p in data.chunks(piece) {
            e.write_all(p).unwrap();
        }
        e.finish().unwrap()
    }

    #[test]
    fn gzip_members_decode_whole_and_do_not_depend_on_write_sizes() {
        let data: Vec<u8> = (0..(GZIP_MEMBER * GZIP_BATCH * 2 + 12345))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let one = packed(&data, 4096);
        assert_eq!(one, packed(&data, 1_000_003));
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&one[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        // GNU gzip reads it too.
        let mut gunzip = std::process::Command::new("gzip")
            .args(["-dc"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = gunzip.stdin.take().unwrap();
        let feed = std::thread::spawn(move || stdin.write_all(&one).unwrap());
        let out = gunzip.wait_with_output().unwrap();
        feed.join().unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, data);
        // Empty input is one valid, empty member.
        let empty = packed(&[], 1);
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&empty[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back.is_empty() && !empty.is_empty());
    }
}
