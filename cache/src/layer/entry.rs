//! What a tar entry says, made safe to act on: its path normalized
//! ([`normalize`]) and its owner, mode, mtime and xattrs ([`Meta`]) read
//! from the header and its PAX records.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rustix::fs::{Gid, Uid};

/// PAX keys carrying extended attributes (GNU tar and Go's archive/tar).
const PAX_XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";

/// Owner, mode and time of one entry, from its header and PAX records.
pub(crate) struct Meta {
    pub(crate) uid: u64,
    pub(crate) gid: u64,
    pub(crate) mode: u32,
    pub(crate) mtime: i64,
    pub(crate) xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A tar path made relative and free of `.` and `..`; `None` if it is
/// absolute or climbs above the root.
pub(crate) fn normalize(raw: &[u8]) -> Option<PathBuf> {
    if raw.starts_with(b"/") {
        return None;
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.iter().map(|p| OsStr::from_bytes(p)).collect())
}

/// The entry's owner as kernel ids; ids above 32 bits are refused.
pub(crate) fn ids(meta: &Meta) -> io::Result<(Uid, Gid)> {
    let id = |n: u64| {
        u32::try_from(n).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "id out of range"))
    };
    Ok((Uid::from_raw(id(meta.uid)?), Gid::from_raw(id(meta.gid)?)))
}

/// Reads an entry's metadata; a PAX `mtime` overrides the header's.
pub(crate) fn read_meta<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Meta> {
    let header = entry.header();
    let old = header.as_old();
    let mut meta = Meta {
        uid: lenient(header.uid(), &old.uid)?,
        gid: lenient(header.gid(), &old.gid)?,
        mode: lenient(header.mode().map(u64::from), &old.mode)? as u32 & 0o7777,
        mtime: i64::try_from(lenient(header.mtime(), &old.mtime)?).unwrap_or(i64::MAX),
        xattrs: Vec::new(),
    };
    if let Some(pax) = entry.pax_extensions()? {
        for ext in pax {
            let ext = ext?;
            let key = ext.key_bytes();
            if let Some(name) = key.strip_prefix(PAX_XATTR_PREFIX) {
                meta.xattrs
                    .push((name.to_vec(), ext.value_bytes().to_vec()));
            } else if key == b"mtime" {
                // Whole seconds only: "1700000000.25" and "-5" both occur.
                let text = String::from_utf8_lossy(ext.value_bytes());
                let secs = text.split('.').next().unwrap_or("");
                if let Ok(secs) = secs.parse::<i64>() {
                    meta.mtime = secs;
                }
            }
        }
    }
    Ok(meta)
}

/// A numeric header field, reading a blank one as 0 as Go's archive/tar
/// does (some image tools leave ids blank).
fn lenient(parsed: io::Result<u64>, raw: &[u8]) -> io::Result<u64> {
    match parsed {
        Err(_) if raw.iter().all(|&b| b == 0 || b == b' ') => Ok(0),
        other => other,
    }
}
