//! A build context given as `-` (`rbuild - < FILE`), as docker takes it:
//! a tar archive (plain or gzip) becomes the context, unpacked into a
//! temporary directory that goes when the [`StdinContext`] does; anything
//! else is a Dockerfile alone, with an empty context.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The context read from standard input.
#[derive(Debug)]
pub struct StdinContext {
    dir: PathBuf,
    /// The Dockerfile, when the input was one rather than an archive.
    pub dockerfile: Option<Vec<u8>>,
}

impl StdinContext {
    /// Reads `input` whole; the context directory is made below `parent`.
    pub fn read(mut input: impl Read, parent: &Path) -> Result<StdinContext> {
        let stdin = PathBuf::from("standard input");
        let mut data = Vec::new();
        input.read_to_end(&mut data).map_err(|source| Error::Read {
            path: stdin.clone(),
            source,
        })?;
        let dir = parent.join(format!("rdock-context-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|source| Error::Read {
            path: dir.clone(),
            source,
        })?;
        let mut ctx = StdinContext {
            dir,
            dockerfile: None,
        };
        let gzip = data.starts_with(&[0x1f, 0x8b]);
        if gzip {
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&data[..])
                .read_to_end(&mut plain)
                .map_err(|source| Error::Read {
                    path: stdin.clone(),
                    source,
                })?;
            data = plain;
        }
        if data.get(257..262) == Some(b"ustar") {
            // tar's unpack refuses entries that would land outside `dir`.
            tar::Archive::new(&data[..])
                .unpack(&ctx.dir)
                .map_err(|source| Error::Read {
                    path: stdin,
                    source,
                })?;
        } else {
            ctx.dockerfile = Some(data);
        }
        Ok(ctx)
    }

    /// The context directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for StdinContext {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_unpack_and_text_is_a_dockerfile() {
        let tmp = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        b.append_data(&mut h, "sub/a.txt", &b"abc"[..]).unwrap();
        let tarball = b.into_inner().unwrap();
        let ctx = StdinContext::read(&tarball[..], tmp.path()).unwrap();
        assert!(ctx.dockerfile.is_none());
        assert_eq!(std::fs::read(ctx.dir().join("sub/a.txt")).unwrap(), b"abc");
        let dir = ctx.dir().to_path_buf();
        drop(ctx);
        assert!(!dir.exists());

        let ctx = StdinContext::read(&b"FROM scratch\n"[..], tmp.path()).unwrap();
        assert_eq!(ctx.dockerfile.as_deref(), Some(&b"FROM scratch\n"[..]));
        assert_eq!(std::fs::read_dir(ctx.dir()).unwrap().count(), 0);
    }
}
