//! `rdock build` / `rbuild`: builds the request with the engine and shows
//! its progress on stderr as BuildKit does (see `progress`), then
//! writes `--iidfile` and `--metadata-file`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rdock_engine::{ExportOptions, ImageRef};

use super::build_opts::{
    compression, describe, metadata, parse_build_contexts, parse_labels, parse_output,
    parse_platform,
};
use super::progress::renderer;
use crate::cli::BuildArgs;

pub fn run(
    args: BuildArgs,
    root: Option<PathBuf>,
    registry: rdock_engine::RegistryOptions,
) -> anyhow::Result<ExitCode> {
    // `-` reads the context (a tar archive or a lone Dockerfile) or the
    // Dockerfile from standard input, as docker does.
    let stdin_file = args.file.as_deref() == Some(Path::new("-"));
    let stdin_context = match args.context.as_os_str() == "-" {
        true if stdin_file => {
            anyhow::bail!("invalid argument: can't use stdin for both build context and dockerfile")
        }
        true => Some(rdock_engine::StdinContext::read(
            std::io::stdin().lock(),
            &std::env::temp_dir(),
        )?),
        false => None,
    };
    let dockerfile_text = match (&stdin_context, stdin_file) {
        (Some(ctx), _) => ctx.dockerfile.clone(),
        (None, true) => {
            let mut text = Vec::new();
            std::io::stdin().lock().read_to_end(&mut text)?;
            Some(text)
        }
        (None, false) => None,
    };
    let req = rdock_engine::BuildRequest {
        context: match &stdin_context {
            Some(ctx) => ctx.dir().to_path_buf(),
            None => args.context,
        },
        dockerfile: args.file.filter(|_| !stdin_file),
        dockerfile_text,
        target: args.target,
        build_args: args.build_args,
        no_cache: args.no_cache,
        secrets: args.secrets,
        ssh: args.ssh,
        platform: args.platform.as_deref().map(parse_platform).transpose()?,
        contexts: parse_build_contexts(&args.build_contexts)?,
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
    let mut progress = renderer(match args.quiet {
        true => crate::cli::Progress::Quiet,
        false => args.progress,
    });
    if args.push && tags.is_empty() {
        anyhow::bail!("--push needs a name to push: give -t NAME");
    }
    let bases = rdock_engine::BaseOptions {
        pull: args.pull,
        platform: None,
        registry: registry.clone(),
    };
    // BuildKit's build checks run with every build: findings are listed
    // after it, and `# check=error=true` stops it before any step.
    let findings = match rdock_engine::check(&req) {
        Ok(outcome) => {
            if let Some(violation) = outcome.report.violation() {
                warn(&outcome.report.findings, args.quiet);
                anyhow::bail!("{violation}");
            }
            outcome.report.findings
        }
        // The build itself reports a Dockerfile it cannot read or parse.
        Err(_) => Vec::new(),
    };
    let built = rdock_engine::build_with(&store, &req, &export, &bases, &mut |e| progress.event(e));
    let image = match built {
        Ok(image) => image,
        Err(e) => {
            warn(&findings, args.quiet);
            return Err(e.into());
        }
    };
    let mut details = vec![format!("writing image {} done", image.id)];
    details.extend(tags.iter().map(|t| format!("naming to {t} done")));
    if let Some(output) = &output {
        details.push(format!("{} done", describe(output)));
    }
    progress.exported("exporting to image", &details);
    warn(&findings, args.quiet);
    if args.quiet {
        writeln!(std::io::stdout().lock(), "{}", image.id)?;
    }
    if let Some(path) = args.iidfile {
        std::fs::write(&path, image.id.to_string())
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    // Pushed after the build's own lines, as `docker build --push`.
    for tag in tags.iter().filter(|_| args.push) {
        super::registry::push_one(&store, tag, false, registry.clone())?;
    }
    if let Some(path) = args.metadata_file {
        let json = serde_json::to_vec_pretty(&metadata(&image, &tags, output.as_ref()))?;
        std::fs::write(&path, json)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The checks' findings as buildx lists them after a build.
fn warn(findings: &[rdock_parser::checks::Finding], quiet: bool) {
    if findings.is_empty() || quiet {
        return;
    }
    let mut err = std::io::stderr().lock();
    let s = if findings.len() == 1 { "" } else { "s" };
    let _ = writeln!(
        err,
        "\n {} warning{s} found (use docker --debug to expand):",
        findings.len()
    );
    for f in findings {
        let _ = writeln!(
            err,
            " - {}: {} (line {})",
            f.rule.name(),
            f.message,
            f.span.start.line
        );
    }
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
