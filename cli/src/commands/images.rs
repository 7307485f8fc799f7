//! `rdock images`, `tag`, `rmi` and `inspect`.

use std::io::Write;
use std::process::ExitCode;

use rdock_engine::{ImageRef, Store};

use super::render::{human_duration, human_size, table};
use crate::cli::{ImagesArgs, InspectArgs, RmiArgs, TagArgs};

pub fn list(store: &Store, args: &ImagesArgs) -> anyhow::Result<ExitCode> {
    let images = rdock_engine::images(store)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let mut rows = vec![["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
        .map(String::from)
        .to_vec()];
    if args.digests {
        rows[0].insert(2, "DIGEST".to_owned());
    }
    let mut out = std::io::stdout().lock();
    for image in &images {
        let id = match args.no_trunc {
            true => image.id.to_string(),
            false => image.id.hex()[..12].to_owned(),
        };
        if args.quiet {
            writeln!(out, "{id}")?;
            continue;
        }
        let name = image.name.clone().unwrap_or_default();
        let (repo, tag) = match name.parse::<ImageRef>() {
            Ok(r) => (r.familiar_name(), r.tag().unwrap_or("<none>").to_owned()),
            Err(_) => (name, "<none>".to_owned()),
        };
        let created = image.created().map_or("N/A".to_owned(), |c| {
            format!("{} ago", human_duration(now - c))
        });
        let mut row = vec![repo, tag, id, created, human_size(image.size())];
        if args.digests {
            let digest = rdock_engine::repo_digest(image);
            row.insert(2, digest.map_or("<none>".to_owned(), |d| d.to_string()));
        }
        rows.push(row);
    }
    if !args.quiet {
        out.write_all(table(&rows).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn tag(store: &Store, args: &TagArgs) -> anyhow::Result<ExitCode> {
    rdock_engine::tag(store, &args.source, &args.target)?;
    Ok(ExitCode::SUCCESS)
}

pub fn rmi(store: &Store, args: &RmiArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for name in &args.images {
        match rdock_engine::rmi(store, name, args.force) {
            Ok(removed) => {
                for n in &removed.untagged {
                    let shown = n.parse::<ImageRef>().map_or(n.clone(), |r| r.familiar());
                    writeln!(out, "Untagged: {shown}")?;
                }
                if let Some(id) = removed.deleted {
                    writeln!(out, "Deleted: {id}")?;
                }
            }
            Err(err) => {
                super::report(&err.into());
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub fn inspect(store: &Store, args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let values = args
        .images
        .iter()
        .map(|name| rdock_engine::inspect(store, name))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = std::io::stdout().lock();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    serde::Serialize::serialize(&values, &mut ser)?;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}
