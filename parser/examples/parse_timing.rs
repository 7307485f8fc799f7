//! In-process parse timing for `scripts/bench-parse.sh`, measured the same
//! way as the Go side there: the files are read first, then every file is
//! parsed once per run, and the fastest of `RUNS` runs is kept.
//!
//! Usage: `parse_timing RUNS LIST...`, where each LIST names one Dockerfile
//! per line. Prints one JSON object per LIST: `files`, `bytes`, `errors` (files
//! that did not parse, which are timed too), `parse_s` (best run of
//! [`rdock_parser::parse`]) and `parse_json_s` (best run of parse plus
//! [`rdock_parser::conformance::to_json`]).

#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use rdock_parser::{conformance, parse};

fn best_of(runs: usize, mut one_run: impl FnMut()) -> Duration {
    one_run(); // warm-up: caches, allocator
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            one_run();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let runs: usize = args
        .next()
        .ok_or("usage: parse_timing RUNS LIST...")?
        .parse()?;
    for list in args {
        let mut files = Vec::new();
        for path in std::fs::read_to_string(&list)?
            .lines()
            .filter(|l| !l.is_empty())
        {
            files.push(std::fs::read(path).map_err(|e| format!("{path}: {e}"))?);
        }
        let bytes: usize = files.iter().map(Vec::len).sum();
        let errors = files.iter().filter(|f| parse(f).is_err()).count();
        let parse_time = best_of(runs, || {
            for f in &files {
                black_box(parse(black_box(f)).ok());
            }
        });
        let json_time = best_of(runs, || {
            for f in &files {
                black_box(conformance::to_json(&parse(black_box(f))));
            }
        });
        println!(
            "{{\"list\": {}, \"files\": {}, \"bytes\": {bytes}, \"errors\": {errors}, \
             \"runs\": {runs}, \"parse_s\": {}, \"parse_json_s\": {}}}",
            serde_json::Value::from(list),
            files.len(),
            parse_time.as_secs_f64(),
            json_time.as_secs_f64()
        );
    }
    Ok(())
}
