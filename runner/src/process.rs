//! The last steps before `execve`, shared by a container's first process
//! and by [`crate::exec`]: resolve the user, take the terminal, drop
//! capabilities (bounding set first, then credentials with `KEEPCAPS`,
//! then `capset`), install seccomp while still root, and exec the command,
//! or, with `--init`, fork it under a tiny pid 1 that forwards signals and
//! reaps zombies.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::RawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::unistd::{Gid, Uid};
use seccompiler::BpfProgram;

use crate::error::{Error, Result, Stage};
use crate::security::{last_cap, CapSet, Security};
use crate::user::resolve_user;

/// Capabilities and seccomp filters, computed in the parent before `fork`.
#[derive(Debug, Clone)]
pub(crate) struct SecurityPlan {
    pub(crate) caps: CapSet,
    last_cap: u32,
    filters: Vec<BpfProgram>,
    no_new_privs: bool,
    pub(crate) privileged: bool,
}

impl SecurityPlan {
    pub(crate) fn new(sec: &Security) -> Result<SecurityPlan> {
        let last = last_cap();
        // Nobody can hand out more than it has itself: `--privileged` means
        // every capability of our own bounding set.
        let caps = sec.capabilities(last)?.intersect(own_bounding_set());
        let filters = if sec.seccomp_on() {
            crate::seccomp::compile(caps)?
        } else {
            Vec::new()
        };
        Ok(SecurityPlan {
            caps,
            last_cap: last,
            filters,
            no_new_privs: sec.no_new_privs,
            privileged: sec.privileged,
        })
    }
}

/// This process's bounding set, from `/proc/self/status`.
fn own_bounding_set() -> CapSet {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .map_or(CapSet::all(63), CapSet::from_bits)
}

/// What the process will be.
#[derive(Debug)]
pub(crate) struct ProcessPlan<'a> {
    pub(crate) args: &'a [String],
    pub(crate) env: &'a [String],
    pub(crate) cwd: &'a str,
    pub(crate) user: &'a str,
    /// Create `cwd` when missing (`WORKDIR` semantics; not for `exec`).
    pub(crate) create_cwd: bool,
    pub(crate) init: bool,
    /// The socket to send a pty master on.
    pub(crate) pty: Option<RawFd>,
    /// The close-on-exec report pipe (closed by `--init`'s pid 1).
    pub(crate) report: RawFd,
    pub(crate) security: &'a SecurityPlan,
}

fn sys(stage: Stage, detail: &str) -> impl FnOnce(Errno) -> Error + '_ {
    move |errno| Error::Setup {
        stage,
        detail: detail.to_owned(),
        errno,
    }
}

fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(0))
}

/// Becomes the process described by `p` and execs it; returns only on
/// failure.
pub(crate) fn become_and_exec(p: &ProcessPlan<'_>) -> Result<Infallible> {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let user = resolve_user(p.user, &read("/etc/passwd"), &read("/etc/group"))?;
    if p.create_cwd {
        std::fs::create_dir_all(p.cwd).map_err(|e| Error::Setup {
            stage: Stage::Cwd,
            detail: p.cwd.to_owned(),
            errno: errno_of(&e),
        })?;
    }
    if let Some(sock) = p.pty {
        let slave = crate::pty::open_and_send(sock).map_err(sys(Stage::Pty, "/dev/ptmx"))?;
        crate::pty::become_controlling(slave, user.uid, user.gid)
            .map_err(sys(Stage::Pty, "controlling terminal"))?;
    }
    let sec = p.security;
    let security = |what| sys(Stage::Security, what);
    for cap in 0..=sec.last_cap {
        if !sec.caps.has(cap) {
            // SAFETY: prctl with integer arguments.
            if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } < 0 {
                return Err(security("drop bounding capability")(Errno::last()));
            }
        }
    }
    // SAFETY: prctl with integer arguments.
    unsafe {
        if libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 {
            return Err(security("keepcaps")(Errno::last()));
        }
        if sec.no_new_privs && libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 {
            return Err(security("no_new_privs")(Errno::last()));
        }
    }
    // Still root with CAP_SYS_ADMIN: no need for no_new_privs to install.
    crate::seccomp::install(&sec.filters).map_err(security("seccomp"))?;

    let groups: Vec<Gid> = user.groups.iter().map(|g| Gid::from_raw(*g)).collect();
    let creds = sys(Stage::Credentials, p.user);
    nix::unistd::setgroups(&groups)
        .and_then(|()| {
            let gid = Gid::from_raw(user.gid);
            nix::unistd::setresgid(gid, gid, gid)
        })
        .and_then(|()| {
            let uid = Uid::from_raw(user.uid);
            nix::unistd::setresuid(uid, uid, uid)
        })
        .map_err(creds)?;
    // Docker gives a non-root user the permitted set but nothing effective;
    // the inheritable set stays empty (CVE-2022-24769).
    let effective = if user.uid == 0 {
        sec.caps
    } else {
        CapSet::default()
    };
    set_caps(effective, sec.caps).map_err(security("capset"))?;
    // SAFETY: prctl with integer arguments.
    unsafe {
        libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0);
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        );
    }
    // Changing credentials clears the parent-death signal; set it again.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(sys(Stage::Credentials, "pdeathsig"))?;
    nix::unistd::chdir(p.cwd).map_err(sys(Stage::Cwd, p.cwd))?;

    let env = crate::spec::full_env(p.env, &user.home);
    let program = &p.args[0];
    let path = lookup(program, &env)?;
    let cstr = |s: &str| CString::new(s).unwrap_or_default();
    let argv: Vec<CString> = p.args.iter().map(|a| cstr(a)).collect();
    let envp: Vec<CString> = env.iter().map(|e| cstr(e)).collect();
    let path = cstr(&path);
    if p.init {
        let exec = || {
            let errno = nix::unistd::execve(&path, &argv, &envp).unwrap_err();
            Error::Exec {
                program: program.clone(),
                errno,
            }
        };
        crate::init::run(p.report, p.pty.is_some(), exec).map_err(sys(Stage::Fork, "init"))?;
    }
    let errno = nix::unistd::execve(&path, &argv, &envp).unwrap_err();
    Err(Error::Exec {
        program: program.clone(),
        errno,
    })
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn set_caps(effective: CapSet, permitted: CapSet) -> std::result::Result<(), Errno> {
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = CapHeader {
        version: VERSION_3,
        pid: 0,
    };
    let split = |s: CapSet| (s.bits() as u32, (s.bits() >> 32) as u32);
    let (e0, e1) = split(effective);
    let (p0, p1) = split(permitted);
    let data = [
        CapData {
            effective: e0,
            permitted: p0,
            inheritable: 0,
        },
        CapData {
            effective: e1,
            permitted: p1,
            inheritable: 0,
        },
    ];
    // SAFETY: capset reads the header and two data structs we own.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Finds `program` in the command's `$PATH`, as Go's `exec.LookPath` does for
/// runc: names with a `/` are used as they are.
fn lookup(program: &str, env: &[String]) -> Result<String> {
    if program.contains('/') {
        return Ok(program.to_owned());
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or_default();
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(program);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Ok(candidate.to_string_lossy().into_owned());
            }
        }
    }
    Err(Error::ExecNotFound {
        program: program.to_owned(),
    })
}
