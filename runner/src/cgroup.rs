//! Container cgroups: [`CgroupFs`] finds the layout under a root (normally
//! `/sys/fs/cgroup`, injectable for tests): pure cgroup v2, or v1
//! controllers (hybrid when a v2 hierarchy sits at `unified/`). A
//! [`Cgroup`] is one container's directories with its [`Resources`]
//! written, joined by the container's first process before `execve`, and
//! removed after it ends; [`kill_cgroup`] and [`remove_cgroup`] clean up by
//! name and are safe to repeat.

use std::fs;
use std::io::ErrorKind;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::spec::Resources;

/// The v1 controllers a container gets its own directory in: the ones its
/// limits and OOM report need, plus `freezer` so a kill catches forks.
const V1_CONTROLLERS: [&str; 4] = ["memory", "cpu", "pids", "freezer"];

/// CFS period for `--cpus`, as Docker uses.
const CPU_PERIOD: u64 = 100_000;

/// A cgroup file system root.
#[derive(Debug, Clone)]
pub struct CgroupFs {
    root: PathBuf,
}

impl Default for CgroupFs {
    fn default() -> Self {
        CgroupFs::new("/sys/fs/cgroup")
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

impl CgroupFs {
    /// The cgroup file systems mounted at (or faked under) `root`.
    pub fn new(root: impl Into<PathBuf>) -> CgroupFs {
        CgroupFs { root: root.into() }
    }

    fn is_v2(&self) -> bool {
        self.root.join("cgroup.controllers").exists()
    }

    /// Every directory `name` lives in, v2 (or hybrid `unified`) first.
    fn dirs(&self, name: &str) -> Vec<PathBuf> {
        if self.is_v2() {
            return vec![self.root.join(name)];
        }
        let mut out = Vec::new();
        let unified = self.root.join("unified");
        if unified.join("cgroup.procs").exists() {
            out.push(unified.join(name));
        }
        for c in V1_CONTROLLERS {
            let dir = self.root.join(c);
            if dir.join("cgroup.procs").exists() {
                out.push(dir.join(name));
            }
        }
        out
    }

    /// Creates the cgroup `name` (relative, like `rdock/<id>`) in every
    /// hierarchy and writes `res` into it.
    pub fn create(&self, name: &str, res: &Resources) -> Result<Cgroup> {
        check_name(name)?;
        let v2 = self.is_v2();
        if v2 {
            self.enable_controllers(name)?;
        }
        let dirs = self.dirs(name);
        let mut cg = Cgroup {
            dirs: Vec::new(),
            v2,
            depth: name.split('/').count(),
        };
        for d in &dirs {
            match fs::create_dir_all(d) {
                Ok(()) => cg.dirs.push(d.clone()),
                Err(e) => {
                    let _ = cg.remove();
                    return Err(io("create cgroup", d)(e));
                }
            }
        }
        if let Err(e) = cg.limit(res) {
            let _ = cg.remove();
            return Err(e);
        }
        Ok(cg)
    }

    /// v2 only hands controllers down through `cgroup.subtree_control` of
    /// every ancestor.
    fn enable_controllers(&self, name: &str) -> Result<()> {
        let available =
            fs::read_to_string(self.root.join("cgroup.controllers")).unwrap_or_default();
        let wanted: Vec<String> = ["memory", "cpu", "pids"]
            .into_iter()
            .filter(|c| available.split_whitespace().any(|a| a == *c))
            .map(|c| format!("+{c}"))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let mut dir = self.root.clone();
        let parts: Vec<&str> = name.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            write(&dir.join("cgroup.subtree_control"), &wanted.join(" "))?;
            dir.push(part);
            fs::create_dir_all(&dir).map_err(io("create cgroup", &dir))?;
        }
        write(&dir.join("cgroup.subtree_control"), &wanted.join(" "))
    }

    /// The cgroup `name` as it exists now (for cleanup).
    pub fn open(&self, name: &str) -> Result<Cgroup> {
        check_name(name)?;
        Ok(Cgroup {
            dirs: self.dirs(name).into_iter().filter(|d| d.is_dir()).collect(),
            v2: self.is_v2(),
            depth: name.split('/').count(),
        })
    }
}

/// Descriptors a new process joins a [`Cgroup`] by (see
/// [`Cgroup::open_join_files`]).
#[derive(Debug, Default)]
pub(crate) struct JoinFiles {
    /// The v2 cgroup directory, for `CLONE_INTO_CGROUP`.
    pub(crate) v2_dir: Option<std::os::fd::OwnedFd>,
    /// Its `cgroup.procs`, when cloning into it is not possible.
    pub(crate) v2_procs: Option<std::os::fd::OwnedFd>,
    /// The v1 controllers' `tasks` files.
    pub(crate) v1_tasks: Vec<std::os::fd::OwnedFd>,
}

/// The same as raw descriptors, for the forked children.
#[derive(Debug, Default, Clone)]
pub(crate) struct JoinFds {
    pub(crate) v2_dir: Option<RawFd>,
    pub(crate) v2_procs: Option<RawFd>,
    pub(crate) v1_tasks: Vec<RawFd>,
}

impl JoinFiles {
    pub(crate) fn raw(&self) -> JoinFds {
        JoinFds {
            v2_dir: self.v2_dir.as_ref().map(AsRawFd::as_raw_fd),
            v2_procs: self.v2_procs.as_ref().map(AsRawFd::as_raw_fd),
            v1_tasks: self.v1_tasks.iter().map(AsRawFd::as_raw_fd).collect(),
        }
    }
}

impl JoinFds {
    /// Every descriptor, for the keep list of `close_range`.
    pub(crate) fn all(&self) -> Vec<RawFd> {
        let mut out: Vec<RawFd> = self.v2_dir.into_iter().chain(self.v2_procs).collect();
        out.extend(&self.v1_tasks);
        out
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.v2_dir.is_none() && self.v2_procs.is_none() && self.v1_tasks.is_empty()
    }
}

/// One file system the container mounts under `/sys/fs/cgroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupMount {
    /// Directory under `/sys/fs/cgroup` (empty: `/sys/fs/cgroup` itself).
    pub(crate) dir: String,
    pub(crate) fstype: &'static str,
    /// Mount data: the v1 controllers of the hierarchy.
    pub(crate) options: String,
    /// Symlinks to `dir` (`cpu` and `cpuacct` for `cpu,cpuacct`).
    pub(crate) aliases: Vec<String>,
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..");
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidSpec {
            field: "cgroup",
            reason: format!("{name:?} must be a relative path without . or .."),
        })
    }
}

fn write(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value).map_err(io("write", path))
}

/// One container's cgroup directories.
#[derive(Debug)]
pub struct Cgroup {
    dirs: Vec<PathBuf>,
    v2: bool,
    /// Components in the name: how far each dir is below its hierarchy.
    depth: usize,
}

impl Cgroup {
    fn dir_of(&self, controller: &str) -> Option<&Path> {
        if self.v2 {
            return self.dirs.first().map(PathBuf::as_path);
        }
        self.dirs
            .iter()
            .find(|d| {
                d.ancestors()
                    .any(|a| a.file_name().is_some_and(|n| n == controller))
            })
            .map(PathBuf::as_path)
    }

    fn limit(&self, res: &Resources) -> Result<()> {
        let file = |ctrl: &str, name: &str| self.dir_of(ctrl).map(|d| d.join(name));
        if let Some(mem) = res.memory {
            if self.v2 {
                if let Some(p) = file("memory", "memory.max") {
                    write(&p, &mem.to_string())?;
                }
                // Docker's default swap equals memory (total twice memory).
                let swap = match res.memory_swap {
                    Some(s) if s < 0 => "max".to_owned(),
                    Some(s) => (s as u64).saturating_sub(mem).to_string(),
                    None => mem.to_string(),
                };
                if let Some(p) = file("memory", "memory.swap.max").filter(|p| p.exists()) {
                    write(&p, &swap)?;
                }
            } else {
                if let Some(p) = file("memory", "memory.limit_in_bytes") {
                    write(&p, &mem.to_string())?;
                }
                let memsw = match res.memory_swap {
                    Some(s) if s < 0 => "-1".to_owned(),
                    Some(s) => s.to_string(),
                    None => mem.saturating_mul(2).to_string(),
                };
                // Only with swap accounting enabled.
                if let Some(p) =
                    file("memory", "memory.memsw.limit_in_bytes").filter(|p| p.exists())
                {
                    write(&p, &memsw)?;
                }
            }
        }
        if let Some(cpus) = res.cpus {
            let quota = (cpus * CPU_PERIOD as f64).round() as u64;
            if self.v2 {
                if let Some(p) = file("cpu", "cpu.max") {
                    write(&p, &format!("{quota} {CPU_PERIOD}"))?;
                }
            } else if let Some(d) = self.dir_of("cpu") {
                write(&d.join("cpu.cfs_period_us"), &CPU_PERIOD.to_string())?;
                write(&d.join("cpu.cfs_quota_us"), &quota.to_string())?;
            }
        }
        if let Some(pids) = res.pids_limit {
            let value = if pids > 0 {
                pids.to_string()
            } else {
                "max".to_owned()
            };
            if let Some(p) = file("pids", "pids.max") {
                write(&p, &value)?;
            }
        }
        Ok(())
    }

    /// What the container mounts at `/sys/fs/cgroup` (inside its cgroup
    /// namespace each hierarchy shows only its own cgroup, as Docker does).
    pub(crate) fn mounts(&self) -> Vec<CgroupMount> {
        if self.v2 {
            return vec![CgroupMount {
                dir: String::new(),
                fstype: "cgroup2",
                options: String::new(),
                aliases: Vec::new(),
            }];
        }
        let mut out = Vec::new();
        for d in &self.dirs {
            // <root>/<hierarchy>/<name...>
            let Some(hier) = d.ancestors().nth(self.depth) else {
                continue;
            };
            let real = fs::canonicalize(hier).unwrap_or_else(|_| hier.to_owned());
            let name = real
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let m = if name == "unified" {
                CgroupMount {
                    dir: name,
                    fstype: "cgroup2",
                    options: String::new(),
                    aliases: Vec::new(),
                }
            } else {
                let aliases = if name.contains(',') {
                    name.split(',').map(str::to_owned).collect()
                } else {
                    Vec::new()
                };
                CgroupMount {
                    options: name.clone(),
                    dir: name,
                    fstype: "cgroup",
                    aliases,
                }
            };
            out.push(m);
        }
        out
    }

    /// The `cgroup.procs` files a process writes itself into to join.
    pub(crate) fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// What a new single-threaded process joins the cgroup by, opened
    /// close-on-exec by the (privileged) caller. On v1 that is `tasks`:
    /// moving only the writing thread skips the global threadgroup lock
    /// whose write side waits for an RCU grace period (milliseconds per
    /// container). The v2 tree (pure or hybrid) is best entered at fork with
    /// `CLONE_INTO_CGROUP` through its directory; its `cgroup.procs` is the
    /// fallback.
    pub(crate) fn open_join_files(&self) -> Result<JoinFiles> {
        let open = |p: &Path| -> Result<std::os::fd::OwnedFd> {
            fs::OpenOptions::new()
                .write(true)
                .open(p)
                .map(Into::into)
                .map_err(io("open", p))
        };
        let mut files = JoinFiles::default();
        for d in &self.dirs {
            if self.v2 || self.is_unified(d) {
                let dir = fs::File::open(d).map_err(io("open", d))?;
                files.v2_dir = Some(dir.into());
                files.v2_procs = Some(open(&d.join("cgroup.procs"))?);
            } else {
                files.v1_tasks.push(open(&d.join("tasks"))?);
            }
        }
        Ok(files)
    }

    /// Whether `dir` is in the hybrid layout's v2 tree.
    fn is_unified(&self, dir: &Path) -> bool {
        dir.ancestors()
            .nth(self.depth)
            .and_then(Path::file_name)
            .is_some_and(|n| n == "unified")
    }

    /// Whether the OOM killer killed a task of this cgroup.
    pub fn oom_killed(&self) -> bool {
        let (file, key) = if self.v2 {
            ("memory.events", "oom_kill")
        } else {
            ("memory.oom_control", "oom_kill")
        };
        let Some(path) = self.dir_of("memory").map(|d| d.join(file)) else {
            return false;
        };
        fs::read_to_string(path).ok().is_some_and(|text| {
            text.lines().any(|l| {
                let mut w = l.split_whitespace();
                w.next() == Some(key) && w.next().is_some_and(|n| n != "0")
            })
        })
    }

    /// Pids of the tasks in the cgroup.
    fn pids(&self) -> Vec<i32> {
        let mut out: Vec<i32> = self
            .procs_files()
            .iter()
            .filter_map(|p| fs::read_to_string(p).ok())
            .flat_map(|t| {
                t.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// SIGKILLs every task, repeating until none is left (forks in
    /// between are caught by the next round; `cgroup.kill` does it at once
    /// on v2).
    pub fn kill(&self) -> Result<()> {
        if self.v2 {
            if let Some(d) = self.dirs.first() {
                let k = d.join("cgroup.kill");
                if k.exists() {
                    return write(&k, "1");
                }
            }
        }
        for _ in 0..100 {
            let pids = self.pids();
            if pids.is_empty() {
                return Ok(());
            }
            for pid in pids {
                // SAFETY: plain kill(2).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }

    /// Removes the directories; missing ones are fine. Tasks that are
    /// still exiting make `rmdir` fail with `EBUSY` for a moment: retry
    /// briefly.
    pub fn remove(&self) -> Result<()> {
        for d in self.dirs.iter().rev() {
            let mut tries = 0;
            loop {
                match fs::remove_dir(d) {
                    Ok(()) => break,
                    Err(e) if e.kind() == ErrorKind::NotFound => break,
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 500 => {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(e) => return Err(io("remove cgroup", d)(e)),
                }
            }
        }
        Ok(())
    }
}

/// Kills every process in the cgroup `name` (under `/sys/fs/cgroup`);
/// nothing to do when it is gone.
pub fn kill_cgroup(name: &str) -> Result<()> {
    CgroupFs::default().open(name)?.kill()
}

/// Kills what is left in the cgroup `name` and removes it; safe to call
/// again or for a cgroup that never existed.
pub fn remove_cgroup(name: &str) -> Result<()> {
    let cg = CgroupFs::default().open(name)?;
    cg.kill()?;
    cg.remove()
}

/// The files a new single-threaded process joins the cgroups of a running
/// process by (from `/proc/<pid>/cgroup`, root ones skipped), for `exec`:
/// `tasks` on v1 (no global lock, see [`Cgroup::open_join_files`]),
/// `cgroup.procs` on v2.
pub(crate) fn procs_files_of(pid: i32, root: &Path) -> Vec<PathBuf> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let v2 = root.join("cgroup.controllers").exists();
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
            if path == "/" {
                return None;
            }
            let base = match ctrls {
                "" if v2 => root.to_owned(),
                "" => root.join("unified"),
                c => root.join(c.strip_prefix("name=").unwrap_or(c)),
            };
            let file = if ctrls.is_empty() {
                "cgroup.procs"
            } else {
                "tasks"
            };
            let procs = base.join(path.trim_start_matches('/')).join(file);
            procs.exists().then_some(procs)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_v2() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        fs::write(
            t.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        fs::write(t.path().join("cgroup.procs"), "").unwrap();
        t
    }

    #[test]
    fn v2_limits_and_subtree_control() {
        let t = fake_v2();
        let res = Resources {
            memory: Some(64 << 20),
            memory_swap: Some(96 << 20),
            cpus: Some(1.5),
            pids_limit: Some(20),
        };
        // The fake has no swap file until the kernel would create it.
        let cg = CgroupFs::new(t.path()).create("rdock/abc", &res).unwrap();
        let d = t.path().join("rdock/abc");
        let read = |p: &Path| fs::read_to_string(p).unwrap();
        assert_eq!(read(&d.join("memory.max")), (64u64 << 20).to_string());
        assert!(!d.join("memory.swap.max").exists());
        assert_eq!(read(&d.join("cpu.max")), "150000 100000");
        assert_eq!(read(&d.join("pids.max")), "20");
        assert_eq!(
            read(&t.path().join("cgroup.subtree_control")),
            "+memory +cpu +pids"
        );
        assert_eq!(
            read(&t.path().join("rdock/cgroup.subtree_control")),
            "+memory +cpu +pids"
        );
        assert_eq!(cg.procs_files(), vec![d.join("cgroup.procs")]);
        assert_eq!(cg.mounts().len(), 1);
        assert_eq!(cg.mounts()[0].fstype, "cgroup2");

        fs::write(d.join("memory.swap.max"), "").unwrap();
        fs::write(
            d.join("memory.events"),
            "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n",
        )
        .unwrap();
        CgroupFs::new(t.path()).create("rdock/abc", &res).unwrap();
        assert_eq!(read(&d.join("memory.swap.max")), (32u64 << 20).to_string());
        assert!(!cg.oom_killed());
        fs::write(d.join("memory.events"), "oom 1\noom_kill 1\n").unwrap();
        assert!(cg.oom_killed());
    }

    #[test]
    fn v1_layout_with_unified() {
        let t = tempfile::tempdir().unwrap();
        for c in ["unified", "memory", "pids", "cpu"] {
            fs::create_dir(t.path().join(c)).unwrap();
            fs::write(t.path().join(c).join("cgroup.procs"), "").unwrap();
        }
        let res = Resources {
            memory: Some(1 << 20),
            cpus: Some(0.5),
            pids_limit: Some(0),
            ..Resources::default()
        };
        let cg = CgroupFs::new(t.path()).create("rdock/x", &res).unwrap();
        let read = |p: &str| fs::read_to_string(t.path().join(p)).unwrap();
        assert_eq!(read("memory/rdock/x/memory.limit_in_bytes"), "1048576");
        assert_eq!(read("cpu/rdock/x/cpu.cfs_quota_us"), "50000");
        assert_eq!(read("cpu/rdock/x/cpu.cfs_period_us"), "100000");
        assert_eq!(read("pids/rdock/x/pids.max"), "max");
        // freezer is not mounted in the fake: skipped.
        assert_eq!(cg.procs_files().len(), 4);
        let mounts: Vec<(String, &str, String)> = cg
            .mounts()
            .into_iter()
            .map(|m| (m.dir, m.fstype, m.options))
            .collect();
        assert_eq!(
            mounts,
            [
                ("unified".into(), "cgroup2", String::new()),
                ("memory".into(), "cgroup", "memory".into()),
                ("cpu".into(), "cgroup", "cpu".into()),
                ("pids".into(), "cgroup", "pids".into()),
            ]
        );
        assert!(cg.procs_files()[0].starts_with(t.path().join("unified")));
    }

    #[test]
    fn names_are_checked() {
        let fs_ = CgroupFs::new("/nonexistent");
        for bad in ["", "/abs", "a/../b", "a//b"] {
            assert!(fs_.create(bad, &Resources::default()).is_err(), "{bad}");
        }
    }
}
