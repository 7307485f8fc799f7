//! Dockerfile to build graph to layers and image: the builder's part of the
//! pipeline after [`rdock_parser`]'s parse stages.
//!
//! - [`plan`]: a [`ParsedDockerfile`](rdock_parser::instructions::ParsedDockerfile)
//!   and [`PlanOptions`] (`--build-arg`, `--target`) to a [`Plan`]: the
//!   stages the target needs, in dependency order, with their [`Base`] and
//!   the global ARG scope.
//! - [`solve`]: runs a plan on a [`rdock_cache::Store`] with
//!   [`SolveOptions`] (the context, its `.dockerignore`, the resolved
//!   [`BaseImage`]s, `SOURCE_DATE_EPOCH`) and returns the target as
//!   [`Built`] layers and image config; progress is reported through
//!   [`Event`]s, never printed. Independent stages run in parallel (at most
//!   [`SolveOptions::jobs`] at once), each as soon as the stages it reads
//!   are built; the image does not depend on that order. `RUN --mount`
//!   secrets and SSH agents come from [`MountSources`].
//!
//! - ADD of http(s) URLs and git repositories goes through the
//!   [`Fetcher`] trait (the engine's implementation uses
//!   HTTP and the `git` binary); local archives may be plain, gzip, bzip2,
//!   xz or zstd tars.
//! - `--build-context` ([`NamedContext`]) replaces stages and images by
//!   directories or other images; `--platform` and `FROM --platform`
//!   ([`PlannedStage::platform`]) set the `TARGET*` args and the image's
//!   platform. Nothing is emulated: a RUN for another platform, or a base
//!   image of another platform than asked, is an error.
//!
//! - Caching: every file system step has a content-addressed
//!   [`rdock_cache::CacheKey`] (its parent's key, the expanded instruction,
//!   the variables a RUN sees, the content of the context files a COPY
//!   reads); a key with a record in the store is a hit and the step does
//!   not run ([`Event::Cached`]). RUN executes through an [`Executor`].
//!
//! The caller (the engine) resolves base images from the store between the
//! two and stores the image afterwards. Errors are one [`Error`] enum.

mod archive;
mod config;
mod contenthash;
mod copy;
mod copy_parents;
mod copy_select;
mod copy_step;
mod error;
mod executor;
mod fetch;
mod fsview;
mod git;
mod key;
mod mount_sources;
mod named_context;
mod onbuild;
mod plan;
mod run_mounts;
mod run_step;
mod schedule;
mod snapshot;
mod solve;
mod stepcache;
mod steps;
mod untar;

#[cfg(test)]
mod cache_tests;
#[cfg(test)]
mod mount_tests;
#[cfg(test)]
mod parallel_tests;

pub use error::{Error, Result};
pub use executor::{Executor, SandboxExecutor};
pub use fetch::{FetchError, Fetched, Fetcher};
pub use mount_sources::MountSources;
pub use plan::{plan, Base, NamedContext, Plan, PlanOptions, PlannedStage};
pub use solve::{solve, BaseImage, Built, Event, SolveOptions};
