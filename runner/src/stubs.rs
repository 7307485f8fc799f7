//! Removing mount stubs from the upper dir after a run, as BuildKit's mount
//! stub cleaner does: a mount point the sandbox created (`/etc/hostname`
//! when the image had none, `/proc` on scratch, a bind target) must not end
//! up in the layer. Only still-empty stubs go; anything the command filled
//! stays. Directories that overlayfs copied up only to hold a stub are
//! pruned too, so `/etc` does not show up as changed.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Removes the `stubs` (paths relative to `upper`) that are still empty,
/// deepest first, then empty non-opaque parent directories they left.
pub(crate) fn remove(upper: &Path, stubs: &[String]) -> Result<()> {
    let created: BTreeSet<&str> = stubs.iter().map(String::as_str).collect();
    let mut parents = BTreeSet::new();
    for stub in stubs.iter().rev() {
        let path = upper.join(stub);
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        let removed = if meta.is_dir() {
            is_empty_dir(&path) && fs::remove_dir(&path).is_ok()
        } else {
            meta.is_file() && meta.len() == 0 && fs::remove_file(&path).is_ok()
        };
        if removed {
            let mut p = Path::new(stub.as_str());
            while let Some(parent) = p.parent().filter(|p| !p.as_os_str().is_empty()) {
                if !created.contains(parent.to_str().unwrap_or_default()) {
                    parents.insert(parent.to_owned());
                }
                p = parent;
            }
        }
    }
    // Deepest first: BTreeSet orders "etc" before "etc/ssl".
    for parent in parents.iter().rev() {
        let path = upper.join(parent);
        if is_empty_dir(&path) && !is_opaque(&path) {
            fs::remove_dir(&path).map_err(|source| Error::Io {
                action: "remove copied-up directory",
                path,
                source,
            })?;
        }
    }
    Ok(())
}

fn is_empty_dir(path: &Path) -> bool {
    fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
}

/// An opaque directory hides the lower layers' contents; removing it would
/// make them reappear.
fn is_opaque(path: &Path) -> bool {
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
        return true;
    };
    let mut value = [0u8; 1];
    // SAFETY: both strings are NUL-terminated and the buffer length is right.
    let n = unsafe {
        libc::lgetxattr(
            c_path.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    n == 1 && value[0] == b'y'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_only_empty_stubs_and_copied_up_parents() {
        let up = tempfile::tempdir().unwrap();
        let u = up.path();
        fs::create_dir_all(u.join("etc")).unwrap();
        fs::write(u.join("etc/hostname"), "").unwrap();
        fs::create_dir_all(u.join("proc")).unwrap();
        fs::create_dir_all(u.join("mnt/cache")).unwrap();
        fs::write(u.join("mnt/cache/kept"), "x").unwrap();
        let stubs = ["etc/hostname", "proc", "mnt", "mnt/cache"].map(String::from);
        remove(u, &stubs).unwrap();
        assert!(!u.join("etc").exists(), "copied-up parent pruned");
        assert!(!u.join("proc").exists());
        assert!(u.join("mnt/cache/kept").exists());
    }
}
