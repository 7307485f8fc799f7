#!/usr/bin/env python3
"""Parser throughput: rdock-parser (Rust) against BuildKit's Go parser.

The Go parser is BuildKit's frontend/dockerfile/parser (v0.12.5) as embedded
in the PyPI package `dockerfile` (3.4.0), called through
`dockerfile.parse_string`. The Rust figure comes from the `parse_timing`
example, which times `rdock_parser::parse` in-process the same way: all
files are read into memory first, each run parses every file once, and the
fastest of --runs runs counts. Files that fail to parse are timed too.

The Python wrapper adds work that the Go parser itself does not do: per
call, Python str to C string to Go string copies and the cgo transition; per
result string, a C string, a Python str and two more cgo calls. Both are
estimated and subtracted to give "Go net", a lower bound of the Go parser's
own time (so it favours Go):
  * per call: a one-line Dockerfile (`FROM a`), which includes Go parsing
    that line;
  * per result string: `EXPOSE` with 1000 one-character ports minus `EXPOSE`
    with one port of the same length, per extra value; this includes Go
    splitting the words, and is multiplied by the number of strings the
    wrapper returns (keyword, original line, flags, values, heredoc names
    and bodies).
The raw Go time is shown as well.

Only files that are valid UTF-8 without NUL characters are used, since the
wrapper passes text as C strings.

Usage: bench-parse.py --timer PATH --corpus DIR [--fixtures DIR] [--runs N]
Prints Markdown tables on stdout.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time


def find_files(fixtures, corpus):
    conformance = sorted(
        os.path.join(d, f)
        for d, _, fs in os.walk(fixtures)
        for f in fs
        if f == "Dockerfile"
    )
    generated = sorted(
        os.path.join(corpus, f) for f in os.listdir(corpus) if f.endswith(".Dockerfile")
    )
    return conformance, generated


def usable(paths):
    """(paths, texts) of the files the wrapper can take, and how many were skipped."""
    keep, texts, skipped = [], [], 0
    for p in paths:
        with open(p, "rb") as f:
            data = f.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            skipped += 1
            continue
        if "\0" in text:
            skipped += 1
            continue
        keep.append(p)
        texts.append(text)
    return keep, texts, skipped


def best_of(runs, fn):
    fn()  # warm-up
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def go_time(texts, runs):
    import dockerfile

    parse_string = dockerfile.parse_string
    error = dockerfile.GoParseError

    def one_run():
        for s in texts:
            try:
                parse_string(s)
            except error:
                pass

    return best_of(runs, one_run)


def result_strings(texts):
    """How many strings the wrapper hands back for these files."""
    import dockerfile

    n = 0
    for s in texts:
        try:
            cmds = dockerfile.parse_string(s)
        except dockerfile.GoParseError:
            n += 1  # the error message
            continue
        for c in cmds:
            n += 2 + bool(c.sub_cmd) + len(c.flags) + len(c.value) + 2 * len(c.heredocs)
    return n


def wrapper_costs(runs):
    """(seconds per call, seconds per result string) the wrapper adds, upper bounds."""
    floor = go_time(["FROM a\n"] * 2000, runs) / 2000
    values = 1000
    many = "EXPOSE " + " ".join(["1"] * values) + "\n"
    one = "EXPOSE " + "1" * (2 * values - 1) + "\n"
    per_string = (go_time([many] * 50, runs) - go_time([one] * 50, runs)) / 50 / (values - 1)
    return floor, max(per_string, 0.0)


def rust_times(timer, runs, lists):
    out = subprocess.run(
        [timer, str(runs)] + lists, check=True, capture_output=True, text=True
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--timer", required=True, help="the built parse_timing example")
    ap.add_argument("--corpus", required=True, help="generated corpus directory")
    ap.add_argument(
        "--fixtures",
        default=os.path.join(here, "..", "fixtures", "conformance"),
        help="conformance fixtures (default: fixtures/conformance)",
    )
    ap.add_argument("--runs", type=int, default=10, help="best of N runs (default 10)")
    args = ap.parse_args()

    conformance, generated = find_files(args.fixtures, args.corpus)
    sets = []
    skipped_total = 0
    for name, paths in (("conformance", conformance), ("generated", generated)):
        keep, texts, skipped = usable(paths)
        skipped_total += skipped
        sets.append((name, keep, texts))
    sets.append(("all", sets[0][1] + sets[1][1], sets[0][2] + sets[1][2]))

    floor, per_string = wrapper_costs(args.runs)

    with tempfile.TemporaryDirectory() as tmp:
        lists = []
        for name, keep, _ in sets:
            path = os.path.join(tmp, name + ".list")
            with open(path, "w") as f:
                f.write("\n".join(os.path.abspath(p) for p in keep) + "\n")
            lists.append(path)
        rust = rust_times(args.timer, args.runs, lists)

    rows = []
    for (name, keep, texts), r in zip(sets, rust):
        size = sum(len(t.encode("utf-8")) for t in texts)
        assert r["bytes"] == size and r["files"] == len(keep), (name, r, size)
        go = go_time(texts, args.runs)
        strings = result_strings(texts)
        net = max(go - floor * len(keep) - per_string * strings, 1e-9)
        rows.append((name, len(keep), size, go, net, strings, r))

    mb = lambda n: n / 1e6  # noqa: E731
    print("| corpus | files | MB | Go ms | Go MB/s | Go net ms | Go net MB/s "
          "| Rust ms | Rust MB/s | Rust speed-up vs Go net (vs Go) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, files, size, go, net, _, r in rows:
        rs = r["parse_s"]
        print("| %s | %d | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1fx (%.1fx) |" % (
            name, files, mb(size), go * 1e3, mb(size) / go, net * 1e3, mb(size) / net,
            rs * 1e3, mb(size) / rs, net / rs, go / rs))
    print()
    print("| corpus | parse errors (timed too) | wrapper strings | Rust parse + to_json ms "
          "| Rust parse + to_json MB/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, files, size, go, net, strings, r in rows:
        rj = r["parse_json_s"]
        print("| %s | %d | %d | %.1f | %.1f |" % (
            name, r["errors"], strings, rj * 1e3, mb(size) / rj))
    print()
    print("Best of %d runs; MB = 10^6 bytes. Go net = Go minus the wrapper's estimated "
          "%.1f us per call and %.2f us per result string. %d file(s) skipped "
          "(not UTF-8, or NUL)." % (args.runs, floor * 1e6, per_string * 1e6, skipped_total))
    print("Machine: %s, %d CPU(s), Python %s, %s." % (
        cpu_model(), os.cpu_count() or 0, platform.python_version(), platform.platform()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
