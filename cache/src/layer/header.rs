//! Deterministic tar headers: ustar with numeric ids and empty user and
//! group names, and a PAX extended header only for what ustar cannot hold
//! (long or non-ASCII names, large ids, sizes or times, xattrs), with its
//! records sorted by key.

use std::io::{self, Read, Write};

use tar::{EntryType, Header};

/// Largest value of an 8-byte octal field (uid, gid, device numbers).
const MAX_OCTAL_8: u64 = 0o7777777;
/// Largest value of a 12-byte octal field (size, mtime).
const MAX_OCTAL_12: u64 = 0o77777777777;
/// PAX key prefix for extended attributes (as GNU tar and Go write them).
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";

/// One tar entry's metadata, ready to be written.
#[derive(Debug)]
pub(crate) struct EntryMeta {
    /// Path in the tar (directories end in `/`).
    pub(crate) path: Vec<u8>,
    pub(crate) kind: EntryType,
    /// Permission bits with setuid, setgid and sticky.
    pub(crate) mode: u32,
    pub(crate) uid: u64,
    pub(crate) gid: u64,
    /// Seconds since the epoch, already clamped.
    pub(crate) mtime: i64,
    pub(crate) size: u64,
    /// Symlink target or hardlink source path.
    pub(crate) link: Option<Vec<u8>>,
    pub(crate) device: (u32, u32),
    /// Sorted by name.
    pub(crate) xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Writes `meta`'s header (preceded by a PAX header when needed) and `data`.
pub(crate) fn append<W: Write>(
    builder: &mut tar::Builder<W>,
    meta: &EntryMeta,
    data: impl Read,
) -> io::Result<()> {
    let mut pax: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut header = Header::new_ustar();
    header.set_entry_type(meta.kind);
    header.set_mode(meta.mode);
    header.set_device_major(meta.device.0)?;
    header.set_device_minor(meta.device.1)?;

    for (key, value, field) in [("uid", meta.uid, 0), ("gid", meta.gid, 1)] {
        let fits = value <= MAX_OCTAL_8;
        if !fits {
            pax.push((key.into(), value.to_string().into_bytes()));
        }
        let value = if fits { value } else { 0 };
        if field == 0 {
            header.set_uid(value);
        } else {
            header.set_gid(value);
        }
    }
    if meta.size <= MAX_OCTAL_12 {
        header.set_size(meta.size);
    } else {
        header.set_size(0);
        pax.push((b"size".to_vec(), meta.size.to_string().into_bytes()));
    }
    match u64::try_from(meta.mtime) {
        Ok(t) if t <= MAX_OCTAL_12 => header.set_mtime(t),
        _ => {
            header.set_mtime(0);
            pax.push((b"mtime".to_vec(), meta.mtime.to_string().into_bytes()));
        }
    }

    let ustar = header.as_ustar_mut().expect("a ustar header");
    if !set_name(&mut ustar.name, &mut ustar.prefix, &meta.path) {
        pax.push((b"path".to_vec(), meta.path.clone()));
    }
    if let Some(link) = &meta.link {
        if link.len() <= ustar.linkname.len() && link.is_ascii() {
            ustar.linkname[..link.len()].copy_from_slice(link);
        } else {
            let n = link.len().min(ustar.linkname.len());
            ustar.linkname[..n].copy_from_slice(&link[..n]);
            pax.push((b"linkpath".to_vec(), link.clone()));
        }
    }
    for (name, value) in &meta.xattrs {
        let mut key = PAX_XATTR_PREFIX.as_bytes().to_vec();
        key.extend_from_slice(name);
        pax.push((key, value.clone()));
    }
    header.set_cksum();

    if !pax.is_empty() {
        pax.sort();
        append_pax(builder, &meta.path, &pax)?;
    }
    builder.append(&header, data)
}

/// Fills ustar's name and prefix fields; `false` when the path needs PAX
/// (too long to split, or not ASCII), in which case a truncated name is
/// still written for readers without PAX support.
fn set_name(name: &mut [u8; 100], prefix: &mut [u8; 155], path: &[u8]) -> bool {
    if path.len() <= name.len() {
        name[..path.len()].copy_from_slice(path);
        return path.is_ascii();
    }
    // Split at a '/' so the prefix holds the parents; skip a trailing one.
    let body = path.strip_suffix(b"/").unwrap_or(path);
    for (i, _) in body.iter().enumerate().filter(|(_, &b)| b == b'/') {
        let (head, tail) = (&path[..i], &path[i + 1..]);
        if head.len() <= prefix.len() && tail.len() <= name.len() && !tail.is_empty() {
            prefix[..head.len()].copy_from_slice(head);
            name[..tail.len()].copy_from_slice(tail);
            return path.is_ascii();
        }
    }
    let n = name.len();
    name.copy_from_slice(&path[..n]);
    false
}

/// Writes a PAX extended header ('x') holding `records`.
fn append_pax<W: Write>(
    builder: &mut tar::Builder<W>,
    path: &[u8],
    records: &[(Vec<u8>, Vec<u8>)],
) -> io::Result<()> {
    let mut data = Vec::new();
    for (key, value) in records {
        data.extend_from_slice(&pax_record(key, value));
    }
    let mut header = Header::new_ustar();
    header.set_entry_type(EntryType::XHeader);
    header.set_mode(0o644);
    header.set_size(data.len() as u64);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    // The name is informative only; this is the form Go's archive/tar uses.
    let trimmed = path.strip_suffix(b"/").unwrap_or(path);
    let base = trimmed.rsplit(|&b| b == b'/').next().unwrap_or(trimmed);
    let mut name = b"PaxHeaders.0/".to_vec();
    name.extend(base.iter().copied().filter(u8::is_ascii));
    name.truncate(100);
    let ustar = header.as_ustar_mut().expect("a ustar header");
    ustar.name[..name.len()].copy_from_slice(&name);
    header.set_cksum();
    builder.append(&header, data.as_slice())
}

/// One `"<len> <key>=<value>\n"` record, whose length counts its own digits.
fn pax_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let base = key.len() + value.len() + 3;
    let mut len = base + base.to_string().len();
    if len.to_string().len() > base.to_string().len() {
        len += 1;
    }
    let mut out = format!("{len} ").into_bytes();
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        assert_eq!(pax_record(b"path", b"abc"), b"12 path=abc\n");
        // Around the point where the length gains a digit.
        for n in 85..100 {
            let rec = pax_record(b"path", &vec![b'x'; n]);
            let text = String::from_utf8(rec.clone()).unwrap();
            let (len, _) = text.split_once(' ').unwrap();
            assert_eq!(len.parse::<usize>().unwrap(), rec.len(), "{n}");
        }
    }

    #[test]
    fn long_paths_split_at_a_slash() {
        let (mut name, mut prefix) = ([0u8; 100], [0u8; 155]);
        let path = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        assert!(set_name(&mut name, &mut prefix, path.as_bytes()));
        assert_eq!(&prefix[..120], "d".repeat(120).as_bytes());
        assert_eq!(&name[..50], "f".repeat(50).as_bytes());
        let (mut name, mut prefix) = ([0u8; 100], [0u8; 155]);
        assert!(!set_name(
            &mut name,
            &mut prefix,
            "x".repeat(300).as_bytes()
        ));
    }
}
