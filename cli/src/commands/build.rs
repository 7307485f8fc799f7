//! `rdock build` / `rbuild`: builds the request with the engine and shows
//! its progress on stderr as BuildKit does (see `progress`), then
//! writes `--iidfile` and `--metadata-file`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use rdock_engine::{ExportOptions, ImageRef};

use super::build_opts::{compression, describe, metadata, parse_labels, parse_output};
use super::progress::renderer;
use crate::cli::BuildArgs;

pub fn run(args: BuildArgs, root: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let req = rdock_engine::BuildRequest {
        context: args.context,
        dockerfile: args.file,
        target: args.target,
        build_args: args.build_args,
        no_cache: args.no_cache,
        secrets: args.secrets,
        ssh: args.ssh,
    };
    if args.check {
        return check(&req);
    }
    let tags = args
        .tags
        .iter()
        .map(|t| t.parse::<ImageRef>())
        .collect::<Result<Vec<_>, _>>()?;
    let epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => Some(v.parse::<i64>().map_err(|_| {
            anyhow::anyhow!("invalid SOURCE_DATE_EPOCH {v:?}: expected seconds since 1970")
        })?),
        _ => None,
    };
    let output = args.output.as_deref().map(parse_output).transpose()?;
    let export = ExportOptions {
        tags: tags.clone(),
        source_date_epoch: epoch,
        labels: parse_labels(&args.labels)?,
        compression: compression(args.compression),
        output: output.clone(),
    };
    let store = rdock_engine::open_store(root)?;
    let mut progress = renderer(args.progress);
    let image = rdock_engine::build(&store, &req, &export, &mut |e| progress.event(e))?;
    let mut details = vec![format!("writing image {} done", image.id)];
    details.extend(tags.iter().map(|t| format!("naming to {t} done")));
    if let Some(output) = &output {
        details.push(format!("{} done", describe(output)));
    }
    progress.exported("exporting to image", &details);
    if let Some(path) = args.iidfile {
        std::fs::write(&path, image.id.to_string())
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    if let Some(path) = args.metadata_file {
        let json = serde_json::to_vec_pretty(&metadata(&image, &tags))?;
        std::fs::write(&path, json)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn check(req: &rdock_engine::BuildRequest) -> anyhow::Result<ExitCode> {
    let outcome = rdock_engine::check(req)?;
    let shown = outcome.dockerfile.display().to_string();
    let mut out = std::io::stdout().lock();
    out.write_all(outcome.report.render(&shown, &outcome.source).as_bytes())?;
    if let Some(err) = &outcome.report.error {
        anyhow::bail!("{}", err.render(&shown, &outcome.source));
    }
    if let Some(violation) = outcome.report.violation() {
        anyhow::bail!("{violation}");
    }
    Ok(ExitCode::SUCCESS)
}
