//! Resilience through the harness's fault-injecting proxy in front of a
//! real registry: dropped connections mid-blob resume with `Range`, 503
//! and 429 (`Retry-After`) are retried, slow bodies complete, a blob
//! whose connection fails after its last byte is complete, a manifest cut
//! part-way is fetched again, bytes that do not match their digest are an
//! error, and HTTPS to a plain-HTTP registry fails at once.

#[path = "../../tests/common/registry.rs"]
mod registry;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdock_registry_client::{Client, ClientOptions, Error, ImageRef, Platform, Progress};
use registry::{Auth, Fault, Proxy, Registry};
use support::*;

struct Setup {
    _reg: Registry,
    proxy: Proxy,
    client: Client,
    image: Image,
}

/// A registry with one pushed image, and a proxy in front of it.
fn setup(seed: u64) -> Setup {
    let reg = Registry::start(Auth::None);
    let client = anonymous();
    let image = Image::new(seed, &[400_000]);
    image.push(&client, &repo(&reg.host(), "f/app"), "1");
    let proxy = Proxy::start(&reg.host());
    Setup {
        _reg: reg,
        proxy,
        client,
        image,
    }
}

#[test]
fn dropped_connection_mid_blob_resumes_with_range() {
    let s = setup(40);
    let repo = repo(&s.proxy.host(), "f/app");
    let layer = &s.image.layer_descs()[0];
    s.proxy
        .fault("GET", "/blobs/sha256:", Fault::DropBody(100_000), 2);
    let mut out = Vec::new();
    s.client
        .fetch_blob(&repo, layer, &mut out, &Progress::none())
        .unwrap();
    assert_eq!(out, s.image.layers[0]);
    let gets: Vec<_> = s
        .proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.method == "GET")
        .collect();
    assert_eq!(gets.len(), 3, "{gets:?}");
    assert_eq!(gets[0].range, None);
    assert_eq!(gets[1].range.as_deref(), Some("bytes=100000-"));
    assert_eq!(gets[2].range.as_deref(), Some("bytes=200000-"));
    assert_eq!(gets[2].status, 206);
}

#[test]
fn a_connection_that_always_drops_fails_with_a_clear_error() {
    let s = setup(41);
    let repo = repo(&s.proxy.host(), "f/app");
    let layer = &s.image.layer_descs()[0];
    // Every answer cut before any byte: no progress, so give up.
    s.proxy
        .fault("GET", "/blobs/sha256:", Fault::DropBody(0), 100);
    let err = s
        .client
        .fetch_blob(&repo, layer, &mut Vec::new(), &Progress::none())
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("after 0 of 400000 bytes"), "{text}");
    assert!(!text.contains('\n'));
}

#[test]
fn unavailable_then_pass() {
    let s = setup(42);
    let r: ImageRef = format!("{}/f/app:1", s.proxy.host()).parse().unwrap();
    s.proxy.fault(
        "GET",
        "/manifests/",
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        2,
    );
    s.proxy.fault(
        "GET",
        "/blobs/",
        Fault::Status {
            status: 502,
            retry_after: None,
        },
        1,
    );
    let got = s.client.resolve(&r, &Platform::host()).unwrap();
    assert_eq!(got.manifest.digest, s.image.digest());
    let repo = r.repository();
    assert_eq!(
        s.client.fetch_blob_bytes(&repo, &got.config).unwrap(),
        s.image.config
    );
    let statuses: Vec<u16> = s.proxy.exchanges().iter().map(|e| e.status).collect();
    assert_eq!(statuses, [503, 503, 200, 502, 200]);
}

#[test]
fn too_many_requests_honours_retry_after() {
    let s = setup(43);
    let repo = repo(&s.proxy.host(), "f/app");
    s.proxy.fault(
        "GET",
        "/manifests/",
        Fault::Status {
            status: 429,
            retry_after: Some(1),
        },
        1,
    );
    let start = Instant::now();
    let m = s.client.fetch_manifest(&repo, "1").unwrap();
    assert_eq!(m.digest, s.image.digest());
    // The policy's own backoff is 50 ms: the wait is the server's second.
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );

    // Still limited after every try: docker's line.
    s.proxy.fault(
        "GET",
        "/manifests/",
        Fault::Status {
            status: 429,
            retry_after: Some(0),
        },
        10,
    );
    let err = s.client.fetch_manifest(&repo, "1").unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "manifest for {}/f/app:1: toomanyrequests: injected 429",
            s.proxy.host()
        )
    );
}

#[test]
fn slow_body_completes() {
    let s = setup(44);
    let repo = repo(&s.proxy.host(), "f/app");
    let layer = &s.image.layer_descs()[0];
    s.proxy.fault(
        "GET",
        "/blobs/sha256:",
        Fault::Slow {
            bytes_per_sec: 1_000_000,
        },
        1,
    );
    let start = Instant::now();
    let mut out = Vec::new();
    s.client
        .fetch_blob(&repo, layer, &mut out, &Progress::none())
        .unwrap();
    assert_eq!(out, s.image.layers[0]);
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn stalled_body_times_out_and_resumes() {
    let s = setup(45);
    let client = Client::new(ClientOptions {
        // Well below the proxy's 5 s stall, well above a loaded machine's
        // pauses.
        timeout: Duration::from_secs(1),
        ..options(Arc::new(rdock_registry_client::auth::Anonymous))
    })
    .unwrap();
    let repo = repo(&s.proxy.host(), "f/app");
    let layer = &s.image.layer_descs()[0];
    // The connection stalls: the read timeout fires, the rest comes by Range.
    s.proxy
        .fault("GET", "/blobs/sha256:", Fault::Stall(150_000), 1);
    let mut out = Vec::new();
    client
        .fetch_blob(&repo, layer, &mut out, &Progress::none())
        .unwrap();
    assert_eq!(out, s.image.layers[0]);
    let gets: Vec<_> = s
        .proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.method == "GET")
        .collect();
    assert!(gets.len() >= 2, "{gets:?}");
    assert!(matches!(gets[0].fault, Some(Fault::Stall(_))));
    assert_eq!(gets[1].range.as_deref(), Some("bytes=150000-"));
}

#[test]
fn wrong_digest_is_an_error() {
    let s = setup(46);
    let repo = repo(&s.proxy.host(), "f/app");
    let layer = &s.image.layer_descs()[0];
    s.proxy.fault("GET", "/blobs/sha256:", Fault::Corrupt, 1);
    let err = s
        .client
        .fetch_blob(&repo, layer, &mut Vec::new(), &Progress::none())
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "blob {} of {repo}: digest mismatch: expected {}, got sha256:",
            layer.digest, layer.digest
        )),
        "{text}"
    );

    // A corrupted manifest is caught against the registry's digest header
    // (by tag) and against the digest asked for.
    s.proxy.fault("GET", "/manifests/", Fault::Corrupt, 2);
    let err = s.client.fetch_manifest(&repo, "1").unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    let err = s
        .client
        .fetch_manifest(&repo, s.image.digest().as_str())
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
}

#[test]
fn chunked_push_survives_a_failed_chunk() {
    let s = setup(47);
    let client = Client::new(ClientOptions {
        chunk_size: 100_000,
        ..options(Arc::new(rdock_registry_client::auth::Anonymous))
    })
    .unwrap();
    let repo = repo(&s.proxy.host(), "f/pushed");
    let content = bytes(470, 350_000);
    let d = desc(LAYER, &content);
    s.proxy.fault(
        "PATCH",
        "/blobs/uploads/",
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        1,
    );
    s.proxy.fault(
        "PUT",
        "/blobs/uploads/",
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        1,
    );
    push_bytes(&client, &repo, &d, content.clone(), None).unwrap();
    let mut back = Vec::new();
    client
        .fetch_blob(&repo, &d, &mut back, &Progress::none())
        .unwrap();
    assert_eq!(back, content);
    let patches = s
        .proxy
        .exchanges()
        .iter()
        .filter(|e| e.method == "PATCH")
        .count();
    assert_eq!(patches, 5, "4 chunks and one retry");
}

#[test]
fn chunked_push_resumes_after_a_cut_upload() {
    let s = setup(48);
    let client = Client::new(ClientOptions {
        chunk_size: 100_000,
        ..options(Arc::new(rdock_registry_client::auth::Anonymous))
    })
    .unwrap();
    let repo = repo(&s.proxy.host(), "f/cut");
    let content = bytes(480, 350_000);
    let d = desc(LAYER, &content);
    // The second chunk is cut after 30 000 bytes: the upload asks the
    // registry how much it kept and goes on from there, or starts a new
    // session if the registry dropped this one.
    s.proxy
        .fault_after("PATCH", "/blobs/uploads/", 1, Fault::DropRequest(30_000), 1);
    let opened = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (c, o) = (content.clone(), opened.clone());
    let open = move || -> std::io::Result<Box<dyn std::io::Read + Send>> {
        o.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Box::new(std::io::Cursor::new(c.clone())))
    };
    let how = client
        .push_blob(&repo, &d, &open, None, &Progress::none())
        .unwrap();
    assert_eq!(how, rdock_registry_client::PushedHow::Uploaded);
    let mut back = Vec::new();
    client
        .fetch_blob(&repo, &d, &mut back, &Progress::none())
        .unwrap();
    assert_eq!(back, content);
    let patches: Vec<_> = s
        .proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.method == "PATCH")
        .collect();
    // The reference registry drops a session whose PATCH was cut: a new
    // session takes all four chunks, the content read again from its start.
    assert_eq!(patches.len(), 6, "{patches:?}");
    assert!(matches!(patches[1].fault, Some(Fault::DropRequest(_))));
    let session = |e: &registry::Exchange| e.target.split('?').next().unwrap().to_owned();
    assert_eq!(session(&patches[0]), session(&patches[1]));
    assert_ne!(session(&patches[1]), session(&patches[2]));
    assert!(patches[2..]
        .iter()
        .all(|p| session(p) == session(&patches[2])));
    assert_eq!(opened.load(std::sync::atomic::Ordering::Relaxed), 2);
}

#[test]
fn a_blob_whose_connection_fails_after_its_last_byte_is_complete() {
    let s = setup(49);
    let repo = repo(&s.proxy.host(), "f/app");
    let layer = &s.image.layer_descs()[0];
    s.proxy
        .fault("GET", "/blobs/sha256:", Fault::OverstateLength, 1);
    let mut out = Vec::new();
    s.client
        .fetch_blob(&repo, layer, &mut out, &Progress::none())
        .unwrap();
    assert_eq!(out, s.image.layers[0]);
    // No resume from the end (a 416 from the registry).
    let gets: Vec<_> = s.proxy.exchanges();
    assert_eq!(gets.len(), 1, "{gets:?}");
}

#[test]
fn a_manifest_body_cut_part_way_is_fetched_again() {
    let s = setup(50);
    let repo = repo(&s.proxy.host(), "f/app");
    s.proxy.fault("GET", "/manifests/", Fault::DropBody(40), 2);
    let m = s.client.fetch_manifest(&repo, "1").unwrap();
    assert_eq!(m.bytes, s.image.manifest);
    let gets: Vec<_> = s
        .proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.target.contains("/manifests/"))
        .collect();
    assert_eq!(gets.len(), 3, "{gets:?}");
}

#[test]
fn https_to_a_plain_http_registry_fails_at_once_in_docker_words() {
    let Some(ip) = registry::outside_ip() else {
        // Every local address is loopback, hence plain HTTP: nothing to test.
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipped: this machine has no address besides loopback");
        }
        return;
    };
    let reg = Registry::start(Auth::None);
    let image = Image::new(51, &[1000]);
    image.push(&anonymous(), &repo(&reg.host(), "h/app"), "1");
    // The registry at a non-loopback address: HTTPS unless listed.
    let tunnel = registry::Tunnel::start(ip, &reg.host());
    let there = repo(&tunnel.host(), "h/app");
    let started = Instant::now();
    let err = anonymous().fetch_manifest(&there, "1").unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "manifest for {}/h/app:1: GET \"https://{}/v2/h/app/manifests/1\": \
             http: server gave HTTP response to HTTPS client",
            tunnel.host(),
            tunnel.host()
        )
    );
    assert_eq!(tunnel.connections(), 1, "no retries");
    assert!(started.elapsed() < Duration::from_secs(2));

    let listed = Client::new(ClientOptions {
        insecure_registries: vec![tunnel.host()],
        ..options(Arc::new(rdock_registry_client::auth::Anonymous))
    })
    .unwrap();
    assert_eq!(
        listed.fetch_manifest(&there, "1").unwrap().digest,
        image.digest()
    );
}
