//! File-system building blocks shared by the store: advisory locks
//! ([`FileLock`], flock through std's `File::lock`), unique temporary names,
//! directory fsync, the locked temporary file ([`IngestFile`]) that every
//! write goes through, and tree removal for snapshots.
//!
//! All helpers return `io::Result`; the public operations wrap failures in
//! the [`crate::Error`] variant naming what they were doing.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// How a lock is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LockMode {
    Shared,
    Exclusive,
}

/// A held flock on an open file; released when dropped (the file is closed).
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
}

fn open_lock_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Blocks until `path` (created if missing) is locked in `mode`.
pub(crate) fn lock(path: &Path, mode: LockMode) -> io::Result<FileLock> {
    let file = open_lock_file(path)?;
    match mode {
        LockMode::Shared => file.lock_shared()?,
        LockMode::Exclusive => file.lock()?,
    }
    Ok(FileLock { _file: file })
}

/// Locks `path` in `mode` if nobody holds a conflicting lock; `None` otherwise.
pub(crate) fn try_lock(path: &Path, mode: LockMode) -> io::Result<Option<FileLock>> {
    let file = open_lock_file(path)?;
    try_lock_file(file, mode)
}

/// Like [`try_lock`] on an already opened file (also works on directories).
pub(crate) fn try_lock_file(file: File, mode: LockMode) -> io::Result<Option<FileLock>> {
    let result = match mode {
        LockMode::Shared => file.try_lock_shared(),
        LockMode::Exclusive => file.try_lock(),
    };
    match result {
        Ok(()) => Ok(Some(FileLock { _file: file })),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

/// A name no other process or thread will pick: pid, time and a counter.
pub(crate) fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}-{nanos}-{n}", std::process::id())
}

/// Flushes a directory's entries (after a rename or create) to disk.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A temporary file in `ingest/`, exclusively flocked by its writer for its
/// whole life so cleaners can tell it from a leftover of a dead process.
/// Removed on drop unless it was moved into place with [`IngestFile::persist`].
#[derive(Debug)]
pub(crate) struct IngestFile {
    path: PathBuf,
    file: BufWriter<File>,
    persisted: bool,
}

impl IngestFile {
    /// Creates and locks a new file in `dir`. The caller holds the gc lock
    /// shared, so no cleaner can see the file before it is locked.
    pub(crate) fn create(dir: &Path) -> io::Result<IngestFile> {
        loop {
            let path = dir.join(unique_name(""));
            let file = match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            };
            let file = BufWriter::with_capacity(64 * 1024, file);
            let ingest = IngestFile {
                path,
                file,
                persisted: false,
            };
            ingest.file.get_ref().lock()?;
            return Ok(ingest);
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes, fsyncs and makes the file read-only, ready to be renamed.
    pub(crate) fn seal(&mut self, mode: u32) -> io::Result<()> {
        self.file.flush()?;
        let file = self.file.get_ref();
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.sync_all()
    }

    /// Renames the file to `dest` and fsyncs `dest`'s directory.
    pub(crate) fn persist(mut self, dest: &Path) -> io::Result<()> {
        fs::rename(&self.path, dest)?;
        self.persisted = true;
        if let Some(parent) = dest.parent() {
            sync_dir(parent)?;
        }
        Ok(())
    }
}

impl Write for IngestFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for IngestFile {
    fn drop(&mut self) {
        if !self.persisted {
            // Best effort: a leftover is stale once unlocked and is swept later.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Writes `bytes` to `dest` atomically: a locked temp file in `ingest_dir`,
/// fsynced, renamed over `dest`, then the directory fsynced.
pub(crate) fn write_atomic(ingest_dir: &Path, dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = IngestFile::create(ingest_dir)?;
    tmp.write_all(bytes)?;
    tmp.seal(0o644)?;
    tmp.persist(dest)
}

/// Apparent size of a tree: the lengths of its regular files, links not followed.
pub(crate) fn tree_size(path: &Path) -> io::Result<u64> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return Ok(if meta.is_file() { meta.len() } else { 0 });
    }
    let mut total = 0;
    for entry in fs::read_dir(path)? {
        total += tree_size(&entry?.path())?;
    }
    Ok(total)
}

/// Removes a tree, first granting the owner write access to directories that
/// lack it (unpacked layers may contain read-only directories).
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            make_dirs_writable(path)?;
            fs::remove_dir_all(path)
        }
        Err(e) => Err(e),
    }
}

fn make_dirs_writable(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return Ok(());
    }
    let mode = meta.permissions().mode();
    if mode & 0o700 != 0o700 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode | 0o700))?;
    }
    for entry in fs::read_dir(path)? {
        make_dirs_writable(&entry?.path())?;
    }
    Ok(())
}

/// `true` when `e` means the path is simply absent.
pub(crate) fn is_not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}
