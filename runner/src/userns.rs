//! User namespaces: the parent writes the id maps of the intermediate's
//! new user namespace (directly as root, through Debian's `newuidmap` and
//! `newgidmap` from the `uidmap` package otherwise, which check
//! `/etc/subuid` and `/etc/subgid`), then lets it continue.
//!
//! Image files keep their host owners: with a remap they show up as
//! `nobody` unless the layers (and the upper and work dirs) are owned by
//! the mapped ids, as Docker's `userns-remap` prepares its own copies of
//! the layers. The runtime directory is made world-readable so the mapped
//! root can mount from it.

use std::os::fd::OwnedFd;
use std::process::Command;

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::error::{Error, Result, Stage};
use crate::spec::{IdMapping, IdRange};

/// Waits for the child's request, writes the maps, answers 1 (go on) or 0
/// (give up). A child that died first is not an error here: its report
/// says why.
pub(crate) fn write_maps(sock: &OwnedFd, pid: Pid, map: &IdMapping) -> Result<()> {
    let mut byte = [0u8];
    match nix::unistd::read(sock, &mut byte) {
        Ok(1) => {}
        _ => return Ok(()),
    }
    let result = if nix::unistd::geteuid().is_root() {
        write_direct(pid, map)
    } else {
        write_helpers(pid, map)
    };
    let answer = [u8::from(result.is_ok())];
    let _ = nix::unistd::write(sock, &answer);
    result
}

fn map_err(detail: String, errno: Errno) -> Error {
    Error::Setup {
        stage: Stage::UserNamespace,
        detail,
        errno,
    }
}

fn write_direct(pid: Pid, map: &IdMapping) -> Result<()> {
    for (file, ranges) in [("uid_map", &map.uids), ("gid_map", &map.gids)] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, IdMapping::map_text(ranges))
            .map_err(|e| map_err(path, Errno::from_raw(e.raw_os_error().unwrap_or(0))))?;
    }
    Ok(())
}

fn write_helpers(pid: Pid, map: &IdMapping) -> Result<()> {
    for (tool, ranges) in [("newuidmap", &map.uids), ("newgidmap", &map.gids)] {
        let args = helper_args(pid.as_raw(), ranges);
        let out = Command::new(tool).args(&args).output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                let msg = String::from_utf8_lossy(&o.stderr).trim().to_owned();
                return Err(map_err(format!("{tool}: {msg}"), Errno::EPERM));
            }
            Err(e) => {
                return Err(map_err(
                    format!("{tool} (install Debian's uidmap)"),
                    Errno::from_raw(e.raw_os_error().unwrap_or(0)),
                ))
            }
        }
    }
    Ok(())
}

/// `newuidmap PID inside outside count ...`.
fn helper_args(pid: i32, ranges: &[IdRange]) -> Vec<String> {
    let mut args = vec![pid.to_string()];
    for r in ranges {
        args.extend([r.container, r.host, r.size].map(|n| n.to_string()));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_text_and_helper_args() {
        let m = IdMapping {
            uids: vec![
                IdRange {
                    container: 0,
                    host: 1000,
                    size: 1,
                },
                IdRange {
                    container: 1,
                    host: 100000,
                    size: 65536,
                },
            ],
            gids: vec![],
        };
        assert_eq!(IdMapping::map_text(&m.uids), "0 1000 1\n1 100000 65536\n");
        assert_eq!(
            helper_args(42, &m.uids),
            ["42", "0", "1000", "1", "1", "100000", "65536"]
        );
        assert_eq!(m.host_uid(0), Some(1000));
        assert_eq!(m.host_uid(5), Some(100004));
        assert_eq!(m.host_uid(70000), None);
    }
}
