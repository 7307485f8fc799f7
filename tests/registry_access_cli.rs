//! End-to-end tests of how `rdock` reaches registries: docker's
//! `--insecure-registry` rule (exact `host:port` or a CIDR) and the
//! immediate failure of HTTPS against a plain-HTTP registry, a
//! `docker-credential-*` helper found on PATH and run once per registry
//! for a whole push, and chunked PATCH uploads with
//! `RDOCK_PUSH_CHUNK_SIZE`. Against Debian's `docker-registry` on
//! loopback, with images made by hand (tests/common/registry_env.rs).

mod common;
#[path = "common/registry_env.rs"]
mod env;
#[path = "common/registry.rs"]
mod registry;

use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, Instant};

use env::{layout_tar, sha256, Env, HandImage, OCI_MANIFEST};
use registry::{Auth, Fault, Proxy, Registry, Tunnel};

#[test]
fn insecure_registries_follow_docker_rule_and_https_to_http_fails_at_once() {
    let Some(ip) = registry::outside_ip() else {
        // Every local address is loopback, hence plain HTTP: nothing to test.
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipped: this machine has no address besides loopback");
        }
        return;
    };
    let reg = Registry::start(Auth::None);
    let env = Env::new("access-insecure");
    let name = format!("{}/ins/app:1", reg.host());
    env.load_small("a", &name);
    env.ok("a", &["push", &name]);
    // The same registry at a non-loopback address: HTTPS unless listed.
    let tunnel = Tunnel::start(ip, &reg.host());
    let there = format!("{}/ins/app:1", tunnel.host());
    let https_refused = format!(
        "rdock: manifest for {there}: GET \"https://{}/v2/ins/app/manifests/1\": \
         http: server gave HTTP response to HTTPS client\n",
        tunnel.host()
    );

    let started = Instant::now();
    let err = env.fails("b", &["pull", &there], None);
    assert_eq!(err, https_refused);
    assert_eq!(tunnel.connections(), 1, "no retries");
    assert!(started.elapsed() < Duration::from_secs(2));

    // A bare host does not cover the port, as in docker.
    let bare = ip.to_string();
    let err = env.fails("b", &["--insecure-registry", &bare, "pull", &there], None);
    assert_eq!(err, https_refused);

    // host:port exactly, a CIDR holding the address, or the environment.
    env.ok(
        "b",
        &["--insecure-registry", &tunnel.host(), "pull", &there],
    );
    let cidr = format!("{ip}/{}", if ip.is_ipv4() { 32 } else { 128 });
    env.ok("c", &["--insecure-registry", &cidr, "pull", &there]);
    let listed = [("RDOCK_INSECURE_REGISTRIES", tunnel.host())];
    let vars: Vec<(&str, &str)> = listed.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = env.rdock_with("d", &["pull", &there], None, &vars);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `docker-credential-NAME` into `dir`: it keeps one entry in a
/// file beside it and logs each action it is run for.
fn fake_helper(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let script = dir.join(format!("docker-credential-{name}"));
    let store = dir.join(format!("{name}.store"));
    let log = dir.join(format!("{name}.log"));
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
echo "$1" >> {log}
case "$1" in
get) read server; if [ -f {store} ]; then cat {store}; else echo "credentials not found in native keychain"; exit 1; fi ;;
store) cat > {store} ;;
erase) read server; rm -f {store} ;;
esac
"#,
            log = log.display(),
            store = store.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    log
}

fn actions(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_credential_helper_on_path_is_run_once_per_registry() {
    let reg = Registry::start(Auth::Htpasswd(vec![("alice".into(), "s3cret".into())]));
    let env = Env::new("access-helper");
    let bin = env.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = fake_helper(&bin, "rdocktest");
    let config = env.path("docker/config.json");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, r#"{"credsStore": "rdocktest"}"#).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let vars = [("PATH", path.as_str())];

    let out = env.rdock_with(
        "a",
        &["login", &reg.host(), "-u", "alice", "--password-stdin"],
        Some("s3cret\n"),
        &vars,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(actions(&log), ["store"]);
    // The secret is in the helper; docker's file only lists the server.
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    assert_eq!(saved["auths"][reg.host()], serde_json::json!({}));

    // Two layers and a config: each blob's HEAD, POST and PUT and the
    // manifest's PUT authenticate, with one helper run.
    let name = format!("{}/helper/app:1", reg.host());
    let first = HandImage::new(env::host_and_other_arch().0, false, 5000);
    let second = HandImage::new(env::host_and_other_arch().0, false, 7000);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": env::descriptor(&two_layer_config(&first, &second), "application/vnd.oci.image.config.v1+json"),
        "layers": [
            env::descriptor(&first.layer, "application/vnd.oci.image.layer.v1.tar+gzip"),
            env::descriptor(&second.layer, "application/vnd.oci.image.layer.v1.tar+gzip"),
        ],
    }))
    .unwrap();
    let tar = env.path("two.tar");
    let config_blob = two_layer_config(&first, &second);
    layout_tar(
        &tar,
        &name,
        &[&first.layer, &second.layer, &config_blob],
        &manifest,
        OCI_MANIFEST,
    );
    env.ok("a", &["load", "-i", tar.to_str().unwrap()]);
    let out = env.rdock_with("a", &["push", &name], None, &vars);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(actions(&log), ["store", "get"]);

    let out = env.rdock_with("b", &["pull", &name], None, &vars);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(actions(&log), ["store", "get", "get"]);

    let out = env.rdock_with("a", &["logout", &reg.host()], None, &vars);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("Removing login credentials for {}\n", reg.host())
    );
    assert_eq!(actions(&log), ["store", "get", "get", "erase"]);
    let out = env.rdock_with("c", &["pull", &name], None, &vars);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err,
        format!("rdock: manifest for {name}: unauthorized: authentication required\n")
    );
}

/// A config for an image of `a`'s layer then `b`'s.
fn two_layer_config(a: &HandImage, b: &HandImage) -> Vec<u8> {
    let diff_id = |image: &HandImage| {
        let config: serde_json::Value = serde_json::from_slice(&image.config).unwrap();
        config["rootfs"]["diff_ids"][0].clone()
    };
    serde_json::to_vec(&serde_json::json!({
        "architecture": a.arch,
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id(a), diff_id(b)]},
    }))
    .unwrap()
}

#[test]
fn large_layers_are_pushed_in_chunks_of_the_size_asked_for() {
    let reg = Registry::start(Auth::None);
    let env = Env::new("access-chunks");
    let proxy = Proxy::start(&reg.host());
    let name = format!("{}/chunk/app:1", proxy.host());
    let image = HandImage::new(env::host_and_other_arch().0, false, 300_000);
    let tar = env.path("chunk.tar");
    layout_tar(
        &tar,
        &name,
        &[&image.layer, &image.config],
        &image.manifest,
        OCI_MANIFEST,
    );
    env.ok("a", &["load", "-i", tar.to_str().unwrap()]);

    let err = env.rdock_with(
        "a",
        &["push", &name],
        None,
        &[("RDOCK_PUSH_CHUNK_SIZE", "lots")],
    );
    assert_eq!(err.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&err.stderr),
        "rdock: invalid RDOCK_PUSH_CHUNK_SIZE \"lots\": expected a number of bytes above 0\n"
    );

    let chunk = 65_536usize;
    let vars = [("RDOCK_PUSH_CHUNK_SIZE", "65536")];
    // The second chunk is refused once: the upload goes on from the
    // offset the registry reports.
    proxy.fault_after(
        "PATCH",
        "/blobs/uploads/",
        1,
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        1,
    );
    let out = env.rdock_with("a", &["push", &name], None, &vars);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let patches = proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.method == "PATCH")
        .count();
    assert_eq!(patches, image.layer.len().div_ceil(chunk) + 1, "one retry");

    // What the registry assembled is the layer, byte for byte.
    let direct = format!("{}/chunk/app:1", reg.host());
    env.ok("b", &["pull", &direct]);
    let out = env.ok("b", &["inspect", &direct]);
    let pulled: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        pulled[0]["Manifest"]["layers"][0]["digest"],
        sha256(&image.layer).as_str()
    );
    assert!(env
        .ok("b", &["store", "verify"])
        .ends_with(", 0 problems\n"));
}
