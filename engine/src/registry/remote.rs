//! [`connect`]: the real [`Remote`], one repository through
//! `rdock_registry_client::Client` with docker's credentials
//! (`config.json` and its helpers). Byte counts from the client are
//! relayed to the caller by a ticker thread, at most ten times a second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use rdock_cache::oci_spec::image::Descriptor;
use rdock_registry_client::auth::DockerConfig;
use rdock_registry_client::{
    BlobSink, Client, ClientOptions, ImageRef, Progress, PushedHow, Repository,
};

use super::{BlobPush, Fetched, OpenBlob, RegistryOptions, Remote};
use crate::error::Result;

/// Blobs up to this size go up in one PUT, larger ones in PATCH chunks of
/// this size, each read while the one before is sent. On the reference
/// registry 8, 16, 32 and 64 MiB pushed a 100 MB layer equally fast within
/// the noise (the registry's hashing bounds it); 16 MiB keeps at most
/// about three chunks per upload, times [`super::pull::DEFAULT_JOBS`],
/// in memory.
const PUSH_CHUNK: u64 = 16 << 20;

/// A client for registries as `opts` says, with docker's credentials.
pub(crate) fn client(opts: &RegistryOptions) -> Result<Client> {
    let credentials = DockerConfig::load_default()?;
    Ok(Client::new(ClientOptions {
        insecure_registries: opts.insecure.clone(),
        credentials: Arc::new(credentials),
        chunk_size: opts.push_chunk_size.unwrap_or(PUSH_CHUNK).max(1),
        ..ClientOptions::default()
    })?)
}

/// The repository `reference` names, as a [`Remote`].
pub fn connect(reference: &ImageRef, opts: &RegistryOptions) -> Result<Box<dyn Remote>> {
    Ok(Box::new(ClientRemote {
        client: client(opts)?,
        repo: reference.repository(),
    }))
}

struct ClientRemote {
    client: Client,
    repo: Repository,
}

fn descriptor(d: &Descriptor) -> Result<rdock_registry_client::Descriptor> {
    Ok(rdock_registry_client::Descriptor {
        media_type: d.media_type().to_string(),
        digest: d.digest().to_string().parse()?,
        size: d.size(),
    })
}

/// How often byte counts reach the caller.
const TICK: Duration = Duration::from_millis(100);

/// Runs `work` with a [`Progress`] whose counts reach `progress` from a
/// ticker thread (the client wants a `'static` callback).
fn with_progress<T>(progress: &(dyn Fn(u64) + Sync), work: impl FnOnce(&Progress) -> T) -> T {
    let done = Arc::new(AtomicU64::new(0));
    let counter = done.clone();
    let relay = Progress::new(move |n| counter.store(n, Ordering::Relaxed));
    // Dropping `stop` wakes the ticker at once, so a transfer never waits
    // for its tick.
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut last = 0;
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                let now = done.load(Ordering::Relaxed);
                if now != last {
                    progress(now);
                    last = now;
                }
            }
        });
        let out = work(&relay);
        drop(stop);
        out
    })
}

impl Remote for ClientRemote {
    fn manifest(&self, reference: &str) -> Result<Fetched> {
        let m = self.client.fetch_manifest(&self.repo, reference)?;
        Ok(Fetched {
            media_type: m.media_type,
            bytes: m.bytes,
        })
    }

    fn blob(
        &self,
        layer: &Descriptor,
        out: &mut dyn BlobSink,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<()> {
        let d = descriptor(layer)?;
        // Every sink given here is a store writer, which hashes what it
        // is given and commits only a match: hashing here too would cost
        // a second pass over each byte.
        with_progress(progress, |p| {
            self.client
                .fetch_blob_to_verifying_sink(&self.repo, &d, out, p)
        })?;
        Ok(())
    }

    fn put_blob(
        &self,
        layer: &Descriptor,
        open: &OpenBlob,
        mount_from: Option<&str>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<BlobPush> {
        let d = descriptor(layer)?;
        let from = mount_from
            .map(|path| Repository::new(self.repo.domain(), path))
            .transpose()?;
        let how = with_progress(progress, |p| {
            self.client
                .push_stored_blob(&self.repo, &d, open, from.as_ref(), p)
        })?;
        Ok(match how {
            PushedHow::Exists => BlobPush::Exists,
            PushedHow::Mounted => BlobPush::Mounted,
            PushedHow::Uploaded => BlobPush::Uploaded,
        })
    }

    fn put_manifest(&self, reference: &str, media_type: &str, bytes: &[u8]) -> Result<()> {
        self.client
            .push_manifest(&self.repo, reference, media_type, bytes)?;
        Ok(())
    }
}
