//! Build-time variable scopes: the ordered environment a stage sees (image
//! ENV, then ARG and ENV as they are declared) and the predefined platform
//! ARGs every build starts with.

use std::collections::BTreeMap;

use crate::platform::Platform;
use crate::shell::Env;

/// An ordered list of variables; setting an existing name replaces its value
/// in place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvList {
    vars: Vec<(String, String)>,
}

impl EnvList {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn set(&mut self, name: &str, value: &str) {
        match self.vars.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value.to_string(),
            None => self.vars.push((name.to_string(), value.to_string())),
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.vars.retain(|(k, _)| k != name);
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.vars.iter().map(|(k, _)| k.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `NAME=value` strings, as an image config holds them.
    pub fn to_env_strings(&self) -> Vec<String> {
        self.vars.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

impl Env for EnvList {
    fn get(&self, name: &str) -> Option<&str> {
        EnvList::get(self, name)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EnvList {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut e = EnvList::default();
        for (k, v) in iter {
            e.set(&k.into(), &v.into());
        }
        e
    }
}

/// The predefined ARGs (`BUILDPLATFORM`, `TARGETARCH`, `TARGETSTAGE`, ...),
/// each overridable by a `--build-arg` of the same name.
pub fn default_args(
    build: &Platform,
    target: &Platform,
    overrides: &BTreeMap<String, String>,
    target_stage: &str,
) -> EnvList {
    let stage = if target_stage.is_empty() {
        "default"
    } else {
        target_stage
    };
    let defaults = [
        ("BUILDPLATFORM", build.to_string()),
        ("BUILDOS", build.os.clone()),
        ("BUILDOSVERSION", String::new()),
        ("BUILDARCH", build.architecture.clone()),
        ("BUILDVARIANT", build.variant.clone()),
        ("TARGETPLATFORM", target.to_string()),
        ("TARGETOS", target.os.clone()),
        ("TARGETOSVERSION", String::new()),
        ("TARGETARCH", target.architecture.clone()),
        ("TARGETVARIANT", target.variant.clone()),
        ("TARGETSTAGE", stage.to_string()),
    ];
    defaults
        .into_iter()
        .map(|(k, v)| (k, overrides.get(k).cloned().unwrap_or(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predefined_args() {
        let p: Platform = "linux/arm64".parse().unwrap();
        let mut o = BTreeMap::new();
        o.insert("TARGETSTAGE".to_string(), "x".to_string());
        let env = default_args(&Platform::host(), &p, &o, "");
        assert_eq!(env.get("TARGETARCH"), Some("arm64"));
        assert_eq!(env.get("TARGETPLATFORM"), Some("linux/arm64"));
        assert_eq!(env.get("TARGETSTAGE"), Some("x"));
        assert_eq!(env.get("TARGETVARIANT"), Some(""));
    }

    #[test]
    fn set_replaces_in_place() {
        let mut e: EnvList = [("A", "1"), ("B", "2")].into_iter().collect();
        e.set("A", "3");
        assert_eq!(e.to_env_strings(), ["A=3", "B=2"]);
        e.remove("A");
        assert_eq!(e.keys().collect::<Vec<_>>(), ["B"]);
    }
}
