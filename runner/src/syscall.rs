//! The mount-table seam: [`Syscall`] is what [`crate::rootfs`] needs from the
//! kernel, [`Linux`] is the real thing, and the test-only `Recording` fake
//! logs each call so the mount sequence can be checked without root.

use std::path::Path;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};

/// Mount-table system calls, as `rootfs` uses them.
pub(crate) trait Syscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno>;
    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<(), Errno>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno>;
    fn chdir(&self, path: &Path) -> Result<(), Errno>;
    /// Creates a device node with exactly `mode` (type and permissions,
    /// regardless of the umask).
    fn mknod(&self, path: &Path, mode: u32, rdev: u64) -> Result<(), Errno>;
}

/// The kernel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Linux;

impl Syscall for Linux {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno> {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<(), Errno> {
        nix::mount::umount2(target, flags)
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn chdir(&self, path: &Path) -> Result<(), Errno> {
        nix::unistd::chdir(path)
    }

    fn mknod(&self, path: &Path, mode: u32, rdev: u64) -> Result<(), Errno> {
        use std::os::unix::ffi::OsStrExt;
        let c_path =
            std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
        // SAFETY: mknod and chmod of a NUL-terminated path.
        unsafe {
            if libc::mknod(c_path.as_ptr(), mode, rdev) < 0
                || libc::chmod(c_path.as_ptr(), mode & 0o7777) < 0
            {
                return Err(Errno::last());
            }
        }
        Ok(())
    }
}

/// Records every call as one line of text and succeeds.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct Recording {
    pub(crate) calls: std::cell::RefCell<Vec<String>>,
}

#[cfg(test)]
impl Syscall for Recording {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno> {
        self.calls.borrow_mut().push(format!(
            "mount {} {} {} {flags:?} {}",
            source.map_or("-".into(), |s| s.display().to_string()),
            target.display(),
            fstype.unwrap_or("-"),
            data.unwrap_or("-"),
        ));
        Ok(())
    }

    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<(), Errno> {
        let line = format!("umount2 {} {flags:?}", target.display());
        self.calls.borrow_mut().push(line);
        Ok(())
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno> {
        let line = format!("pivot_root {} {}", new_root.display(), put_old.display());
        self.calls.borrow_mut().push(line);
        Ok(())
    }

    fn chdir(&self, path: &Path) -> Result<(), Errno> {
        self.calls
            .borrow_mut()
            .push(format!("chdir {}", path.display()));
        Ok(())
    }

    fn mknod(&self, path: &Path, mode: u32, rdev: u64) -> Result<(), Errno> {
        let line = format!("mknod {} {mode:o} {rdev}", path.display());
        self.calls.borrow_mut().push(line);
        Ok(())
    }
}
