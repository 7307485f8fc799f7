//! Named volumes: folders under `ROOT/volumes/<name>/_data` that outlive
//! containers. [`volume_create`], [`volume_ls`] and [`volume_rm`] manage
//! them; `rdock run -v NAME:/path` creates one on first use and, while it
//! is empty, fills it from the image's content at that path (docker's
//! copy-up).

use std::fs;
use std::os::unix::fs::{chown, lchown, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::containers::{io, ContainerError, MountSpec, Result};

const VOLUMES_DIR: &str = "volumes";
/// Marks a volume that was filled (or found non-empty) once: docker copies
/// up only into a fresh volume.
const POPULATED: &str = ".populated";

/// A named volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    /// Its name.
    pub name: String,
    /// The folder containers see.
    pub mountpoint: PathBuf,
}

fn volume_dir(root: &Path, name: &str) -> PathBuf {
    root.join(VOLUMES_DIR).join(name)
}

/// Creates the volume `name` (or returns it when it exists).
pub fn volume_create(root: &Path, name: &str) -> Result<Volume> {
    let name = crate::containers::check_volume_name(name)?;
    let data = volume_dir(root, &name).join("_data");
    fs::create_dir_all(&data).map_err(io("creating", &data))?;
    Ok(Volume {
        name,
        mountpoint: data,
    })
}

/// Every volume, sorted by name.
pub fn volume_ls(root: &Path) -> Result<Vec<Volume>> {
    let dir = root.join(VOLUMES_DIR);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("reading", &dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io("reading", &dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        out.push(Volume {
            mountpoint: entry.path().join("_data"),
            name,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Removes a volume that no container uses (unless `force`).
pub fn volume_rm(root: &Path, name: &str, force: bool) -> Result<()> {
    let dir = volume_dir(root, name);
    if name.contains('/') || !dir.is_dir() {
        return Err(ContainerError::NoVolume(name.to_owned()));
    }
    if !force {
        let users = crate::containers::volume_users(root, name)?;
        if !users.is_empty() {
            return Err(ContainerError::VolumeInUse {
                name: name.to_owned(),
                ids: users.join(", "),
            });
        }
    }
    fs::remove_dir_all(&dir).map_err(io("removing", &dir))
}

/// Resolves a volume mount to a bind of the volume's folder, creating the
/// volume and copying the image's content at the target into it while it
/// is fresh.
pub(crate) fn prepare_volume(
    root: &Path,
    name: &str,
    target: &str,
    lower_dirs: &[String],
) -> Result<PathBuf> {
    let volume = volume_create(root, name)?;
    let marker = volume_dir(root, name).join(POPULATED);
    if marker.exists() {
        return Ok(volume.mountpoint);
    }
    let empty = fs::read_dir(&volume.mountpoint)
        .map_err(io("reading", &volume.mountpoint))?
        .next()
        .is_none();
    if empty {
        // The topmost layer that has the folder wins (lower layers' extra
        // entries are not merged in).
        let rel = target.trim_start_matches('/');
        if let Some(src) = lower_dirs
            .iter()
            .map(|l| Path::new(l).join(rel))
            .find(|p| p.is_dir())
        {
            copy_tree(&src, &volume.mountpoint)?;
        }
    }
    fs::write(&marker, b"").map_err(io("writing", &marker))?;
    Ok(volume.mountpoint)
}

/// Copies the contents of `src` into the existing folder `dst`, keeping
/// modes and owners; the folder itself takes `src`'s mode and owner.
fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(src).map_err(io("reading", src))?;
    fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(io("setting mode of", dst))?;
    chown(dst, Some(meta.uid()), Some(meta.gid())).map_err(io("chown", dst))?;
    for entry in fs::read_dir(src).map_err(io("reading", src))? {
        let entry = entry.map_err(io("reading", src))?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let meta = fs::symlink_metadata(&from).map_err(io("reading", &from))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            fs::create_dir(&to).map_err(io("creating", &to))?;
            copy_tree(&from, &to)?;
            continue;
        }
        if ft.is_symlink() {
            let link = fs::read_link(&from).map_err(io("reading", &from))?;
            std::os::unix::fs::symlink(&link, &to).map_err(io("creating", &to))?;
        } else if ft.is_file() {
            fs::copy(&from, &to).map_err(io("copying", &from))?;
        } else {
            continue; // devices, fifos and sockets are not copied up
        }
        lchown(&to, Some(meta.uid()), Some(meta.gid())).map_err(io("chown", &to))?;
    }
    Ok(())
}

/// The volume names a container's mounts use.
pub(crate) fn volume_names(mounts: &[MountSpec]) -> impl Iterator<Item = &str> {
    mounts.iter().filter_map(|m| match m {
        MountSpec::Volume { name: Some(n), .. } => Some(n.as_str()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_list_remove() {
        let root = tempfile::tempdir().unwrap();
        let v = volume_create(root.path(), "data").unwrap();
        assert!(v.mountpoint.is_dir());
        assert_eq!(volume_ls(root.path()).unwrap(), vec![v]);
        assert!(volume_create(root.path(), "../x").is_err());
        volume_rm(root.path(), "data", false).unwrap();
        assert!(volume_ls(root.path()).unwrap().is_empty());
        assert!(matches!(
            volume_rm(root.path(), "data", false),
            Err(ContainerError::NoVolume(_))
        ));
    }

    #[test]
    fn fresh_volume_is_filled_once() {
        let root = tempfile::tempdir().unwrap();
        let layer = root.path().join("layer");
        fs::create_dir_all(layer.join("app/sub")).unwrap();
        fs::write(layer.join("app/sub/f"), "hi").unwrap();
        let lowers = vec![layer.display().to_string()];
        let data = prepare_volume(root.path(), "v1", "/app", &lowers).unwrap();
        assert_eq!(fs::read_to_string(data.join("sub/f")).unwrap(), "hi");
        fs::remove_file(data.join("sub/f")).unwrap();
        prepare_volume(root.path(), "v1", "/app", &lowers).unwrap();
        assert!(!data.join("sub/f").exists(), "copied up only once");
    }
}
