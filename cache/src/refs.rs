//! The reference graph: from index.json entries through image indexes and
//! manifests to configs and layers, and from configs to the chain ids of
//! their snapshots. Prune marks with it; verify reports what it finds broken.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};

use crate::digest::Digest;
use crate::snapshot::{chain_ids, ChainId};
use crate::store::Store;
use crate::verify::Problem;

/// Who refers to a blob.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Referrer {
    /// An entry of index.json.
    Index,
    /// A stored manifest or image index.
    Blob(Digest),
}

impl fmt::Display for Referrer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Referrer::Index => f.write_str("index.json"),
            Referrer::Blob(d) => write!(f, "{d}"),
        }
    }
}

/// What a blob is read as while walking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Manifest,
    Index,
    Config,
    Leaf,
}

impl Kind {
    fn of(media_type: &str) -> Kind {
        match media_type {
            "application/vnd.oci.image.manifest.v1+json"
            | "application/vnd.docker.distribution.manifest.v2+json" => Kind::Manifest,
            "application/vnd.oci.image.index.v1+json"
            | "application/vnd.docker.distribution.manifest.list.v2+json" => Kind::Index,
            "application/vnd.oci.image.config.v1+json"
            | "application/vnd.docker.container.image.v1+json" => Kind::Config,
            _ => Kind::Leaf,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Manifest => "image manifest",
            Kind::Index => "image index",
            Kind::Config => "image config",
            Kind::Leaf => "blob",
        }
    }
}

/// The outcome of a walk.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    /// Every stored blob reachable from the roots.
    pub(crate) blobs: BTreeSet<Digest>,
    /// Chain ids of every layer prefix of every reachable image config.
    pub(crate) chains: BTreeSet<ChainId>,
    /// Broken references found on the way.
    pub(crate) problems: Vec<Problem>,
}

impl Graph {
    /// The first manifest or index that could not be parsed: prune must not
    /// guess what it references.
    pub(crate) fn unreadable_manifest(&self) -> Option<&Problem> {
        self.problems.iter().find(|p| {
            matches!(p, Problem::BlobUnparsable { kind, .. }
                if *kind == Kind::Manifest.name() || *kind == Kind::Index.name())
        })
    }
}

/// Walks everything reachable from `roots` (the entries of index.json).
pub(crate) fn walk(store: &Store, roots: &[Descriptor]) -> Graph {
    let mut graph = Graph::default();
    let mut stack: Vec<(Descriptor, Referrer)> = roots
        .iter()
        .rev()
        .map(|d| (d.clone(), Referrer::Index))
        .collect();
    while let Some((descriptor, referrer)) = stack.pop() {
        let Ok(digest) = Digest::try_from(descriptor.digest()) else {
            graph.problems.push(Problem::UnsupportedDigest {
                digest: descriptor.digest().to_string(),
                referrer,
            });
            continue;
        };
        let size = match store.blob_size(&digest) {
            Ok(size) => size,
            Err(_) => {
                graph
                    .problems
                    .push(Problem::BlobMissing { digest, referrer });
                continue;
            }
        };
        if size != descriptor.size() {
            graph.problems.push(Problem::SizeMismatch {
                digest: digest.clone(),
                referrer,
                expected: descriptor.size(),
                actual: size,
            });
        }
        if !graph.blobs.insert(digest.clone()) {
            continue;
        }
        let kind = Kind::of(descriptor.media_type().as_ref());
        if kind == Kind::Leaf {
            continue;
        }
        let bytes = match fs::read(store.blob_path(&digest)) {
            Ok(bytes) => bytes,
            Err(e) => {
                graph
                    .problems
                    .push(unparsable(&digest, kind, e.to_string()));
                continue;
            }
        };
        let children = match children(&bytes, kind, &mut graph.chains) {
            Ok(children) => children,
            Err(reason) => {
                graph.problems.push(unparsable(&digest, kind, reason));
                continue;
            }
        };
        let referrer = Referrer::Blob(digest);
        stack.extend(children.into_iter().rev().map(|d| (d, referrer.clone())));
    }
    graph
}

fn unparsable(digest: &Digest, kind: Kind, reason: String) -> Problem {
    Problem::BlobUnparsable {
        digest: digest.clone(),
        kind: kind.name(),
        reason,
    }
}

/// The descriptors a manifest or index refers to; for a config, records the
/// chain ids of its layers and returns nothing.
fn children(
    bytes: &[u8],
    kind: Kind,
    chains: &mut BTreeSet<ChainId>,
) -> Result<Vec<Descriptor>, String> {
    match kind {
        Kind::Manifest => {
            let manifest: ImageManifest =
                serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
            let mut out = vec![manifest.config().clone()];
            out.extend(manifest.layers().iter().cloned());
            Ok(out)
        }
        Kind::Index => {
            let index: ImageIndex = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
            Ok(index.manifests().clone())
        }
        Kind::Config => {
            let config: ImageConfiguration =
                serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
            let diff_ids = config
                .rootfs()
                .diff_ids()
                .iter()
                .map(|d| d.parse::<Digest>().map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            chains.extend(chain_ids(&diff_ids));
            Ok(Vec::new())
        }
        Kind::Leaf => Ok(Vec::new()),
    }
}
