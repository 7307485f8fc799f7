//! End-to-end tests of `rdock pull`, `push`, `login`, `logout`, FROM of a
//! missing base, `rbuild --push` and `--pull`, against Debian's
//! `docker-registry` on loopback (tests/common/registry.rs): round trips
//! into fresh stores with every digest kept, cross-repository mounts,
//! interop with skopeo both ways (OCI and Docker schema 2 manifests), the
//! three auth set-ups, refused uploads retried and dropped downloads
//! resumed, a corrupted blob refused with nothing stored, and docker's
//! one-line errors with exit code 1. Each test has its own registry,
//! stores and DOCKER_CONFIG, under temp dirs removed at the end.

mod common;
#[path = "common/registry_env.rs"]
mod env;
#[path = "common/registry.rs"]
mod registry;

use std::path::Path;

use env::{manifest_digest, pseudo_random, run_image, sh, Env};
use registry::{Auth, Fault, Proxy, Registry};
use serde_json::Value;

#[test]
fn build_push_pull_into_a_fresh_store_keeps_every_digest() {
    let reg = Registry::start(Auth::None);
    let env = Env::new("roundtrip");
    let name = format!("{}/rt/app:1", reg.host());
    let id = env.build("a", &name, &[]);
    let built = env.inspect("a", &name);
    let push = env.ok("a", &["push", &name]);
    assert!(
        push.contains(&format!(
            "The push refers to repository [{}/rt/app]",
            reg.host()
        )),
        "{push}"
    );
    assert!(
        push.contains(&format!("1: digest: {} size:", manifest_digest(&built))),
        "{push}"
    );
    assert!(push.contains(": Pushed"), "{push}");

    // A second push uploads nothing.
    let again = env.ok("a", &["push", &name]);
    assert!(!again.contains(": Pushed"), "{again}");
    assert!(again.contains(": Layer already exists"), "{again}");

    let pull = env.ok("b", &["pull", &name]);
    assert!(pull.starts_with("1: Pulling from rt/app\n"), "{pull}");
    assert!(pull.contains(": Pull complete"), "{pull}");
    assert!(
        pull.contains(&format!("Digest: {}", manifest_digest(&built))),
        "{pull}"
    );
    assert!(
        pull.contains(&format!("Status: Downloaded newer image for {name}")),
        "{pull}"
    );
    assert!(pull.ends_with(&format!("{name}\n")), "{pull}");
    let pulled = env.inspect("b", &name);
    assert_eq!(pulled["Id"], id.as_str());
    assert_eq!(pulled["Manifest"], built["Manifest"]);
    assert_eq!(pulled["RootFS"], built["RootFS"]);
    assert_eq!(
        pulled["RepoDigests"][0],
        format!("{}/rt/app@{}", reg.host(), manifest_digest(&built)).as_str()
    );
    assert!(env
        .ok("b", &["store", "verify"])
        .ends_with(", 0 problems\n"));
    let listed = env.ok("b", &["images", "--digests"]);
    let row = listed
        .lines()
        .find(|l| l.starts_with(&format!("{}/rt/app ", reg.host())))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(row.contains(&manifest_digest(&built)), "{listed}");
    assert!(
        listed.lines().next().unwrap().contains("DIGEST"),
        "{listed}"
    );

    let tree = env.tree("b", &name);
    assert_eq!(
        std::fs::read_to_string(tree.join("hello.txt")).unwrap(),
        "hello from rdock\n"
    );
    assert_eq!(
        std::fs::read(tree.join("data/big.bin")).unwrap(),
        pseudo_random(3 << 20)
    );
    assert_eq!(run_image(&env, "b", &name), "hello from rdock\n");

    // Pulled again: nothing downloaded, docker's up-to-date status; -q
    // prints the name only.
    let again = env.ok("b", &["pull", &name]);
    assert!(
        again.contains(&format!("Status: Image is up to date for {name}")),
        "{again}"
    );
    assert!(!again.contains("Download complete"), "{again}");
    assert_eq!(env.ok("b", &["pull", "-q", &name]), format!("{name}\n"));
}

#[test]
fn from_pulls_a_missing_base_and_build_push_publishes() {
    let reg = Registry::start(Auth::None);
    let env = Env::new("from");
    let base = format!("{}/lib/base:1", reg.host());
    env.build("a", &base, &["--push"]);
    let pushed = env.inspect("a", &base);

    // A store that has never seen the base: FROM pulls it.
    let ctx = env.path("child");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), format!("FROM {base}\nCOPY x /x\n")).unwrap();
    std::fs::write(ctx.join("x"), "child\n").unwrap();
    let child = format!("{}/lib/child:1", reg.host());
    let out = env.rdock(
        "c",
        &[
            "build",
            "--progress=plain",
            "-t",
            &child,
            ctx.to_str().unwrap(),
        ],
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(&format!("[internal] pull {base}")), "{err}");
    assert_eq!(
        env.inspect("c", &base)["Manifest"]["digest"],
        pushed["Manifest"]["digest"]
    );

    // Pushed to another repository of the same registry, the base's layers
    // are mounted from the repository they came from, not sent again.
    let out = env.ok("c", &["push", &child]);
    let base_layers = pushed["Manifest"]["layers"].as_array().unwrap().len();
    assert_eq!(
        out.matches(": Mounted from lib/base").count(),
        base_layers,
        "{out}"
    );
    assert_eq!(out.matches(": Pushed").count(), 1, "{out}");
    env.ok("d", &["pull", &child]);

    // --pull checks the registry again even though the base is stored.
    let out = env.rdock(
        "c",
        &[
            "build",
            "--progress=plain",
            "--pull",
            "-t",
            &child,
            ctx.to_str().unwrap(),
        ],
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(&format!("[internal] pull {base}")), "{err}");
    // Without --pull, a stored base is used as it is.
    let out = env.rdock(
        "c",
        &[
            "build",
            "--progress=plain",
            "-t",
            &child,
            ctx.to_str().unwrap(),
        ],
        None,
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("[internal] pull"));

    // rbuild --push without a name is refused before building.
    let err = env.fails("c", &["build", "--push", ctx.to_str().unwrap()], None);
    assert!(err.contains("--push needs a name"), "{err}");
}

#[test]
fn skopeo_reads_what_rdock_pushed_and_rdock_pulls_what_skopeo_pushed() {
    let reg = Registry::start(Auth::None);
    let env = Env::new("skopeo");
    let name = format!("{}/interop/rdock:1", reg.host());
    let id = env.build("a", &name, &[]);
    env.ok("a", &["push", &name]);
    let digest = manifest_digest(&env.inspect("a", &name));

    let remote = format!("docker://{name}");
    let seen: Value =
        serde_json::from_str(&sh("skopeo", &["inspect", "--tls-verify=false", &remote])).unwrap();
    assert_eq!(seen["Digest"], digest.as_str());
    let layout = env.path("skopeo-layout");
    let dest = format!("oci:{}:copied", layout.display());
    sh(
        "skopeo",
        &[
            "copy",
            "-q",
            "--preserve-digests",
            "--dest-oci-accept-uncompressed-layers",
            "--src-tls-verify=false",
            &remote,
            &dest,
        ],
    );
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], digest.as_str());

    // The other way: skopeo pushes an OCI layout; rdock pulls it.
    let tar = env.path("saved.tar");
    env.ok("a", &["save", "-o", tar.to_str().unwrap(), &name]);
    let other = format!("{}/interop/skopeo:2", reg.host());
    sh(
        "skopeo",
        &[
            "copy",
            "-q",
            "--dest-tls-verify=false",
            &format!("oci-archive:{}", tar.display()),
            &format!("docker://{other}"),
        ],
    );
    let theirs: Value = serde_json::from_str(&sh(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{other}"),
        ],
    ))
    .unwrap();
    env.ok("b", &["pull", &other]);
    let pulled = env.inspect("b", &other);
    assert_eq!(pulled["Id"], id.as_str());
    assert_eq!(pulled["Manifest"]["digest"], theirs["Digest"]);
    let tree = env.tree("b", &other);
    assert!(tree.join("hello.txt").is_file());

    // Docker's schema 2 media types (skopeo converts): pulled and unpacked
    // as they are.
    let v2s2 = format!("{}/interop/v2s2:1", reg.host());
    sh(
        "skopeo",
        &[
            "copy",
            "-q",
            "--format",
            "v2s2",
            "--dest-tls-verify=false",
            &format!("oci-archive:{}", tar.display()),
            &format!("docker://{v2s2}"),
        ],
    );
    env.ok("c", &["pull", &v2s2]);
    let pulled = env.inspect("c", &v2s2);
    assert_eq!(
        pulled["Descriptor"]["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(pulled["Id"], id.as_str());
    let tree = env.tree("c", &v2s2);
    assert_eq!(
        std::fs::read_to_string(tree.join("hello.txt")).unwrap(),
        "hello from rdock\n"
    );

    // `rdock run` of an image a fresh store lacks pulls it first, as docker
    // run does: the pull on stderr, only the container's output on stdout.
    let out = env.rdock("d", &["run", "--rm", &other, "cat", "/hello.txt"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("Unable to find image '{other}' locally")),
        "{err}"
    );
    assert!(err.contains("Status: Downloaded newer image for"), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from rdock\n");
    let missing = format!("{}/interop/none:1", reg.host());
    let out = env.rdock("d", &["run", "--rm", &missing], None);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("manifest unknown"), "{err}");
}

/// Logs in with the wrong then the right password, pushes and pulls, logs
/// out. With a token service, the login stores the identity token it
/// issued, not the password, as docker does.
fn auth_round_trip(reg: &Registry, env: &Env, name: &str) {
    env.build("a", name, &[]);
    let config = env.path("docker/config.json");

    let err = env.fails("a", &["push", name], None);
    assert!(
        err.starts_with(&format!("rdock: pushing {name}: ")),
        "{err}"
    );
    assert!(
        err.contains("unauthorized: authentication required"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let err = env.fails(
        "a",
        &["login", &reg.host(), "-u", "alice", "--password-stdin"],
        Some("wrong\n"),
    );
    assert!(err.contains("unauthorized") || err.contains("401"), "{err}");
    assert!(!config.exists(), "a failed login writes nothing");

    let out = env.rdock(
        "a",
        &["login", &reg.host(), "-u", "alice", "--password-stdin"],
        Some("s3cret\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Login Succeeded\n");
    let text = std::fs::read_to_string(&config).unwrap();
    let saved: Value = serde_json::from_str(&text).unwrap();
    let entry = &saved["auths"][reg.host()];
    if reg.token_server().is_some() {
        assert_eq!(entry["identitytoken"], "refresh-alice", "{saved}");
        // base64 of "alice:": the user name, no password.
        assert_eq!(entry["auth"], "YWxpY2U6", "{saved}");
        assert!(!text.contains("s3cret"), "{text}");
    } else {
        // base64 of "alice:s3cret": Basic auth has no token to keep.
        assert_eq!(entry["auth"], "YWxpY2U6czNjcmV0", "{saved}");
        assert!(entry.get("identitytoken").is_none(), "{saved}");
    }

    env.ok("a", &["push", name]);
    env.ok("b", &["pull", name]);
    assert_eq!(env.inspect("b", name)["Id"], env.inspect("a", name)["Id"]);

    let out = env.ok("a", &["logout", &reg.host()]);
    assert_eq!(
        out,
        format!("Removing login credentials for {}\n", reg.host())
    );
    let err = env.fails("c", &["pull", name], None);
    assert!(err.contains(name), "{err}");
    assert!(err.contains("unauthorized"), "{err}");
    assert_eq!(
        env.ok("a", &["logout", &reg.host()]),
        format!("Not logged in to {}\n", reg.host())
    );
}

fn alice() -> Vec<(String, String)> {
    vec![("alice".to_owned(), "s3cret".to_owned())]
}

#[test]
fn htpasswd_registry_needs_login() {
    let reg = Registry::start(Auth::Htpasswd(alice()));
    let env = Env::new("htpasswd");
    auth_round_trip(&reg, &env, &format!("{}/sec/app:1", reg.host()));
}

#[test]
fn token_registry_needs_login() {
    let reg = Registry::start(Auth::Token {
        users: alice(),
        anonymous_pull: false,
    });
    let env = Env::new("token");
    auth_round_trip(&reg, &env, &format!("{}/tok/app:1", reg.host()));
    let requests = reg.token_server().expect("token server").requests();
    // The push and pull after the login trade the identity token.
    let refreshed: Vec<_> = requests.iter().filter(|r| r.refresh).collect();
    assert!(!refreshed.is_empty(), "{requests:?}");
    assert!(
        refreshed
            .iter()
            .all(|r| r.account.as_deref() == Some("alice") && r.status == 200),
        "{requests:?}"
    );
    assert!(
        refreshed
            .iter()
            .any(|r| r.scopes.iter().any(|s| s.ends_with("tok/app:pull,push"))),
        "{requests:?}"
    );
}

#[test]
fn no_auth_registry_login_and_logout() {
    let reg = Registry::start(Auth::None);
    let env = Env::new("noauth");
    let out = env.rdock(
        "a",
        &["login", &reg.host(), "-u", "bob", "--password-stdin"],
        Some("anything"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = env.fails("a", &["login", &reg.host(), "--password-stdin"], Some("x"));
    assert!(err.contains("username is required"), "{err}");
    env.ok("a", &["logout", &reg.host()]);
}

#[test]
fn push_retries_refused_uploads_and_pull_resumes_dropped_blobs() {
    let reg = Registry::start(Auth::None);
    let env = Env::new("fault");
    let proxy = Proxy::start(&reg.host());
    // Pushed through the proxy: the first two uploads are answered 503
    // and retried.
    let pushed = format!("{}/fault/app:1", proxy.host());
    let id = env.build("a", &pushed, &[]);
    proxy.fault(
        "PUT",
        "/blobs/uploads/",
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        2,
    );
    env.ok("a", &["push", &pushed]);
    let refused = proxy.exchanges().iter().filter(|e| e.status == 503).count();
    assert_eq!(refused, 2, "{:?}", proxy.exchanges());

    // Every blob GET of the first three is cut after 100 kB.
    proxy.fault("GET", "/blobs/", Fault::DropBody(100_000), 3);
    let through = format!("{}/fault/app:1", proxy.host());
    env.ok("b", &["pull", &through]);
    assert_eq!(env.inspect("b", &through)["Id"], id.as_str());
    let resumed = proxy
        .exchanges()
        .iter()
        .filter(|e| e.range.is_some())
        .count();
    assert!(resumed >= 1, "{:?}", proxy.exchanges());
    assert!(env
        .ok("b", &["store", "verify"])
        .ends_with(", 0 problems\n"));
}

#[test]
fn a_corrupted_blob_is_refused_and_nothing_is_stored() {
    let reg = Registry::start(Auth::None);
    let env = Env::new("corrupt");
    let name = format!("{}/bad/app:1", reg.host());
    env.build("a", &name, &[]);
    env.ok("a", &["push", &name]);
    let big = env.inspect("a", &name)["Manifest"]["layers"][2]["digest"]
        .as_str()
        .unwrap()
        .to_owned();

    let proxy = Proxy::start(&reg.host());
    proxy.fault("GET", &big, Fault::Corrupt, 100);
    let through = format!("{}/bad/app:1", proxy.host());
    let err = env.fails("b", &["pull", &through], None);
    assert!(err.contains(&big), "{err}");
    assert!(err.contains("digest"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(env.ok("b", &["images", "-q"]), "");
    assert!(env
        .ok("b", &["store", "verify"])
        .ends_with(", 0 problems\n"));
    let blob = Path::new(&env.path("b"))
        .join("blobs/sha256")
        .join(&big[7..]);
    assert!(!blob.exists());
}

#[test]
fn registry_errors_are_one_line_naming_the_reference() {
    let reg = Registry::start(Auth::None);
    let env = Env::new("errors");
    let missing = format!("{}/none/app:nope", reg.host());
    let out = env.rdock("a", &["pull", &missing], None);
    assert_eq!(out.status.code(), Some(1));
    // Nothing on stdout before the error, as docker.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err,
        format!("rdock: manifest for {missing}: manifest unknown: manifest unknown\n")
    );

    let out = env.rdock("a", &["pull", "no-such-host.invalid/x/y:1"], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("rdock: manifest for no-such-host.invalid/x/y:1: "),
        "{err}"
    );
    assert!(err.contains("dns error"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // A push to an unknown host names the image too.
    env.load_small("a", "no-such-host.invalid/x/y:1");
    let err = env.fails("a", &["push", "no-such-host.invalid/x/y:1"], None);
    assert!(
        err.starts_with("rdock: pushing no-such-host.invalid/x/y:1: "),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let err = env.fails("a", &["pull", "UPPER/Case"], None);
    assert_eq!(
        err,
        "rdock: invalid reference format: repository name (Case) must be lowercase\n"
    );
    let err = env.fails("a", &["push", "app:bad tag"], None);
    assert_eq!(err, "rdock: invalid reference format: \"app:bad tag\"\n");

    let err = env.fails("a", &["push", &format!("{}/not/here:1", reg.host())], None);
    assert!(
        err.contains("an image does not exist locally with the tag"),
        "{err}"
    );

    let err = env.fails("a", &["pull", "--platform", "linux/s390x", &missing], None);
    assert_eq!(err.lines().count(), 1, "{err}");
}
