//! `rbuild` ADD of http(s) URLs end to end, against an HTTP server on
//! loopback inside the test: BuildKit's file name, mode `0600` and
//! `Last-Modified` time, `--chmod`/`--chown`, no unpacking unless
//! `--unpack=true`, `--checksum` verified, `If-None-Match` revalidation
//! on a rebuild, and the errors for a 404 and a wrong checksum; a `.git`
//! URL goes to git.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use common::{rdock_at_epoch, tempdir};
use sha2::{Digest as _, Sha256};

const EPOCH: &str = "1000000000";
const LAST_MODIFIED: &str = "Sun, 09 Sep 2001 01:30:00 GMT";
const LAST_MODIFIED_SECS: u64 = 999_999_000;

/// Requests the server saw: path and `If-None-Match`, and whether it
/// answered 304.
type Log = Arc<Mutex<Vec<(String, Option<String>, bool)>>>;

/// Serves `files` (path to body) on a loopback port until the test ends;
/// each has an `ETag` (its sha256) and `Last-Modified`, other paths 404.
fn serve(files: BTreeMap<String, Vec<u8>>) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let seen = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split(' ').nth(1).unwrap_or("/").to_string();
            let mut inm = None;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("if-none-match") {
                        inm = Some(v.trim().to_string());
                    }
                }
            }
            let reply = match files.get(&path) {
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
                Some(body) => {
                    let etag = format!("\"{:x}\"", Sha256::digest(body));
                    let fresh = inm.as_deref() == Some(etag.as_str());
                    seen.lock()
                        .unwrap()
                        .push((path.clone(), inm.clone(), fresh));
                    let head = |status: &str, len: usize| {
                        format!(
                            "HTTP/1.1 {status}\r\nETag: {etag}\r\nLast-Modified: {LAST_MODIFIED}\r\n\
                             Content-Length: {len}\r\nConnection: close\r\n\r\n"
                        )
                    };
                    match fresh {
                        true => head("304 Not Modified", 0).into_bytes(),
                        false => [head("200 OK", body.len()).into_bytes(), body.clone()].concat(),
                    }
                }
            };
            let _ = stream.write_all(&reply);
        }
    });
    (base, log)
}

fn rdock(root: &Path, args: &[&str]) -> Output {
    rdock_at_epoch(root, args, EPOCH)
}

/// Builds `dockerfile` in `dir/context`, writing the rootfs tar; returns
/// the build's stderr and the tar's entries by path.
fn build(dir: &Path, dockerfile: &str) -> (Output, BTreeMap<String, (tar::Header, Vec<u8>)>) {
    let context = dir.join("context");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("Dockerfile"), dockerfile).unwrap();
    let out_tar = dir.join("rootfs.tar");
    let _ = std::fs::remove_file(&out_tar);
    let dest = format!("type=tar,dest={}", out_tar.display());
    let out = rdock(
        &dir.join("root"),
        &[
            "build",
            "--progress=plain",
            "-o",
            &dest,
            context.to_str().unwrap(),
        ],
    );
    let mut files = BTreeMap::new();
    if let Ok(data) = std::fs::read(&out_tar) {
        let mut archive = tar::Archive::new(&data[..]);
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let path = format!("/{}", path.trim_start_matches("./").trim_end_matches('/'));
            let mut body = Vec::new();
            entry.read_to_end(&mut body).unwrap();
            files.insert(path, (entry.header().clone(), body));
        }
    }
    (out, files)
}

fn targz(name: &str, body: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut h = tar::Header::new_gnu();
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, name, body).unwrap();
    b.into_inner().unwrap().finish().unwrap()
}

#[test]
fn add_urls_as_buildkit() {
    let hello = b"hello from the server\n".to_vec();
    let files: BTreeMap<String, Vec<u8>> = [
        ("/files/hello.txt".to_string(), hello.clone()),
        ("/files/a.tar.gz".to_string(), targz("inside.txt", b"in")),
        ("/".to_string(), b"index".to_vec()),
    ]
    .into();
    let (base, log) = serve(files);
    let dir = tempdir("add-url", "ok");
    let sum = format!("sha256:{:x}", Sha256::digest(&hello));
    let dockerfile = format!(
        "FROM scratch\n\
         ADD {base}/files/hello.txt /dl/\n\
         ADD --chmod=644 --chown=42:43 {base}/files/hello.txt /named\n\
         ADD {base}/files/a.tar.gz /kept/\n\
         ADD --unpack=true {base}/files/a.tar.gz /unpacked/\n\
         ADD --checksum={sum} {base}/files/hello.txt /sum/\n\
         ADD {base}/ /root/\n"
    );
    let (out, files) = build(&dir, &dockerfile);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let file = |p: &str| {
        files
            .get(p)
            .unwrap_or_else(|| panic!("{p} not in {:?}", files.keys()))
    };
    let (h, body) = file("/dl/hello.txt");
    assert_eq!(body, &hello);
    assert_eq!(h.mode().unwrap() & 0o7777, 0o600);
    assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
    assert_eq!(h.mtime().unwrap(), LAST_MODIFIED_SECS);
    let (h, body) = file("/named");
    assert_eq!(body, &hello);
    assert_eq!(h.mode().unwrap() & 0o7777, 0o644);
    assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (42, 43));
    assert!(files.contains_key("/kept/a.tar.gz"), "{:?}", files.keys());
    assert_eq!(file("/unpacked/inside.txt").1, b"in");
    assert!(!files.contains_key("/unpacked/a.tar.gz"));
    assert_eq!(file("/sum/hello.txt").1, hello);
    // No path segment: BuildKit's `__unnamed__`.
    assert_eq!(file("/root/__unnamed__").1, b"index");

    // A rebuild revalidates with the ETag (304) and reuses every step.
    let before = log.lock().unwrap().len();
    let (again, _) = build(&dir, &dockerfile);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{stderr}");
    assert_eq!(stderr.matches(" CACHED").count(), 6, "{stderr}");
    let later: Vec<_> = log.lock().unwrap()[before..].to_vec();
    assert!(!later.is_empty());
    assert!(
        later
            .iter()
            .all(|(_, inm, not_modified)| inm.is_some() && *not_modified),
        "{later:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn add_url_errors_name_the_url() {
    let (base, _log) = serve([("/f".to_string(), b"body".to_vec())].into());
    let dir = tempdir("add-url", "errors");
    let wrong = format!("sha256:{:x}", Sha256::digest(b"other"));
    let actual = format!("sha256:{:x}", Sha256::digest(b"body"));
    let cases = [
        (
            format!("FROM scratch\nADD {base}/missing /x\n"),
            format!("fetching {base}/missing: invalid response status 404 Not Found"),
        ),
        (
            format!("FROM scratch\nADD --checksum={wrong} {base}/f /x\n"),
            format!("digest mismatch for {base}/f: {actual} (expected: {wrong})"),
        ),
        (
            "FROM scratch\nADD https://example.invalid/repo.git#main:dir /x\n".to_string(),
            // A `.git` URL is a git source, not a download.
            "fetching https://example.invalid/repo.git: git ls-remote:".to_string(),
        ),
        (
            format!("FROM scratch\nCOPY {base}/f /x\n"),
            "source can't be a URL for COPY".to_string(),
        ),
        (
            "FROM scratch\nCOPY a /a\nADD --checksum=sha256:00 a /b\n".to_string(),
            "checksum requires HTTP(S) or Git sources".to_string(),
        ),
    ];
    for (dockerfile, expected) in cases {
        std::fs::create_dir_all(dir.join("context")).unwrap();
        std::fs::write(dir.join("context/a"), "a").unwrap();
        let (out, _) = build(&dir, &dockerfile);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{dockerfile}");
        assert!(stderr.contains(&expected), "{expected:?} not in:\n{stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
