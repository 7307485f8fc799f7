//! End-to-end tests of multi-platform images against Debian's
//! `docker-registry` on loopback: an OCI index loaded from a layout is
//! pushed whole (the registry serves the same index digest, every
//! platform pulls), a Docker schema 2 manifest list put there by plain
//! HTTP is pulled with `--platform`, and `--platform` against a
//! single-platform image of another platform fails as docker's does.
//! Images are made by hand (tests/common/registry_env.rs), so no build or
//! container runs.

mod common;
#[path = "common/registry_env.rs"]
mod env;
#[path = "common/registry.rs"]
mod registry;

use env::{host_and_other_arch, index_of, layout_tar, sh, sha256, Env, HandImage, OCI_INDEX};
use registry::{Auth, Registry};

/// Puts `blob` into `repo` of the registry at `host` (POST, then PUT with
/// the digest), with no client of ours.
fn put_blob(host: &str, repo: &str, blob: &[u8]) {
    let (status, headers, _) = registry::http(
        host,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(status, 202, "{headers:?}");
    let location = &headers["location"];
    let path = location
        .split_once("://")
        .map_or(location.as_str(), |(_, rest)| {
            &rest[rest.find('/').unwrap()..]
        });
    let sep = if path.contains('?') { '&' } else { '?' };
    let put = format!("{path}{sep}digest={}", sha256(blob));
    let (status, _, body) = registry::http(host, "PUT", &put, &[], blob).unwrap();
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
}

/// Puts a manifest or list under `reference` (a tag or its digest).
fn put_manifest(host: &str, repo: &str, reference: &str, media_type: &str, bytes: &[u8]) {
    let path = format!("/v2/{repo}/manifests/{reference}");
    let headers = [("Content-Type", media_type)];
    let (status, _, body) = registry::http(host, "PUT", &path, &headers, bytes).unwrap();
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
}

fn inspect(env: &Env, root: &str, name: &str) -> serde_json::Value {
    let out = env.ok(root, &["inspect", name]);
    serde_json::from_str::<serde_json::Value>(&out).unwrap()[0].clone()
}

#[test]
fn a_loaded_index_is_pushed_whole_and_every_platform_pulls() {
    let reg = Registry::start(Auth::None);
    let env = Env::new("platforms-index");
    let (host_arch, other_arch) = host_and_other_arch();
    let mine = HandImage::new(host_arch, false, 2000);
    let other = HandImage::new(other_arch, false, 3000);
    let index = index_of(&[&mine, &other], false);
    let index_digest = sha256(&index);
    let name = format!("{}/multi/app:1", reg.host());
    let tar = env.path("multi.tar");
    let mut blobs = mine.blobs().to_vec();
    blobs.extend(other.blobs());
    layout_tar(&tar, &name, &blobs, &index, OCI_INDEX);
    env.ok("a", &["load", "-i", tar.to_str().unwrap()]);

    let out = env.ok("a", &["push", &name]);
    assert!(
        out.contains(&format!("1: digest: {index_digest} size: {}", index.len())),
        "{out}"
    );
    // Both platforms' layers went up.
    assert_eq!(out.matches(": Pushed").count(), 2, "{out}");
    let inspected = inspect(&env, "a", &name);
    assert_eq!(
        inspected["RepoDigests"][0],
        format!("{}/multi/app@{index_digest}", reg.host()).as_str()
    );

    // The registry serves the index byte for byte, and each manifest.
    let remote = format!("docker://{name}");
    let raw = sh(
        "skopeo",
        &["inspect", "--raw", "--tls-verify=false", &remote],
    );
    assert_eq!(sha256(raw.trim_end().as_bytes()), index_digest);
    for image in [&mine, &other] {
        let by_digest = format!(
            "docker://{}/multi/app@{}",
            reg.host(),
            sha256(&image.manifest)
        );
        let raw = sh(
            "skopeo",
            &["inspect", "--raw", "--tls-verify=false", &by_digest],
        );
        assert_eq!(raw.trim_end().as_bytes(), image.manifest.as_slice());
    }

    for (root, arch) in [("b", other_arch), ("c", host_arch)] {
        let platform = format!("linux/{arch}");
        let out = env.ok(root, &["pull", "--platform", &platform, &name]);
        assert!(out.contains(&format!("Digest: {index_digest}")), "{out}");
        let pulled = inspect(&env, root, &name);
        assert_eq!(pulled["Architecture"], arch, "{pulled}");
        assert!(env
            .ok(root, &["store", "verify"])
            .ends_with(", 0 problems\n"));
    }
}

#[test]
fn a_docker_manifest_list_is_pulled_for_the_platform_asked_for() {
    let reg = Registry::start(Auth::None);
    let env = Env::new("platforms-list");
    let (host_arch, other_arch) = host_and_other_arch();
    let mine = HandImage::new(host_arch, true, 2000);
    let other = HandImage::new(other_arch, true, 3000);
    let repo = "list/app";
    for image in [&mine, &other] {
        put_blob(&reg.host(), repo, &image.layer);
        put_blob(&reg.host(), repo, &image.config);
        let digest = sha256(&image.manifest);
        put_manifest(
            &reg.host(),
            repo,
            &digest,
            image.manifest_type,
            &image.manifest,
        );
    }
    let list = index_of(&[&mine, &other], true);
    put_manifest(&reg.host(), repo, "1", env::DOCKER_LIST, &list);
    let name = format!("{}/{repo}:1", reg.host());

    let platform = format!("linux/{other_arch}");
    let out = env.ok("a", &["pull", "--platform", &platform, &name]);
    assert!(out.contains(&format!("Digest: {}", sha256(&list))), "{out}");
    let pulled = inspect(&env, "a", &name);
    assert_eq!(pulled["Architecture"], other_arch);
    assert_eq!(pulled["Descriptor"]["mediaType"], env::DOCKER_MANIFEST);
    assert_eq!(
        pulled["Descriptor"]["digest"],
        sha256(&other.manifest).as_str()
    );
    assert_eq!(pulled["Id"], sha256(&other.config).as_str());

    // Without --platform: this host's.
    env.ok("b", &["pull", &name]);
    assert_eq!(inspect(&env, "b", &name)["Architecture"], host_arch);

    // A platform the list lacks is named with the reference.
    let err = env.fails("c", &["pull", "--platform", "linux/s390x", &name], None);
    assert_eq!(
        err,
        format!(
            "rdock: no matching manifest for linux/s390x in the manifest list entries of {name}\n"
        )
    );
}

#[test]
fn platform_must_match_a_single_platform_image() {
    let reg = Registry::start(Auth::None);
    let env = Env::new("platforms-single");
    let (host_arch, other_arch) = host_and_other_arch();
    let name = format!("{}/single/app:1", reg.host());
    env.load_small("a", &name);
    env.ok("a", &["push", &name]);

    let wanted = format!("linux/{other_arch}");
    let out = env.rdock("b", &["pull", "--platform", &wanted, &name], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "rdock: image with reference {name} was found but does not match the specified \
             platform: wanted {wanted}, actual: linux/{host_arch}\n"
        )
    );
    assert_eq!(env.ok("b", &["images", "-q"]), "");

    let mine = format!("linux/{host_arch}");
    env.ok("b", &["pull", "--platform", &mine, &name]);
}
