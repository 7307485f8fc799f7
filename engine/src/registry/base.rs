//! How `rbuild` finds its FROM images: [`BaseOptions`]. A base missing
//! from the store is pulled; with `pull` (`rbuild --pull`) every base is
//! checked against its registry first, as `docker build --pull` does.

use std::sync::Mutex;
use std::time::Instant;

use rdock_builder::Event;
use rdock_cache::Store;
use rdock_registry_client::ImageRef;

use super::{pull, Platform, PullOptions, RegistryOptions, TransferEvent};
use crate::error::{Error, Result};
use crate::images::find_image;

/// How FROM images are resolved.
#[derive(Debug, Clone, Default)]
pub struct BaseOptions {
    /// Pull every base, even one in the store (`--pull`).
    pub pull: bool,
    /// The platform to pull (default: this host).
    pub platform: Option<Platform>,
    /// Registries and their transport.
    pub registry: RegistryOptions,
}

/// Makes sure the base `name` is in the store, pulling it when missing or
/// when `opts.pull` says so; `shown` reports the pull.
pub(crate) fn ensure_base(
    store: &Store,
    name: &str,
    opts: &BaseOptions,
    progress: &mut dyn FnMut(Event),
) -> Result<()> {
    let missing = match find_image(store, name) {
        Ok(_) => false,
        Err(Error::ImageNotFound { .. }) => true,
        Err(e) => return Err(e),
    };
    if !missing && !opts.pull {
        return Ok(());
    }
    let Ok(reference) = name.parse::<ImageRef>() else {
        // Not a name (e.g. an ID prefix): only the store can have it.
        return Ok(());
    };
    let pull_opts = PullOptions {
        platform: opts.platform.clone(),
        jobs: 0,
        registry: opts.registry.clone(),
        skip_unpack: false,
    };
    // Step 0: before the builder numbers its steps from 1; pulls run one
    // after another, so the number is never shared by two live steps.
    let started = Instant::now();
    progress(Event::Started {
        id: 0,
        name: format!("[internal] pull {reference}"),
    });
    let lines = Mutex::new(Vec::new());
    let result = pull(store, &reference, &pull_opts, &|e| {
        if let TransferEvent::Complete { digest } | TransferEvent::Exists { digest } = e {
            let line = format!("{} done", &digest.hex()[..12]);
            lines.lock().expect("lines").push(line);
        }
    });
    for line in lines.into_inner().expect("lines") {
        progress(Event::Output { id: 0, line });
    }
    if let Ok(pulled) = &result {
        progress(Event::Output {
            id: 0,
            line: format!("resolved {}@{}", reference.name(), pulled.digest),
        });
    }
    progress(Event::Finished {
        id: 0,
        error: result.as_ref().err().map(ToString::to_string),
        elapsed: started.elapsed(),
    });
    result.map(|_| ())
}
