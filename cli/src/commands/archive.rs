//! `rdock load`, `import` and `save`.

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use rdock_engine::{ImportOptions, Store};

use crate::cli::{ImportArgs, LoadArgs, SaveArgs};

fn input(path: Option<&std::path::Path>) -> anyhow::Result<Box<dyn Read>> {
    Ok(match path {
        Some(p) if p != std::path::Path::new("-") => Box::new(BufReader::new(
            File::open(p).with_context(|| format!("opening {}", p.display()))?,
        )),
        _ => Box::new(std::io::stdin().lock()),
    })
}

pub fn load(store: &Store, args: &LoadArgs) -> anyhow::Result<ExitCode> {
    let loaded = rdock_engine::load(store, input(args.input.as_deref())?)?;
    let mut out = std::io::stdout().lock();
    for image in loaded.iter().filter(|_| !args.quiet) {
        for name in &image.names {
            writeln!(out, "Loaded image: {}", name.familiar())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn import(store: &Store, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let created = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => Some(
            v.parse::<i64>()
                .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds"))?,
        ),
        _ => None,
    };
    let options = ImportOptions {
        created,
        source: Some(args.file.display().to_string()),
        env: args.env.clone(),
        cmd: args.cmd.clone(),
    };
    let image = rdock_engine::import(store, input(Some(&args.file))?, &args.name, &options)?;
    writeln!(std::io::stdout().lock(), "{}", image.id)?;
    Ok(ExitCode::SUCCESS)
}

pub fn save(store: &Store, args: &SaveArgs) -> anyhow::Result<ExitCode> {
    match &args.output {
        Some(path) => {
            // Written beside the target and renamed: no half archive on failure.
            let tmp = path.with_extension("rdock-partial");
            let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
            let result = rdock_engine::save(store, &args.images, BufWriter::new(file));
            if let Err(err) = result {
                let _ = std::fs::remove_file(&tmp);
                return Err(err.into());
            }
            std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        }
        None => {
            if std::io::stdout().is_terminal() {
                anyhow::bail!(
                    "refusing to write an archive to a terminal: use -o FILE or redirect"
                );
            }
            rdock_engine::save(store, &args.images, std::io::stdout().lock())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
