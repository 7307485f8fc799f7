//! Against a real `docker-registry` without auth: push (monolithic,
//! chunked, skip, mount), resolve (manifest, index, platforms), fetch
//! (verified), and the errors a user sees.

#[path = "../../tests/common/registry.rs"]
mod registry;
mod support;

use std::sync::Arc;

use rdock_registry_client::{
    media_type, BlobSink, Client, ClientOptions, Error, ImageRef, Platform, Progress, PushedHow,
};
use registry::{Auth, Registry};
use support::*;

#[test]
fn push_then_resolve_and_fetch_round_trip() {
    let reg = Registry::start(Auth::None);
    let client = anonymous();
    let repo = repo(&reg.host(), "rt/app");
    let image = Image::new(1, &[1000, 70_000]);
    let how = image.push(&client, &repo, "v1");
    assert_eq!(how, vec![PushedHow::Uploaded; 3]);

    let r: ImageRef = format!("{}/rt/app:v1", reg.host()).parse().unwrap();
    let resolved = client.resolve(&r, &Platform::host()).unwrap();
    assert_eq!(resolved.manifest.digest, image.digest());
    assert_eq!(resolved.manifest.bytes, image.manifest);
    assert_eq!(resolved.manifest.media_type, media_type::OCI_MANIFEST);
    assert_eq!(resolved.config, image.config_desc());
    assert_eq!(resolved.layers, image.layer_descs());
    assert!(resolved.index.is_none());

    // By digest too.
    let by_digest: ImageRef = format!("{}/rt/app@{}", reg.host(), image.digest())
        .parse()
        .unwrap();
    assert_eq!(
        client
            .resolve(&by_digest, &Platform::host())
            .unwrap()
            .manifest
            .digest,
        image.digest()
    );
    assert_eq!(client.manifest_digest(&repo, "v1").unwrap(), image.digest());

    let config = client.fetch_blob_bytes(&repo, &resolved.config).unwrap();
    assert_eq!(config, image.config);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    let progress = Progress::new(move |n| s.lock().unwrap().push(n));
    let mut layer = Vec::new();
    client
        .fetch_blob(&repo, &resolved.layers[1], &mut layer, &progress)
        .unwrap();
    assert_eq!(layer, image.layers[1]);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.last(), Some(&70_000));
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");

    // Into a file, as the store does.
    let tmp = registry::TempDir::new("fetch-file");
    let dir = tmp.path();
    let path = dir.join("blob");
    let mut file = std::fs::File::create(&path).unwrap();
    BlobSink::write_all(&mut file, b"stale bytes first").unwrap();
    client
        .fetch_blob(&repo, &resolved.layers[0], &mut file, &Progress::none())
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), image.layers[0]);

    // Pushing again uploads nothing.
    assert_eq!(image.push(&client, &repo, "v1"), vec![PushedHow::Exists; 3]);
    assert_eq!(
        client
            .blob_exists(&repo, &resolved.layers[1].digest)
            .unwrap(),
        Some(70_000)
    );
}

#[test]
fn large_blobs_go_in_chunks_and_mounts_skip_uploads() {
    let reg = Registry::start(Auth::None);
    let client = Client::new(ClientOptions {
        chunk_size: 64 << 10,
        ..options(Arc::new(rdock_registry_client::auth::Anonymous))
    })
    .unwrap();
    let src = repo(&reg.host(), "chunks/src");
    let content = bytes(7, 300_000); // 5 chunks, the last one short
    let d = desc(LAYER, &content);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    let progress = Progress::new(move |n| s.lock().unwrap().push(n));
    let c = content.clone();
    let open = move || -> std::io::Result<Box<dyn std::io::Read + Send>> {
        Ok(Box::new(std::io::Cursor::new(c.clone())))
    };
    let how = client.push_blob(&src, &d, &open, None, &progress).unwrap();
    assert_eq!(how, PushedHow::Uploaded);
    // Progress while each chunk is sent, not only when it is done.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.last(), Some(&300_000));
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert!(seen.iter().any(|n| n % (64 << 10) != 0), "{seen:?}");
    let mut back = Vec::new();
    client
        .fetch_blob(&src, &d, &mut back, &Progress::none())
        .unwrap();
    assert_eq!(back, content);

    let dst = repo(&reg.host(), "chunks/dst");
    assert_eq!(client.blob_exists(&dst, &d.digest).unwrap(), None);
    assert_eq!(
        push_bytes(&client, &dst, &d, content.clone(), Some(&src)).unwrap(),
        PushedHow::Mounted
    );
    assert_eq!(client.blob_exists(&dst, &d.digest).unwrap(), Some(300_000));

    // Local content that does not match its descriptor is never committed.
    let mut wrong = content.clone();
    wrong[10] ^= 1;
    let other = repo(&reg.host(), "chunks/other");
    let err = push_bytes(&client, &other, &d, wrong, None).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    assert_eq!(client.blob_exists(&other, &d.digest).unwrap(), None);
    let err = push_bytes(&client, &other, &d, content[..1000].to_vec(), None).unwrap_err();
    assert!(matches!(err, Error::SizeMismatch { .. }), "{err}");
}

#[test]
fn index_picks_the_platform() {
    let reg = Registry::start(Auth::None);
    let client = anonymous();
    let repo = repo(&reg.host(), "multi/app");
    let amd = Image::new(10, &[500]);
    let arm = Image::new(11, &[600]);
    amd.push(&client, &repo, "amd");
    arm.push(&client, &repo, "arm");
    let entry = |img: &Image, arch: &str, variant: &str| {
        format!(
            r#"{{"mediaType":"{}","digest":"{}","size":{},"platform":{{"architecture":"{arch}","os":"linux"{variant}}}}}"#,
            media_type::OCI_MANIFEST,
            img.digest(),
            img.manifest.len()
        )
    };
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{},{},{}]}}"#,
        media_type::OCI_INDEX,
        entry(&amd, "amd64", ""),
        entry(&arm, "arm64", r#","variant":"v8""#),
        // An attestation entry as BuildKit writes them: never chosen.
        entry(&arm, "unknown", "").replace(r#""os":"linux""#, r#""os":"unknown""#)
    );
    let index_digest = client
        .push_manifest(&repo, "latest", media_type::OCI_INDEX, index.as_bytes())
        .unwrap();
    let r: ImageRef = format!("{}/multi/app", reg.host()).parse().unwrap();
    let got = client.resolve(&r, &"linux/amd64".parse().unwrap()).unwrap();
    assert_eq!(got.manifest.digest, amd.digest());
    assert_eq!(got.index.as_ref().map(|i| &i.digest), Some(&index_digest));
    let got = client.resolve(&r, &"linux/arm64".parse().unwrap()).unwrap();
    assert_eq!(got.manifest.digest, arm.digest());
    assert_eq!(got.layers, arm.layer_descs());
    let err = client
        .resolve(&r, &"linux/s390x".parse().unwrap())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}/multi/app:latest: no matching manifest for linux/s390x in the manifest list entries (available: linux/amd64, linux/arm64)",
            reg.host()
        )
    );
}

#[test]
fn errors_name_the_reference_and_what_the_registry_said() {
    let reg = Registry::start(Auth::None);
    let client = anonymous();
    let r: ImageRef = format!("{}/nothing/here:nope", reg.host()).parse().unwrap();
    let err = client.resolve(&r, &Platform::host()).unwrap_err();
    assert!(err.is_not_found());
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "manifest for {}/nothing/here:nope: manifest unknown: ",
            reg.host()
        )),
        "{text}"
    );
    assert!(!text.contains('\n'));

    // A blob that is not there.
    let repo = repo(&reg.host(), "nothing/here");
    let d = desc(LAYER, b"absent");
    let err = client
        .fetch_blob(&repo, &d, &mut Vec::new(), &Progress::none())
        .unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "blob {} of {}/nothing/here: blob unknown",
            d.digest,
            reg.host()
        )),
        "{err}"
    );

    // Unknown host: one line naming the reference, the URL and the
    // resolver's answer.
    let r: ImageRef = "no-such-host.invalid/app:1".parse().unwrap();
    let err = client
        .resolve(&r, &Platform::host())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "manifest for no-such-host.invalid/app:1: \
             GET \"https://no-such-host.invalid/v2/app/manifests/1\": dns error"
        ),
        "{err}"
    );
    assert!(!err.contains('\n'));

    // Malformed references fail before any request.
    let err = "localhost:5000/UPPER:1"
        .parse::<ImageRef>()
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "invalid reference format: repository name (UPPER) must be lowercase"
    );
    let err = "app:bad tag".parse::<ImageRef>().unwrap_err().to_string();
    assert_eq!(err, "invalid reference format: \"app:bad tag\"");
}

#[test]
fn schema1_is_refused_with_a_clear_message() {
    let reg = Registry::start(Auth::None);
    let client = anonymous();
    // Registry 2.8 stores schema 1 only when signed; serve one through a
    // tiny fake registry instead.
    let body = r#"{"schemaVersion":1,"name":"old/app","tag":"1","fsLayers":[],"history":[]}"#;
    let fake = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = fake.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = fake.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            media_type::DOCKER_SCHEMA1_SIGNED,
            body.len()
        );
        s.write_all(resp.as_bytes()).unwrap();
    });
    let r: ImageRef = format!("{host}/old/app:1").parse().unwrap();
    let err = client
        .resolve(&r, &Platform::host())
        .unwrap_err()
        .to_string();
    server.join().unwrap();
    assert_eq!(
        err,
        format!("manifest for {host}/old/app:1: uses the Docker image manifest v2, schema 1 format, which is not supported: push the image again with a current client")
    );
    drop(reg);
}

#[test]
fn stored_blobs_are_not_hashed_again_but_the_registry_still_checks() {
    let reg = Registry::start(Auth::None);
    let client = Client::new(ClientOptions {
        chunk_size: 64 << 10,
        ..options(Arc::new(rdock_registry_client::auth::Anonymous))
    })
    .unwrap();
    fn push(
        client: &Client,
        repo: &rdock_registry_client::Repository,
        d: &rdock_registry_client::Descriptor,
        content: Vec<u8>,
    ) -> rdock_registry_client::Result<PushedHow> {
        let open = move || -> std::io::Result<Box<dyn std::io::Read + Send>> {
            Ok(Box::new(std::io::Cursor::new(content.clone())))
        };
        client.push_stored_blob(repo, d, &open, None, &Progress::none())
    }
    // One PUT (small) and PATCH chunks (large) both round-trip.
    for (n, size) in [(1, 50_000), (2, 200_000)] {
        let content = bytes(80 + n, size);
        let d = desc(LAYER, &content);
        let ok = repo(&reg.host(), &format!("stored/ok{n}"));
        assert_eq!(
            push(&client, &ok, &d, content.clone()).unwrap(),
            PushedHow::Uploaded
        );
        let mut back = Vec::new();
        client
            .fetch_blob(&ok, &d, &mut back, &Progress::none())
            .unwrap();
        assert_eq!(back, content);

        // Wrong bytes of the right size get as far as the registry, which
        // refuses to commit them under the descriptor's digest.
        let mut wrong = content.clone();
        wrong[size / 2] ^= 1;
        let bad = repo(&reg.host(), &format!("stored/bad{n}"));
        let err = push(&client, &bad, &d, wrong).unwrap_err();
        assert!(err.to_string().contains("digest"), "{err}");
        assert_eq!(client.blob_exists(&bad, &d.digest).unwrap(), None);
        // A size that differs is still caught before committing.
        let err = push(&client, &bad, &d, content[..size - 1].to_vec()).unwrap_err();
        assert!(matches!(err, Error::SizeMismatch { .. }), "{err}");
        let mut longer = content.clone();
        longer.push(0);
        let err = push(&client, &bad, &d, longer).unwrap_err();
        assert!(matches!(err, Error::SizeMismatch { .. }), "{err}");
        assert_eq!(client.blob_exists(&bad, &d.digest).unwrap(), None);
    }
}
