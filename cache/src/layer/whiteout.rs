//! OCI whiteouts and their overlayfs form.
//!
//! In a layer tar, `dir/.wh.NAME` deletes `NAME` from the layers below and
//! `dir/.wh..wh..opq` hides everything below `dir`. In an overlayfs upper
//! or lower directory the same facts are a character device 0:0 named
//! `NAME` and the xattr `trusted.overlay.opaque=y` on `dir`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// Prefix of whiteout entries in a layer tar.
pub(crate) const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// Prefix of whiteout meta entries (only the opaque marker is meaningful).
const META_PREFIX: &[u8] = b".wh..wh.";
/// The opaque-directory marker entry.
pub(crate) const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
/// The xattr overlayfs reads to treat a directory as opaque.
pub(crate) const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// Namespaces overlayfs keeps its own bookkeeping in; never packed.
const OVERLAY_XATTR_PREFIXES: [&str; 2] = ["trusted.overlay.", "user.overlay."];
/// Overlay features whose effects a plain tar cannot express.
pub(crate) const UNSUPPORTED_OVERLAY_XATTRS: [&str; 2] =
    ["trusted.overlay.redirect", "trusted.overlay.metacopy"];

/// What a file name in a layer tar means.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum EntryName<'a> {
    /// An ordinary file.
    Plain,
    /// `.wh.NAME`: `NAME` is deleted.
    Whiteout(&'a OsStr),
    /// `.wh..wh..opq`: the parent directory is opaque.
    Opaque,
    /// Another `.wh..wh.` meta entry (such as aufs' `.wh..wh.plnk`): ignored.
    Meta,
}

/// Classifies the last component of an entry's path.
pub(crate) fn classify(name: &OsStr) -> EntryName<'_> {
    let bytes = name.as_bytes();
    if bytes == OPAQUE_MARKER {
        EntryName::Opaque
    } else if bytes.starts_with(META_PREFIX) {
        EntryName::Meta
    } else if let Some(rest) = bytes.strip_prefix(WHITEOUT_PREFIX) {
        EntryName::Whiteout(OsStr::from_bytes(rest))
    } else {
        EntryName::Plain
    }
}

/// Whether an xattr is overlayfs bookkeeping rather than file content.
pub(crate) fn is_overlay_xattr(name: &[u8]) -> bool {
    OVERLAY_XATTR_PREFIXES
        .iter()
        .any(|p| name.starts_with(p.as_bytes()))
}

/// The tar name of a whiteout for `name`.
pub(crate) fn whiteout_name(name: &OsStr) -> Vec<u8> {
    let mut out = WHITEOUT_PREFIX.to_vec();
    out.extend_from_slice(name.as_bytes());
    out
}
