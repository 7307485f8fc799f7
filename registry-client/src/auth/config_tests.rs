//! docker's config.json: lookups, login/logout writes, credential helpers.

use super::*;

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[test]
fn keys_are_normalized_as_docker_does() {
    for hub in [
        "docker.io",
        "index.docker.io",
        "https://index.docker.io/v1/",
        "registry-1.docker.io",
    ] {
        assert_eq!(config_key(hub), DOCKER_HUB_KEY, "{hub}");
    }
    assert_eq!(config_key("localhost:5000"), "localhost:5000");
    assert_eq!(config_key("https://ghcr.io/v2/"), "ghcr.io");
    assert_eq!(config_key("http://127.0.0.1:5000"), "127.0.0.1:5000");
}

#[test]
fn reads_docker_written_entries() {
    let dir = temp();
    let path = dir.path().join("config.json");
    // As docker writes it: base64 user:password, Hub under its legacy URL,
    // another registry written with a scheme.
    std::fs::write(
        &path,
        r#"{
  "auths": {
    "https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNzOndpdGg6Y29sb25z"},
    "https://registry.example.com": {"auth": "YTpi"},
    "tok.example": {"auth": "dTo=", "identitytoken": "refresh-me"}
  },
  "psFormat": "table {{.ID}}"
}"#,
    )
    .unwrap();
    let cfg = DockerConfig::load(&path).unwrap();
    let hub = cfg.get("docker.io").unwrap().expect("hub creds");
    assert_eq!(
        (hub.username.as_str(), hub.password.as_str()),
        ("user", "pass:with:colons")
    );
    let other = cfg
        .get("registry.example.com")
        .unwrap()
        .expect("by hostname");
    assert_eq!(other, Credentials::basic("a", "b"));
    let tok = cfg.get("tok.example").unwrap().expect("token entry");
    assert_eq!(tok.identity_token.as_deref(), Some("refresh-me"));
    assert_eq!(cfg.get("localhost:5000").unwrap(), None);
}

#[test]
fn missing_file_is_empty_and_bad_json_is_a_clear_error() {
    let dir = temp();
    let cfg = DockerConfig::load(&dir.path().join("none.json")).unwrap();
    assert_eq!(cfg.get("docker.io").unwrap(), None);
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{ nope").unwrap();
    let err = DockerConfig::load(&bad).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("parsing {}: ", bad.display())),
        "{err}"
    );
    std::fs::write(&bad, r#"{"auths": {"x.io": {"auth": "!!"}}}"#).unwrap();
    let err = DockerConfig::load(&bad)
        .unwrap()
        .get("x.io")
        .unwrap_err()
        .to_string();
    assert!(err.contains(r#"auths["x.io"].auth"#), "{err}");
}

#[test]
fn store_and_erase_keep_other_fields_and_mode_0600() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp();
    let path = dir.path().join("sub/config.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        r#"{"psFormat": "x", "auths": {"a.io": {"auth": "YTpi"}}}"#,
    )
    .unwrap();
    let mut cfg = DockerConfig::load(&path).unwrap();
    cfg.store("docker.io", &Credentials::basic("me", "secret"))
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["psFormat"], "x");
    assert_eq!(doc["auths"][DOCKER_HUB_KEY]["auth"], "bWU6c2VjcmV0");
    assert_eq!(doc["auths"]["a.io"]["auth"], "YTpi");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let again = DockerConfig::load(&path).unwrap();
    assert_eq!(
        again.get("index.docker.io").unwrap(),
        Some(Credentials::basic("me", "secret"))
    );

    let mut cfg = again;
    assert!(cfg.erase("docker.io").unwrap());
    assert!(!cfg.erase("docker.io").unwrap());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(doc["auths"].get(DOCKER_HUB_KEY).is_none());
    assert_eq!(doc["auths"]["a.io"]["auth"], "YTpi");
    assert!(std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .all(|e| !e.unwrap().file_name().to_string_lossy().contains("tmp")));
}

/// Puts a fake `docker-credential-NAME` in `dir`; it keeps one entry in
/// a file beside it.
fn fake_helper(dir: &std::path::Path, name: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    let script = dir.join(format!("docker-credential-{name}"));
    let store = dir.join(format!("{name}.store"));
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
store={store}
case "$1" in
get) read server; if [ -f "$store" ] && grep -q "\"ServerURL\":\"$server\"" "$store"; then cat "$store"; else echo "credentials not found in native keychain"; exit 1; fi ;;
store) cat > "$store" ;;
erase) read server; if [ -f "$store" ]; then rm "$store"; else echo "credentials not found in native keychain"; exit 1; fi ;;
*) echo "unknown action" >&2; exit 2 ;;
esac
"#,
            store = store.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn cred_helpers_store_get_erase() {
    let dir = temp();
    fake_helper(dir.path(), "rdocktesta");
    let path = dir.path().join("config.json");
    std::fs::write(
        &path,
        r#"{"credHelpers": {"localhost:5000": "rdocktesta"}}"#,
    )
    .unwrap();
    let mut cfg = DockerConfig::load(&path)
        .unwrap()
        .with_helper_dir(dir.path());
    assert_eq!(
        cfg.helper_for("localhost:5000").as_deref(),
        Some("rdocktesta")
    );
    assert_eq!(cfg.helper_for("other.io"), None);
    assert_eq!(cfg.get("localhost:5000").unwrap(), None);
    cfg.store("localhost:5000", &Credentials::basic("u", "p"))
        .unwrap();
    // The secret is in the helper, not in the file.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("\"auth\""), "{text}");
    assert_eq!(
        cfg.get("localhost:5000").unwrap(),
        Some(Credentials::basic("u", "p"))
    );
    assert!(cfg.erase("localhost:5000").unwrap());
    assert_eq!(cfg.get("localhost:5000").unwrap(), None);
}

#[test]
fn creds_store_applies_to_all_and_helper_failures_are_clear() {
    let dir = temp();
    fake_helper(dir.path(), "rdocktestb");
    let path = dir.path().join("config.json");
    std::fs::write(&path, r#"{"credsStore": "rdocktestb"}"#).unwrap();
    let mut cfg = DockerConfig::load(&path)
        .unwrap()
        .with_helper_dir(dir.path());
    let token = Credentials {
        username: String::new(),
        password: String::new(),
        identity_token: Some("tok".into()),
    };
    cfg.store("docker.io", &token).unwrap();
    assert_eq!(cfg.get("docker.io").unwrap(), Some(token));

    std::fs::write(&path, r#"{"credsStore": "rdock-no-such-helper"}"#).unwrap();
    let cfg = DockerConfig::load(&path)
        .unwrap()
        .with_helper_dir(dir.path());
    let err = cfg.get("docker.io").unwrap_err().to_string();
    assert!(
        err.starts_with("credential helper docker-credential-rdock-no-such-helper get for https://index.docker.io/v1/: "),
        "{err}"
    );
}
