//! The export flags of `rbuild` validated into engine types before the
//! build starts: `--output` (BuildKit's `type=KIND,dest=PATH` or a bare
//! directory) into an [`Output`], `--label` into a label map,
//! `--compression` into a [`Compression`]; and [`metadata`], the JSON of
//! `--metadata-file` as buildx writes it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{anyhow, bail};
use rdock_engine::{Compression, Image, ImageRef, Output, OutputDest, OutputKind};
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
pub fn metadata(image: &Image, tags: &[ImageRef]) -> Value {
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
    fn labels_need_a_key() {
        let labels = parse_labels(&["a=1".into(), "b=".into(), "a=2".into()]).unwrap();
        assert_eq!(labels["a"], "2");
        assert_eq!(labels["b"], "");
        assert!(parse_labels(&["=x".into()]).is_err());
        assert!(parse_labels(&["x".into()]).is_err());
    }
}
