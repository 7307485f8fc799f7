//! The container store under the store root:
//!
//! ```text
//! containers/<id>/config.json     what to run (ContainerConfig), written once
//! containers/<id>/state.json      Status, pids, exit code, times (State)
//! containers/<id>/<id>-json.log   output in docker's json-file format
//! containers/<id>/upper, work     the writable overlay layer
//! containers/<id>/lock            flocked around each state update
//! containers/<id>/monitor.lock    flocked by the live monitor process
//! containers/.names/<name>        symlink to the ID: names are unique
//! ```
//!
//! Files are written to a temporary name and renamed into place, so a
//! killed process never leaves half a file. A container whose
//! `monitor.lock` can be taken has no live monitor: it is shown as exited.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::config::{ContainerConfig, State, Status};
use super::error::{ContainerError, Result};
use super::id::{ContainerId, ContainerName};

pub(crate) const CONTAINERS_DIR: &str = "containers";
const NAMES_DIR: &str = ".names";

pub(crate) fn io(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> ContainerError {
    let path = path.to_owned();
    move |source| ContainerError::Io {
        action,
        path,
        source,
    }
}

/// The containers of one store root.
#[derive(Clone, Debug)]
pub(crate) struct Containers {
    dir: PathBuf,
}

/// One container's folder.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub(crate) id: ContainerId,
    pub(crate) dir: PathBuf,
}

impl Containers {
    pub(crate) fn new(root: &Path) -> Containers {
        Containers {
            dir: root.join(CONTAINERS_DIR),
        }
    }

    fn names_dir(&self) -> PathBuf {
        self.dir.join(NAMES_DIR)
    }

    pub(crate) fn slot(&self, id: &ContainerId) -> Slot {
        Slot {
            id: id.clone(),
            dir: self.dir.join(id.as_str()),
        }
    }

    /// Creates the folder of a new container with a fresh ID and claims
    /// its name (the given one, or a random free one).
    pub(crate) fn create(&self, name: Option<&ContainerName>) -> Result<(Slot, ContainerName)> {
        let names = self.names_dir();
        fs::create_dir_all(&names).map_err(io("creating", &names))?;
        let id = ContainerId::random()?;
        let slot = self.slot(&id);
        fs::create_dir(&slot.dir).map_err(io("creating", &slot.dir))?;
        let claimed = match name {
            Some(n) => self.claim(n, &id).map(|()| n.clone()),
            None => loop {
                let n = ContainerName::random()?;
                match self.claim(&n, &id) {
                    Err(ContainerError::NameInUse { .. }) => continue,
                    other => break other.map(|()| n),
                }
            },
        };
        match claimed {
            Ok(n) => Ok((slot, n)),
            Err(e) => {
                let _ = fs::remove_dir_all(&slot.dir);
                Err(e)
            }
        }
    }

    /// Atomically links `name` to `id`; a link to a container that is gone
    /// (left by a crash) is replaced.
    fn claim(&self, name: &ContainerName, id: &ContainerId) -> Result<()> {
        let link = self.names_dir().join(name.as_str());
        for _ in 0..2 {
            match std::os::unix::fs::symlink(id.as_str(), &link) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = fs::read_link(&link).map_err(io("reading", &link))?;
                    let owner = owner.to_string_lossy().into_owned();
                    if self.dir.join(&owner).join("config.json").exists() {
                        return Err(ContainerError::NameInUse {
                            name: name.to_string(),
                            id: owner,
                        });
                    }
                    let _ = fs::remove_file(&link);
                }
                Err(e) => return Err(io("creating", &link)(e)),
            }
        }
        Err(ContainerError::NameInUse {
            name: name.to_string(),
            id: String::new(),
        })
    }

    pub(crate) fn release_name(&self, name: &str, id: &ContainerId) {
        let link = self.names_dir().join(name);
        if fs::read_link(&link).is_ok_and(|t| t.as_os_str() == id.as_str()) {
            let _ = fs::remove_file(&link);
        }
    }

    /// Every container, in no particular order.
    pub(crate) fn list(&self) -> Result<Vec<Slot>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("reading", &self.dir)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io("reading", &self.dir))?;
            if let Ok(id) = entry.file_name().to_string_lossy().parse::<ContainerId>() {
                out.push(self.slot(&id));
            }
        }
        Ok(out)
    }

    /// Finds a container as docker does: full ID, then name, then a unique
    /// ID prefix.
    pub(crate) fn resolve(&self, text: &str) -> Result<Slot> {
        if let Ok(id) = text.parse::<ContainerId>() {
            let slot = self.slot(&id);
            if slot.config_path().exists() {
                return Ok(slot);
            }
        }
        let name = text.strip_prefix('/').unwrap_or(text);
        if !name.is_empty() && !name.contains(['/', '\0']) {
            if let Ok(target) = fs::read_link(self.names_dir().join(name)) {
                if let Ok(id) = target.to_string_lossy().parse::<ContainerId>() {
                    let slot = self.slot(&id);
                    if slot.config_path().exists() {
                        return Ok(slot);
                    }
                }
            }
        }
        let is_hex =
            !text.is_empty() && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if is_hex {
            let found: Vec<Slot> = self
                .list()?
                .into_iter()
                .filter(|s| s.id.as_str().starts_with(text) && s.config_path().exists())
                .collect();
            match found.len() {
                0 => {}
                1 => return Ok(found.into_iter().next().expect("one")),
                _ => return Err(ContainerError::AmbiguousContainer(text.to_owned())),
            }
        }
        Err(ContainerError::ContainerNotFound(text.to_owned()))
    }
}

impl Slot {
    /// The store root this container belongs to.
    pub(crate) fn root(&self) -> &Path {
        let containers = self.dir.parent().unwrap_or(&self.dir);
        containers.parent().unwrap_or(containers)
    }

    pub(crate) fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    pub(crate) fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    pub(crate) fn log_path(&self) -> PathBuf {
        self.dir.join(format!("{}-json.log", self.id))
    }

    pub(crate) fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    pub(crate) fn work(&self) -> PathBuf {
        self.dir.join("work")
    }

    pub(crate) fn read_config(&self) -> Result<ContainerConfig> {
        read_json(&self.config_path())
    }

    pub(crate) fn write_config(&self, config: &ContainerConfig) -> Result<()> {
        write_json(&self.config_path(), config)
    }

    /// The recorded state, corrected for a monitor that died: a container
    /// shown running without a live monitor has exited.
    pub(crate) fn read_state(&self) -> Result<State> {
        let mut state: State = match read_json(&self.state_path()) {
            Err(ContainerError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                State::default()
            }
            other => other?,
        };
        if matches!(state.status, Status::Running | Status::Restarting) && !self.monitor_alive() {
            state.status = Status::Exited;
            state.pid = 0;
            if state.exit_code.is_none() {
                state.exit_code = Some(255);
                state.error = "the container's monitor process died".to_owned();
            }
        }
        Ok(state)
    }

    /// Reads, changes and writes the state under the container's lock.
    pub(crate) fn update_state(&self, f: impl FnOnce(&mut State)) -> Result<State> {
        let _lock = self.lock("lock")?;
        let mut state: State = match read_json(&self.state_path()) {
            Err(ContainerError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                State::default()
            }
            other => other?,
        };
        f(&mut state);
        write_json(&self.state_path(), &state)?;
        Ok(state)
    }

    /// Takes an exclusive flock on `<dir>/<name>`, waiting for it.
    pub(crate) fn lock(&self, name: &str) -> Result<File> {
        let path = self.dir.join(name);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("opening", &path))?;
        file.lock().map_err(io("locking", &path))?;
        Ok(file)
    }

    /// Takes the monitor lock without waiting: `None` when a monitor holds it.
    pub(crate) fn try_monitor_lock(&self) -> Result<Option<File>> {
        let path = self.dir.join("monitor.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("opening", &path))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(io("locking", &path)(e)),
        }
    }

    pub(crate) fn monitor_alive(&self) -> bool {
        matches!(self.try_monitor_lock(), Ok(None))
    }
}

pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = fs::read(path).map_err(io("reading", path))?;
    serde_json::from_slice(&bytes).map_err(|source| ContainerError::Parse {
        path: path.to_owned(),
        source,
    })
}

/// Writes `value` beside `path` and renames it into place (no fsync: a
/// container's state is worth less than its start-up time).
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value).expect("container JSON serializes");
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut f = File::create(&tmp).map_err(io("creating", &tmp))?;
    f.write_all(&bytes).map_err(io("writing", &tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io("renaming", &tmp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(c: &Containers, name: Option<&str>) -> (Slot, ContainerName) {
        let name = name.map(|n| n.parse().unwrap());
        let (slot, name) = c.create(name.as_ref()).unwrap();
        // A container counts once its config exists.
        fs::write(slot.config_path(), "{}").unwrap();
        (slot, name)
    }

    #[test]
    fn resolves_ids_names_and_prefixes_as_docker() {
        let root = tempfile::tempdir().unwrap();
        let c = Containers::new(root.path());
        let (a, _) = make(&c, Some("web"));
        let (b, random) = make(&c, None);
        assert!(random.as_str().contains('_'));
        assert_eq!(c.resolve("web").unwrap().id, a.id);
        assert_eq!(c.resolve("/web").unwrap().id, a.id);
        assert_eq!(c.resolve(a.id.as_str()).unwrap().id, a.id);
        assert_eq!(c.resolve(b.id.short()).unwrap().id, b.id);
        assert_eq!(c.resolve(random.as_str()).unwrap().id, b.id);
        assert!(matches!(
            c.resolve("nope"),
            Err(ContainerError::ContainerNotFound(_))
        ));
        assert!(matches!(
            c.resolve(""),
            Err(ContainerError::ContainerNotFound(_)) | Err(ContainerError::AmbiguousContainer(_))
        ));
        let mut listed: Vec<_> = c.list().unwrap().into_iter().map(|s| s.id).collect();
        listed.sort();
        let mut want = vec![a.id.clone(), b.id.clone()];
        want.sort();
        assert_eq!(listed, want);
    }

    #[test]
    fn names_are_unique_until_released() {
        let root = tempfile::tempdir().unwrap();
        let c = Containers::new(root.path());
        let (a, name) = make(&c, Some("db"));
        let again: ContainerName = "db".parse().unwrap();
        assert!(matches!(
            c.create(Some(&again)),
            Err(ContainerError::NameInUse { .. })
        ));
        // The failed create left no folder behind.
        assert_eq!(c.list().unwrap().len(), 1);
        // A link to a container that vanished (a crash) is taken over.
        fs::remove_dir_all(&a.dir).unwrap();
        let (b, _) = make(&c, Some("db"));
        assert_eq!(c.resolve("db").unwrap().id, b.id);
        c.release_name(name.as_str(), &b.id);
        assert!(matches!(
            c.resolve("db"),
            Err(ContainerError::ContainerNotFound(_))
        ));
    }

    #[test]
    fn state_of_a_container_without_monitor_is_exited() {
        let root = tempfile::tempdir().unwrap();
        let c = Containers::new(root.path());
        let (slot, _) = make(&c, None);
        slot.update_state(|s| {
            s.status = Status::Running;
            s.pid = 42;
        })
        .unwrap();
        let state = slot.read_state().unwrap();
        assert_eq!(state.status, Status::Exited);
        assert_eq!(state.exit_code, Some(255));
        // While a monitor holds its lock, the recorded state stands.
        let _lock = slot.try_monitor_lock().unwrap().expect("free");
        assert!(slot.monitor_alive());
        assert_eq!(slot.read_state().unwrap().status, Status::Running);
    }
}
