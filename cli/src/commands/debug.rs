//! `rdock debug parse [--json] FILE`.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

pub fn parse(file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let source = read_source(file)?;
    let result = rdock_parser::parse(&source);
    let mut out = std::io::stdout().lock();
    let name = file.display().to_string();
    if json {
        let value = rdock_parser::conformance::to_json(&result);
        serde_json::to_writer_pretty(&mut out, &value)?;
        writeln!(out)?;
    } else if let Ok(df) = &result {
        for node in &df.nodes {
            writeln!(
                out,
                "{}:{}-{}: {} {:?} {:?}",
                name,
                node.span.start.line,
                node.span.end.line,
                node.keyword,
                node.flags,
                node.values()
            )?;
        }
    }
    match result {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            if !json {
                anyhow::bail!("{}", e.render(&name, &source));
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

pub fn read_source(file: &Path) -> anyhow::Result<Vec<u8>> {
    if file == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        return Ok(buf);
    }
    std::fs::read(file).with_context(|| format!("reading {}", file.display()))
}
