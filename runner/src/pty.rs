//! Pseudo-terminals for [`crate::Stdio::Pty`]. The child opens the pair
//! from the container's own `/dev/pts` instance (so the command sees
//! `/dev/pts/0`), sends the master back over a Unix socket with
//! `SCM_RIGHTS`, and makes the slave its controlling terminal and standard
//! streams. [`resize_pty`] sets the window size on the master.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair as nix_socketpair, AddressFamily, ControlMessage,
    ControlMessageOwned, MsgFlags, SockFlag, SockType,
};

use crate::error::{Error, Result};

/// A connected pair of close-on-exec Unix sockets: (parent end, child end).
pub(crate) fn socketpair() -> Result<(OwnedFd, OwnedFd)> {
    nix_socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|errno| Error::Sys {
        action: "socketpair",
        errno,
    })
}

/// Receives the master the child sent; it was queued before the child's
/// exec, so this does not block.
pub(crate) fn receive(sock: &OwnedFd) -> Result<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!(RawFd);
    let err = |errno| Error::Sys {
        action: "receive pty master",
        errno,
    };
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(err)?;
    for c in msg.cmsgs().map_err(err)? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just installed this descriptor for us.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err(err(Errno::EBADMSG))
}

/// In the child, after the new root is in place: opens a pty pair from
/// `/dev/ptmx`, sends the master over `sock`, and returns the slave.
pub(crate) fn open_and_send(sock: RawFd) -> std::result::Result<OwnedFd, Errno> {
    // SAFETY: plain open(2) of a NUL-terminated path.
    let raw = unsafe {
        libc::open(
            c"/dev/ptmx".as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if raw < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fresh descriptor.
    let master = unsafe { OwnedFd::from_raw_fd(raw) };
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int; TIOCGPTPEER opens the slave of this
    // master's own devpts instance (no path lookup that could be raced).
    let slave = unsafe {
        if libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) < 0 {
            return Err(Errno::last());
        }
        let fd = libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY,
        );
        if fd < 0 {
            return Err(Errno::last());
        }
        OwnedFd::from_raw_fd(fd)
    };
    let fds = [master.as_raw_fd()];
    let iov = [IoSlice::new(b"m")];
    sendmsg::<()>(
        sock,
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    Ok(slave)
}

/// Makes `slave` the controlling terminal of a new session and the
/// standard streams, owned by `uid`.
pub(crate) fn become_controlling(
    slave: OwnedFd,
    uid: u32,
    gid: u32,
) -> std::result::Result<(), Errno> {
    nix::unistd::setsid()?;
    // SAFETY: ioctl and dup2 on descriptors this process owns.
    unsafe {
        if libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) < 0 {
            return Err(Errno::last());
        }
        // The terminal belongs to the command's user, as runc does.
        if libc::fchown(slave.as_raw_fd(), uid, gid) < 0 {
            return Err(Errno::last());
        }
        for target in 0..3 {
            if libc::dup2(slave.as_raw_fd(), target) < 0 {
                return Err(Errno::last());
            }
        }
    }
    Ok(())
}

/// Sets the window size of the terminal behind `fd` (the master), which
/// sends `SIGWINCH` to its foreground process group.
pub fn resize_pty(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize we own.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(Error::Sys {
            action: "resize terminal",
            errno: Errno::last(),
        });
    }
    Ok(())
}
