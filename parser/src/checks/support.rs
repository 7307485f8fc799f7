//! Small pieces the checks need from the builder's world: image reference
//! validation, Go's `path.Clean`, EXPOSE port specs, secret-looking names.

/// Whether `s` parses as a normalised image reference (`name[:tag][@digest]`,
/// docker's rules: lower-case path components, optional registry host).
pub(crate) fn is_valid_reference(s: &str) -> bool {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let Some((algo, hex)) = d.split_once(':') else {
            return false;
        };
        let algo_ok = !algo.is_empty()
            && algo.split(['+', '.', '_', '-']).all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            });
        if !algo_ok || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return false;
        }
    }
    // A tag follows the last ':' that comes after the last '/'.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        let mut cs = t.chars();
        let first_ok = cs
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if !first_ok
            || t.len() > 128
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return false;
        }
    }
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 && looks_like_domain(parts[0]) {
        if !valid_domain(parts[0]) {
            return false;
        }
        parts.remove(0);
    }
    !parts.is_empty() && parts.iter().all(|p| valid_path_component(p))
}

fn looks_like_domain(s: &str) -> bool {
    s.contains('.')
        || s.contains(':')
        || s == "localhost"
        || s.chars().any(|c| c.is_ascii_uppercase())
}

fn valid_domain(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, Some(p)),
        _ => (s, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    if host.starts_with('[') {
        return host.ends_with(']');
    }
    !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(p: &str) -> bool {
    let b = p.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &p[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// Go's `path.Clean`.
pub(crate) fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Whether a variable name looks like it holds a secret (BuildKit's token
/// lists: a `_`-separated part of the name is one of them, case-insensitively).
pub(crate) fn is_secret_name(key: &str) -> bool {
    const DENY: [&str; 10] = [
        "apikey",
        "auth",
        "credential",
        "credentials",
        "key",
        "password",
        "pword",
        "passwd",
        "secret",
        "token",
    ];
    const ALLOW: [&str; 3] = ["public", "file", "version"];
    let has = |list: &[&str]| {
        key.split('_')
            .any(|part| list.iter().any(|t| part.eq_ignore_ascii_case(t)))
    };
    has(&DENY) && !has(&ALLOW)
}

/// An EXPOSE port spec split as BuildKit splits it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PortSpec<'a> {
    pub ip: &'a str,
    pub host_port: &'a str,
    pub proto: &'a str,
}

/// Parses `[ip:][hostPort:]containerPort[/proto]`; errors are BuildKit's texts.
pub(crate) fn parse_port(raw: &str) -> Result<PortSpec<'_>, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let (ip, host_port, container) = match n {
        1 => ("", "", parts[0]),
        2 => ("", parts[0], parts[1]),
        _ => {
            let ip_len = raw.len() - parts[n - 2].len() - parts[n - 1].len() - 2;
            (&raw[..ip_len], parts[n - 2], parts[n - 1])
        }
    };
    let (port, proto) = container.split_once('/').unwrap_or((container, ""));
    if port.is_empty() {
        return Err(format!(
            "invalid port: {}: no port specified",
            crate::go_quote(raw)
        ));
    }
    let proto = match proto.to_lowercase().as_str() {
        "" => "tcp",
        "tcp" | "udp" | "sctp" => proto,
        _ => {
            return Err(format!(
                "invalid port: {}: invalid proto: {proto}",
                crate::go_quote(raw)
            ))
        }
    };
    let range = |s: &str| -> Option<(u32, u32)> {
        let num = |x: &str| x.parse::<u32>().ok().filter(|p| *p <= 65535);
        match s.split_once('-') {
            Some((a, b)) if a != b => {
                let (a, b) = (num(a)?, num(b)?);
                (b >= a).then_some((a, b))
            }
            Some((a, _)) => num(a).map(|a| (a, a)),
            None => num(s).map(|a| (a, a)),
        }
    };
    let Some((start, end)) = range(port) else {
        return Err(format!("invalid containerPort: {port}"));
    };
    if !host_port.is_empty() {
        let Some((hs, he)) = range(host_port) else {
            return Err(format!("invalid hostPort: {host_port}"));
        };
        if end - start != he - hs && end != start {
            return Err(format!(
                "invalid ranges specified for container and host Ports: {port} and {host_port}"
            ));
        }
    }
    Ok(PortSpec {
        ip,
        host_port,
        proto,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        for ok in [
            "busybox", "busybox:latest", "library/busybox:1.36", "localhost:5000/a/b:c",
            "ghcr.io/owner/img@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "a__b", "a--b.c",
        ] {
            assert!(is_valid_reference(ok), "{ok}");
        }
        for bad in [
            "",
            ":latest",
            "Busybox",
            "a/",
            "img:",
            "img:-x",
            "a@sha256:xyz",
            "a//b",
        ] {
            assert!(!is_valid_reference(bad), "{bad}");
        }
    }

    #[test]
    fn clean() {
        assert_eq!(clean_path("./a/../b/"), "b");
        assert_eq!(clean_path("/../x"), "/x");
        assert_eq!(clean_path("."), ".");
        assert_eq!(clean_path("../a"), "../a");
    }

    #[test]
    fn secrets() {
        assert!(is_secret_name("AWS_SECRET_KEY"));
        assert!(is_secret_name("password"));
        assert!(!is_secret_name("PASSWORD_FILE"));
        assert!(!is_secret_name("KEYBOARD"));
        assert!(!is_secret_name("GPG_PUBLIC_KEY"));
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("80/TCP").unwrap().proto, "TCP");
        assert_eq!(parse_port("127.0.0.1:80:80").unwrap().ip, "127.0.0.1");
        assert_eq!(parse_port("8080:80").unwrap().host_port, "8080");
        assert!(parse_port("80/xyz").is_err());
        assert!(parse_port("abc").is_err());
        assert!(parse_port("8000-8010").is_ok());
    }
}
