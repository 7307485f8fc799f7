//! The flags of `rbuild` validated into engine types before the build
//! starts: `--output` (BuildKit's `type=KIND,dest=PATH` or a bare
//! directory) into an [`Output`], `--label` into a label map,
//! `--compression` into a [`Compression`], `--platform` into a
//! [`Platform`], `--build-context` into [`NamedContext`]s; and
//! [`metadata`], the JSON of `--metadata-file` as buildx writes it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{anyhow, bail};
use rdock_engine::{Compression, Image, ImageRef, NamedContext, Output, OutputDest, OutputKind};
use rdock_parser::platform::Platform;
use serde_json::{json, Value};

use crate::cli::LayerCompression;

/// Parses `--output`: `type=oci|docker|tar|local,dest=PATH` (`dest=-` is
/// standard output), or a bare `PATH`, which is `type=local,dest=PATH`.
pub fn parse_output(text: &str) -> anyhow::Result<Output> {
    if !text.contains('=') {
        return Ok(Output {
            kind: OutputKind::Local,
            dest: dest(text),
        });
    }
    let mut kind = None;
    let mut path = None;
    for field in text.split(',') {
        let (key, value) = field
            .split_once('=')
            .ok_or_else(|| anyhow!("invalid --output field {field:?}: expected KEY=VALUE"))?;
        match key.trim() {
            "type" => {
                kind = Some(match value {
                    "oci" => OutputKind::Oci,
                    "docker" => OutputKind::Docker,
                    "tar" => OutputKind::Tar,
                    "local" => OutputKind::Local,
                    other => bail!(
                        "unsupported --output type {other:?}: expected oci, docker, tar or local"
                    ),
                })
            }
            "dest" => path = Some(value.to_owned()),
            other => bail!("unsupported --output field {other:?}: expected type or dest"),
        }
    }
    let kind = kind.ok_or_else(|| anyhow!("--output {text:?} has no type="))?;
    let path = path.ok_or_else(|| anyhow!("--output {text:?} has no dest="))?;
    let dest = dest(&path);
    if kind == OutputKind::Local && dest == OutputDest::Stdout {
        bail!("--output type=local needs a directory, not dest=-");
    }
    Ok(Output { kind, dest })
}

fn dest(path: &str) -> OutputDest {
    if path == "-" {
        OutputDest::Stdout
    } else {
        OutputDest::Path(PathBuf::from(path))
    }
}

/// Parses `--label KEY=VALUE` flags; a later key wins.
pub fn parse_labels(labels: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => bail!("invalid --label {l:?}: expected KEY=VALUE"),
        })
        .collect()
}

/// Parses `--platform` (`linux/arm64`, `linux/arm/v7`), normalized.
pub fn parse_platform(text: &str) -> anyhow::Result<Platform> {
    if text.contains(',') {
        bail!("--platform {text:?}: building for several platforms at once is not supported yet");
    }
    let p: Platform = text
        .parse()
        .map_err(|e| anyhow!("invalid --platform {text:?}: {e}"))?;
    Ok(p.normalize())
}

/// Parses `--build-context NAME=VALUE` flags: `docker-image://REF` names
/// an image, a path an existing directory; other sources (git, http,
/// oci-layout) are not supported yet.
pub fn parse_build_contexts(flags: &[String]) -> anyhow::Result<BTreeMap<String, NamedContext>> {
    let mut out = BTreeMap::new();
    for flag in flags {
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) if !n.is_empty() && !v.is_empty() => (n, v),
            _ => bail!(
                "invalid --build-context {flag:?}: expected NAME=DIR or NAME=docker-image://REF"
            ),
        };
        let context = if let Some(r) = value.strip_prefix("docker-image://") {
            let image: ImageRef = r
                .parse()
                .map_err(|e| anyhow!("invalid --build-context {flag:?}: {e}"))?;
            NamedContext::Image(image.to_string())
        } else if let Some((scheme, _)) = value.split_once("://") {
            bail!("--build-context {name}: {scheme}:// sources are not supported yet (use a directory or docker-image://)");
        } else {
            let dir = PathBuf::from(value);
            if !dir.is_dir() {
                bail!("--build-context {name}: {value} is not a directory");
            }
            NamedContext::Dir(dir)
        };
        out.insert(name.to_owned(), context);
    }
    Ok(out)
}

/// The layer compression `--compression` names.
pub fn compression(arg: LayerCompression) -> Compression {
    match arg {
        LayerCompression::Gzip => Compression::Gzip,
        LayerCompression::Zstd => Compression::Zstd,
        LayerCompression::Uncompressed => Compression::None,
    }
}

/// A progress line naming where `output` went.
pub fn describe(output: &Output) -> String {
    let kind = match output.kind {
        OutputKind::Oci => "oci image",
        OutputKind::Docker => "docker image",
        OutputKind::Tar => "rootfs tarball",
        OutputKind::Local => "rootfs files",
    };
    match &output.dest {
        OutputDest::Path(p) => format!("sending {kind} to {}", p.display()),
        OutputDest::Stdout => format!("sending {kind} to standard output"),
    }
}

/// buildx's `--metadata-file` JSON for a built image.
pub fn metadata(image: &Image, tags: &[ImageRef], output: Option<&Output>) -> Value {
    // BuildKit's local and tar exporters make no image, so say nothing.
    if output.is_some_and(|o| matches!(o.kind, OutputKind::Local | OutputKind::Tar)) {
        return json!({});
    }
    let mut out = json!({
        "containerimage.digest": image.manifest_digest.to_string(),
        "containerimage.config.digest": image.id.to_string(),
        "containerimage.descriptor": {
            "mediaType": image.descriptor.media_type().to_string(),
            "digest": image.descriptor.digest().to_string(),
            "size": image.descriptor.size(),
        },
    });
    if !tags.is_empty() {
        let names: Vec<String> = tags.iter().map(ToString::to_string).collect();
        out["image.name"] = Value::String(names.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_parse_like_buildkit() {
        assert_eq!(
            parse_output("type=oci,dest=out.tar").unwrap(),
            Output {
                kind: OutputKind::Oci,
                dest: OutputDest::Path("out.tar".into())
            }
        );
        assert_eq!(
            parse_output("type=docker,dest=-").unwrap().dest,
            OutputDest::Stdout
        );
        assert_eq!(parse_output("out").unwrap().kind, OutputKind::Local);
        let err = |t| parse_output(t).unwrap_err().to_string();
        assert!(err("type=local,dest=-").contains("needs a directory"));
        assert!(err("type=registry,dest=x").contains("unsupported --output type"));
        assert!(err("type=tar").contains("no dest="));
        assert!(err("dest=x").contains("no type="));
    }

    #[test]
    fn build_contexts_and_platforms() {
        let dir = std::env::temp_dir();
        let flags = [
            format!("src={}", dir.display()),
            "base=docker-image://busybox".to_string(),
        ];
        let got = parse_build_contexts(&flags).unwrap();
        assert_eq!(got["src"], NamedContext::Dir(dir.clone()));
        assert_eq!(
            got["base"],
            NamedContext::Image("docker.io/library/busybox:latest".into())
        );
        let err = |f: &str| {
            parse_build_contexts(&[f.to_string()])
                .unwrap_err()
                .to_string()
        };
        assert!(err("x").contains("expected NAME=DIR"));
        assert!(
            err("x=https://example.com/a.git").contains("https:// sources are not supported yet")
        );
        assert!(err("x=/no/such/dir").contains("is not a directory"));
        assert_eq!(
            parse_platform("linux/aarch64").unwrap().to_string(),
            "linux/arm64"
        );
        assert!(parse_platform("linux/a!b").is_err());
        assert!(parse_platform("linux/amd64,linux/arm64")
            .unwrap_err()
            .to_string()
            .contains("several platforms"));
    }

    #[test]
    fn labels_need_a_key() {
        let labels = parse_labels(&["a=1".into(), "b=".into(), "a=2".into()]).unwrap();
        assert_eq!(labels["a"], "2");
        assert_eq!(labels["b"], "");
        assert!(parse_labels(&["=x".into()]).is_err());
        assert!(parse_labels(&["x".into()]).is_err());
    }
}
