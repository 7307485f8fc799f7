//! What the CLI (and later a daemon) calls: images, containers, build,
//! pull and push. Ties builder, cache, runner and registry-client together.
//!
//! [`build`] builds a Dockerfile into an image in the store (`rbuild`;
//! `--secret` and `--ssh` are [`SecretSpec`] and [`SshSpec`], `--output`
//! an [`Output`], `--build-context` a [`NamedContext`]; ADD's URLs and
//! git repositories are fetched over HTTP and with `git`);
//! [`check`] reads a build's Dockerfile and context ignore rules and
//! runs the build checks. The image functions ([`load`], [`import`],
//! [`images`], [`tag`], [`rmi`], [`inspect`], [`save`], [`prune`],
//! [`verify`]) manage images in the local store ([`open_store`]).
//! [`pull`] and [`push`] move images to and from registries with the same
//! digests on both sides, through a [`Remote`] ([`connect`]; plain HTTP
//! only for loopback and [`RegistryOptions::insecure`]), reporting
//! [`TransferEvent`]s; [`login`] and [`logout`] keep credentials in
//! docker's `config.json`; a build pulls missing base images
//! ([`build_with`] and [`BaseOptions`] for `--pull`).
//! Networks: [`network_create`], [`network_ls`], [`network_rm`] and
//! [`network_inspect`] manage user networks (records under
//! `ROOT/networks/`); [`network_config`] resolves `--network NAME` to the
//! bridge setup a container attaches to.
//! Containers: [`create`] a container from a [`RunRequest`] (`rrun`'s
//! flags) and run it in the foreground ([`run_foreground`]) or under a
//! detached monitor ([`start_detached`], [`monitor`]); [`list`], [`logs`],
//! [`stop`], [`kill`], [`remove`], [`exec`], [`wait`] and
//! [`inspect_container`] manage them; [`volume_create`], [`volume_ls`] and
//! [`volume_rm`] manage named volumes.

mod build;
mod check;
mod containers;
mod error;
mod export;
mod fetch;
mod images;
mod networks;
mod registry;
mod secrets;
mod stdin_context;
mod volumes;

pub use build::{build, build_with, ExportOptions};
pub use check::{check, BuildRequest, CheckOutcome};
pub use containers::{
    container, create, exec, images_in_use, inspect_container, kill, list, logs, monitor,
    parse_bytes, parse_signal, remove, resize, run_foreground, start_detached, stop, wait,
    ContainerConfig, ContainerError, ContainerId, ContainerInfo, ContainerName, Created,
    ExecRequest, Exit, LogLine, MonitorCommand, MountSpec, NetworkMode, Resources, RestartPolicy,
    RunRequest, SecurityOpts, State, Status, Stream, Terminal, TmpfsSpec,
};
pub use error::{Error, Result};
pub use export::{Output, OutputDest, OutputKind};
pub use images::{
    find_image, images, import, inspect, load, open_store, prune, rmi, save, tag, verify, Image,
    ImportOptions, LoadedImage, Removed,
};
pub use networks::{
    network_config, network_create, network_find, network_inspect, network_ls, network_prune,
    network_rm, NetworkCreate, NetworkError, NetworkInfo,
};
pub use rdock_builder::Event as BuildEvent;
pub use rdock_builder::NamedContext;
pub use rdock_cache::{Compression, Digest, Problem, PruneReport, Store, VerifyReport};
pub use rdock_registry_client::ImageRef;
pub use rdock_runner::tty;
pub use registry::{
    connect, login, logout, pull, pull_from, push, push_to, repo_digest, BaseOptions, BlobPush,
    BlobSink, Fetched, OpenBlob, Platform, PullOptions, Pulled, PushOptions, Pushed,
    RegistryOptions, Remote, TransferEvent,
};
pub use secrets::{mount_sources, SecretSource, SecretSpec, SshSpec};
pub use stdin_context::StdinContext;
pub use volumes::{volume_create, volume_ls, volume_rm, Volume};
