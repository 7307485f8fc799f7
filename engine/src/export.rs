//! Build outputs (`--output`), as BuildKit's exporters: [`Output`] names
//! the kind ([`OutputKind`]: an OCI-layout tar, a docker-archive, the
//! flattened root file system as a tar or written into a directory) and
//! the destination ([`OutputDest`]: a path or standard output).
//! [`export`] writes one for a built image; the archive kinds reuse the
//! writer of [`crate::save`].

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use rdock_cache::Store;

use crate::error::{Error, Result};
use crate::images::{unpack_rootfs, write_archive, write_rootfs, Image};

/// What `--output type=...` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// `type=oci`: an OCI-layout tar (`skopeo`'s `oci-archive:`).
    Oci,
    /// `type=docker`: a docker-archive, as `docker save` writes it.
    Docker,
    /// `type=tar`: the image's root file system as one tar.
    Tar,
    /// `type=local`: the root file system written into a directory.
    Local,
}

/// Where an output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputDest {
    /// A file (or, for `local`, a directory).
    Path(PathBuf),
    /// `dest=-`: standard output (not for `local`).
    Stdout,
}

/// One `--output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The exporter.
    pub kind: OutputKind,
    /// Its destination.
    pub dest: OutputDest,
}

fn create(path: &PathBuf) -> Result<BufWriter<File>> {
    File::create(path)
        .map(BufWriter::new)
        .map_err(|source| Error::WriteOutput {
            path: path.clone(),
            source,
        })
}

fn write_to(dest: &OutputDest, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    match dest {
        OutputDest::Path(path) => write(&mut create(path)?),
        OutputDest::Stdout => write(&mut std::io::stdout().lock()),
    }
}

/// Writes `image` (already in `store`) as `output` says.
pub(crate) fn export(store: &Store, image: &Image, output: &Output) -> Result<()> {
    match (output.kind, &output.dest) {
        (OutputKind::Local, OutputDest::Path(dir)) => unpack_rootfs(store, image, dir),
        (OutputKind::Local, OutputDest::Stdout) => Err(Error::OutputToStdout { kind: "local" }),
        (OutputKind::Tar, dest) => write_to(dest, |w| write_rootfs(store, image, w)),
        (kind, dest) => write_to(dest, |w| {
            write_archive(store, vec![image.clone()], kind == OutputKind::Docker, w).map(drop)
        }),
    }
}
