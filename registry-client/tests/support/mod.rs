//! Shared by this crate's registry tests: test images, clients, pushes.
#![allow(dead_code)]

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use rdock_registry_client::{
    media_type, Client, ClientOptions, CredentialSource, Descriptor, Digest, Progress, PushedHow,
    Repository, RetryPolicy,
};

/// Deterministic pseudo-random bytes (xorshift), so blobs differ per seed.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn desc(media: &str, content: &[u8]) -> Descriptor {
    Descriptor {
        media_type: media.to_owned(),
        digest: Digest::of(content),
        size: content.len() as u64,
    }
}

/// A test image: config, layers, OCI manifest.
#[derive(Debug, Clone)]
pub struct Image {
    pub config: Vec<u8>,
    pub layers: Vec<Vec<u8>>,
    pub manifest: Vec<u8>,
    pub layer_type: &'static str,
}

pub const LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";

impl Image {
    pub fn new(seed: u64, layer_sizes: &[usize]) -> Image {
        let layers: Vec<Vec<u8>> = layer_sizes
            .iter()
            .enumerate()
            .map(|(i, n)| bytes(seed * 100 + i as u64, *n))
            .collect();
        Image::with_layers(seed, layers)
    }

    /// Layers that are real gzip streams (of random bytes), so tools that
    /// sniff compression leave them as they are.
    pub fn gzipped(seed: u64, layer_sizes: &[usize]) -> Image {
        let layers = Image::new(seed, layer_sizes)
            .layers
            .into_iter()
            .map(|l| gzip(&l))
            .collect();
        Image::typed(seed, layers, LAYER_GZIP)
    }

    pub fn with_layers(seed: u64, layers: Vec<Vec<u8>>) -> Image {
        Image::typed(seed, layers, LAYER)
    }

    fn typed(seed: u64, layers: Vec<Vec<u8>>, layer_type: &'static str) -> Image {
        let diff_ids: Vec<String> = layers
            .iter()
            .map(|l| format!("\"{}\"", Digest::of(l)))
            .collect();
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["SEED={seed}"]}},"rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
            diff_ids.join(",")
        )
        .into_bytes();
        let layer_descs: Vec<String> = layers
            .iter()
            .map(|l| desc_json(&desc(layer_type, l)))
            .collect();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[{}]}}"#,
            media_type::OCI_MANIFEST,
            desc_json(&desc(CONFIG, &config)),
            layer_descs.join(",")
        )
        .into_bytes();
        Image {
            config,
            layers,
            manifest,
            layer_type,
        }
    }

    pub fn config_desc(&self) -> Descriptor {
        desc(CONFIG, &self.config)
    }

    pub fn layer_descs(&self) -> Vec<Descriptor> {
        self.layers
            .iter()
            .map(|l| desc(self.layer_type, l))
            .collect()
    }

    pub fn digest(&self) -> Digest {
        Digest::of(&self.manifest)
    }

    /// Pushes blobs then the manifest under `tag`.
    pub fn push(&self, client: &Client, repo: &Repository, tag: &str) -> Vec<PushedHow> {
        let mut how = Vec::new();
        let mut blobs = vec![(self.config_desc(), self.config.clone())];
        blobs.extend(self.layer_descs().into_iter().zip(self.layers.clone()));
        for (d, content) in blobs {
            how.push(push_bytes(client, repo, &d, content, None).expect("pushing blob"));
        }
        let digest = client
            .push_manifest(repo, tag, media_type::OCI_MANIFEST, &self.manifest)
            .expect("pushing manifest");
        assert_eq!(digest, self.digest());
        how
    }
}

pub fn desc_json(d: &Descriptor) -> String {
    format!(
        r#"{{"mediaType":"{}","digest":"{}","size":{}}}"#,
        d.media_type, d.digest, d.size
    )
}

pub fn push_bytes(
    client: &Client,
    repo: &Repository,
    d: &Descriptor,
    content: Vec<u8>,
    mount_from: Option<&Repository>,
) -> rdock_registry_client::Result<PushedHow> {
    let content = Arc::new(content);
    let open = move || -> std::io::Result<Box<dyn std::io::Read + Send>> {
        Ok(Box::new(Cursor::new(content.as_ref().clone())))
    };
    client.push_blob(repo, d, &open, mount_from, &Progress::none())
}

/// Fast retries so fault tests do not wait long.
pub fn options(credentials: Arc<dyn CredentialSource>) -> ClientOptions {
    ClientOptions {
        credentials,
        retry: RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(400),
            max_retry_after: Duration::from_secs(5),
        },
        timeout: Duration::from_secs(30),
        ..ClientOptions::default()
    }
}

pub fn anonymous() -> Client {
    Client::new(options(Arc::new(rdock_registry_client::auth::Anonymous))).expect("client")
}

pub fn repo(host: &str, path: &str) -> Repository {
    Repository::new(host, path).expect("repository")
}

/// `gzip -c` of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("running gzip");
    let mut stdin = child.stdin.take().expect("stdin");
    let data = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data).expect("feeding gzip"));
    let out = child.wait_with_output().expect("gzip");
    writer.join().expect("gzip writer");
    assert!(out.status.success());
    out.stdout
}
