//! `RUN --mount=...`: the comma-separated options of bind, cache, tmpfs,
//! secret and ssh mounts, with BuildKit's defaults and errors. BuildKit
//! checks only the CSV syntax and `from` while parsing and the rest when it
//! runs the step, after expanding variables in the values. [`RunMount`]
//! keeps the flag text; its [`RunMount::mount`] is the checked [`Mount`]
//! when no value needs expanding, and [`RunMount::resolve`] checks it with
//! an expander, as the builder will.

use std::fmt;

use serde::Serialize;

use super::csv;
use super::suggest::Suggestion;
use crate::quote::go_quote;
use crate::shell::ExpandError;

/// The kinds of mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

impl MountType {
    const ALL: [(&'static str, MountType); 5] = [
        ("bind", MountType::Bind),
        ("cache", MountType::Cache),
        ("tmpfs", MountType::Tmpfs),
        ("secret", MountType::Secret),
        ("ssh", MountType::Ssh),
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("", |(n, _)| n)
    }

    /// Secret and SSH mounts may be `required`.
    fn takes_required(self) -> bool {
        matches!(self, MountType::Secret | MountType::Ssh)
    }
}

impl fmt::Display for MountType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How concurrent builds share a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheSharing {
    Shared,
    Private,
    Locked,
}

const SHARING: [(&str, CacheSharing); 3] = [
    ("shared", CacheSharing::Shared),
    ("private", CacheSharing::Private),
    ("locked", CacheSharing::Locked),
];

const KEYS: [&str; 19] = [
    "type",
    "from",
    "source",
    "target",
    "readonly",
    "id",
    "sharing",
    "required",
    "size",
    "mode",
    "uid",
    "gid",
    "src",
    "dst",
    "destination",
    "ro",
    "rw",
    "readwrite",
    "env",
];

/// Why a `--mount` value is refused, in BuildKit's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountError {
    #[error("failed to parse csv mounts: {0}")]
    Csv(String),
    #[error("'{0}' doesn't support variable expansion, define alias stage instead")]
    FromVariable(String),
    #[error("failed to process {}: {error}", go_quote(.word))]
    Expand { word: String, error: ExpandError },
    #[error("invalid field '{0}' must be a key=value pair")]
    NotKeyValue(String),
    #[error("unexpected key '{key}' for mount type '{kind}'")]
    KeyNotForType { key: String, kind: MountType },
    #[error("unexpected key '{key}' in '{field}'{suggestion}")]
    UnknownKey {
        key: String,
        field: String,
        suggestion: Suggestion,
    },
    #[error("unsupported mount type {}{suggestion}", go_quote(.value))]
    UnknownType {
        value: String,
        suggestion: Suggestion,
    },
    #[error("unsupported sharing value {}{suggestion}", go_quote(.value))]
    UnknownSharing {
        value: String,
        suggestion: Suggestion,
    },
    #[error("invalid value for {key}: {value}")]
    InvalidValue { key: String, value: String },
    #[error("invalid value {value} for {key}")]
    InvalidNumber { key: &'static str, value: String },
    #[error("{key} not allowed for {} type mounts", go_quote(.kind.as_str()))]
    NotForType { key: &'static str, kind: MountType },
    #[error("secret mount should not have a from")]
    SecretFrom,
    #[error("secret mount should not define sharing")]
    SecretSharing,
    #[error("invalid secret mount. one of source, target required")]
    SecretWithoutSource,
    #[error("both source and id can't be set")]
    SecretSourceAndId,
    #[error("invalid cache sharing set for {0} mount")]
    SharingNotCache(MountType),
}

/// A checked mount. Empty values count as unset, as in BuildKit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    pub kind: MountType,
    /// `from`: the stage or image whose files are mounted (default: the
    /// build context; for cache mounts an empty directory).
    pub from: Option<String>,
    /// `source`/`src`: path in `from`, or secret file name.
    pub source: Option<String>,
    /// `target`/`dst`/`destination`.
    pub target: Option<String>,
    /// Read-only unless `rw`; cache and tmpfs default to writable.
    pub read_only: bool,
    /// tmpfs `size` in bytes, 0 for no limit.
    pub size_limit: i64,
    /// `id` of a cache, secret or SSH agent.
    pub id: Option<String>,
    pub sharing: Option<CacheSharing>,
    /// Secret and SSH: fail when not provided.
    pub required: bool,
    /// Secret: expose as this environment variable (empty: the default).
    pub env: Option<String>,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// One `--mount` flag of a RUN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunMount {
    /// The flag value as written.
    pub spec: String,
    /// The checked mount, when no value holds variables, quotes or escapes;
    /// otherwise the builder calls [`RunMount::resolve`].
    pub mount: Option<Mount>,
}

impl RunMount {
    /// The checks BuildKit makes while parsing: CSV syntax, and no variable
    /// in `from`.
    pub(crate) fn check_flag(spec: &str) -> Result<(), MountError> {
        for field in fields(spec)? {
            if let Some((key, value)) = field.split_once('=') {
                let dollar = value.find('$');
                if key.eq_ignore_ascii_case("from") && dollar.is_some_and(|i| i + 1 != value.len())
                {
                    return Err(MountError::FromVariable(key.to_lowercase()));
                }
            }
        }
        Ok(())
    }

    /// The flag with its mount checked now when nothing needs expanding.
    pub(crate) fn from_flag(spec: &str) -> Result<RunMount, MountError> {
        let needs_expanding = fields(spec)?.iter().any(|f| {
            f.split_once('=')
                .is_some_and(|(_, v)| v.contains(['$', '\'', '"', '\\', '`']))
        });
        let mount = if needs_expanding {
            None
        } else {
            Some(resolve(spec, &mut |v: &str| Ok(v.to_string()))?)
        };
        Ok(RunMount {
            spec: spec.to_string(),
            mount,
        })
    }

    /// Checks the mount after expanding each `key=value` value with
    /// `expand` (the shell lexer with the step's environment), as BuildKit
    /// does when it runs the step.
    pub fn resolve(
        &self,
        mut expand: impl FnMut(&str) -> Result<String, ExpandError>,
    ) -> Result<Mount, MountError> {
        resolve(&self.spec, &mut expand)
    }
}

fn fields(spec: &str) -> Result<Vec<String>, MountError> {
    csv::fields(spec).map_err(|e| MountError::Csv(e.to_string()))
}

type Expander<'a> = dyn FnMut(&str) -> Result<String, ExpandError> + 'a;

fn resolve(spec: &str, expand: &mut Expander<'_>) -> Result<Mount, MountError> {
    let mut m = Mount {
        kind: MountType::Bind,
        from: None,
        source: None,
        target: None,
        read_only: false,
        size_limit: 0,
        id: None,
        sharing: None,
        required: false,
        env: None,
        mode: None,
        uid: None,
        gid: None,
    };
    let mut read_only_default = true;
    for field in fields(spec)? {
        let Some((key, raw)) = field.split_once('=') else {
            match field.to_lowercase().as_str() {
                "readonly" | "ro" => m.read_only = true,
                "readwrite" | "rw" => m.read_only = false,
                "required" if m.kind.takes_required() => {
                    m.required = true;
                    continue;
                }
                "required" => {
                    return Err(MountError::KeyNotForType {
                        key: "required".into(),
                        kind: m.kind,
                    })
                }
                _ => return Err(MountError::NotKeyValue(field)),
            }
            read_only_default = false;
            continue;
        };
        let key = key.to_lowercase();
        let value = expand(raw).map_err(|error| MountError::Expand {
            word: raw.to_string(),
            error,
        })?;
        let invalid = || MountError::InvalidValue {
            key: key.clone(),
            value: value.clone(),
        };
        let not_for_type = || MountError::KeyNotForType {
            key: key.clone(),
            kind: m.kind,
        };
        match key.as_str() {
            "type" => {
                let lower = value.to_lowercase();
                m.kind = MountType::ALL
                    .iter()
                    .find(|(n, _)| *n == lower)
                    .map(|(_, t)| *t)
                    .ok_or_else(|| {
                        let names = MountType::ALL.map(|(n, _)| n);
                        MountError::UnknownType {
                            suggestion: Suggestion::search(&value, &names, true),
                            value: value.clone(),
                        }
                    })?;
            }
            "from" => m.from = non_empty(value),
            "source" | "src" => m.source = non_empty(value),
            "target" | "dst" | "destination" => m.target = non_empty(value),
            "readonly" | "ro" => {
                m.read_only = parse_go_bool(&value).ok_or_else(invalid)?;
                read_only_default = false;
            }
            "readwrite" | "rw" => {
                m.read_only = !parse_go_bool(&value).ok_or_else(invalid)?;
                read_only_default = false;
            }
            "required" if m.kind.takes_required() => {
                m.required = parse_go_bool(&value).ok_or_else(invalid)?;
            }
            "size" if m.kind == MountType::Tmpfs => {
                m.size_limit = ram_in_bytes(&value).ok_or_else(invalid)?;
            }
            "required" | "size" => return Err(not_for_type()),
            "id" => m.id = non_empty(value),
            "sharing" => {
                let lower = value.to_lowercase();
                let found = SHARING.iter().find(|(n, _)| *n == lower).map(|(_, s)| *s);
                m.sharing = Some(found.ok_or_else(|| MountError::UnknownSharing {
                    suggestion: Suggestion::search(&value, &SHARING.map(|(n, _)| n), true),
                    value: value.clone(),
                })?);
            }
            "mode" => m.mode = Some(parse_u32(&value, 8, "mode")?),
            "uid" => m.uid = Some(parse_u32(&value, 10, "uid")?),
            "gid" => m.gid = Some(parse_u32(&value, 10, "gid")?),
            "env" => m.env = Some(value),
            _ => {
                return Err(MountError::UnknownKey {
                    suggestion: Suggestion::search(&key, &KEYS, true),
                    key,
                    field,
                })
            }
        }
    }
    if !matches!(
        m.kind,
        MountType::Secret | MountType::Ssh | MountType::Cache
    ) {
        for (key, set) in [
            ("mode", m.mode.is_some()),
            ("uid", m.uid.is_some()),
            ("gid", m.gid.is_some()),
        ] {
            if set {
                return Err(MountError::NotForType { key, kind: m.kind });
            }
        }
    }
    if read_only_default {
        m.read_only = !matches!(m.kind, MountType::Cache | MountType::Tmpfs);
    }
    if m.kind == MountType::Secret {
        if m.from.is_some() {
            return Err(MountError::SecretFrom);
        }
        if m.sharing.is_some() {
            return Err(MountError::SecretSharing);
        }
        if m.source.is_none() && m.target.is_none() && m.id.is_none() {
            return Err(MountError::SecretWithoutSource);
        }
        if m.source.is_some() && m.id.is_some() {
            return Err(MountError::SecretSourceAndId);
        }
    }
    if m.sharing.is_some() && m.kind != MountType::Cache {
        return Err(MountError::SharingNotCache(m.kind));
    }
    Ok(m)
}

fn non_empty(s: String) -> Option<String> {
    Some(s).filter(|s| !s.is_empty())
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseUint(s, radix, 32)`.
fn parse_u32(s: &str, radix: u32, key: &'static str) -> Result<u32, MountError> {
    let digits_ok = !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    digits_ok
        .then(|| u32::from_str_radix(s, radix).ok())
        .flatten()
        .ok_or_else(|| MountError::InvalidNumber {
            key,
            value: s.to_string(),
        })
}

/// A size such as `64m`, `1.5GiB` or `512 kb` in bytes (binary units), as
/// the `go-units` package's `RAMInBytes` reads it.
fn ram_in_bytes(s: &str) -> Option<i64> {
    let sep = s.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')?;
    let (num, suffix) = if s.as_bytes()[sep] == b' ' {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..=sep], &s[sep + 1..])
    };
    let mut size = parse_go_float(num)?;
    if size < 0.0 {
        return None;
    }
    let suffix = suffix.to_lowercase();
    let sfx = suffix.as_bytes();
    if sfx.len() > 3 {
        return None;
    }
    match sfx {
        [] | [b'b'] => return Some(size as i64),
        [b'b', ..] => return None,
        _ => {}
    }
    let power = match sfx[0] {
        b'k' => 1,
        b'm' => 2,
        b'g' => 3,
        b't' => 4,
        b'p' => 5,
        _ => return None,
    };
    size *= 1024f64.powi(power);
    match &sfx[1..] {
        [] | [b'b'] | [b'i', b'b'] => Some(size as i64),
        _ => None,
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal and hexadecimal forms
/// (no `inf`/`nan`: a size always ends with a digit or `.`).
fn parse_go_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let negative = s.starts_with('-');
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        let (mantissa, exponent) = hex.split_once(['p', 'P'])?;
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_hex = |t: &str| t.chars().all(|c| c.is_ascii_hexdigit());
        if int.len() + frac.len() == 0 || !all_hex(int) || !all_hex(frac) {
            return None;
        }
        let exp_digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        if exp_digits.is_empty() || !exp_digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut value = 0f64;
        for c in int.chars().chain(frac.chars()) {
            value = value * 16.0 + f64::from(c.to_digit(16)?);
        }
        let exp: i32 = exponent.parse().unwrap_or(if exponent.starts_with('-') {
            i32::MIN
        } else {
            i32::MAX
        });
        let scale = exp.saturating_sub(4 * frac.len() as i32);
        let value = value * 2f64.powi(scale);
        return Some(if negative { -value } else { value });
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int.len() + frac.len() == 0 || !digits(int) || !digits(frac) {
        return None;
    }
    if let Some(e) = exponent {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        if e.is_empty() || !digits(e) {
            return None;
        }
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests;
