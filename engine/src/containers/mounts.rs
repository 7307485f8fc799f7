//! A container's mounts: [`MountSpec`] from `-v`, `--mount` and `--tmpfs`,
//! parsed as docker parses them ([`TmpfsSpec`] for a tmpfs's options), and
//! [`prepare_mounts`], which checks bind sources, names anonymous volumes
//! (the image's `VOLUME`s among them) and fills new volumes from the image.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{ContainerError, Result};
use super::options::parse_bytes;
use super::store::io;

fn invalid(flag: &'static str, value: &str, reason: impl Into<String>) -> ContainerError {
    ContainerError::InvalidOption {
        flag,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// One mount of a container, from `-v`, `--mount` or `--tmpfs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountSpec {
    /// A host path. `create` would be docker's `-v` behaviour (a missing
    /// source made a folder); rdock's `-v` and `--mount` both require the
    /// source to exist, so a typo is an error rather than an empty folder.
    Bind {
        /// Absolute host path.
        source: PathBuf,
        /// Absolute path in the container.
        target: String,
        /// Read-only.
        readonly: bool,
        /// Create the source when missing.
        create: bool,
    },
    /// A named volume, or an anonymous one (`name` is `None`, a random
    /// name is given at create).
    Volume {
        /// The volume's name.
        name: Option<String>,
        /// Absolute path in the container.
        target: String,
        /// Read-only.
        readonly: bool,
        /// Do not fill a new volume from the image (`nocopy`).
        #[serde(default)]
        nocopy: bool,
    },
    /// A fresh tmpfs.
    Tmpfs {
        /// Absolute path in the container.
        target: String,
        /// Its options.
        #[serde(flatten)]
        options: TmpfsSpec,
    },
}

/// A tmpfs's options; the default is docker's (`rw,noexec,nosuid,nodev`,
/// mode 1777, half of RAM).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TmpfsSpec {
    /// Size limit in bytes.
    pub size: Option<u64>,
    /// Mode of its root folder.
    pub mode: Option<u32>,
    /// Owner of its root folder.
    pub uid: Option<u32>,
    /// Group of its root folder.
    pub gid: Option<u32>,
    /// Maximum number of inodes.
    pub nr_inodes: Option<u64>,
    /// Read-only.
    pub readonly: bool,
    /// Allow executing its files (`exec`).
    pub exec: bool,
    /// Honour set-user-ID bits (`suid`).
    pub suid: bool,
    /// Allow device files (`dev`).
    pub dev: bool,
    /// Do not update access times (`noatime`).
    pub noatime: bool,
}

impl TmpfsSpec {
    /// Applies one `--tmpfs` option (`ro`, `exec`, `size=64m`, `mode=700`,
    /// `uid=1000`, ...); later options win, as with mount(8).
    fn apply(&mut self, s: &str, opt: &str) -> Result<()> {
        let number = |v: &str| {
            v.parse::<u32>()
                .map_err(|_| invalid("--tmpfs", s, format!("{opt:?}: expected a number")))
        };
        match opt.split_once('=') {
            Some(("size", v)) => self.size = Some(parse_bytes("--tmpfs", v)?),
            Some(("mode", v)) => self.mode = Some(parse_mode("--tmpfs", s, v)?),
            Some(("uid", v)) => self.uid = Some(number(v)?),
            Some(("gid", v)) => self.gid = Some(number(v)?),
            Some(("nr_inodes", v)) => self.nr_inodes = Some(parse_bytes("--tmpfs", v)?),
            Some(_) => return Err(invalid("--tmpfs", s, format!("unknown option {opt:?}"))),
            None => match opt {
                "ro" | "rw" => self.readonly = opt == "ro",
                "exec" | "noexec" => self.exec = opt == "exec",
                "suid" | "nosuid" => self.suid = opt == "suid",
                "dev" | "nodev" => self.dev = opt == "dev",
                "noatime" | "atime" | "relatime" => self.noatime = opt == "noatime",
                // The kernel's defaults, and propagation (a tmpfs has no peers).
                "async" | "diratime" | "private" | "rprivate" | "shared" | "rshared" | "slave"
                | "rslave" => {}
                _ => return Err(invalid("--tmpfs", s, format!("unknown option {opt:?}"))),
            },
        }
        Ok(())
    }

    /// The runner's options.
    pub(crate) fn to_runner(&self) -> rdock_runner::TmpfsOptions {
        rdock_runner::TmpfsOptions {
            size: self.size,
            mode: self.mode,
            uid: self.uid,
            gid: self.gid,
            nr_inodes: self.nr_inodes,
            readonly: self.readonly,
            noexec: !self.exec,
            nosuid: !self.suid,
            nodev: !self.dev,
            noatime: self.noatime,
        }
    }
}

fn parse_mode(flag: &'static str, s: &str, v: &str) -> Result<u32> {
    u32::from_str_radix(v, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| invalid(flag, s, format!("invalid mode {v:?}: expected octal")))
}

impl MountSpec {
    /// The path in the container.
    pub fn target(&self) -> &str {
        match self {
            MountSpec::Bind { target, .. }
            | MountSpec::Volume { target, .. }
            | MountSpec::Tmpfs { target, .. } => target,
        }
    }

    /// Parses `-v SRC:DST[:OPTS]` or `-v DST` (an anonymous volume).
    pub fn from_volume_flag(s: &str) -> Result<MountSpec> {
        let parts: Vec<&str> = s.split(':').collect();
        let (src, dst, opts) = match parts.as_slice() {
            [dst] => (None, *dst, ""),
            [src, dst] => (Some(*src), *dst, ""),
            [src, dst, opts] => (Some(*src), *dst, *opts),
            _ => return Err(invalid("--volume", s, "expected [SOURCE:]TARGET[:OPTIONS]")),
        };
        let (mut readonly, mut nocopy) = (false, false);
        for opt in opts.split(',').filter(|o| !o.is_empty()) {
            match opt {
                "ro" => readonly = true,
                "nocopy" => nocopy = true,
                "rw" | "z" | "Z" | "rprivate" | "private" => {}
                _ => return Err(invalid("--volume", s, format!("unknown option {opt:?}"))),
            }
        }
        check_target("--volume", s, dst)?;
        let target = dst.to_owned();
        Ok(match src {
            Some(src) if src.starts_with('/') => MountSpec::Bind {
                source: PathBuf::from(src),
                target,
                readonly,
                create: false,
            },
            Some(src) if src.starts_with('.') || src.contains('/') => {
                return Err(invalid(
                    "--volume",
                    s,
                    "a bind source must be an absolute path (a volume name cannot contain '/')",
                ))
            }
            Some(name) => MountSpec::Volume {
                name: Some(check_volume_name(name)?),
                target,
                readonly,
                nocopy,
            },
            None => MountSpec::Volume {
                name: None,
                target,
                readonly,
                nocopy,
            },
        })
    }

    /// Parses `--mount type=bind|volume|tmpfs,source=..,target=..[,readonly]`
    /// with `volume-nocopy`, `tmpfs-size` and `tmpfs-mode`.
    pub fn from_mount_flag(s: &str) -> Result<MountSpec> {
        let (mut kind, mut source, mut target) = ("volume", None, None);
        let (mut readonly, mut nocopy) = (false, false);
        let mut tmpfs = TmpfsSpec::default();
        let flag = |v: Option<&str>| match v {
            None | Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(v) => Err(invalid("--mount", s, format!("invalid boolean {v:?}"))),
        };
        for field in s.split(',') {
            let (key, value) = match field.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (field, None),
            };
            match (key, value) {
                ("type", Some(v)) => kind = v,
                ("source" | "src", Some(v)) => source = Some(v),
                ("target" | "destination" | "dst", Some(v)) => target = Some(v),
                ("readonly" | "ro", v) => readonly = flag(v)?,
                ("volume-nocopy", v) => nocopy = flag(v)?,
                ("tmpfs-size", Some(v)) => tmpfs.size = Some(parse_bytes("--mount", v)?),
                ("tmpfs-mode", Some(v)) => tmpfs.mode = Some(parse_mode("--mount", s, v)?),
                ("bind-propagation" | "consistency", Some(_)) => {}
                _ => return Err(invalid("--mount", s, format!("unexpected key {key:?}"))),
            }
        }
        let target = target.ok_or_else(|| invalid("--mount", s, "target is required"))?;
        check_target("--mount", s, target)?;
        let target = target.to_owned();
        Ok(match kind {
            "bind" => {
                let source = source.ok_or_else(|| invalid("--mount", s, "source is required"))?;
                if !source.starts_with('/') {
                    return Err(invalid(
                        "--mount",
                        s,
                        "bind source must be an absolute path",
                    ));
                }
                MountSpec::Bind {
                    source: PathBuf::from(source),
                    target,
                    readonly,
                    create: false,
                }
            }
            "volume" => MountSpec::Volume {
                name: source.map(check_volume_name).transpose()?,
                target,
                readonly,
                nocopy,
            },
            "tmpfs" => {
                if source.is_some() {
                    return Err(invalid("--mount", s, "tmpfs mounts take no source"));
                }
                tmpfs.readonly = readonly;
                MountSpec::Tmpfs {
                    target,
                    options: tmpfs,
                }
            }
            other => {
                return Err(invalid(
                    "--mount",
                    s,
                    format!("unknown mount type {other:?}"),
                ))
            }
        })
    }

    /// Parses `--tmpfs DST[:OPTS]`, OPTS as mount(8) takes them for a
    /// tmpfs (`ro`, `exec`, `size=64m`, `mode=1770`, `uid=1000`, ...).
    pub fn from_tmpfs_flag(s: &str) -> Result<MountSpec> {
        let (target, opts) = s.split_once(':').unwrap_or((s, ""));
        check_target("--tmpfs", s, target)?;
        let mut options = TmpfsSpec::default();
        for opt in opts.split(',').filter(|o| !o.is_empty()) {
            options.apply(s, opt)?;
        }
        Ok(MountSpec::Tmpfs {
            target: target.to_owned(),
            options,
        })
    }
}

fn check_target(flag: &'static str, s: &str, target: &str) -> Result<()> {
    if !target.starts_with('/') {
        return Err(invalid(
            flag,
            s,
            format!("invalid mount path {target:?}: mount path must be absolute"),
        ));
    }
    if target == "/" {
        return Err(invalid(
            flag,
            s,
            "invalid specification: destination can't be '/'",
        ));
    }
    Ok(())
}

/// Checks a volume name against docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub(crate) fn check_volume_name(name: &str) -> Result<String> {
    name.parse::<super::ContainerName>()
        .map(|n| n.as_str().to_owned())
        .map_err(|_| ContainerError::InvalidName(name.to_owned()))
}

/// Checks bind sources (creating `-v` ones) and turns anonymous volumes,
/// the image's `VOLUME`s among them (those no flag mounts over), into
/// named ones; volumes are created and filled from the image.
pub(crate) fn prepare_mounts(
    root: &Path,
    mounts: &[MountSpec],
    image_volumes: &[String],
    lowers: &[String],
) -> Result<Vec<MountSpec>> {
    let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    let from_image = image_volumes
        .iter()
        .filter(|v| v.starts_with('/') && !mounts.iter().any(|m| same(m.target(), v)))
        .map(|v| MountSpec::Volume {
            name: None,
            target: v.clone(),
            readonly: false,
            nocopy: false,
        });
    let all: Vec<MountSpec> = mounts.iter().cloned().chain(from_image).collect();
    let mut out = Vec::with_capacity(all.len());
    for m in all {
        let m = match m {
            MountSpec::Bind {
                ref source, create, ..
            } => {
                if !source.exists() {
                    if !create {
                        return Err(ContainerError::BindSource(source.clone()));
                    }
                    fs::create_dir_all(source).map_err(io("creating", source))?;
                }
                m
            }
            MountSpec::Volume {
                name,
                target,
                readonly,
                nocopy,
            } => {
                let name = match name {
                    Some(n) => n,
                    None => super::id::ContainerId::random()?.to_string(),
                };
                let copy_from: &[String] = if nocopy { &[] } else { lowers };
                crate::volumes::prepare_volume(root, &name, &target, copy_from)?;
                MountSpec::Volume {
                    name: Some(name),
                    target,
                    readonly,
                    nocopy,
                }
            }
            MountSpec::Tmpfs { .. } => m,
        };
        out.push(m);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_flags() {
        assert_eq!(
            MountSpec::from_volume_flag("/data:/d:ro").unwrap(),
            MountSpec::Bind {
                source: "/data".into(),
                target: "/d".into(),
                readonly: true,
                create: false
            }
        );
        assert!(matches!(
            MountSpec::from_volume_flag("vol:/d").unwrap(),
            MountSpec::Volume { name: Some(n), readonly: false, nocopy: false, .. } if n == "vol"
        ));
        assert!(matches!(
            MountSpec::from_volume_flag("vol:/d:nocopy").unwrap(),
            MountSpec::Volume { nocopy: true, .. }
        ));
        assert!(matches!(
            MountSpec::from_volume_flag("/d").unwrap(),
            MountSpec::Volume { name: None, .. }
        ));
        assert!(MountSpec::from_volume_flag("vol:rel").is_err());
        assert!(MountSpec::from_volume_flag("/a:/").is_err());
        assert!(MountSpec::from_volume_flag("/a:/b:bogus").is_err());
    }

    #[test]
    fn mount_flags() {
        assert!(matches!(
            MountSpec::from_mount_flag("type=bind,source=/x,target=/y,readonly").unwrap(),
            MountSpec::Bind {
                readonly: true,
                create: false,
                ..
            }
        ));
        let MountSpec::Tmpfs { options, .. } =
            MountSpec::from_mount_flag("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770,ro")
                .unwrap()
        else {
            panic!("not a tmpfs")
        };
        assert_eq!(options.size, Some(1048576));
        assert_eq!(options.mode, Some(0o1770));
        assert!(options.readonly && !options.exec);
        assert!(matches!(
            MountSpec::from_mount_flag("type=volume,src=vol,dst=/v,volume-nocopy").unwrap(),
            MountSpec::Volume { nocopy: true, .. }
        ));
        assert!(MountSpec::from_mount_flag("type=tmpfs,target=/t,tmpfs-mode=9").is_err());
        assert!(MountSpec::from_mount_flag("type=bind,target=/y").is_err());
        assert!(MountSpec::from_mount_flag("type=nfs,target=/y").is_err());
    }

    #[test]
    fn tmpfs_options_as_docker() {
        let opts = |s: &str| match MountSpec::from_tmpfs_flag(s).unwrap() {
            MountSpec::Tmpfs { options, .. } => options,
            other => panic!("{other:?}"),
        };
        assert_eq!(opts("/t"), TmpfsSpec::default());
        let o = opts("/t:ro,exec,size=64k,mode=700,uid=1000,gid=1000,noexec,noatime");
        assert!(o.readonly && !o.exec && o.noatime && !o.suid && !o.dev);
        assert_eq!(o.size, Some(65536));
        assert_eq!(
            (o.mode, o.uid, o.gid),
            (Some(0o700), Some(1000), Some(1000))
        );
        let r = opts("/t:exec,suid,dev").to_runner();
        assert!(!r.noexec && !r.nosuid && !r.nodev);
        let d = TmpfsSpec::default().to_runner();
        assert_eq!(d, rdock_runner::TmpfsOptions::default());
        for bad in ["/t:bogus", "/t:mode=8", "/t:uid=x", "/t:size=12x", "rel"] {
            assert!(MountSpec::from_tmpfs_flag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stored_tmpfs_mounts_stay_readable() {
        // A config written before tmpfs options existed.
        let old: MountSpec =
            serde_json::from_str(r#"{"Tmpfs":{"target":"/t","size":1024}}"#).unwrap();
        let MountSpec::Tmpfs { options, .. } = &old else {
            panic!("{old:?}")
        };
        assert_eq!(options.size, Some(1024));
        let json = serde_json::to_string(&old).unwrap();
        assert_eq!(serde_json::from_str::<MountSpec>(&json).unwrap(), old);
    }
}
