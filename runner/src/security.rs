//! What a container may do: [`Security`] (Docker's defaults: 14
//! capabilities, the default seccomp profile, masked and read-only `/proc`
//! and `/sys` paths), resolved into a [`CapSet`] of capability bits.
//!
//! Build `RUN` steps use the same defaults, as BuildKit does.

use crate::error::{Error, Result};

/// Every capability the kernel knows, by number (`CAP_` prefix dropped).
const CAP_NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// Docker's default capabilities (moby `daemon/pkg/oci/caps/defaults.go`).
const DEFAULT_CAPS: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// A set of capabilities as a bit mask (bit N = capability number N), the
/// form `/proc/<pid>/status` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapSet(u64);

impl CapSet {
    /// Docker's 14 default capabilities (`00000000a80425fb`).
    pub fn docker_default() -> CapSet {
        CapSet(DEFAULT_CAPS.iter().fold(0, |m, n| m | bit(n)))
    }

    /// Every capability up to `last` (the kernel's `cap_last_cap`).
    pub fn all(last: u32) -> CapSet {
        let last = last.min(63);
        CapSet(if last == 63 {
            u64::MAX
        } else {
            (1u64 << (last + 1)) - 1
        })
    }

    /// The set with this mask.
    pub fn from_bits(bits: u64) -> CapSet {
        CapSet(bits)
    }

    /// Capabilities in both sets.
    pub fn intersect(self, other: CapSet) -> CapSet {
        CapSet(self.0 & other.0)
    }

    /// The mask.
    pub fn bits(self) -> u64 {
        self.0
    }

    /// Whether capability number `cap` is in the set.
    pub fn has(self, cap: u32) -> bool {
        cap < 64 && self.0 & (1 << cap) != 0
    }

    /// Whether the named capability (`SYS_ADMIN` or `CAP_SYS_ADMIN`) is in
    /// the set.
    pub fn has_named(self, name: &str) -> bool {
        cap_number(name).is_some_and(|n| self.has(n))
    }
}

fn bit(name: &str) -> u64 {
    cap_number(name).map_or(0, |n| 1 << n)
}

/// The number of a capability name, case-insensitive, with or without
/// `CAP_`.
pub(crate) fn cap_number(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    CAP_NAMES.iter().position(|c| *c == bare).map(|n| n as u32)
}

/// The security settings of a container or build step. The default is
/// Docker's: the 14 default capabilities, the default seccomp profile,
/// masked paths, no `no_new_privs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    /// Capabilities added to the defaults (`--cap-add`): names with or
    /// without `CAP_`, any case, or `ALL`.
    pub cap_add: Vec<String>,
    /// Capabilities removed from the defaults (`--cap-drop`), as above.
    pub cap_drop: Vec<String>,
    /// `--privileged`: every capability, no seccomp, no masked or read-only
    /// paths, `/sys` read-write and the host's devices.
    pub privileged: bool,
    /// Set `PR_SET_NO_NEW_PRIVS` (`--security-opt no-new-privileges`), so
    /// setuid binaries and file capabilities grant nothing.
    pub no_new_privs: bool,
    /// Apply Docker's default seccomp profile (`false` is
    /// `--security-opt seccomp=unconfined`).
    pub seccomp: bool,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            privileged: false,
            no_new_privs: false,
            seccomp: true,
        }
    }
}

impl Security {
    /// The resulting capability set, as moby's `TweakCapabilities`
    /// computes it; `last_cap` is the kernel's `cap_last_cap`. Unknown
    /// names are an error.
    pub fn capabilities(&self, last_cap: u32) -> Result<CapSet> {
        if self.privileged {
            return Ok(CapSet::all(last_cap));
        }
        let parse = |names: &[String]| -> Result<(bool, u64)> {
            let mut all = false;
            let mut mask = 0;
            for n in names {
                if n.eq_ignore_ascii_case("ALL") {
                    all = true;
                } else {
                    let num = cap_number(n)
                        .ok_or_else(|| Error::UnknownCapability { name: n.clone() })?;
                    mask |= 1 << num;
                }
            }
            Ok((all, mask))
        };
        let (add_all, add) = parse(&self.cap_add)?;
        let (drop_all, drop) = parse(&self.cap_drop)?;
        let all = CapSet::all(last_cap).0;
        let mask = if add_all {
            all & !drop
        } else if drop_all {
            add
        } else {
            (CapSet::docker_default().0 & !drop) | add
        };
        Ok(CapSet(mask & all))
    }

    /// Whether the seccomp profile applies.
    pub(crate) fn seccomp_on(&self) -> bool {
        self.seccomp && !self.privileged
    }
}

/// The kernel's highest capability number.
pub(crate) fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// Paths hidden from containers (moby `daemon/pkg/oci/defaults.go`):
/// files get `/dev/null` bound over them, directories an empty read-only
/// tmpfs.
pub(crate) const MASKED_PATHS: [&str; 12] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
];

/// Paths made read-only in containers.
pub(crate) const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn sec(add: &[&str], drop: &[&str]) -> Security {
        Security {
            cap_add: add.iter().map(|s| s.to_string()).collect(),
            cap_drop: drop.iter().map(|s| s.to_string()).collect(),
            ..Security::default()
        }
    }

    #[test]
    fn docker_default_mask() {
        assert_eq!(CapSet::docker_default().bits(), 0xa80425fb);
        assert_eq!(sec(&[], &[]).capabilities(40).unwrap().bits(), 0xa80425fb);
    }

    #[test]
    fn add_and_drop() {
        let c = sec(&["sys_admin"], &["CAP_NET_RAW", "chown"])
            .capabilities(40)
            .unwrap();
        assert!(c.has_named("SYS_ADMIN") && !c.has_named("NET_RAW") && !c.has_named("CHOWN"));
        assert_eq!(
            sec(&["NET_ADMIN"], &["ALL"])
                .capabilities(40)
                .unwrap()
                .bits(),
            1 << 12
        );
        let all = sec(&["ALL"], &["MKNOD"]).capabilities(40).unwrap();
        assert_eq!(all.bits(), ((1u64 << 41) - 1) & !(1 << 27));
        let p = Security {
            privileged: true,
            ..Security::default()
        };
        assert_eq!(p.capabilities(40).unwrap(), CapSet::all(40));
        assert!(matches!(
            sec(&["FLY"], &[]).capabilities(40),
            Err(Error::UnknownCapability { name }) if name == "FLY"
        ));
    }
}
