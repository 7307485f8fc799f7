//! What the registry end-to-end tests share: [`Env`] (a test's stores,
//! contexts and docker config, and `rdock` run on them), and images made
//! by hand ([`HandImage`], [`layout_tar`]) for multi-platform and Docker
//! media type cases that no build makes. Included with
//! `#[path = "common/registry_env.rs"] mod env;` beside `mod common;`.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

/// A test's folders: stores, contexts and docker config; removed on drop.
pub struct Env {
    pub dir: PathBuf,
}

impl Env {
    pub fn new(name: &str) -> Env {
        Env {
            dir: crate::common::tempdir("registry", name),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Runs `rdock --root <dir>/<root> ARGS` with DOCKER_CONFIG in the
    /// test's folder, feeding `stdin`.
    pub fn rdock(&self, root: &str, args: &[&str], stdin: Option<&str>) -> Output {
        self.rdock_with(root, args, stdin, &[])
    }

    /// [`Env::rdock`] with more environment variables.
    pub fn rdock_with(
        &self,
        root: &str,
        args: &[&str],
        stdin: Option<&str>,
        vars: &[(&str, &str)],
    ) -> Output {
        let mut cmd = Command::new(crate::common::rdock_bin());
        cmd.arg("--root")
            .arg(self.path(root))
            .args(args)
            .env("DOCKER_CONFIG", self.path("docker"))
            .env_remove("RDOCK_INSECURE_REGISTRIES")
            .env_remove("RDOCK_PUSH_CHUNK_SIZE")
            .envs(vars.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("running rdock");
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            // rdock may exit (an argument error) before it reads its input.
            let _ = input.write_all(text.as_bytes());
        }
        drop(input);
        child.wait_with_output().expect("waiting for rdock")
    }

    /// [`Env::rdock`] that must succeed; returns stdout.
    pub fn ok(&self, root: &str, args: &[&str]) -> String {
        let out = self.rdock(root, args, None);
        assert!(
            out.status.success(),
            "rdock {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// [`Env::rdock`] that must fail with exit code 1; returns stderr.
    pub fn fails(&self, root: &str, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.rdock(root, args, stdin);
        assert_eq!(
            out.status.code(),
            Some(1),
            "rdock {args:?} should fail:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).expect("utf-8 stderr")
    }

    /// A store with busybox imported and `name` built from it (two COPY
    /// layers over busybox); returns the build's image ID.
    pub fn build(&self, root: &str, name: &str, extra: &[&str]) -> String {
        self.ok(
            root,
            &[
                "import",
                crate::common::busybox_rootfs().to_str().unwrap(),
                "busybox",
            ],
        );
        let ctx = self.path("ctx");
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::write(ctx.join("hello.txt"), "hello from rdock\n").unwrap();
        std::fs::write(ctx.join("big.bin"), pseudo_random(3 << 20)).unwrap();
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM busybox\nCOPY hello.txt /hello.txt\nCOPY big.bin /data/big.bin\nCMD [\"cat\", \"/hello.txt\"]\n",
        )
        .unwrap();
        let iid = self.path("iid");
        let mut args = vec![
            "build",
            "--progress=plain",
            "-t",
            name,
            "--iidfile",
            iid.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.push(ctx.to_str().unwrap());
        self.ok(root, &args);
        std::fs::read_to_string(iid).unwrap()
    }

    pub fn inspect(&self, root: &str, name: &str) -> Value {
        let out = self.ok(root, &["inspect", name]);
        let v: Value = serde_json::from_str(&out).expect("inspect prints JSON");
        v[0].clone()
    }

    /// The file tree of `image` in `root`, through a build with a local
    /// output (`FROM image`): proves the pulled layers unpack.
    pub fn tree(&self, root: &str, image: &str) -> PathBuf {
        let ctx = self.path(&format!("tree-ctx-{root}"));
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::write(ctx.join("Dockerfile"), format!("FROM {image}\n")).unwrap();
        let dest = self.path(&format!("tree-{root}"));
        let output = format!("type=local,dest={}", dest.display());
        self.ok(
            root,
            &[
                "build",
                "--progress=plain",
                "-o",
                &output,
                ctx.to_str().unwrap(),
            ],
        );
        dest
    }
}

impl Env {
    /// Loads a small one-layer image for this host, named `name` (a full
    /// reference), into the store `root`.
    pub fn load_small(&self, root: &str, name: &str) -> HandImage {
        let image = HandImage::new(host_and_other_arch().0, false, 1000);
        let tar = self.path(&format!("small-{}.tar", &sha256(name.as_bytes())[7..19]));
        layout_tar(
            &tar,
            name,
            &[&image.layer, &image.config],
            &image.manifest,
            OCI_MANIFEST,
        );
        self.ok(root, &["load", "-i", tar.to_str().unwrap()]);
        image
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Incompressible bytes (xorshift), so layer sizes are real.
pub fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn manifest_digest(image: &Value) -> String {
    image["Manifest"]["digest"].as_str().unwrap().to_owned()
}

/// Runs a command that must succeed; returns stdout.
pub fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `image`'s CMD with `rdock run --rm` and returns its output.
pub fn run_image(env: &Env, root: &str, image: &str) -> String {
    let out = env.rdock(root, &["run", "--rm", image], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "rdock run {image}: {err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A descriptor of `bytes` as JSON.
pub fn descriptor(bytes: &[u8], media_type: &str) -> Value {
    json!({"mediaType": media_type, "digest": sha256(bytes), "size": bytes.len()})
}

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A one-layer linux image for `arch`, made by hand: the layer has
/// `/arch.txt` (the architecture) and `/payload.bin` (`payload` random
/// bytes, so the layer is about that big).
pub struct HandImage {
    pub arch: String,
    pub layer: Vec<u8>,
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
    pub manifest_type: &'static str,
}

impl HandImage {
    /// With OCI media types, or Docker's schema 2 ones when `docker`.
    pub fn new(arch: &str, docker: bool, payload: usize) -> HandImage {
        let mut tar = tar::Builder::new(Vec::new());
        let random = pseudo_random(payload);
        for (name, body) in [("arch.txt", arch.as_bytes()), ("payload.bin", &random[..])] {
            let mut h = tar::Header::new_ustar();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_cksum();
            tar.append_data(&mut h, name, body).expect("tar entry");
        }
        let plain = tar.into_inner().expect("tar");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).expect("gzip");
        let layer = gz.finish().expect("gzip");
        let config = serde_json::to_vec(&json!({
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["cat", "/arch.txt"]},
            "rootfs": {"type": "layers", "diff_ids": [sha256(&plain)]},
        }))
        .expect("config");
        let (manifest_type, config_type, layer_type) = match docker {
            true => (
                DOCKER_MANIFEST,
                "application/vnd.docker.container.image.v1+json",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            ),
            false => (
                OCI_MANIFEST,
                "application/vnd.oci.image.config.v1+json",
                "application/vnd.oci.image.layer.v1.tar+gzip",
            ),
        };
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": descriptor(&config, config_type),
            "layers": [descriptor(&layer, layer_type)],
        }))
        .expect("manifest");
        HandImage {
            arch: arch.to_owned(),
            layer,
            config,
            manifest,
            manifest_type,
        }
    }

    /// The manifest's descriptor with its platform, for an index.
    pub fn entry(&self) -> Value {
        let mut d = descriptor(&self.manifest, self.manifest_type);
        d["platform"] = json!({"os": "linux", "architecture": self.arch});
        d
    }

    /// Layer, config and manifest.
    pub fn blobs(&self) -> [&[u8]; 3] {
        [&self.layer, &self.config, &self.manifest]
    }
}

/// An index (or Docker manifest list when `docker`) of `images`.
pub fn index_of(images: &[&HandImage], docker: bool) -> Vec<u8> {
    let media_type = if docker { DOCKER_LIST } else { OCI_INDEX };
    let entries: Vec<Value> = images.iter().map(|i| i.entry()).collect();
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": entries,
    }))
    .expect("index")
}

/// This machine's architecture as Go names it, and another one.
pub fn host_and_other_arch() -> (&'static str, &'static str) {
    match std::env::consts::ARCH {
        "aarch64" => ("arm64", "amd64"),
        _ => ("amd64", "arm64"),
    }
}

/// Writes an OCI-layout tar at `path` with `blobs` and an index.json
/// entry for `top` (of `top_type`) named `name` (a full reference).
pub fn layout_tar(path: &Path, name: &str, blobs: &[&[u8]], top: &[u8], top_type: &str) {
    let tag = name.rsplit_once(':').map_or("latest", |(_, t)| t);
    let mut entry = descriptor(top, top_type);
    entry["annotations"] = json!({
        "io.containerd.image.name": name,
        "org.opencontainers.image.ref.name": tag,
    });
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [entry]})).unwrap();
    let mut tar = tar::Builder::new(std::fs::File::create(path).expect("layout tar"));
    let mut add = |name: &str, body: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, body).expect("tar entry");
    };
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    add("index.json", &index);
    let mut seen = std::collections::HashSet::new();
    for blob in blobs.iter().copied().chain([top]) {
        let digest = sha256(blob);
        if seen.insert(digest.clone()) {
            add(&format!("blobs/sha256/{}", &digest[7..]), blob);
        }
    }
    tar.finish().expect("layout tar");
}
