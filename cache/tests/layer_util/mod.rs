//! Helpers for the layer tests: a sample tree exercising every file kind,
//! a textual description of a tree to compare two of them, and a builder
//! of raw (possibly malicious) tar archives.

#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, Timespec, Timestamps, CWD};

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Sets mtime (and atime) of `path` without following symlinks.
pub fn set_times(path: &Path, mtime: i64, atime: i64) {
    let ts = |s| Timespec {
        tv_sec: s,
        tv_nsec: 0,
    };
    let times = Timestamps {
        last_access: ts(atime),
        last_modification: ts(mtime),
    };
    rfs::utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW).unwrap();
}

/// One item of the sample tree, created in list order (or reversed).
enum Item {
    Dir(&'static str, u32),
    File(&'static str, u32, &'static [u8]),
    Symlink(&'static str, &'static str),
    Hardlink(&'static str, &'static str),
    Fifo(&'static str),
}

const ITEMS: &[Item] = &[
    Item::Dir("bin", 0o755),
    Item::File("bin/tool", 0o4755, b"#!/bin/sh\necho tool\n"),
    Item::Dir("etc", 0o755),
    Item::File("etc/hosts", 0o644, b"127.0.0.1 localhost\n"),
    Item::File("etc/shadow", 0o600, b"root:*:1::::::\n"),
    Item::File("etc/empty", 0o444, b""),
    Item::Dir("tmp", 0o1777),
    Item::Dir("ro", 0o555),
    Item::File("ro/inner", 0o644, b"inside a read-only dir"),
    Item::Symlink("bin/sh", "tool"),
    Item::Symlink("abs-link", "/etc/hosts"),
    Item::Symlink("dangling", "../nowhere/at/all"),
    Item::Hardlink("bin/tool-again", "bin/tool"),
    Item::Fifo("tmp/pipe"),
    Item::Dir("deep", 0o750),
    Item::Dir("deep/a-long-directory-name-to-push-paths-past-one-hundred-bytes", 0o755),
    Item::File(
        "deep/a-long-directory-name-to-push-paths-past-one-hundred-bytes/and-a-long-file-name-too-so-pax-or-prefix-is-needed.txt",
        0o644,
        b"long",
    ),
    Item::File("big", 0o644, &[7u8; 70_000]),
    // Needs PAX: a non-ASCII name, a target over 100 bytes, a path over 255.
    Item::File("unicode-\u{e9}t\u{e9}", 0o644, b"accent"),
    Item::Symlink(
        "long-target",
        "/a/symlink/target/that/is/longer/than/the/one/hundred/bytes/a/ustar/header/has/room/for/in/its/linkname/field",
    ),
    Item::File(
        "deep/a-long-directory-name-to-push-paths-past-one-hundred-bytes/a-file-name-so-long-that-no-split-into-prefix-and-name-fits-the-ustar-header-fields-which-hold-one-hundred-and-one-hundred-fifty-five-bytes-so-this-one-needs-a-pax-path-record",
        0o640,
        b"pax",
    ),
];

/// Builds the sample tree in `dir` (which must exist). `reverse` creates
/// the items in another order (so inode numbers and directory order
/// differ) and `atime` varies access times; neither may show in a layer.
pub fn sample_tree(dir: &Path, reverse: bool, atime: i64) {
    let mut order: Vec<usize> = (0..ITEMS.len()).collect();
    if reverse {
        // Parents must exist first: dirs forwards, then files backwards,
        // then hardlinks (their targets must exist).
        order.reverse();
        order.sort_by_key(|&i| match ITEMS[i] {
            Item::Dir(..) => (0, i),
            Item::Hardlink(..) => (2, 0),
            _ => (1, 0),
        });
    }
    for &i in &order {
        match &ITEMS[i] {
            Item::Dir(p, _) => fs::create_dir(dir.join(p)).unwrap(),
            Item::File(p, _, content) => fs::write(dir.join(p), content).unwrap(),
            Item::Symlink(p, target) => std::os::unix::fs::symlink(target, dir.join(p)).unwrap(),
            Item::Hardlink(p, target) => fs::hard_link(dir.join(target), dir.join(p)).unwrap(),
            Item::Fifo(p) => rfs::mknodat(
                CWD,
                dir.join(p),
                rfs::FileType::Fifo,
                rfs::Mode::from_raw_mode(0o640),
                0,
            )
            .unwrap(),
        }
    }
    if is_root() {
        rfs::mknodat(
            CWD,
            dir.join("null"),
            rfs::FileType::CharacterDevice,
            rfs::Mode::from_raw_mode(0o666),
            rfs::makedev(1, 3),
        )
        .unwrap();
        rfs::chownat(
            CWD,
            dir.join("etc/shadow"),
            Some(rfs::Uid::from_raw(1000)),
            Some(rfs::Gid::from_raw(42)),
            AtFlags::empty(),
        )
        .unwrap();
        // Too large for ustar's octal field: a PAX uid record.
        rfs::chownat(
            CWD,
            dir.join("big"),
            Some(rfs::Uid::from_raw(3_000_000)),
            Some(rfs::Gid::from_raw(3_000_001)),
            AtFlags::empty(),
        )
        .unwrap();
        rfs::chownat(
            CWD,
            dir.join("abs-link"),
            Some(rfs::Uid::from_raw(7)),
            Some(rfs::Gid::from_raw(8)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
    }
    // tmpfs and most disks take user xattrs; a refusal just leaves it out.
    let _ = rfs::lsetxattr(
        dir.join("etc/hosts"),
        "user.rdock.test",
        b"v\0binary",
        rfs::XattrFlags::empty(),
    );
    // Modes after content (setuid is cleared by writes and chown).
    for item in ITEMS {
        match item {
            Item::Dir(p, mode) | Item::File(p, mode, _) => {
                fs::set_permissions(dir.join(p), fs::Permissions::from_mode(*mode)).unwrap()
            }
            _ => {}
        }
    }
    // Times last, deepest first, each path its own mtime.
    let mut paths = all_paths(dir);
    paths.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in paths {
        let mtime = 1_600_000_000 + (p.as_os_str().len() as i64) * 1000;
        set_times(&dir.join(&p), mtime, atime);
    }
}

fn all_paths(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![std::path::PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let mut entries: Vec<_> = fs::read_dir(dir.join(&rel))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        entries.sort();
        for name in entries {
            let child = rel.join(name);
            if fs::symlink_metadata(dir.join(&child)).unwrap().is_dir() {
                stack.push(child.clone());
            }
            out.push(child);
        }
    }
    out.sort();
    out
}

/// One line per file under `dir` (the root itself left out): kind, mode,
/// owner, size, content, link target or device, mtime, xattrs, and which
/// files share an inode.
pub fn describe(dir: &Path) -> Vec<String> {
    let mut inodes: HashMap<u64, String> = HashMap::new();
    let mut out = Vec::new();
    for rel in all_paths(dir) {
        let path = dir.join(&rel);
        let meta = fs::symlink_metadata(&path).unwrap();
        let ft = meta.file_type();
        let detail = if ft.is_dir() {
            "dir".to_string()
        } else if ft.is_symlink() {
            format!("symlink -> {}", fs::read_link(&path).unwrap().display())
        } else if ft.is_file() {
            let content = fs::read(&path).unwrap();
            format!(
                "file {} bytes {}",
                content.len(),
                rdock_cache::Digest::sha256(&content)
            )
        } else if ft.is_fifo() {
            "fifo".to_string()
        } else {
            let kind = if ft.is_char_device() { "char" } else { "block" };
            format!(
                "{kind} {}:{}",
                rfs::major(meta.rdev()),
                rfs::minor(meta.rdev())
            )
        };
        let link = if !ft.is_dir() && meta.nlink() > 1 {
            let first = inodes
                .entry(meta.ino())
                .or_insert_with(|| rel.display().to_string());
            format!(" inode-of {first}")
        } else {
            String::new()
        };
        let mode = if ft.is_symlink() {
            0
        } else {
            meta.mode() & 0o7777
        };
        out.push(format!(
            "{} {detail} mode {mode:o} owner {}:{} mtime {}{link}{}",
            rel.display(),
            meta.uid(),
            meta.gid(),
            meta.mtime(),
            xattrs(&path),
        ));
    }
    out
}

fn xattrs(path: &Path) -> String {
    let mut buf = vec![0u8; 4096];
    let n = rfs::llistxattr(path, &mut buf[..]).unwrap_or(0);
    let mut names: Vec<Vec<u8>> = buf[..n]
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty() && !n.starts_with(b"security.selinux"))
        .map(<[u8]>::to_vec)
        .collect();
    names.sort();
    let mut out = String::new();
    for name in names {
        let mut value = vec![0u8; 4096];
        let name_os = std::ffi::OsStr::from_bytes(&name);
        let n = rfs::lgetxattr(path, name_os, &mut value[..]).unwrap();
        out.push_str(&format!(
            " xattr {}={:?}",
            String::from_utf8_lossy(&name),
            &value[..n]
        ));
    }
    out
}

/// A raw tar entry: name and link name are written as given, unchecked.
pub struct Raw<'a> {
    pub name: &'a [u8],
    pub kind: u8,
    pub link: &'a [u8],
    pub content: &'a [u8],
}

impl<'a> Raw<'a> {
    pub fn file(name: &'a str, content: &'a [u8]) -> Raw<'a> {
        Raw {
            name: name.as_bytes(),
            kind: b'0',
            link: b"",
            content,
        }
    }
    pub fn dir(name: &'a str) -> Raw<'a> {
        Raw {
            name: name.as_bytes(),
            kind: b'5',
            link: b"",
            content: b"",
        }
    }
    pub fn symlink(name: &'a str, target: &'a str) -> Raw<'a> {
        Raw {
            name: name.as_bytes(),
            kind: b'2',
            link: target.as_bytes(),
            content: b"",
        }
    }
    pub fn hardlink(name: &'a str, target: &'a str) -> Raw<'a> {
        Raw {
            name: name.as_bytes(),
            kind: b'1',
            link: target.as_bytes(),
            content: b"",
        }
    }
}

/// A ustar archive of `entries`, bypassing the tar crate's path checks.
pub fn raw_tar(entries: &[Raw<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(e.content.len() as u64);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(tar::EntryType::new(e.kind));
        let u = h.as_ustar_mut().unwrap();
        u.name[..e.name.len()].copy_from_slice(e.name);
        u.linkname[..e.link.len()].copy_from_slice(e.link);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(e.content);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}
