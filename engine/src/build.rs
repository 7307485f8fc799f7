//! `rbuild`: [`build`] runs the whole pipeline for a [`BuildRequest`]:
//! parse the Dockerfile, plan the stages ([`rdock_builder::plan`]), resolve
//! the base images from the store (pulling missing ones, or all with
//! `--pull`: [`BaseOptions`]), solve ([`rdock_builder::solve`]), then
//! export: store the image config (with the `--label`s) and an OCI
//! manifest (new layers in the asked compression), tag it with every name
//! of [`ExportOptions`] and write its `--output` ([`crate::Output`]).
//! ADD's URLs and git sources are fetched by [`crate::fetch`]'s
//! `HttpFetcher`; `--platform` and `--build-context` reach the plan.
//! Progress events go to a callback;
//! steps whose cache key has a record are reused, not run, unless the
//! request says `no_cache`.

use std::collections::BTreeMap;

use rdock_builder::{Base, BaseImage, Event, Plan, PlanOptions, SolveOptions};
use rdock_cache::{Compression, Digest, Store};
use rdock_parser::platform::Platform;
use rdock_registry_client::ImageRef;

use crate::check::{read_ignore, BuildRequest};
use crate::error::{Error, Result};
use crate::export::Output;
use crate::images::timefmt::format_rfc3339;
use crate::images::{find_image, read_image, recompress, Image};
use crate::registry::BaseOptions;

/// What to do with the built image.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Names to tag it with (`-t`).
    pub tags: Vec<ImageRef>,
    /// `SOURCE_DATE_EPOCH`: the creation time of the image and its history,
    /// and the latest file time in its new layers.
    pub source_date_epoch: Option<i64>,
    /// `--label`: added to the image config's labels (last one wins).
    pub labels: BTreeMap<String, String>,
    /// `--compression`: of the new layers (gzip by default).
    pub compression: Compression,
    /// `--output`: also write the image there (it is tagged only with
    /// `tags`, as BuildKit's non-image exporters do).
    pub output: Option<Output>,
}

fn base_image(store: &Store, name: &str) -> Result<BaseImage> {
    let image = find_image(store, name)?;
    let diff_ids: Vec<Digest> = image.config["rootfs"]["diff_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str().and_then(|d| d.parse().ok()))
        .collect();
    let layers = image.manifest.layers();
    if diff_ids.len() != layers.len() {
        return Err(Error::LayerCount {
            config: image.id.to_string(),
            diff_ids: diff_ids.len(),
            layers: layers.len(),
        });
    }
    Ok(BaseImage {
        name: image.name.clone().unwrap_or_else(|| name.to_string()),
        manifest_digest: image.manifest_digest.clone(),
        layers: layers.iter().cloned().zip(diff_ids).collect(),
        config: image.config,
    })
}

/// Builds `req` into an image in `store`, tagged as `export` says; a
/// base image missing from the store is pulled.
pub fn build(
    store: &Store,
    req: &BuildRequest,
    export: &ExportOptions,
    progress: &mut dyn FnMut(Event),
) -> Result<Image> {
    build_with(store, req, export, &BaseOptions::default(), progress)
}

/// [`build`], with base images resolved as `bases` says (`--pull`).
pub fn build_with(
    store: &Store,
    req: &BuildRequest,
    export: &ExportOptions,
    bases_opts: &BaseOptions,
    progress: &mut dyn FnMut(Event),
) -> Result<Image> {
    let (shown, source, path) = req.read_dockerfile()?;
    let rendered = |e: rdock_parser::Error| Error::Dockerfile {
        rendered: e.render(&shown, &source),
        error: Box::new(e),
    };
    let df = rdock_parser::parse(&source).map_err(rendered)?;
    let parsed = rdock_parser::instructions::parse_dockerfile(&df).map_err(rendered)?;
    let ignore = read_ignore(&req.context, &path)?;
    // Builder errors that know their instruction name the file and line.
    let at_line = |e: rdock_builder::Error| match e {
        rdock_builder::Error::Instruction { line, error } => Error::Step {
            file: shown.clone(),
            line,
            error,
        },
        e => e.into(),
    };
    let plan = rdock_builder::plan(
        &parsed,
        &PlanOptions {
            build_args: req.build_arg_map(|k| std::env::var(k).ok())?,
            target: req.target.clone(),
            platform: req.platform.clone(),
            contexts: req.contexts.clone(),
        },
    )
    .map_err(at_line)?;
    let mut bases = BTreeMap::new();
    let platforms = image_platforms(&plan, req.platform.as_ref());
    for (name, line) in plan.image_lines() {
        // A missing base is pulled for the platform its stage builds for
        // (unless the caller fixed one).
        let mut opts = bases_opts.clone();
        if opts.platform.is_none() {
            opts.platform = platforms
                .get(&name)
                .and_then(|p| p.to_string().parse().ok());
        }
        let base = crate::registry::ensure_base(store, &name, &opts, progress)
            .and_then(|()| base_image(store, &name))
            .map_err(|error| Error::BaseImage {
                file: shown.clone(),
                line,
                error: Box::new(error),
            })?;
        bases.insert(name, base);
    }
    let mounts = crate::mount_sources(&req.secrets, &req.ssh, |k| std::env::var(k).ok())?;
    let created = format_rfc3339(export.source_date_epoch.unwrap_or_else(now));
    let opts = SolveOptions {
        context: req.context.clone(),
        ignore: ignore.as_ref(),
        bases: &bases,
        source_date_epoch: export.source_date_epoch,
        created,
        compression: export.compression,
        source: &source,
        executor: &rdock_builder::SandboxExecutor,
        no_cache: req.no_cache,
        jobs: 0,
        mounts: &mounts,
        fetcher: &crate::fetch::HttpFetcher::default(),
    };
    let lease = store.lease()?;
    let mut built = rdock_builder::solve(store, &plan, &opts, &lease, progress).map_err(at_line)?;
    add_labels(&mut built.config, &export.labels);
    // Cached steps keep the compression they were recorded with.
    let from_bases = bases
        .values()
        .flat_map(|b| b.layers.iter().map(|(d, _)| d.digest().to_string()))
        .collect();
    built.layers = recompress(store, &lease, built.layers, &from_bases, export.compression)?;

    let descriptor = crate::images::write_image(store, &lease, &built.config, built.layers)?;
    for tag in &export.tags {
        store.tag(&tag.to_string(), &descriptor)?;
    }
    let image = read_image(
        store,
        export.tags.first().map(ToString::to_string),
        &descriptor,
    )?;
    if let Some(output) = &export.output {
        // Still under the lease: an untagged image is not pruned meanwhile.
        crate::export::export(store, &image, output)?;
    }
    Ok(image)
}

/// The platform each image of the plan is needed for: its stage's
/// (`FROM --platform`, or the target's), the target's for the images
/// `--from` names.
fn image_platforms(plan: &Plan, target: Option<&Platform>) -> BTreeMap<String, Platform> {
    let target = target
        .cloned()
        .unwrap_or_else(|| Platform::host().normalize());
    let mut out: BTreeMap<String, Platform> = plan
        .images()
        .into_iter()
        .map(|name| (name, target.clone()))
        .collect();
    for stage in &plan.stages {
        if let Base::Image(name) = &stage.base {
            out.insert(name.clone(), stage.platform.clone());
        }
    }
    out
}

/// Merges `labels` into `config.config.Labels`, as `docker build --label`.
fn add_labels(config: &mut serde_json::Value, labels: &BTreeMap<String, String>) {
    if labels.is_empty() {
        return;
    }
    let inner = &mut config["config"];
    if !inner["Labels"].is_object() {
        inner["Labels"] = serde_json::json!({});
    }
    for (k, v) in labels {
        inner["Labels"][k] = serde_json::Value::String(v.clone());
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_are_pulled_for_their_stage_platform() {
        let text = "FROM --platform=$BUILDPLATFORM busybox AS build\n\
                    FROM alpine\nCOPY --from=tools:1 / /\nCOPY --from=build / /\n";
        let df = rdock_parser::parse(text.as_bytes()).unwrap();
        let parsed = rdock_parser::instructions::parse_dockerfile(&df).unwrap();
        let arm: Platform = "linux/arm64".parse().unwrap();
        let opts = PlanOptions {
            platform: Some(arm.clone()),
            ..PlanOptions::default()
        };
        let plan = rdock_builder::plan(&parsed, &opts).unwrap();
        let got = image_platforms(&plan, Some(&arm.normalize()));
        let host = Platform::host().normalize();
        assert_eq!(got["busybox"], host);
        assert_eq!(got["alpine"], arm.normalize());
        assert_eq!(got["tools:1"], arm.normalize());
    }
}
