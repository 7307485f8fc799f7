//! [`import`]: a one-layer image from a root filesystem tar, as
//! `docker import` makes one.
//!
//! The tar (gzip is undone first) is stored as it is (an `application/vnd.oci.image.layer.v1.tar`
//! layer, so its digest is also its diff ID) after the whole stream has
//! been read as a tar; the config is an OCI image config for linux and the
//! host architecture with one history entry.

use std::io::{self, Read};

use rdock_cache::oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, HistoryBuilder, ImageConfigurationBuilder, MediaType, Os,
    RootFsBuilder,
};
use rdock_cache::{Store, Writer};
use rdock_registry_client::ImageRef;

use super::archive::plain_tar;
use super::timefmt::format_rfc3339;
use super::Image;
use crate::error::{Error, Result};

/// How to describe an imported image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Creation time in seconds since the epoch (the CLI passes
    /// `SOURCE_DATE_EPOCH`); `None` for now.
    pub created: Option<i64>,
    /// Where the tar came from, for the history comment (e.g. a file name).
    pub source: Option<String>,
    /// `Env` of the config (`NAME=value`), e.g. a `PATH`.
    pub env: Vec<String>,
    /// `Cmd` of the config.
    pub cmd: Vec<String>,
}

/// Copies what the tar parser reads into the blob writer.
struct Tee<'a, R> {
    inner: R,
    writer: &'a mut Writer,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        io::Write::write_all(self.writer, &buf[..n])?;
        Ok(n)
    }
}

/// Stores `rootfs` (a plain tar) as a one-layer image named `name`.
pub fn import(
    store: &Store,
    rootfs: impl Read,
    name: &ImageRef,
    options: &ImportOptions,
) -> Result<Image> {
    let read_err = |source| Error::ReadRootfs { source };
    let rootfs = plain_tar(rootfs, Error::CompressedRootfs, read_err)?;
    let lease = store.lease()?;
    let mut writer = store.writer(&lease)?;
    {
        let tee = Tee {
            inner: rootfs,
            writer: &mut writer,
        };
        let mut archive = tar::Archive::new(tee);
        for entry in archive.entries().map_err(read_err)? {
            entry.map_err(read_err)?;
        }
        // The end-of-archive blocks and padding belong to the layer too.
        let mut rest = archive.into_inner();
        io::copy(&mut rest, &mut io::sink()).map_err(read_err)?;
    }
    let layer = writer.commit(None)?;

    let created = format_rfc3339(match options.created {
        Some(secs) => secs,
        None => now(),
    });
    let comment = format!("Imported from {}", options.source.as_deref().unwrap_or("-"));
    let history = HistoryBuilder::default()
        .created(created.clone())
        .created_by("rdock import")
        .comment(comment)
        .build()?;
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(vec![layer.digest.to_string()])
        .build()?;
    let mut config = ImageConfigurationBuilder::default()
        .created(created)
        .architecture(Arch::default())
        .os(Os::Linux)
        .rootfs(rootfs)
        .history(vec![history]);
    if !options.env.is_empty() || !options.cmd.is_empty() {
        let mut c = ConfigBuilder::default();
        if !options.env.is_empty() {
            c = c.env(options.env.clone());
        }
        if !options.cmd.is_empty() {
            c = c.cmd(options.cmd.clone());
        }
        config = config.config(c.build()?);
    }
    let layers = vec![Descriptor::new(
        MediaType::ImageLayer,
        layer.size,
        &layer.digest,
    )];
    let descriptor = super::write_image(store, &lease, &config.build()?, layers)?;
    let full = name.to_string();
    store.tag(&full, &descriptor)?;
    super::read_image(store, Some(full), &descriptor)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
