//! The build cache of file system steps: [`Solver::reuse`] looks a step's
//! [`CacheKey`] up in the store and, on a hit, stacks the recorded layer
//! (unpacked once, as the snapshot of its chain id) instead of running
//! the step; [`Solver::record`] stores what a step produced. A step that
//! changed nothing is recorded with the empty layer and the
//! [`EMPTY_LAYER`] mark, and adds no layer when reused.

use std::collections::BTreeMap;

use rdock_cache::{CacheKey, CacheRecord, ChainId, Digest, LayerInfo};

use crate::error::Result;
use crate::solve::{Layer, Solver, StageState};

/// Metadata of a record whose step changed no file.
const EMPTY_LAYER: &str = "empty_layer";

impl Solver<'_> {
    /// The chain id of `diff_id` stacked on `state`'s layers.
    fn chain_on(state: &StageState, diff_id: &Digest) -> ChainId {
        match state.layers.last() {
            Some(l) => l.chain_id.child(diff_id),
            None => ChainId::base(diff_id),
        }
    }

    /// On a hit for `key` (and without `--no-cache`): applies the recorded
    /// layer to `state` and returns whether it added one.
    pub fn reuse(&mut self, state: &mut StageState, key: &CacheKey) -> Result<Option<bool>> {
        if self.opts.no_cache {
            return Ok(None);
        }
        let Some(record) = self.store.get_record(key)? else {
            return Ok(None);
        };
        let digest = Digest::try_from(record.layer.digest())?;
        self.lease.protect_blob(&digest)?;
        if record.metadata.contains_key(EMPTY_LAYER) {
            return Ok(Some(false));
        }
        let parent = state.layers.last().map(|l| l.chain_id.clone());
        let unpacked =
            self.store
                .unpack_blob(&self.lease, &record.layer, &record.diff_id, parent.as_ref())?;
        self.lease.protect_snapshot(&unpacked.chain_id)?;
        state.layers.push(Layer {
            descriptor: record.layer,
            diff_id: record.diff_id,
            chain_id: unpacked.chain_id,
        });
        Ok(Some(true))
    }

    /// Records what the step of `key` produced: `layer` as added on top of
    /// `state`, or (`added` false) the empty layer it did not add.
    pub fn record(
        &self,
        state: &StageState,
        key: &CacheKey,
        info: &LayerInfo,
        added: bool,
    ) -> Result<()> {
        let mut metadata = BTreeMap::new();
        let chain_id = if added {
            state
                .layers
                .last()
                .map(|l| l.chain_id.clone())
                .expect("an added layer is on the state")
        } else {
            metadata.insert(EMPTY_LAYER.to_string(), "true".to_string());
            Self::chain_on(state, &info.diff_id)
        };
        let record = CacheRecord {
            layer: info.descriptor(),
            diff_id: info.diff_id.clone(),
            chain_id,
            metadata,
        };
        self.store.put_record(key, &record)?;
        Ok(())
    }
}
