//! Docker's default seccomp profile, as our own table: an allowlist with
//! `EPERM` for everything else, written from moby's
//! `profiles/seccomp/default.json` (x86_64 syscall numbers). Its conditional
//! rules are kept: `clone` only without namespace flags and `clone3`
//! failing with `ENOSYS` (so libc falls back to `clone`) unless
//! `CAP_SYS_ADMIN`; `socket` without `AF_ALG` and `AF_VSOCK`; a few `personality` values;
//! syscalls allowed only with the capability that guards them. Compiled to
//! BPF with `seccompiler` in the parent and installed in the child without
//! `no_new_privs` (root still has `CAP_SYS_ADMIN` then), as runc does.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::error::{Error, Result};
use crate::security::CapSet;

/// Syscalls every container may make (the profile's unconditional list,
/// those x86_64 has).
#[cfg(target_arch = "x86_64")]
const ALLOWED: &[(&str, i64)] = &[
    ("accept", 43),
    ("accept4", 288),
    ("access", 21),
    ("adjtimex", 159),
    ("alarm", 37),
    ("arch_prctl", 158),
    ("bind", 49),
    ("brk", 12),
    ("cachestat", 451),
    ("capget", 125),
    ("capset", 126),
    ("chdir", 80),
    ("chmod", 90),
    ("chown", 92),
    ("clock_adjtime", 305),
    ("clock_getres", 229),
    ("clock_gettime", 228),
    ("clock_nanosleep", 230),
    ("close", 3),
    ("close_range", 436),
    ("connect", 42),
    ("copy_file_range", 326),
    ("creat", 85),
    ("dup", 32),
    ("dup2", 33),
    ("dup3", 292),
    ("epoll_create", 213),
    ("epoll_create1", 291),
    ("epoll_ctl", 233),
    ("epoll_ctl_old", 214),
    ("epoll_pwait", 281),
    ("epoll_pwait2", 441),
    ("epoll_wait", 232),
    ("epoll_wait_old", 215),
    ("eventfd", 284),
    ("eventfd2", 290),
    ("execve", 59),
    ("execveat", 322),
    ("exit", 60),
    ("exit_group", 231),
    ("faccessat", 269),
    ("faccessat2", 439),
    ("fadvise64", 221),
    ("fallocate", 285),
    ("fanotify_mark", 301),
    ("fchdir", 81),
    ("fchmod", 91),
    ("fchmodat", 268),
    ("fchmodat2", 452),
    ("fchown", 93),
    ("fchownat", 260),
    ("fcntl", 72),
    ("fdatasync", 75),
    ("fgetxattr", 193),
    ("flistxattr", 196),
    ("flock", 73),
    ("fork", 57),
    ("fremovexattr", 199),
    ("fsetxattr", 190),
    ("fstat", 5),
    ("fstatfs", 138),
    ("fsync", 74),
    ("ftruncate", 77),
    ("futex", 202),
    ("futex_requeue", 456),
    ("futex_wait", 455),
    ("futex_waitv", 449),
    ("futex_wake", 454),
    ("futimesat", 261),
    ("get_robust_list", 274),
    ("get_thread_area", 211),
    ("getcpu", 309),
    ("getcwd", 79),
    ("getdents", 78),
    ("getdents64", 217),
    ("getegid", 108),
    ("geteuid", 107),
    ("getgid", 104),
    ("getgroups", 115),
    ("getitimer", 36),
    ("getpeername", 52),
    ("getpgid", 121),
    ("getpgrp", 111),
    ("getpid", 39),
    ("getppid", 110),
    ("getpriority", 140),
    ("getrandom", 318),
    ("getresgid", 120),
    ("getresuid", 118),
    ("getrlimit", 97),
    ("getrusage", 98),
    ("getsid", 124),
    ("getsockname", 51),
    ("getsockopt", 55),
    ("gettid", 186),
    ("gettimeofday", 96),
    ("getuid", 102),
    ("getxattr", 191),
    ("getxattrat", 464),
    ("inotify_add_watch", 254),
    ("inotify_init", 253),
    ("inotify_init1", 294),
    ("inotify_rm_watch", 255),
    ("io_cancel", 210),
    ("io_destroy", 207),
    ("io_getevents", 208),
    ("io_pgetevents", 333),
    ("io_setup", 206),
    ("io_submit", 209),
    ("ioctl", 16),
    ("ioprio_get", 252),
    ("ioprio_set", 251),
    ("kill", 62),
    ("landlock_add_rule", 445),
    ("landlock_create_ruleset", 444),
    ("landlock_restrict_self", 446),
    ("lchown", 94),
    ("lgetxattr", 192),
    ("link", 86),
    ("linkat", 265),
    ("listen", 50),
    ("listmount", 458),
    ("listxattr", 194),
    ("listxattrat", 465),
    ("llistxattr", 195),
    ("lremovexattr", 198),
    ("lseek", 8),
    ("lsetxattr", 189),
    ("lstat", 6),
    ("madvise", 28),
    ("map_shadow_stack", 453),
    ("membarrier", 324),
    ("memfd_create", 319),
    ("memfd_secret", 447),
    ("mincore", 27),
    ("mkdir", 83),
    ("mkdirat", 258),
    ("mknod", 133),
    ("mknodat", 259),
    ("mlock", 149),
    ("mlock2", 325),
    ("mlockall", 151),
    ("mmap", 9),
    ("modify_ldt", 154),
    ("mprotect", 10),
    ("mq_getsetattr", 245),
    ("mq_notify", 244),
    ("mq_open", 240),
    ("mq_timedreceive", 243),
    ("mq_timedsend", 242),
    ("mq_unlink", 241),
    ("mremap", 25),
    ("mseal", 462),
    ("msgctl", 71),
    ("msgget", 68),
    ("msgrcv", 70),
    ("msgsnd", 69),
    ("msync", 26),
    ("munlock", 150),
    ("munlockall", 152),
    ("munmap", 11),
    ("name_to_handle_at", 303),
    ("nanosleep", 35),
    ("newfstatat", 262),
    ("open", 2),
    ("openat", 257),
    ("openat2", 437),
    ("pause", 34),
    ("pidfd_open", 434),
    ("pidfd_send_signal", 424),
    ("pipe", 22),
    ("pipe2", 293),
    ("pkey_alloc", 330),
    ("pkey_free", 331),
    ("pkey_mprotect", 329),
    ("poll", 7),
    ("ppoll", 271),
    ("prctl", 157),
    ("pread64", 17),
    ("preadv", 295),
    ("preadv2", 327),
    ("prlimit64", 302),
    ("process_mrelease", 448),
    ("process_vm_readv", 310),
    ("process_vm_writev", 311),
    ("pselect6", 270),
    ("ptrace", 101),
    ("pwrite64", 18),
    ("pwritev", 296),
    ("pwritev2", 328),
    ("read", 0),
    ("readahead", 187),
    ("readlink", 89),
    ("readlinkat", 267),
    ("readv", 19),
    ("recvfrom", 45),
    ("recvmmsg", 299),
    ("recvmsg", 47),
    ("remap_file_pages", 216),
    ("removexattr", 197),
    ("removexattrat", 466),
    ("rename", 82),
    ("renameat", 264),
    ("renameat2", 316),
    ("restart_syscall", 219),
    ("rmdir", 84),
    ("rseq", 334),
    ("rt_sigaction", 13),
    ("rt_sigpending", 127),
    ("rt_sigprocmask", 14),
    ("rt_sigqueueinfo", 129),
    ("rt_sigreturn", 15),
    ("rt_sigsuspend", 130),
    ("rt_sigtimedwait", 128),
    ("rt_tgsigqueueinfo", 297),
    ("sched_get_priority_max", 146),
    ("sched_get_priority_min", 147),
    ("sched_getaffinity", 204),
    ("sched_getattr", 315),
    ("sched_getparam", 143),
    ("sched_getscheduler", 145),
    ("sched_rr_get_interval", 148),
    ("sched_setaffinity", 203),
    ("sched_setattr", 314),
    ("sched_setparam", 142),
    ("sched_setscheduler", 144),
    ("sched_yield", 24),
    ("seccomp", 317),
    ("select", 23),
    ("semctl", 66),
    ("semget", 64),
    ("semop", 65),
    ("semtimedop", 220),
    ("sendfile", 40),
    ("sendmmsg", 307),
    ("sendmsg", 46),
    ("sendto", 44),
    ("set_robust_list", 273),
    ("set_thread_area", 205),
    ("set_tid_address", 218),
    ("setfsgid", 123),
    ("setfsuid", 122),
    ("setgid", 106),
    ("setgroups", 116),
    ("setitimer", 38),
    ("setpgid", 109),
    ("setpriority", 141),
    ("setregid", 114),
    ("setresgid", 119),
    ("setresuid", 117),
    ("setreuid", 113),
    ("setrlimit", 160),
    ("setsid", 112),
    ("setsockopt", 54),
    ("setuid", 105),
    ("setxattr", 188),
    ("setxattrat", 463),
    ("shmat", 30),
    ("shmctl", 31),
    ("shmdt", 67),
    ("shmget", 29),
    ("shutdown", 48),
    ("sigaltstack", 131),
    ("signalfd", 282),
    ("signalfd4", 289),
    ("socketpair", 53),
    ("splice", 275),
    ("stat", 4),
    ("statfs", 137),
    ("statmount", 457),
    ("statx", 332),
    ("symlink", 88),
    ("symlinkat", 266),
    ("sync", 162),
    ("sync_file_range", 277),
    ("syncfs", 306),
    ("sysinfo", 99),
    ("tee", 276),
    ("tgkill", 234),
    ("time", 201),
    ("timer_create", 222),
    ("timer_delete", 226),
    ("timer_getoverrun", 225),
    ("timer_gettime", 224),
    ("timer_settime", 223),
    ("timerfd_create", 283),
    ("timerfd_gettime", 287),
    ("timerfd_settime", 286),
    ("times", 100),
    ("tkill", 200),
    ("truncate", 76),
    ("umask", 95),
    ("uname", 63),
    ("unlink", 87),
    ("unlinkat", 263),
    ("uretprobe", 335),
    ("utime", 132),
    ("utimensat", 280),
    ("utimes", 235),
    ("vfork", 58),
    ("vmsplice", 278),
    ("wait4", 61),
    ("waitid", 247),
    ("write", 1),
    ("writev", 20),
];

/// Syscalls allowed only with a capability.
#[cfg(target_arch = "x86_64")]
const BY_CAP: &[(&str, &[i64])] = &[
    ("DAC_READ_SEARCH", &[304]),
    // bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick
    // lookup_dcookie lsm_get_self_attr lsm_list_modules lsm_set_self_attr
    // mount mount_setattr move_mount open_tree perf_event_open quotactl
    // quotactl_fd setdomainname sethostname setns syslog umount2 unshare
    (
        "SYS_ADMIN",
        &[
            321, 56, 435, 300, 431, 432, 430, 433, 212, 459, 461, 460, 165, 442, 429, 428, 298,
            179, 443, 171, 170, 308, 103, 166, 272,
        ],
    ),
    ("SYS_BOOT", &[169]),                // reboot
    ("SYS_CHROOT", &[161]),              // chroot
    ("SYS_MODULE", &[176, 175, 313]),    // delete_module init_module finit_module
    ("SYS_PACCT", &[163]),               // acct
    ("SYS_PTRACE", &[312, 438, 440]),    // kcmp pidfd_getfd process_madvise
    ("SYS_RAWIO", &[172, 173]),          // iopl ioperm
    ("SYS_TIME", &[164, 227]),           // settimeofday clock_settime
    ("SYS_TTY_CONFIG", &[153]),          // vhangup
    ("SYS_NICE", &[239, 237, 238, 450]), // get_mempolicy mbind set_mempolicy ..._home_node
    ("SYSLOG", &[103]),                  // syslog
    ("BPF", &[321]),                     // bpf
    ("PERFMON", &[298]),                 // perf_event_open
];

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "x86_64")]
const NR_CLONE: i64 = 56;
#[cfg(target_arch = "x86_64")]
const NR_CLONE3: i64 = 435;
#[cfg(target_arch = "x86_64")]
const NR_SOCKET: i64 = 41;
#[cfg(target_arch = "x86_64")]
const NR_PERSONALITY: i64 = 135;

/// CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET.
const CLONE_NS_FLAGS: u64 = 0x7E02_0000;
/// Allowed `personality` personas: PER_LINUX, PER_LINUX32, UNAME26,
/// PER_LINUX32|UNAME26, and the query 0xffffffff.
const PERSONAS: [u64; 5] = [0, 8, 0x20000, 0x20008, 0xffff_ffff];
/// `socket` families refused: AF_ALG (38) and AF_VSOCK (40).
const AF_ALG: u64 = 38;
const AF_NFC: u64 = 39;
const AF_VSOCK: u64 = 40;

fn cond(
    index: u8,
    len: SeccompCmpArgLen,
    op: SeccompCmpOp,
    value: u64,
) -> Result<SeccompCondition> {
    SeccompCondition::new(index, len, op, value).map_err(compile_err)
}

fn rule(conds: Vec<SeccompCondition>) -> Result<SeccompRule> {
    SeccompRule::new(conds).map_err(compile_err)
}

fn compile_err(e: impl std::fmt::Display) -> Error {
    Error::Seccomp {
        reason: e.to_string(),
    }
}

/// The profile for a process with capabilities `caps`, as BPF programs to
/// install in order: the allowlist (everything else `EPERM`), then the
/// `clone3` → `ENOSYS` rule, which wins over the first for `clone3`
/// because the most recently installed filter's errno is returned.
#[cfg(target_arch = "x86_64")]
pub(crate) fn compile(caps: CapSet) -> Result<Vec<BpfProgram>> {
    use SeccompCmpArgLen::{Dword, Qword};
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for (_, nr) in ALLOWED {
        rules.insert(*nr, Vec::new());
    }
    let sys_admin = caps.has_named("SYS_ADMIN");
    for (cap, nrs) in BY_CAP {
        if caps.has_named(cap) {
            for nr in *nrs {
                rules.insert(*nr, Vec::new());
            }
        }
    }
    if !sys_admin {
        let no_ns = cond(0, Qword, SeccompCmpOp::MaskedEq(CLONE_NS_FLAGS), 0)?;
        rules.insert(NR_CLONE, vec![rule(vec![no_ns])?]);
    }
    rules.insert(
        NR_SOCKET,
        vec![
            rule(vec![cond(0, Dword, SeccompCmpOp::Lt, AF_ALG)?])?,
            rule(vec![cond(0, Dword, SeccompCmpOp::Eq, AF_NFC)?])?,
            rule(vec![cond(0, Dword, SeccompCmpOp::Gt, AF_VSOCK)?])?,
        ],
    );
    let personas = PERSONAS
        .iter()
        .map(|p| rule(vec![cond(0, Dword, SeccompCmpOp::Eq, *p)?]))
        .collect::<Result<Vec<_>>>()?;
    rules.insert(NR_PERSONALITY, personas);

    let eperm = SeccompAction::Errno(libc::EPERM as u32);
    let allow =
        SeccompFilter::new(rules, eperm, SeccompAction::Allow, ARCH).map_err(compile_err)?;
    let mut out = vec![BpfProgram::try_from(allow).map_err(compile_err)?];
    if !sys_admin {
        let enosys = SeccompAction::Errno(libc::ENOSYS as u32);
        let clone3 = BTreeMap::from([(NR_CLONE3, Vec::new())]);
        let f =
            SeccompFilter::new(clone3, SeccompAction::Allow, enosys, ARCH).map_err(compile_err)?;
        out.push(BpfProgram::try_from(f).map_err(compile_err)?);
    }
    Ok(out)
}

/// Other architectures have no table yet.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn compile(_caps: CapSet) -> Result<Vec<BpfProgram>> {
    Err(Error::Seccomp {
        reason: format!("no syscall table for {}", std::env::consts::ARCH),
    })
}

/// Installs `programs` in order on the calling thread. Without
/// `no_new_privs` this needs `CAP_SYS_ADMIN`, so it runs before the
/// credentials are dropped.
pub(crate) fn install(programs: &[BpfProgram]) -> std::result::Result<(), nix::errno::Errno> {
    for p in programs {
        let prog = libc::sock_fprog {
            len: p.len() as u16,
            filter: p.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: the kernel copies the program; `prog` points at live data.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            return Err(nix::errno::Errno::last());
        }
    }
    Ok(())
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_complete() {
        let names: Vec<&str> = ALLOWED.iter().map(|(n, _)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        let nr = |n: &str| ALLOWED.iter().find(|(x, _)| *x == n).map(|(_, nr)| *nr);
        assert_eq!(nr("read"), Some(libc::SYS_read));
        assert_eq!(nr("execve"), Some(libc::SYS_execve));
        assert_eq!(nr("setresuid"), Some(libc::SYS_setresuid));
        for banned in [
            "mount",
            "unshare",
            "setns",
            "keyctl",
            "add_key",
            "request_key",
            "reboot",
        ] {
            assert_eq!(nr(banned), None, "{banned} must not be allowed");
        }
        for (_, nrs) in BY_CAP {
            for n in *nrs {
                assert!(!ALLOWED.iter().any(|(_, x)| x == n), "{n} is cap-guarded");
            }
        }
    }

    #[test]
    fn compiles_with_and_without_sys_admin() {
        let def = compile(CapSet::docker_default()).unwrap();
        assert_eq!(def.len(), 2);
        let all = compile(CapSet::all(40)).unwrap();
        assert_eq!(all.len(), 1);
        // More allowed syscalls, more instructions; the default profile is
        // about 1600 instructions (seccompiler checks them one after another;
        // the kernel caches the verdicts of argument-free rules).
        assert!(
            all[0].len() > def[0].len(),
            "{} {}",
            all[0].len(),
            def[0].len()
        );
        assert!((1000..2500).contains(&def[0].len()), "{}", def[0].len());
    }
}
