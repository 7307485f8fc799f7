//! Container identifiers: [`ContainerId`] (64 lowercase hex digits, shown
//! as its first 12) and [`ContainerName`] (docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]+`),
//! plus fresh random IDs and `adjective_noun` names.

use std::fmt;
use std::io::Read;
use std::str::FromStr;

use super::error::{ContainerError, Result};

/// A container's ID: 64 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerId(String);

impl ContainerId {
    /// A fresh random ID (from the kernel's random pool), never all digits
    /// so that its short form cannot be mistaken for a number.
    pub fn random() -> Result<ContainerId> {
        loop {
            let bytes = random_bytes::<32>()?;
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            if !hex[..12].bytes().all(|b| b.is_ascii_digit()) {
                return Ok(ContainerId(hex));
            }
        }
    }

    /// The full 64 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 digits, as `docker ps` shows them.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl FromStr for ContainerId {
    type Err = ContainerError;

    fn from_str(s: &str) -> Result<ContainerId> {
        let ok = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        match ok {
            true => Ok(ContainerId(s.to_owned())),
            false => Err(ContainerError::InvalidId(s.to_owned())),
        }
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A container's name, unique in a store.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerName(String);

impl ContainerName {
    /// A random `adjective_noun` name; the caller retries on a clash.
    pub(crate) fn random() -> Result<ContainerName> {
        let [a, b] = random_bytes::<2>()?;
        let adj = ADJECTIVES[usize::from(a) % ADJECTIVES.len()];
        let noun = NOUNS[usize::from(b) % NOUNS.len()];
        Ok(ContainerName(format!("{adj}_{noun}")))
    }

    /// The name without docker's leading `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ContainerName {
    type Err = ContainerError;

    /// Accepts docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, with or without the
    /// leading `/` docker shows in inspect.
    fn from_str(s: &str) -> Result<ContainerName> {
        let name = s.strip_prefix('/').unwrap_or(s);
        let mut bytes = name.bytes();
        let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric());
        let rest_ok = name.len() >= 2
            && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        match first_ok && rest_ok {
            true => Ok(ContainerName(name.to_owned())),
            false => Err(ContainerError::InvalidName(s.to_owned())),
        }
    }
}

impl fmt::Display for ContainerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|source| ContainerError::Io {
            action: "reading",
            path: "/dev/urandom".into(),
            source,
        })?;
    Ok(buf)
}

// Our own short word lists (about 2,000 combinations); a clash is retried.
const ADJECTIVES: &[&str] = &[
    "amber", "brave", "calm", "clever", "cosmic", "crisp", "dapper", "eager", "fancy", "fervent",
    "gentle", "glad", "golden", "happy", "hardy", "humble", "jolly", "keen", "kind", "lively",
    "lucid", "merry", "mellow", "nimble", "noble", "patient", "plucky", "proud", "quiet", "rapid",
    "serene", "sharp", "shiny", "silent", "snappy", "steady", "sunny", "swift", "tender", "tidy",
    "vivid", "witty", "zesty", "bold", "bright",
];
const NOUNS: &[&str] = &[
    "otter", "falcon", "heron", "badger", "lynx", "marten", "osprey", "puffin", "raven", "stoat",
    "walrus", "wombat", "beaver", "bison", "condor", "dingo", "egret", "ferret", "gecko", "ibis",
    "jackal", "koala", "lemur", "magpie", "newt", "ocelot", "panda", "quail", "robin", "salmon",
    "tapir", "urchin", "vole", "weasel", "yak", "zebra", "alpaca", "cheetah", "dolphin", "finch",
    "gibbon", "hamster", "iguana", "kestrel", "llama",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_shorten() {
        let id = ContainerId::random().unwrap();
        assert_eq!(id.as_str().len(), 64);
        assert_eq!(id.short(), &id.as_str()[..12]);
        assert_eq!(id.as_str().parse::<ContainerId>().unwrap(), id);
        assert!("abc".parse::<ContainerId>().is_err());
        assert!("A".repeat(64).parse::<ContainerId>().is_err());
    }

    #[test]
    fn names_follow_docker_rules() {
        assert_eq!("/web".parse::<ContainerName>().unwrap().as_str(), "web");
        assert!("web-1.a_b".parse::<ContainerName>().is_ok());
        for bad in ["", "a", "-web", "we b", "we/b", "_x"] {
            assert!(bad.parse::<ContainerName>().is_err(), "{bad}");
        }
        let n = ContainerName::random().unwrap();
        assert!(n.as_str().parse::<ContainerName>().is_ok());
    }
}
