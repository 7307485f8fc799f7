//! The image config a stage builds up: [`ImageConfig`] (the OCI `config`
//! fields plus `history`), read from a base image's config JSON and written
//! back as an OCI image config, with BuildKit's history wording.

use std::collections::BTreeMap;

use rdock_parser::scope::EnvList;
use serde_json::{json, Map, Value};

/// The default `PATH` BuildKit gives an image without one.
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The runtime config of an image being built.
#[derive(Debug, Clone, Default)]
pub(crate) struct ImageConfig {
    pub env: EnvList,
    pub workdir: String,
    pub user: String,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub shell: Option<Vec<String>>,
    pub labels: BTreeMap<String, String>,
    pub exposed: BTreeMap<String, Value>,
    pub volumes: BTreeMap<String, Value>,
    pub healthcheck: Option<Value>,
    pub stop_signal: Option<String>,
    pub on_build: Vec<String>,
    /// Docker's `ArgsEscaped`, which BuildKit sets with every CMD.
    pub args_escaped: bool,
    pub history: Vec<Value>,
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    })
}

fn object(v: &Value) -> BTreeMap<String, Value> {
    v.as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

impl ImageConfig {
    /// The config of a base image (its whole config JSON), ONBUILD
    /// triggers included (the stage built on it runs and clears them).
    pub fn from_image(image: &Value) -> ImageConfig {
        let c = &image["config"];
        let env = strings(&c["Env"])
            .unwrap_or_default()
            .iter()
            .map(|e| match e.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (e.clone(), String::new()),
            })
            .collect();
        ImageConfig {
            env,
            workdir: c["WorkingDir"].as_str().unwrap_or_default().to_string(),
            user: c["User"].as_str().unwrap_or_default().to_string(),
            cmd: strings(&c["Cmd"]),
            entrypoint: strings(&c["Entrypoint"]),
            shell: strings(&c["Shell"]),
            labels: object(&c["Labels"])
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                .collect(),
            exposed: object(&c["ExposedPorts"]),
            volumes: object(&c["Volumes"]),
            healthcheck: c.get("Healthcheck").filter(|v| !v.is_null()).cloned(),
            stop_signal: c["StopSignal"].as_str().map(str::to_string),
            on_build: strings(&c["OnBuild"]).unwrap_or_default(),
            args_escaped: c["ArgsEscaped"] == json!(true),
            history: image["history"].as_array().cloned().unwrap_or_default(),
        }
    }

    /// The shell of shell-form commands.
    pub fn shell(&self) -> Vec<String> {
        self.shell
            .clone()
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
    }

    /// Adds a history entry as BuildKit words it.
    pub fn add_history(&mut self, created: &str, created_by: String, empty_layer: bool) {
        let mut h = json!({
            "created": created,
            "created_by": created_by,
            "comment": "buildkit.dockerfile.v0",
        });
        if empty_layer {
            h["empty_layer"] = json!(true);
        }
        self.history.push(h);
    }

    /// The OCI `config` object.
    pub fn to_json(&self) -> Value {
        let mut c = Map::new();
        if let Some(u) = Some(&self.user).filter(|u| !u.is_empty()) {
            c.insert("User".into(), json!(u));
        }
        if !self.exposed.is_empty() {
            c.insert("ExposedPorts".into(), json!(self.exposed));
        }
        c.insert("Env".into(), json!(self.env.to_env_strings()));
        if let Some(e) = &self.entrypoint {
            c.insert("Entrypoint".into(), json!(e));
        }
        if let Some(cmd) = &self.cmd {
            c.insert("Cmd".into(), json!(cmd));
        }
        if !self.volumes.is_empty() {
            c.insert("Volumes".into(), json!(self.volumes));
        }
        if !self.workdir.is_empty() {
            c.insert("WorkingDir".into(), json!(self.workdir));
        }
        if !self.labels.is_empty() {
            c.insert("Labels".into(), json!(self.labels));
        }
        if let Some(s) = &self.stop_signal {
            c.insert("StopSignal".into(), json!(s));
        }
        if let Some(h) = &self.healthcheck {
            c.insert("Healthcheck".into(), h.clone());
        }
        if !self.on_build.is_empty() {
            c.insert("OnBuild".into(), json!(self.on_build));
        }
        if let Some(s) = &self.shell {
            c.insert("Shell".into(), json!(s));
        }
        if self.args_escaped {
            c.insert("ArgsEscaped".into(), json!(true));
        }
        Value::Object(c)
    }
}

/// Go's `%q` of a string slice: `["a" "b"]`.
pub(crate) fn go_quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| rdock_parser::go_quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

/// Go's `time.Duration.String()`: `0s`, `1.5s`, `1m30s`, `500ms`.
pub(crate) fn go_duration(d: std::time::Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    let frac = |value: u128, unit: u128| {
        let whole = value / unit;
        let rest = value % unit;
        if rest == 0 {
            whole.to_string()
        } else {
            let digits = unit.to_string().len() - 1;
            let text = format!("{whole}.{rest:0digits$}");
            text.trim_end_matches('0').to_string()
        }
    };
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", frac(ns, 1_000));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", frac(ns, 1_000_000));
    }
    let secs = ns / 1_000_000_000;
    let (h, m) = (secs / 3600, secs / 60 % 60);
    let s = frac(ns % 60_000_000_000, 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m{s}s"),
        (h, m) => format!("{h}h{m}m{s}s"),
    }
}

/// Go's `%q` of an integer: a quoted character literal (`'\x00'`, `'A'`).
pub(crate) fn go_quoted_rune(n: u32) -> String {
    match char::from_u32(n) {
        Some('\'') => r"'\''".into(),
        Some('\\') => r"'\\'".into(),
        Some('\u{7}') => r"'\a'".into(),
        Some('\u{8}') => r"'\b'".into(),
        Some('\u{c}') => r"'\f'".into(),
        Some('\n') => r"'\n'".into(),
        Some('\r') => r"'\r'".into(),
        Some('\t') => r"'\t'".into(),
        Some('\u{b}') => r"'\v'".into(),
        Some(c) if (' '..='~').contains(&c) => format!("'{c}'"),
        _ if n < 0x80 => format!("'\\x{n:02x}'"),
        _ => format!("'\\u{n:04x}'"),
    }
}

/// Go's `%v` of a string slice: `[a b]`.
pub(crate) fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_the_runtime_config() {
        let image = json!({
            "config": {
                "Env": ["PATH=/bin", "A=1=2"],
                "Cmd": ["sh"],
                "WorkingDir": "/w",
                "ExposedPorts": {"80/tcp": {}},
                "Labels": {"k": "v"},
            },
            "history": [{"created_by": "base"}],
        });
        let mut c = ImageConfig::from_image(&image);
        assert_eq!(c.env.get("A"), Some("1=2"));
        assert_eq!(c.shell(), ["/bin/sh", "-c"]);
        c.add_history("2001-09-09T01:46:40Z", "ENV A=1".into(), true);
        assert_eq!(c.history.len(), 2);
        assert_eq!(c.history[1]["empty_layer"], json!(true));
        assert_eq!(
            c.to_json(),
            json!({
                "Env": ["PATH=/bin", "A=1=2"],
                "Cmd": ["sh"],
                "WorkingDir": "/w",
                "ExposedPorts": {"80/tcp": {}},
                "Labels": {"k": "v"},
            })
        );
        assert_eq!(go_quoted_list(&["a \"b\"".into()]), r#"["a \"b\""]"#);
        assert_eq!(go_list(&["/a".into(), "/b".into()]), "[/a /b]");
    }

    #[test]
    fn go_formats() {
        use std::time::Duration;
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_secs(30), "30s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_nanos(1500), "1.5µs"),
        ];
        for (d, text) in cases {
            assert_eq!(go_duration(d), text);
        }
        assert_eq!(go_quoted_rune(0), r"'\x00'");
        assert_eq!(go_quoted_rune(3), r"'\x03'");
        assert_eq!(go_quoted_rune(65), "'A'");
        assert_eq!(go_quoted_rune(10), r"'\n'");
    }
}
