//! Platforms (`linux/amd64`, `linux/arm/v7`) as containerd's `platforms`
//! package parses, normalises and prints them.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// An OS/architecture/variant triple, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    /// Empty when there is none.
    pub variant: String,
}

/// Why a platform string is not one; the texts are containerd's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    #[error("{}: wildcards not yet supported: invalid argument", crate::go_quote(.0))]
    Wildcard(String),
    #[error(
        "{} is an invalid OS component of {}: OSAndVersion specifier component must match {}: invalid argument",
        crate::go_quote(.part), crate::go_quote(.specifier), crate::go_quote(OS_PATTERN)
    )]
    BadOs { part: String, specifier: String },
    #[error(
        "{} is an invalid component of {}: platform specifier component must match {}: invalid argument",
        crate::go_quote(.part), crate::go_quote(.specifier), crate::go_quote(COMPONENT_PATTERN)
    )]
    BadComponent { part: String, specifier: String },
    #[error("{}: unknown operating system or architecture: invalid argument", crate::go_quote(.0))]
    Unknown(String),
    #[error("{}: cannot parse platform specifier: invalid argument", crate::go_quote(.0))]
    TooManyParts(String),
}

/// The shape of the first component: an OS, optionally with a version and
/// `+feature`s in parentheses.
const OS_PATTERN: &str = r"^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?$";
/// The shape of every later component.
const COMPONENT_PATTERN: &str = "^[A-Za-z0-9_.-]+$";

const OSES: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "windows",
    "zos",
];
const ARCHES: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "ppc64",
    "ppc64le",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

impl Platform {
    /// The platform of this machine.
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "arm" => "arm",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            other => other,
        };
        let variant = if arch == "arm" { "v7" } else { "" };
        Platform {
            os: "linux".into(),
            architecture: arch.into(),
            variant: variant.into(),
        }
    }
}

fn is_os(s: &str) -> bool {
    OSES.contains(&s)
}

fn is_arch(s: &str) -> bool {
    ARCHES.contains(&s)
}

fn normalize_os(os: &str) -> String {
    let os = os.to_lowercase();
    if os == "macos" {
        "darwin".into()
    } else {
        os
    }
}

fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let arch = arch.to_lowercase();
    let variant = variant.to_lowercase();
    match arch.as_str() {
        "i386" => ("386".into(), String::new()),
        "x86_64" | "x86-64" | "amd64" => {
            let v = if variant == "v1" {
                String::new()
            } else {
                variant
            };
            ("amd64".into(), v)
        }
        "aarch64" | "arm64" => {
            let v = match variant.as_str() {
                "8" | "v8" | "v8.0" => String::new(),
                "9" | "9.0" | "v9.0" => "v9".into(),
                _ => variant,
            };
            ("arm64".into(), v)
        }
        "armhf" => ("arm".into(), "v7".into()),
        "armel" => ("arm".into(), "v6".into()),
        "arm" => {
            let v = match variant.as_str() {
                "" | "7" => "v7".into(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            ("arm".into(), v)
        }
        _ => (arch, variant),
    }
}

impl FromStr for Platform {
    type Err = PlatformError;

    /// containerd's `platforms.Parse`: `os[(version)]`, `arch`,
    /// `os/arch` or `os/arch/variant`, normalised but not defaulted (a bare
    /// `linux/arm` keeps no variant; see [`Platform::normalize`]).
    fn from_str(s: &str) -> Result<Self, PlatformError> {
        if s.contains('*') {
            return Err(PlatformError::Wildcard(s.to_string()));
        }
        let parts: Vec<&str> = s.splitn(4, '/').collect();
        let os_name = os_component(parts[0]).ok_or_else(|| PlatformError::BadOs {
            part: parts[0].to_string(),
            specifier: s.to_string(),
        })?;
        for part in &parts[1..] {
            if !is_component(part) {
                return Err(PlatformError::BadComponent {
                    part: part.to_string(),
                    specifier: s.to_string(),
                });
            }
        }
        let os = normalize_os(os_name);
        let host = Platform::host();
        let drop_v7 = |(arch, variant): (String, String)| {
            let variant = if arch == "arm" && variant == "v7" {
                String::new()
            } else {
                variant
            };
            (arch, variant)
        };
        let (os, (architecture, variant)) = match parts.as_slice() {
            [_] if is_os(&os) => (os, (host.architecture, host.variant)),
            [one] => {
                let (arch, variant) = drop_v7(normalize_arch(one, ""));
                if !is_arch(&arch) {
                    return Err(PlatformError::Unknown(s.to_string()));
                }
                (host.os, (arch, variant))
            }
            [_, arch] => (os, drop_v7(normalize_arch(arch, ""))),
            [_, arch, variant] => {
                let (arch, variant) = normalize_arch(arch, variant);
                let variant = if arch == "arm64" && variant.is_empty() {
                    "v8".into()
                } else {
                    variant
                };
                (os, (arch, variant))
            }
            _ => return Err(PlatformError::TooManyParts(s.to_string())),
        };
        Ok(Platform {
            os,
            architecture,
            variant,
        })
    }
}

impl Platform {
    /// containerd's `platforms.Normalize`: the canonical names, and the
    /// default variant of the architecture (`arm` is `v7`).
    pub fn normalize(&self) -> Platform {
        let (architecture, variant) = normalize_arch(&self.architecture, &self.variant);
        Platform {
            os: normalize_os(&self.os),
            architecture,
            variant,
        }
    }
}

/// The OS name of a first component, or `None` when it is malformed.
fn os_component(part: &str) -> Option<&str> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    };
    let option_ok = |o: &str| {
        o.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '%' | '-'))
    };
    let Some((name, rest)) = part.split_once('(') else {
        return name_ok(part).then_some(part);
    };
    let inner = rest.strip_suffix(')')?;
    let mut pieces = inner.split('+');
    let version_ok = pieces.next().is_some_and(option_ok);
    let features_ok = pieces.all(|f| !f.is_empty() && option_ok(f));
    (name_ok(name) && version_ok && features_ok).then_some(name)
}

fn is_component(part: &str) -> bool {
    !part.is_empty()
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Platform;

    fn p(s: &str) -> String {
        s.parse::<Platform>().unwrap().to_string()
    }

    #[test]
    fn parses_and_normalises() {
        assert_eq!(p("linux/amd64"), "linux/amd64");
        assert_eq!(p("linux/x86_64"), "linux/amd64");
        assert_eq!(p("linux/aarch64"), "linux/arm64");
        assert_eq!(p("linux/arm64/v8"), "linux/arm64/v8");
        assert_eq!(p("linux/armhf"), "linux/arm");
        assert_eq!(p("linux/arm/6"), "linux/arm/v6");
        assert_eq!(p("arm64"), "linux/arm64");
        assert_eq!(p("windows(10.0.17763+win32k)/amd64"), "windows/amd64");
        let arm: Platform = "linux/arm".parse().unwrap();
        assert_eq!(arm.normalize().to_string(), "linux/arm/v7");
        assert_eq!(p("windows/amd64"), "windows/amd64");
        assert!("linux/amd64/v2/x".parse::<Platform>().is_err());
        assert!("bogus".parse::<Platform>().is_err());
        assert!("linux/$ARCH".parse::<Platform>().is_err());
        assert_eq!(
            "linux/".parse::<Platform>().unwrap_err().to_string(),
            "\"\" is an invalid component of \"linux/\": platform specifier component must match \"^[A-Za-z0-9_.-]+$\": invalid argument"
        );
        assert!("linux/*"
            .parse::<Platform>()
            .unwrap_err()
            .to_string()
            .contains("wildcards"));
        assert_eq!(p("linux").split('/').next(), Some("linux"));
    }
}
