//! Building the sandbox's root inside the child's private mount namespace:
//! the overlay, `/proc`, `/dev`, `/sys`, the `/etc` files, extra mounts, and
//! `pivot_root`. Runs between `fork` and `execve`; every mount point it has to
//! create is reported as a stub so the parent can remove it from the upper
//! dir afterwards.

use std::collections::VecDeque;
use std::fs;
use std::os::unix::fs::{symlink, DirBuilderExt, FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};

use crate::error::{Error, Result, Stage};
use crate::run::Plan;
use crate::security::{MASKED_PATHS, READONLY_PATHS};
use crate::spec::{Mount, Network};
use crate::syscall::Syscall;

const NONE: Option<&str> = None;
const NO_SOURCE: Option<&Path> = None;

/// Host device nodes bind-mounted into the sandbox's `/dev`.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

pub(crate) fn setup_err(stage: Stage, detail: &Path) -> impl FnOnce(Errno) -> Error {
    let detail = detail.display().to_string();
    move |errno| Error::Setup {
        stage,
        detail,
        errno,
    }
}

fn io_err(stage: Stage, detail: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::Setup {
        stage,
        detail: detail.display().to_string(),
        errno: Errno::from_raw(e.raw_os_error().unwrap_or(0)),
    }
}

/// Mounts everything and pivots into the new root. `stub` is told each
/// path (relative to the root) created as a mount point.
pub(crate) fn build(sys: &dyn Syscall, plan: &Plan<'_>, stub: &mut dyn FnMut(&str)) -> Result<()> {
    let merged = plan.merged.as_path();
    // Nothing we mount may propagate back to the host.
    sys.mount(
        NO_SOURCE,
        Path::new("/"),
        NONE,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        NONE,
    )
    .map_err(setup_err(Stage::MountPrivate, Path::new("/")))?;
    if let Some(cwd) = &plan.overlay_cwd {
        // The lower dirs are named relative to it (the pivot later moves
        // the working directory into the new root).
        sys.chdir(cwd)
            .map_err(setup_err(Stage::Overlay, cwd.as_path()))?;
    }
    sys.mount(
        Some(Path::new("overlay")),
        merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(plan.overlay_opts.as_str()),
    )
    .map_err(setup_err(Stage::Overlay, Path::new(&plan.overlay_opts)))?;

    let proc_dir = mount_point(merged, "/proc", true, stub)?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    sys.mount(
        Some(Path::new("proc")),
        &proc_dir,
        Some("proc"),
        flags,
        NONE,
    )
    .map_err(setup_err(Stage::Proc, &proc_dir))?;

    let privileged = plan.security.privileged;
    let dev = mount_point(merged, "/dev", true, stub)?;
    // Outside a user namespace device nodes are made directly (cheaper
    // than bind mounts, as runc does); a user namespace may not mknod.
    populate_dev(sys, &dev, plan.spec.userns.is_none())?;
    if privileged {
        host_devices(sys, &dev)?;
    }

    // A fresh sysfs shows the sandbox's own network namespace; read-only
    // unless privileged.
    let sys_dir = mount_point(merged, "/sys", true, stub)?;
    let sys_flags = if privileged {
        flags
    } else {
        flags | MsFlags::MS_RDONLY
    };
    let foreign_netns = matches!(plan.spec.network, Network::Host | Network::Join(_));
    if plan.spec.userns.is_some() && foreign_netns {
        // sysfs can only be mounted by the owner of the network namespace;
        // a user namespace does not own the host's: bind the host's /sys.
        let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
        sys.mount(Some(Path::new("/sys")), &sys_dir, NONE, bind, NONE)
            .map_err(setup_err(Stage::Sys, &sys_dir))?;
        if !privileged {
            let ro = bind | MsFlags::MS_REMOUNT | sys_flags;
            sys.mount(NO_SOURCE, &sys_dir, NONE, ro, NONE)
                .map_err(setup_err(Stage::Sys, &sys_dir))?;
        }
    } else {
        sys.mount(
            Some(Path::new("sysfs")),
            &sys_dir,
            Some("sysfs"),
            sys_flags,
            NONE,
        )
        .map_err(setup_err(Stage::Sys, &sys_dir))?;
    }

    if !plan.cgroup_mounts.is_empty() {
        mount_cgroups(sys, &sys_dir, &plan.cgroup_mounts, sys_flags)?;
    }

    for (source, target) in &plan.etc_files {
        let dest = mount_point(merged, target, false, stub)?;
        sys.mount(Some(source), &dest, NONE, MsFlags::MS_BIND, NONE)
            .map_err(setup_err(Stage::EtcFiles, &dest))?;
    }
    for m in &plan.spec.mounts {
        extra_mount(sys, merged, m, stub)?;
    }
    if !privileged {
        mask_paths(sys, merged)?;
    }
    if plan.spec.readonly_rootfs {
        let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        sys.mount(NO_SOURCE, merged, NONE, ro, NONE)
            .map_err(setup_err(Stage::ReadonlyRoot, merged))?;
    }
    pivot(sys, merged)
}

/// The container's cgroups at `/sys/fs/cgroup` (read-only unless
/// privileged): the cgroup2 tree, or on v1 a tmpfs with one mount per
/// hierarchy, as Docker does. Inside the cgroup namespace each shows the
/// container's own cgroup as its root, so programs can read their limits.
fn mount_cgroups(
    sys: &dyn Syscall,
    sys_dir: &Path,
    mounts: &[crate::cgroup::CgroupMount],
    flags: MsFlags,
) -> Result<()> {
    let base = sys_dir.join("fs/cgroup");
    let err = |p: &Path| setup_err(Stage::Cgroup, p);
    if let [m] = mounts {
        if m.dir.is_empty() {
            return sys
                .mount(
                    Some(Path::new("cgroup2")),
                    &base,
                    Some(m.fstype),
                    flags,
                    NONE,
                )
                .map_err(err(&base));
        }
    }
    let tmpfs_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    sys.mount(
        Some(Path::new("tmpfs")),
        &base,
        Some("tmpfs"),
        tmpfs_flags,
        Some("mode=755"),
    )
    .map_err(err(&base))?;
    for m in mounts {
        let dir = base.join(&m.dir);
        mkdir(&dir, 0o555).map_err(io_err(Stage::Cgroup, &dir))?;
        let data = (!m.options.is_empty()).then_some(m.options.as_str());
        sys.mount(Some(Path::new("cgroup")), &dir, Some(m.fstype), flags, data)
            .map_err(err(&dir))?;
        for alias in &m.aliases {
            let link = base.join(alias);
            symlink(&m.dir, &link).map_err(io_err(Stage::Cgroup, &link))?;
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        let ro = tmpfs_flags | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        sys.mount(NO_SOURCE, &base, NONE, ro, Some("mode=755"))
            .map_err(err(&base))?;
    }
    Ok(())
}

/// Docker's masked paths (`/dev/null` over files, an empty read-only tmpfs
/// over directories) and read-only paths (a read-only bind of themselves).
/// Paths the kernel does not have are skipped.
fn mask_paths(sys: &dyn Syscall, root: &Path) -> Result<()> {
    for p in MASKED_PATHS {
        let path = root.join(p.trim_start_matches('/'));
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        let err = setup_err(Stage::MaskPaths, &path);
        if meta.is_dir() {
            let ro =
                MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            sys.mount(
                Some(Path::new("tmpfs")),
                &path,
                Some("tmpfs"),
                ro,
                Some("size=0"),
            )
            .map_err(err)?;
        } else {
            sys.mount(
                Some(Path::new("/dev/null")),
                &path,
                NONE,
                MsFlags::MS_BIND,
                NONE,
            )
            .map_err(err)?;
        }
    }
    for p in READONLY_PATHS {
        let path = root.join(p.trim_start_matches('/'));
        if path.symlink_metadata().is_err() {
            continue;
        }
        let err = || setup_err(Stage::MaskPaths, &path);
        let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
        sys.mount(Some(&path), &path, NONE, bind, NONE)
            .map_err(err())?;
        // Keep /proc's own flags: a remount may not clear locked ones.
        let ro = bind
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC;
        sys.mount(NO_SOURCE, &path, NONE, ro, NONE).map_err(err())?;
    }
    Ok(())
}

/// `--privileged`: the host's device nodes (top level of `/dev`) appear in
/// the container's `/dev` too.
fn host_devices(sys: &dyn Syscall, dev: &Path) -> Result<()> {
    let Ok(entries) = fs::read_dir("/dev") else {
        return Ok(());
    };
    for e in entries.flatten() {
        let Ok(meta) = e.path().symlink_metadata() else {
            continue;
        };
        let ft = meta.file_type();
        let node = dev.join(e.file_name());
        if !(ft.is_char_device() || ft.is_block_device()) || node.symlink_metadata().is_ok() {
            continue;
        }
        sys.mknod(&node, meta.mode(), meta.rdev())
            .map_err(setup_err(Stage::Dev, &node))?;
    }
    Ok(())
}

fn populate_dev(sys: &dyn Syscall, dev: &Path, mknod: bool) -> Result<()> {
    let err = |p: &Path| setup_err(Stage::Dev, p);
    sys.mount(
        Some(Path::new("tmpfs")),
        dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )
    .map_err(err(dev))?;
    for name in DEVICES {
        let node = dev.join(name);
        let host = Path::new("/dev").join(name);
        if mknod {
            let meta = host.metadata().map_err(io_err(Stage::Dev, &host))?;
            sys.mknod(&node, meta.mode(), meta.rdev())
                .map_err(err(&node))?;
        } else {
            fs::File::create(&node).map_err(io_err(Stage::Dev, &node))?;
            sys.mount(Some(&host), &node, NONE, MsFlags::MS_BIND, NONE)
                .map_err(err(&node))?;
        }
    }
    let pts = dev.join("pts");
    mkdir(&pts, 0o755).map_err(io_err(Stage::Dev, &pts))?;
    sys.mount(
        Some(Path::new("devpts")),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
    )
    .map_err(err(&pts))?;
    let mqueue = dev.join("mqueue");
    mkdir(&mqueue, 0o1777).map_err(io_err(Stage::Dev, &mqueue))?;
    sys.mount(
        Some(Path::new("mqueue")),
        &mqueue,
        Some("mqueue"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        NONE,
    )
    .map_err(err(&mqueue))?;
    let shm = dev.join("shm");
    mkdir(&shm, 0o1777).map_err(io_err(Stage::Dev, &shm))?;
    sys.mount(
        Some(Path::new("shm")),
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=1777,size=65536k"),
    )
    .map_err(err(&shm))?;
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let path = dev.join(link);
        symlink(target, &path).map_err(io_err(Stage::Dev, &path))?;
    }
    Ok(())
}

fn extra_mount(
    sys: &dyn Syscall,
    root: &Path,
    m: &Mount,
    stub: &mut dyn FnMut(&str),
) -> Result<()> {
    match m {
        Mount::Bind {
            source,
            target,
            readonly,
        } => {
            let dest = mount_point(root, target, source.is_dir(), stub)?;
            let err = || setup_err(Stage::ExtraMount, &dest);
            let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
            sys.mount(Some(source), &dest, NONE, bind, NONE)
                .map_err(err())?;
            if *readonly {
                let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
                sys.mount(NO_SOURCE, &dest, NONE, ro, NONE).map_err(err())?;
            }
        }
        Mount::Tmpfs { target, size } => {
            let opts = match size {
                Some(s) => format!("mode=755,size={s}"),
                None => "mode=755".to_owned(),
            };
            let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
            let dest = mount_point(root, target, true, stub)?;
            crate::tmpfs::mount(sys, &dest, flags, &opts)?;
        }
        Mount::TmpfsWith { target, options } => {
            let (flags, data) = options.mount_args();
            let dest = mount_point(root, target, true, stub)?;
            crate::tmpfs::mount(sys, &dest, flags, &data)?;
        }
    }
    Ok(())
}

/// `pivot_root(".", ".")` stacks the old root on top of the new one, so a
/// lazy unmount of "." removes it without needing a put_old directory that
/// would end up in the layer.
fn pivot(sys: &dyn Syscall, root: &Path) -> Result<()> {
    let err = || setup_err(Stage::PivotRoot, root);
    let dot = Path::new(".");
    sys.chdir(root).map_err(err())?;
    sys.pivot_root(dot, dot).map_err(err())?;
    sys.umount2(dot, MntFlags::MNT_DETACH).map_err(err())?;
    sys.chdir(Path::new("/")).map_err(err())
}

/// Resolves `path` inside `root`, following symlinks as if `root` were `/`
/// (so an image's absolute links cannot point mounts at the host), then
/// creates whatever is missing: directories, and a final empty file when
/// `dir` is false. Returns the host path to mount on.
pub(crate) fn mount_point(
    root: &Path,
    path: &str,
    dir: bool,
    stub: &mut dyn FnMut(&str),
) -> Result<PathBuf> {
    let rel = resolve_in_root(root, path);
    let full = root.join(&rel);
    let mut cur = PathBuf::new();
    let parts: Vec<_> = rel.components().collect();
    for (i, part) in parts.iter().enumerate() {
        cur.push(part);
        let host = root.join(&cur);
        if host.symlink_metadata().is_ok() {
            continue;
        }
        let last = i + 1 == parts.len();
        let made = if last && !dir {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&host)
                .map(drop)
        } else {
            mkdir(&host, 0o755)
        };
        made.map_err(io_err(Stage::MountPoint, &host))?;
        stub(&cur.to_string_lossy());
    }
    Ok(full)
}

fn mkdir(path: &Path, mode: u32) -> std::io::Result<()> {
    fs::DirBuilder::new().mode(mode).create(path)
}

/// The path of `path` relative to `root` after resolving symlinks inside
/// `root`; `..` never climbs above it.
fn resolve_in_root(root: &Path, path: &str) -> PathBuf {
    let mut todo: VecDeque<PathBuf> = components(Path::new(path));
    let mut cur = PathBuf::new();
    let mut links = 0;
    while let Some(part) = todo.pop_front() {
        if part.as_os_str() == ".." {
            cur.pop();
            continue;
        }
        let next = cur.join(&part);
        match fs::read_link(root.join(&next)) {
            Ok(target) if links < 40 => {
                links += 1;
                if target.is_absolute() {
                    cur = PathBuf::new();
                }
                let mut expanded = components(&target);
                expanded.extend(todo);
                todo = expanded;
            }
            _ => cur = next,
        }
    }
    cur
}

fn components(path: &Path) -> VecDeque<PathBuf> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(PathBuf::from(n)),
            Component::ParentDir => Some(PathBuf::from("..")),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::RunSpec;
    use crate::syscall::Recording;

    #[test]
    fn mount_sequence() {
        let tmp = tempfile::tempdir().unwrap();
        let merged = tmp.path().join("merged");
        fs::create_dir(&merged).unwrap();
        let mut spec = RunSpec::new(vec![], tmp.path(), tmp.path(), vec!["true".into()]);
        spec.mounts = vec![Mount::Bind {
            source: tmp.path().to_owned(),
            target: "/src".into(),
            readonly: true,
        }];
        let plan = Plan {
            spec: &spec,
            merged: merged.clone(),
            overlay_opts: "lowerdir=/l,upperdir=/u,workdir=/w".into(),
            overlay_cwd: None,
            etc_files: vec![(tmp.path().join("hosts"), "/etc/hosts")],
            stdio: [None; 3],
            pty: None,
            netns: None,
            cgroup_join: Default::default(),
            cgroup_mounts: Vec::new(),
            security: crate::process::SecurityPlan::new(&Default::default()).unwrap(),
            userns_sync: None,
            idmapped: Vec::new(),
        };
        let sys = Recording::default();
        let mut stubs = Vec::new();
        build(&sys, &plan, &mut |s| stubs.push(s.to_owned())).unwrap();
        assert_eq!(stubs, ["proc", "dev", "sys", "etc", "etc/hosts", "src"]);

        let calls = sys.calls.into_inner();
        let m = merged.display();
        let find = |prefix: String| {
            calls
                .iter()
                .position(|c| c.starts_with(&prefix))
                .unwrap_or_else(|| panic!("no {prefix:?} in {calls:#?}"))
        };
        assert!(calls[0].starts_with("mount - / -") && calls[0].contains("MS_PRIVATE"));
        assert!(calls[1].starts_with(&format!("mount overlay {m} overlay")));
        assert!(calls[1].ends_with("lowerdir=/l,upperdir=/u,workdir=/w"));
        let proc_ = find(format!("mount proc {m}/proc proc"));
        let dev = find(format!("mount tmpfs {m}/dev tmpfs"));
        let null = find(format!("mknod {m}/dev/null "));
        assert!(calls[null].ends_with(&format!(
            "{:o} {}",
            fs::metadata("/dev/null").unwrap().mode(),
            fs::metadata("/dev/null").unwrap().rdev()
        )));
        let pts = find(format!("mount devpts {m}/dev/pts devpts"));
        let sysfs = find(format!("mount sysfs {m}/sys sysfs"));
        let hosts = find(format!(
            "mount {}/hosts {m}/etc/hosts -",
            tmp.path().display()
        ));
        let ro = find(format!("mount - {m}/src -"));
        assert!(proc_ < dev && dev < null && null < pts && pts < sysfs && sysfs < hosts);
        assert!(calls[sysfs].contains("MS_RDONLY") && calls[ro].contains("MS_REMOUNT"));
        assert!(calls[pts].ends_with("newinstance,ptmxmode=0666,mode=0620,gid=5"));
        find(format!("mount mqueue {m}/dev/mqueue mqueue"));
        let tail: Vec<&str> = calls[calls.len() - 4..]
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(tail[0], format!("chdir {m}"));
        assert_eq!(
            tail[1..],
            [
                "pivot_root . .",
                "umount2 . MntFlags(MNT_DETACH)",
                "chdir /"
            ]
        );
        assert_eq!(
            fs::read_link(merged.join("dev/ptmx")).unwrap(),
            Path::new("pts/ptmx")
        );
    }

    #[test]
    fn masked_and_readonly_paths() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        fs::create_dir_all(r.join("proc/sys")).unwrap();
        fs::create_dir_all(r.join("proc/acpi")).unwrap();
        fs::write(r.join("proc/kcore"), "").unwrap();
        let sys = Recording::default();
        mask_paths(&sys, r).unwrap();
        let calls = sys.calls.into_inner();
        let r = r.display();
        assert_eq!(calls.len(), 4, "{calls:#?}");
        assert!(calls[0].starts_with(&format!("mount tmpfs {r}/proc/acpi tmpfs")));
        assert!(calls[0].contains("MS_RDONLY"));
        assert!(calls[1].starts_with(&format!("mount /dev/null {r}/proc/kcore -")));
        assert!(calls[2].starts_with(&format!("mount {r}/proc/sys {r}/proc/sys -")));
        assert!(calls[3].starts_with(&format!("mount - {r}/proc/sys -")));
        assert!(calls[3].contains("MS_REMOUNT") && calls[3].contains("MS_RDONLY"));
    }

    #[test]
    fn symlinks_stay_inside_root() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        fs::create_dir_all(r.join("real/etc")).unwrap();
        symlink("/real/etc", r.join("etc")).unwrap();
        symlink("../../../../outside", r.join("real/etc/escape")).unwrap();
        assert_eq!(
            resolve_in_root(r, "/etc/hosts"),
            Path::new("real/etc/hosts")
        );
        assert_eq!(resolve_in_root(r, "/etc/escape/x"), Path::new("outside/x"));
        assert_eq!(resolve_in_root(r, "/../a/./b"), Path::new("a/b"));
    }

    #[test]
    fn mount_point_reports_created_stubs() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join("etc")).unwrap();
        let mut stubs = Vec::new();
        let p = mount_point(root.path(), "/etc/a/b", false, &mut |s| {
            stubs.push(s.to_owned())
        });
        assert_eq!(p.unwrap(), root.path().join("etc/a/b"));
        assert!(root.path().join("etc/a/b").is_file());
        assert_eq!(stubs, vec!["etc/a", "etc/a/b"]);
    }
}
