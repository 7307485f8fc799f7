//! A container's tmpfs: [`TmpfsOptions`], Docker's `--tmpfs` and
//! `--mount type=tmpfs` options as mount flags and tmpfs data.

use std::path::Path;

use nix::mount::MsFlags;

use crate::error::{Result, Stage};
use crate::syscall::Syscall;

/// How to mount a container's tmpfs. The default is Docker's:
/// `rw,noexec,nosuid,nodev`, the kernel's size (half of RAM) and mode
/// 1777, owned by root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsOptions {
    /// Size limit in bytes.
    pub size: Option<u64>,
    /// Mode of its root folder (default 1777).
    pub mode: Option<u32>,
    /// Owner of its root folder.
    pub uid: Option<u32>,
    /// Group of its root folder.
    pub gid: Option<u32>,
    /// Maximum number of inodes.
    pub nr_inodes: Option<u64>,
    /// Mount read-only.
    pub readonly: bool,
    /// Refuse to execute its files.
    pub noexec: bool,
    /// Ignore set-user-ID and set-group-ID bits.
    pub nosuid: bool,
    /// Refuse to open device files on it.
    pub nodev: bool,
    /// Do not update access times.
    pub noatime: bool,
}

impl Default for TmpfsOptions {
    fn default() -> Self {
        TmpfsOptions {
            size: None,
            mode: None,
            uid: None,
            gid: None,
            nr_inodes: None,
            readonly: false,
            noexec: true,
            nosuid: true,
            nodev: true,
            noatime: false,
        }
    }
}

impl TmpfsOptions {
    /// The mount flags and the tmpfs data string.
    pub(crate) fn mount_args(&self) -> (MsFlags, String) {
        let o = self;
        let mut flags = MsFlags::empty();
        for (on, flag) in [
            (o.readonly, MsFlags::MS_RDONLY),
            (o.noexec, MsFlags::MS_NOEXEC),
            (o.nosuid, MsFlags::MS_NOSUID),
            (o.nodev, MsFlags::MS_NODEV),
            (o.noatime, MsFlags::MS_NOATIME),
        ] {
            flags.set(flag, on);
        }
        let mut data = vec![format!("mode={:o}", o.mode.unwrap_or(0o1777))];
        let numbers = [
            ("size", o.size),
            ("uid", o.uid.map(u64::from)),
            ("gid", o.gid.map(u64::from)),
            ("nr_inodes", o.nr_inodes),
        ];
        for (key, value) in numbers {
            if let Some(v) = value {
                data.push(format!("{key}={v}"));
            }
        }
        (flags, data.join(","))
    }
}

/// Mounts a fresh tmpfs on `dest`.
pub(crate) fn mount(sys: &dyn Syscall, dest: &Path, flags: MsFlags, data: &str) -> Result<()> {
    sys.mount(
        Some(Path::new("tmpfs")),
        dest,
        Some("tmpfs"),
        flags,
        Some(data),
    )
    .map_err(crate::rootfs::setup_err(Stage::ExtraMount, dest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_dockers() {
        let (flags, data) = TmpfsOptions::default().mount_args();
        assert_eq!(
            flags,
            MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID | MsFlags::MS_NODEV
        );
        assert_eq!(data, "mode=1777");
        let o = TmpfsOptions {
            size: Some(65536),
            mode: Some(0o700),
            uid: Some(1000),
            readonly: true,
            noexec: false,
            ..TmpfsOptions::default()
        };
        let (flags, data) = o.mount_args();
        assert_eq!(
            flags,
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV
        );
        assert_eq!(data, "mode=700,size=65536,uid=1000");
    }
}
