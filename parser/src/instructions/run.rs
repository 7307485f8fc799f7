//! RUN: the command (shell or exec form) with its heredoc files, and the
//! flags `--mount` (see [`super::RunMount`]), `--network=default|none|host`,
//! `--security=sandbox|insecure` and `--device=name[,required]`, checked in
//! BuildKit's order: devices, mounts, network, security.

use std::fmt;

use serde::Serialize;

use super::commands::CommandLine;
use super::csv;
use super::run_mount::{parse_go_bool, RunMount};
use super::suggest::Suggestion;
use super::{Failure, InstructionError, Request};
use crate::ast::Span;

/// `--network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    #[default]
    Default,
    None,
    Host,
}

/// `--security`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    #[default]
    Sandbox,
    Insecure,
}

/// A heredoc of a RUN, given to the shell as a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InlineFile {
    /// The heredoc name.
    pub name: String,
    /// The body as written (leading tabs still there).
    pub data: String,
    /// `<<-`: leading tabs are to be removed.
    pub chomp: bool,
}

/// `--device=name[,required]`: a CDI device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    pub name: String,
    pub required: bool,
}

/// Why a `--device` value is refused, in BuildKit's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("failed to parse csv devices: {0}")]
    Csv(String),
    #[error("invalid field '{0}' must be a key=value pair")]
    NotKeyValue(String),
    #[error("device name already set to {0}")]
    NameAlreadySet(String),
    #[error("invalid value for {key}: {value}")]
    InvalidValue { key: String, value: String },
    #[error("unexpected key '{key}' in '{field}'{suggestion}")]
    UnknownKey {
        key: String,
        field: String,
        suggestion: Suggestion,
    },
}

/// `RUN [flags] command`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    pub keyword: String,
    pub span: Span,
    pub command: CommandLine,
    /// Heredoc bodies, in order.
    pub files: Vec<InlineFile>,
    pub mounts: Vec<RunMount>,
    pub network: NetworkMode,
    pub security: Security,
    pub devices: Vec<Device>,
    /// Names of the flags given, in order of first use.
    pub flags_used: Vec<String>,
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetworkMode::Default => "default",
            NetworkMode::None => "none",
            NetworkMode::Host => "host",
        })
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Security::Sandbox => "sandbox",
            Security::Insecure => "insecure",
        })
    }
}

pub(crate) fn parse_run(mut req: Request<'_>) -> Result<Run, Failure> {
    req.flags.add_strings("device");
    req.flags.add_strings("mount");
    req.flags.add_string("network", "default");
    req.flags.add_string("security", "sandbox");
    req.flags.parse()?;
    let flags = &req.flags;
    let at = |name: &str, n: usize| flags.word_index(name, Some(n));

    let devices = flags
        .strings("device")
        .iter()
        .enumerate()
        .map(|(n, v)| parse_device(v).map_err(|e| Failure::near(e, at("device", n))))
        .collect::<Result<Vec<_>, _>>()?;
    let specs = flags.strings("mount");
    for (n, spec) in specs.iter().enumerate() {
        RunMount::check_flag(spec).map_err(|e| Failure::near(e, at("mount", n)))?;
    }
    let network_at = flags.word_index("network", None);
    let network = match flags.string("network") {
        "default" => NetworkMode::Default,
        "none" => NetworkMode::None,
        "host" => NetworkMode::Host,
        other => {
            let e = InstructionError::InvalidNetwork(other.to_string());
            return Err(Failure::near(e, network_at));
        }
    };
    let security_at = flags.word_index("security", None);
    let security = match flags.string("security") {
        "sandbox" => Security::Sandbox,
        "insecure" => Security::Insecure,
        other => {
            let e = InstructionError::InvalidSecurity(other.to_string());
            return Err(Failure::near(e, security_at));
        }
    };
    // BuildKit checks the rest of a mount only when it runs the step; when
    // no value needs expanding the outcome is known now.
    let mounts = specs
        .iter()
        .enumerate()
        .map(|(n, spec)| RunMount::from_flag(spec).map_err(|e| Failure::near(e, at("mount", n))))
        .collect::<Result<Vec<_>, _>>()?;

    Ok(Run {
        keyword: req.keyword(),
        span: req.span(),
        command: CommandLine::from_args(&req.args, req.json),
        files: req
            .node
            .heredocs
            .iter()
            .map(|h| InlineFile {
                name: h.name.clone(),
                data: h.content.clone(),
                chomp: h.chomp,
            })
            .collect(),
        mounts,
        network,
        security,
        devices,
        flags_used: flags.used_names(),
    })
}

/// BuildKit's `ParseDevice`: a bare first field (or `name=`) is the name,
/// `required` may be bare or a boolean.
fn parse_device(value: &str) -> Result<Device, DeviceError> {
    let fields = csv::fields(value).map_err(|e| DeviceError::Csv(e.to_string()))?;
    let mut device = Device {
        name: String::new(),
        required: false,
    };
    for field in fields {
        let Some((key, value)) = field.split_once('=') else {
            if field.to_lowercase() == "required" {
                device.required = true;
            } else if device.name.is_empty() {
                device.name = field;
            } else {
                return Err(DeviceError::NotKeyValue(field));
            }
            continue;
        };
        let key = key.to_lowercase();
        match key.as_str() {
            "name" if !device.name.is_empty() => {
                return Err(DeviceError::NameAlreadySet(device.name));
            }
            "name" => device.name = value.to_string(),
            "required" => {
                device.required =
                    parse_go_bool(value).ok_or_else(|| DeviceError::InvalidValue {
                        key: key.clone(),
                        value: value.to_string(),
                    })?;
            }
            _ if device.name.is_empty() => device.name = field.clone(),
            _ => {
                return Err(DeviceError::UnknownKey {
                    suggestion: Suggestion::search(&key, &["name", "required"], true),
                    key,
                    field,
                })
            }
        }
    }
    Ok(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices() {
        let d = parse_device("vendor.com/gpu=all,required").unwrap();
        assert_eq!(
            d,
            Device {
                name: "vendor.com/gpu=all".into(),
                required: true
            }
        );
        let d = parse_device("name=nvidia.com/gpu,required=false").unwrap();
        assert_eq!(
            d,
            Device {
                name: "nvidia.com/gpu".into(),
                required: false
            }
        );
        assert_eq!(parse_device("REQUIRED,x").unwrap().name, "x");
        let err = |v| parse_device(v).unwrap_err().to_string();
        assert_eq!(err("a,b"), "invalid field 'b' must be a key=value pair");
        assert_eq!(err("a,name=b"), "device name already set to a");
        assert_eq!(err("a,required=maybe"), "invalid value for required: maybe");
        assert_eq!(
            err("a,nam=b"),
            "unexpected key 'nam' in 'nam=b' (did you mean name?)"
        );
        assert_eq!(err(""), "failed to parse csv devices: EOF");
    }
}
