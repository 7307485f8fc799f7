//! ADD of local tar archives: [`detect`] tells an archive by its content
//! (as BuildKit: a file whose decompressed stream starts with a valid tar
//! header, whatever its name), [`unpack`] extracts it into a destination
//! directory. Plain, gzip, bzip2, xz and zstd streams are read, as
//! BuildKit's `archive.DecompressStream` does.
//! Entries are written by [`crate::untar`], as BuildKit's chroot untar
//! does: inside the destination, through the stage's symlinks. Modes,
//! owners and times come from the archive; `--chown` replaces every owner.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::error::{Error, Result};
use crate::untar::Untar;

/// How a file's content is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

/// What [`detect`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A tar stream (compressed or not) to unpack.
    Archive,
    /// Any other file: copied as is.
    Plain,
}

/// The compression the magic bytes at the start of a file name.
fn compression(prefix: &[u8]) -> Compression {
    if prefix.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else if prefix.starts_with(b"BZh") {
        Compression::Bzip2
    } else if prefix.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Compression::Xz
    } else {
        Compression::None
    }
}

fn decoder(file: File, c: Compression) -> std::io::Result<Box<dyn Read>> {
    let reader = BufReader::new(file);
    Ok(match c {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(reader)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
    })
}

fn io_err(step: &str, action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let (step, path) = (step.to_string(), path.to_path_buf());
    move |source| Error::Io {
        step,
        action,
        path,
        source,
    }
}

fn open(step: &str, path: &Path) -> Result<(File, Compression)> {
    let mut file = File::open(path).map_err(io_err(step, "opening", path))?;
    let mut prefix = Vec::with_capacity(6);
    (&mut file)
        .take(6)
        .read_to_end(&mut prefix)
        .map_err(io_err(step, "reading", path))?;
    let file = File::open(path).map_err(io_err(step, "opening", path))?;
    Ok((file, compression(&prefix)))
}

/// Whether the regular file at `path` is an archive ADD unpacks.
pub(crate) fn detect(step: &str, path: &Path) -> Result<Kind> {
    let (file, c) = open(step, path)?;
    let Ok(stream) = decoder(file, c) else {
        return Ok(Kind::Plain);
    };
    let mut archive = tar::Archive::new(stream);
    let first = archive.entries().ok().and_then(|mut e| e.next());
    Ok(match first {
        Some(Ok(_)) => Kind::Archive,
        _ => Kind::Plain,
    })
}

/// Unpacks the archive at `path` as `into` says (into its existing root).
pub(crate) fn unpack(path: &Path, into: &Untar<'_>) -> Result<()> {
    let step = into.step;
    let (file, c) = open(step, path)?;
    let stream = decoder(file, c).map_err(io_err(step, "reading", path))?;
    let mut archive = tar::Archive::new(stream);
    let mut dirs = Vec::new();
    for entry in archive.entries().map_err(io_err(step, "unpacking", path))? {
        let mut entry = entry.map_err(io_err(step, "unpacking", path))?;
        into.entry(&mut entry, &mut dirs)?;
    }
    into.finish(&dirs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsview::Layers;

    fn unpack_to(path: &Path, upper: &Path, owner: Option<(u32, u32)>) -> Result<()> {
        let stage = Layers::default();
        let into = Untar {
            step: "ADD",
            stage: &stage,
            upper,
            root: Path::new(""),
            owner,
        };
        unpack(path, &into)
    }

    fn tar_bytes(path: &str, data: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o640);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, path, data).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn detects_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.tar.gz");
        std::fs::write(&plain, b"not an archive").unwrap();
        assert_eq!(detect("ADD", &plain).unwrap(), Kind::Plain);
        let t = dir.path().join("named.txt");
        std::fs::write(&t, tar_bytes("f", b"x")).unwrap();
        assert_eq!(detect("ADD", &t).unwrap(), Kind::Archive);
        let z = dir.path().join("z");
        std::fs::write(&z, zstd::encode_all(&tar_bytes("f", b"x")[..], 0).unwrap()).unwrap();
        assert_eq!(detect("ADD", &z).unwrap(), Kind::Archive);
        // A compressed stream that is not a tar is a plain file.
        let bz = dir.path().join("bz");
        std::fs::write(&bz, b"BZh91AY&SY").unwrap();
        assert_eq!(detect("ADD", &bz).unwrap(), Kind::Plain);
    }

    fn bzip2_bytes(data: &[u8]) -> Vec<u8> {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        std::io::Write::write_all(&mut e, data).unwrap();
        e.finish().unwrap()
    }

    fn xz_bytes(data: &[u8]) -> Vec<u8> {
        let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
        std::io::Write::write_all(&mut e, data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn bzip2_and_xz_archives_unpack() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            ("a.tbz", bzip2_bytes(&tar_bytes("bz/f", b"bzip2 body"))),
            ("a.txz", xz_bytes(&tar_bytes("xz/f", b"xz body"))),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            assert_eq!(detect("ADD", &path).unwrap(), Kind::Archive, "{name}");
            let dest = dir.path().join(format!("out-{name}"));
            std::fs::create_dir(&dest).unwrap();
            unpack_to(&path, &dest, Some((7, 8))).unwrap();
            let file = std::fs::read_dir(&dest)
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path()
                .join("f");
            let body = std::fs::read(&file).unwrap();
            assert_eq!(
                body,
                if name == "a.tbz" {
                    &b"bzip2 body"[..]
                } else {
                    &b"xz body"[..]
                }
            );
            let meta = std::fs::metadata(&file).unwrap();
            use std::os::unix::fs::MetadataExt;
            assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o777), (7, 8, 0o640));
        }
        // Compressed text that is not a tar is copied as is.
        let text = dir.path().join("t.xz");
        std::fs::write(&text, xz_bytes(b"just text")).unwrap();
        assert_eq!(detect("ADD", &text).unwrap(), Kind::Plain);
    }

    #[test]
    fn unpack_stays_inside() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("evil.tar");
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        // `append_data` refuses `..`, so write the name into the header.
        h.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../escape");
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
        std::fs::write(&t, b.into_inner().unwrap()).unwrap();
        let dest = dir.path().join("out");
        std::fs::create_dir(&dest).unwrap();
        unpack_to(&t, &dest, None).unwrap();
        assert!(!dir.path().join("escape").exists());
        // `..` stops at the destination, as in BuildKit's chroot.
        assert!(dest.join("escape").exists());
    }
}
