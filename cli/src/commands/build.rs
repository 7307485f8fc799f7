//! `rdock build` / `rbuild`: builds the request with the engine and shows
//! its progress in BuildKit's plain style on stderr.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use rdock_engine::{BuildEvent, ExportOptions, ImageRef};

use crate::cli::BuildArgs;

pub fn run(args: BuildArgs, root: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let req = rdock_engine::BuildRequest {
        context: args.context,
        dockerfile: args.file,
        target: args.target,
        build_args: args.build_args,
        no_cache: args.no_cache,
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
    let store = rdock_engine::open_store(root)?;
    let export = ExportOptions {
        tags: tags.clone(),
        source_date_epoch: epoch,
    };
    let mut err = std::io::stderr().lock();
    let mut started: HashMap<usize, Instant> = HashMap::new();
    let mut render = |event: BuildEvent| {
        // Progress is best effort: a closed stderr does not stop the build.
        let _ = render_event(&mut err, &mut started, event);
    };
    let image = rdock_engine::build(&store, &req, &export, &mut render)?;
    let n = started.keys().max().map_or(1, |n| n + 1);
    let mut err = std::io::stderr().lock();
    writeln!(err, "#{n} exporting to image")?;
    writeln!(err, "#{n} writing image {} done", image.id)?;
    for tag in &tags {
        writeln!(err, "#{n} naming to {tag} done")?;
    }
    writeln!(err, "#{n} DONE 0.0s")?;
    if let Some(path) = args.iidfile {
        std::fs::write(&path, image.id.to_string())
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn render_event(
    out: &mut impl Write,
    started: &mut HashMap<usize, Instant>,
    event: BuildEvent,
) -> std::io::Result<()> {
    match event {
        BuildEvent::Started { id, name } => {
            started.insert(id, Instant::now());
            writeln!(out, "#{id} {name}")
        }
        BuildEvent::Output { id, line } => {
            let secs = started.get(&id).map_or(0.0, |t| t.elapsed().as_secs_f64());
            writeln!(out, "#{id} {secs:.3} {line}")
        }
        BuildEvent::Cached { id } => writeln!(out, "#{id} CACHED\n"),
        BuildEvent::Finished { id, error, elapsed } => match error {
            None => writeln!(out, "#{id} DONE {:.1}s\n", elapsed.as_secs_f64()),
            Some(e) => writeln!(out, "#{id} ERROR: {e}\n"),
        },
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
