//! A step's fresh upper dir: [`Upper`] prepares a snapshot in the store,
//! and [`Upper::finish`] packs it into a layer and commits it as the
//! snapshot of the stage's next chain id, an empty one too (current
//! BuildKit keeps a step's empty layer; 0.8 dropped it); the result is
//! recorded under the step's cache key.

use std::path::PathBuf;

use rdock_cache::{CacheKey, ChainId, PreparedSnapshot};

use crate::error::{Error, Result};
use crate::solve::{Layer, Solver, StageState};

/// An upper dir being filled by one step.
pub(crate) struct Upper {
    prepared: PreparedSnapshot,
    step: String,
}

impl Upper {
    pub fn new(solver: &Solver<'_>, step: &str) -> Result<Upper> {
        let prepared = solver.store.prepare_snapshot(&solver.lease)?;
        Ok(Upper {
            prepared,
            step: step.to_string(),
        })
    }

    /// The folder the step writes into.
    pub fn path(&self) -> PathBuf {
        self.prepared.path()
    }

    /// An empty overlay work dir beside the upper dir (same file system).
    pub fn work_dir(&self) -> Result<PathBuf> {
        self.scratch_dir("work")
    }

    /// A scratch folder beside the upper dir (never part of the layer).
    pub fn scratch_dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.path().with_file_name(name);
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            step: self.step.clone(),
            action: "creating",
            path: dir.clone(),
            source,
        })?;
        Ok(dir)
    }

    /// Packs the upper dir into a layer on top of `state`, commits it and
    /// records it under `key`. Returns whether a layer was added (always).
    pub fn finish(
        self,
        solver: &Solver<'_>,
        state: &mut StageState,
        key: &CacheKey,
    ) -> Result<bool> {
        let io = |path: PathBuf| {
            let step = self.step.clone();
            move |source| Error::Io {
                step,
                action: "reading",
                path,
                source,
            }
        };
        // Only `fs` becomes the snapshot: the work and scratch dirs go.
        for name in ["work", "pipes", "mounts"] {
            let dir = self.path().with_file_name(name);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(io(dir.clone()))?;
            }
        }
        let upper = self.path();
        let info = solver
            .store
            .write_layer(&solver.lease, &upper, &solver.pack_options())?;
        let chain_id = match state.layers.last() {
            Some(l) => l.chain_id.child(&info.diff_id),
            None => ChainId::base(&info.diff_id),
        };
        self.prepared.commit(&chain_id)?;
        solver.lease.protect_snapshot(&chain_id)?;
        state.layers.push(Layer {
            descriptor: info.descriptor(),
            diff_id: info.diff_id.clone(),
            chain_id,
        });
        solver.record(state, key, &info, true)?;
        Ok(true)
    }
}
