//! `rbuild` end to end: every case folder of `fixtures/build/` is built on
//! a busybox base image imported into a temporary store root, and the
//! image is compared with the case's `expected.json`: the files that differ
//! from the base (path, type, mode, owner, size, sha256, link target), the
//! base files deleted (whiteouts), the image's `config` and its new history
//! entries. `case.json` (optional) holds the `rbuild` arguments and, for a
//! case that must fail, the texts its error must contain (`{context}` in
//! an argument is the case's context folder). Set
//! `UPDATE_GOLDEN=1` to rewrite the expectations, `GOLDEN_ONLY=a,b` to
//! run only those cases.
//!
//! Also: skopeo reads the built image from the store's OCI layout, and
//! two builds with SOURCE_DATE_EPOCH in fresh roots give the same digest.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{busybox_rootfs, rdock_at_epoch, tempdir};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

const EPOCH: &str = "1000000000";

fn rdock(root: &Path, args: &[&str]) -> Output {
    rdock_at_epoch(root, args, EPOCH)
}

fn ok(root: &Path, args: &[&str]) -> String {
    let out = rdock(root, args);
    assert!(
        out.status.success(),
        "rdock {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A fresh store root with busybox imported as `busybox:latest`.
fn store_with_busybox(name: &str) -> PathBuf {
    let root = tempdir("build", name).join("root");
    ok(
        &root,
        &["import", busybox_rootfs().to_str().unwrap(), "busybox"],
    );
    root
}

/// Removes a test's temporary folder (the parent of its store root).
fn cleanup(root: &Path) {
    let _ = std::fs::remove_dir_all(root.parent().unwrap());
}

fn inspect(root: &Path, name: &str) -> Value {
    let v: Value = serde_json::from_str(&ok(root, &["inspect", name])).unwrap();
    v[0].clone()
}

fn blob(root: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    std::fs::read(root.join("blobs/sha256").join(hex)).expect("reading blob")
}

/// The image's merged file tree: path to its description.
fn tree(root: &Path, name: &str) -> BTreeMap<String, Value> {
    let image = inspect(root, name);
    let mut files = BTreeMap::new();
    for layer in image["Manifest"]["layers"].as_array().unwrap() {
        let data = blob(root, layer["digest"].as_str().unwrap());
        let reader: Box<dyn Read> = if layer["mediaType"].as_str().unwrap().ends_with("+gzip") {
            Box::new(flate2::read::GzDecoder::new(&data[..]))
        } else {
            Box::new(&data[..])
        };
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let raw = entry.path().unwrap().to_string_lossy().into_owned();
            let path = format!("/{}", raw.trim_start_matches("./").trim_end_matches('/'));
            let (dir, base) = path.rsplit_once('/').unwrap();
            if base == ".wh..wh..opq" {
                files.retain(|k: &String, _| !k.starts_with(&format!("{dir}/")));
                continue;
            }
            if let Some(gone) = base.strip_prefix(".wh.") {
                let gone = format!("{dir}/{gone}");
                files.retain(|k: &String, _| *k != gone && !k.starts_with(&format!("{gone}/")));
                continue;
            }
            let h = entry.header().clone();
            let kind = match h.entry_type() {
                tar::EntryType::Directory => "dir",
                tar::EntryType::Symlink => "symlink",
                tar::EntryType::Link => "hardlink",
                tar::EntryType::Regular => "file",
                _ => "other",
            };
            let mut v = json!({
                "path": path,
                "type": kind,
                "mode": format!("{:04o}", h.mode().unwrap() & 0o7777),
                "uid": h.uid().unwrap(),
                "gid": h.gid().unwrap(),
            });
            if kind == "file" {
                let mut content = Vec::new();
                entry.read_to_end(&mut content).unwrap();
                v["size"] = json!(content.len());
                v["sha256"] = json!(format!("{:x}", Sha256::digest(&content)));
            }
            if let Some(link) = entry.link_name().unwrap() {
                v["link"] = json!(link.to_string_lossy());
            }
            files.insert(path, v);
        }
    }
    files
}

/// What the case's image looks like next to the base image.
fn describe(root: &Path, name: &str, base: &BTreeMap<String, Value>, base_history: usize) -> Value {
    let built = tree(root, name);
    let changes: Vec<&Value> = built
        .iter()
        .filter(|(p, v)| base.get(*p) != Some(v))
        .map(|(_, v)| v)
        .collect();
    let deleted: Vec<&String> = base.keys().filter(|p| !built.contains_key(*p)).collect();
    let image = inspect(root, name);
    let history: Vec<String> = image["History"].as_array().unwrap()[base_history..]
        .iter()
        .map(|h| {
            let empty = if h["empty_layer"] == json!(true) {
                " (empty)"
            } else {
                ""
            };
            format!("{}{empty}", h["created_by"].as_str().unwrap())
        })
        .collect();
    json!({
        "changes": changes,
        "deleted": deleted,
        "config": image["Config"],
        "history": history,
    })
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/build")
}

#[test]
fn golden_builds() {
    let root = store_with_busybox("golden");
    let base = tree(&root, "busybox");
    let base_history = inspect(&root, "busybox")["History"]
        .as_array()
        .unwrap()
        .len();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 5, "fixture cases missing");
    // GOLDEN_ONLY=a,b runs (or rewrites) those cases only.
    let only = std::env::var("GOLDEN_ONLY").ok();
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|c| c == name))
        {
            continue;
        }
        let spec: Value = std::fs::read(case.join("case.json"))
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap_or(json!({}));
        let tag = format!("case-{name}:golden");
        let context = case.join("context");
        let mut args = vec!["build", "-t", &tag];
        let extra: Vec<String> = spec["args"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| {
                        let s = s.as_str().unwrap();
                        s.replace("{context}", context.to_str().unwrap())
                    })
                    .collect()
            })
            .unwrap_or_default();
        args.extend(extra.iter().map(String::as_str));
        args.push(context.to_str().unwrap());
        let out = rdock(&root, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if let Some(errors) = spec["errors"].as_array() {
            assert!(!out.status.success(), "{name}: the build should fail");
            for e in errors {
                let e = e.as_str().unwrap();
                assert!(
                    stderr.contains(e),
                    "{name}: {e:?} not in the error:\n{stderr}"
                );
            }
            assert!(
                !rdock(&root, &["inspect", &tag]).status.success(),
                "{name}: tagged"
            );
            continue;
        }
        assert!(out.status.success(), "{name}: build failed:\n{stderr}");
        let got = describe(&root, &tag, &base, base_history);
        let expected_path = case.join("expected.json");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
            std::fs::write(&expected_path, text).unwrap();
            continue;
        }
        let expected: Value = serde_json::from_slice(
            &std::fs::read(&expected_path)
                .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display())),
        )
        .unwrap();
        assert_eq!(
            got, expected,
            "{name}: the image differs from expected.json"
        );
    }
    cleanup(&root);
}

#[test]
fn progress_is_buildkit_plain_and_iidfile_has_the_id() {
    let root = store_with_busybox("progress");
    let dir = root.parent().unwrap().to_path_buf();
    let iid = dir.join("iid");
    let context = fixtures().join("multistage/context");
    let out = rdock(
        &root,
        &[
            "build",
            "-t",
            "p",
            "--iidfile",
            iid.to_str().unwrap(),
            context.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("#1 [build 1/"), "{stderr}");
    assert!(
        stderr.contains("] FROM docker.io/library/busybox:latest\n"),
        "{stderr}"
    );
    assert!(stderr.contains("\n#2 DONE "), "{stderr}");
    assert!(
        stderr.contains("naming to docker.io/library/p:latest done"),
        "{stderr}"
    );
    let id = std::fs::read_to_string(&iid).unwrap();
    assert_eq!(id, inspect(&root, "p")["Id"].as_str().unwrap());
    cleanup(&root);
}

#[test]
fn run_output_is_shown_as_it_comes() {
    let root = store_with_busybox("stream");
    let dir = root.parent().unwrap().join("stream-context");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\nRUN echo first; sleep 1; echo second >&2\n",
    )
    .unwrap();
    let out = rdock(&root, &["build", "--progress=plain", dir.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Each line carries its own time since the step started, stdout and
    // stderr in the order written, as BuildKit shows them.
    let at = |word: &str| -> f64 {
        let line = stderr
            .lines()
            .find(|l| l.starts_with("#2 ") && l.ends_with(word))
            .unwrap_or_else(|| panic!("no {word} line in {stderr}"));
        line.split(' ').nth(1).unwrap().parse().unwrap()
    };
    assert!(at("second") - at("first") > 0.5, "{stderr}");
    assert!(stderr.find("first").unwrap() < stderr.find("second").unwrap());
    cleanup(&root);
}

#[test]
fn skopeo_reads_the_built_image() {
    let root = store_with_busybox("skopeo");
    let context = fixtures().join("multistage/context");
    ok(
        &root,
        &["build", "-t", "built:skopeo-e2e", context.to_str().unwrap()],
    );
    let out = Command::new("skopeo")
        .args(["inspect", &format!("oci:{}:skopeo-e2e", root.display())])
        .output()
        .expect("running skopeo (apt-get install skopeo)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let image = inspect(&root, "built:skopeo-e2e");
    assert_eq!(v["Digest"], image["Descriptor"]["digest"]);
    assert_eq!(
        v["Layers"].as_array().unwrap().len(),
        image["Manifest"]["layers"].as_array().unwrap().len()
    );
    cleanup(&root);
}

#[test]
fn source_date_epoch_builds_are_reproducible() {
    let context = fixtures().join("multistage/context");
    let digests: Vec<Value> = ["repro-a", "repro-b"]
        .iter()
        .map(|name| {
            let root = store_with_busybox(name);
            ok(&root, &["build", "-t", "r", context.to_str().unwrap()]);
            let image = inspect(&root, "r");
            assert_eq!(image["Created"], json!("2001-09-09T01:46:40Z"));
            cleanup(&root);
            image["Descriptor"]["digest"].clone()
        })
        .collect();
    assert_eq!(digests[0], digests[1]);
}

/// The `#N [..] STEP` lines of a build's progress, each with whether the
/// next line says `#N CACHED`.
fn steps_cached(stderr: &str) -> Vec<(String, bool)> {
    let lines: Vec<&str> = stderr.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with('#') && l.contains(" ["))
        .map(|(i, l)| {
            let n = l.split(' ').next().unwrap();
            let cached = lines.get(i + 1) == Some(&format!("{n} CACHED").as_str());
            (l.to_string(), cached)
        })
        .collect()
}

#[test]
fn rebuilds_are_cached_and_no_cache_runs_every_step() {
    let root = store_with_busybox("rebuild");
    let dir = root.parent().unwrap().to_path_buf();
    let context = fixtures().join("multistage/context");
    let build = |extra: &[&str], iid: &str| {
        let iid = dir.join(iid);
        let mut args = vec!["build", "-t", "c", "--iidfile", iid.to_str().unwrap()];
        args.extend(extra);
        args.push(context.to_str().unwrap());
        let out = rdock(&root, &args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        (stderr, std::fs::read_to_string(&iid).unwrap())
    };
    let (first, first_id) = build(&[], "iid1");
    assert!(
        steps_cached(&first)
            .iter()
            .any(|(l, c)| l.contains("RUN") && !c),
        "{first}"
    );
    let (second, second_id) = build(&[], "iid2");
    let steps = steps_cached(&second);
    assert!(steps.len() >= 9, "{second}");
    assert!(steps.iter().all(|(_, cached)| *cached), "{second}");
    assert_eq!(first_id, second_id);
    let (fresh, fresh_id) = build(&["--no-cache"], "iid3");
    assert!(!fresh.contains("CACHED"), "{fresh}");
    assert_eq!(first_id, fresh_id);
    cleanup(&root);
}

/// `RUN --mount`: a cache mount keeps its files across builds and never
/// enters the image; a secret's bytes are in no layer, config or history;
/// the RUN's key follows the mounts' definitions, not the secret's value.
#[test]
fn run_mounts_keep_caches_and_secrets_out_of_the_image() {
    let root = store_with_busybox("mounts");
    let dir = root.parent().unwrap().to_path_buf();
    let context = dir.join("context");
    std::fs::create_dir_all(&context).unwrap();
    let dockerfile = |id: &str| {
        let text = format!(
            "FROM busybox\n\
             RUN --mount=type=cache,target=/c,id={id},sharing=locked echo x >> /c/n && wc -l < /c/n > /runs\n\
             RUN --mount=type=secret,id=s,required wc -c < /run/secrets/s > /len\n"
        );
        std::fs::write(context.join("Dockerfile"), text).unwrap();
    };
    let secret = dir.join("secret.txt");
    let build = |value: &str, extra: &[&str]| {
        std::fs::write(&secret, value).unwrap();
        let src = format!("id=s,src={}", secret.display());
        let mut args = vec!["build", "-t", "m", "--secret", &src];
        args.extend(extra);
        args.push(context.to_str().unwrap());
        let out = rdock(&root, &args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        steps_cached(&stderr)
    };
    let sha = |text: &str| format!("{:x}", Sha256::digest(text.as_bytes()));
    dockerfile("one");
    build("TOPSECRET-1", &[]);
    build("TOPSECRET-1", &["--no-cache"]);
    let files = tree(&root, "m");
    assert_eq!(
        files["/runs"]["sha256"],
        json!(sha("2\n")),
        "the cache was kept"
    );
    let stub = |p: &str| {
        ["/c", "/run"]
            .iter()
            .any(|s| p == *s || p.starts_with(&format!("{s}/")))
    };
    assert!(!files.keys().any(|p| stub(p)), "{files:?}");
    // Another secret value: still cached. Another cache id: runs again.
    let steps = build("TOPSECRET-2", &[]);
    assert!(steps.iter().all(|(_, cached)| *cached), "{steps:?}");
    dockerfile("two");
    let steps = build("TOPSECRET-2", &[]);
    assert!(
        steps.iter().any(|(l, c)| l.contains("/runs") && !c),
        "{steps:?}"
    );
    assert_eq!(tree(&root, "m")["/runs"]["sha256"], json!(sha("1\n")));
    let image = inspect(&root, "m");
    assert!(!image.to_string().contains("TOPSECRET"));
    for layer in image["Manifest"]["layers"].as_array().unwrap() {
        let data = blob(&root, layer["digest"].as_str().unwrap());
        let mut plain = Vec::new();
        match layer["mediaType"].as_str().unwrap().ends_with("+gzip") {
            true => flate2::read::GzDecoder::new(&data[..])
                .read_to_end(&mut plain)
                .map(drop)
                .unwrap(),
            false => plain = data,
        }
        assert!(!plain.windows(9).any(|w| w == b"TOPSECRET"));
    }
    cleanup(&root);
}

/// `--ssh ID=SOCKET` forwards the socket to `RUN --mount=type=ssh` with
/// `SSH_AUTH_SOCK` set; the mount point is not left in the image.
#[test]
fn ssh_mounts_forward_the_agent_socket() {
    let root = store_with_busybox("ssh");
    let dir = root.parent().unwrap().to_path_buf();
    let context = dir.join("context");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        "FROM busybox\nRUN --mount=type=ssh,required test -S \"$SSH_AUTH_SOCK\" && \
         echo $SSH_AUTH_SOCK > /sock\n",
    )
    .unwrap();
    let socket = dir.join("agent.sock");
    let _agent = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let ssh = format!("default={}", socket.display());
    ok(
        &root,
        &["build", "-t", "s", "--ssh", &ssh, context.to_str().unwrap()],
    );
    let files = tree(&root, "s");
    let sha = format!("{:x}", Sha256::digest(b"/run/buildkit/ssh_agent.0\n"));
    assert_eq!(files["/sock"]["sha256"], json!(sha));
    assert!(!files.contains_key("/run"), "{files:?}");
    cleanup(&root);
}
