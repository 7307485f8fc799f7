//! `rdock prune` and `rdock store verify`.

use std::io::Write;
use std::process::ExitCode;

use rdock_engine::Store;

use super::render::human_size;

pub fn prune(store: &Store) -> anyhow::Result<ExitCode> {
    let report = rdock_engine::prune(store)?;
    let mut out = std::io::stdout().lock();
    for blob in &report.blobs {
        writeln!(out, "deleted: {}", blob.digest)?;
    }
    writeln!(
        out,
        "Total reclaimed space: {}",
        human_size(report.bytes_freed)
    )?;
    Ok(ExitCode::SUCCESS)
}

pub fn verify(store: &Store) -> anyhow::Result<ExitCode> {
    let report = rdock_engine::verify(store)?;
    let mut out = std::io::stdout().lock();
    for problem in &report.problems {
        writeln!(out, "{problem}")?;
    }
    writeln!(
        out,
        "{} blobs checked ({}), {} problems",
        report.blobs_checked,
        human_size(report.bytes_checked),
        report.problems.len()
    )?;
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
