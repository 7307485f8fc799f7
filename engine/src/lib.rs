//! What the CLI (and later a daemon) calls: images, containers, build,
//! pull and push. Ties builder, cache, runner and registry-client together.
//!
//! [`build`] builds a Dockerfile into an image in the store (`rbuild`;
//! `--secret` and `--ssh` are [`SecretSpec`] and [`SshSpec`], `--output`
//! an [`Output`]);
//! [`check`] reads a build's Dockerfile and context ignore rules and
//! runs the build checks. The image functions ([`load`], [`import`],
//! [`images`], [`tag`], [`rmi`], [`inspect`], [`save`], [`prune`],
//! [`verify`]) manage images in the local store ([`open_store`]).

mod build;
mod check;
mod error;
mod export;
mod images;
mod secrets;

pub use build::{build, ExportOptions};
pub use check::{check, BuildRequest, CheckOutcome};
pub use error::{Error, Result};
pub use export::{Output, OutputDest, OutputKind};
pub use images::{
    find_image, images, import, inspect, load, open_store, prune, rmi, save, tag, verify, Image,
    ImportOptions, LoadedImage, Removed,
};
pub use rdock_builder::Event as BuildEvent;
pub use rdock_cache::{Compression, Digest, Problem, PruneReport, Store, VerifyReport};
pub use rdock_registry_client::ImageRef;
pub use secrets::{mount_sources, SecretSource, SecretSpec, SshSpec};
