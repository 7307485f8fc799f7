//! Parse throughput (bytes/s) over the benchmark corpus: every conformance
//! Dockerfile plus the generated realistic corpus.
//!
//! The generated corpus is read from `$RDOCK_BENCH_CORPUS`, by default
//! `bench-corpus` in the target directory (`$CARGO_TARGET_DIR`, else
//! `target/` in the workspace), where `scripts/bench-parse.sh` writes it.
//! When that directory holds no Dockerfiles it is generated first with
//! `scripts/gen-bench-corpus.py` (deterministic). `scripts/bench-parse.sh`
//! compares with the Go parser.
//!
//! ```sh
//! cargo bench -p rdock-parser --bench parse
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rdock_parser::{conformance, parse};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dockerfiles_under(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            dockerfiles_under(&path, keep, out);
        } else if keep(&path) {
            out.push(path);
        }
    }
}

fn read_all(mut paths: Vec<PathBuf>) -> Vec<Vec<u8>> {
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

fn conformance_files() -> Vec<Vec<u8>> {
    let mut paths = Vec::new();
    let is_dockerfile = |p: &Path| p.file_name().is_some_and(|n| n == "Dockerfile");
    dockerfiles_under(
        &workspace().join("fixtures/conformance"),
        &is_dockerfile,
        &mut paths,
    );
    read_all(paths)
}

fn generated_files() -> Vec<Vec<u8>> {
    let dir = match (
        std::env::var_os("RDOCK_BENCH_CORPUS"),
        std::env::var_os("CARGO_TARGET_DIR"),
    ) {
        (Some(dir), _) => PathBuf::from(dir),
        (None, Some(target)) => workspace().join(target).join("bench-corpus"),
        (None, None) => workspace().join("target/bench-corpus"),
    };
    let is_generated = |p: &Path| p.extension().is_some_and(|e| e == "Dockerfile");
    let mut paths = Vec::new();
    dockerfiles_under(&dir, &is_generated, &mut paths);
    if paths.is_empty() {
        let status = Command::new("python3")
            .arg(workspace().join("scripts/gen-bench-corpus.py"))
            .arg(&dir)
            .status()
            .expect("python3 runs scripts/gen-bench-corpus.py");
        assert!(status.success(), "generating {} failed", dir.display());
        dockerfiles_under(&dir, &is_generated, &mut paths);
    }
    read_all(paths)
}

fn bench_corpus(c: &mut Criterion, name: &str, files: &[Vec<u8>]) {
    let bytes: usize = files.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function(BenchmarkId::new("parse", files.len()), |b| {
        b.iter(|| {
            for f in files {
                std::hint::black_box(parse(std::hint::black_box(f)).ok());
            }
        })
    });
    group.bench_function(BenchmarkId::new("parse+to_json", files.len()), |b| {
        b.iter(|| {
            for f in files {
                std::hint::black_box(conformance::to_json(&parse(std::hint::black_box(f))));
            }
        })
    });
    group.finish();
}

fn parse_throughput(c: &mut Criterion) {
    let conformance = conformance_files();
    let generated = generated_files();
    bench_corpus(c, "conformance", &conformance);
    bench_corpus(c, "generated", &generated);
    // The largest generated file alone: long continuation chains.
    if let Some(largest) = generated.iter().max_by_key(|f| f.len()) {
        bench_corpus(c, "largest", std::slice::from_ref(largest));
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = parse_throughput
}
criterion_main!(benches);
