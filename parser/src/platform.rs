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

/// Why a platform string is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    #[error("{}: invalid platform specifier component", crate::go_quote(.0))]
    BadComponent(String),
    #[error("{}: unknown operating system or architecture: invalid argument", crate::go_quote(.0))]
    Unknown(String),
    #[error("{}: cannot parse platform specifier: invalid argument", crate::go_quote(.0))]
    TooManyParts(String),
}

const OSES: &[&str] = &[
    "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux",
    "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos",
];
const ARCHES: &[&str] = &[
    "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le", "loong64",
    "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc", "riscv", "riscv64",
    "s390", "s390x", "sparc", "sparc64", "wasm",
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
    OSES.contains(&s) || s == "macos"
}

fn is_arch(s: &str) -> bool {
    ARCHES.contains(&s)
        || matches!(s, "i386" | "x86_64" | "x86-64" | "aarch64" | "armhf" | "armel")
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
            let v = if variant == "v1" { String::new() } else { variant };
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

    fn from_str(s: &str) -> Result<Self, PlatformError> {
        let parts: Vec<&str> = s.split('/').collect();
        for p in &parts {
            if p.is_empty()
                || !p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            {
                return Err(PlatformError::BadComponent(s.to_string()));
            }
        }
        let host = Platform::host();
        let mut p = match parts.as_slice() {
            [one] if is_os(&one.to_lowercase()) => Platform {
                os: normalize_os(one),
                ..host
            },
            [one] if is_arch(&one.to_lowercase()) => {
                let (architecture, variant) = normalize_arch(one, "");
                Platform {
                    os: host.os,
                    architecture,
                    variant,
                }
            }
            [_] => return Err(PlatformError::Unknown(s.to_string())),
            [os, arch] => {
                let (architecture, variant) = normalize_arch(arch, "");
                Platform {
                    os: normalize_os(os),
                    architecture,
                    variant,
                }
            }
            [os, arch, variant] => {
                let (architecture, variant) = normalize_arch(arch, variant);
                Platform {
                    os: normalize_os(os),
                    architecture,
                    variant,
                }
            }
            _ => return Err(PlatformError::TooManyParts(s.to_string())),
        };
        if p.architecture == "arm64" && p.variant.is_empty() && parts.len() == 3 {
            p.variant = "v8".into();
        }
        Ok(p)
    }
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
        assert_eq!(p("linux/armhf"), "linux/arm/v7");
        assert_eq!(p("linux/arm/6"), "linux/arm/v6");
        assert_eq!(p("windows/amd64"), "windows/amd64");
        assert!("linux/amd64/v2/x".parse::<Platform>().is_err());
        assert!("bogus".parse::<Platform>().is_err());
        assert!("linux/$ARCH".parse::<Platform>().is_err());
        assert_eq!(p("linux").split('/').next(), Some("linux"));
    }
}
