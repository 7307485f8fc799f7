//! Unit tests of `--mount` parsing: defaults, every option, every error.

use super::*;

fn mount(spec: &str) -> Mount {
    RunMount::from_flag(spec).unwrap().mount.unwrap()
}

fn error(spec: &str) -> String {
    RunMount::from_flag(spec).unwrap_err().to_string()
}

#[test]
fn defaults() {
    let m = mount("target=/x");
    assert_eq!(m.kind, MountType::Bind);
    assert!(m.read_only);
    assert_eq!(m.target.as_deref(), Some("/x"));
    let m = mount("type=cache,target=/root/.cache,id=pip,sharing=Locked,uid=1000,mode=0755");
    assert_eq!(m.kind, MountType::Cache);
    assert!(!m.read_only);
    assert_eq!(m.sharing, Some(CacheSharing::Locked));
    assert_eq!((m.uid, m.mode, m.gid), (Some(1000), Some(0o755), None));
    assert!(!mount("type=tmpfs,dst=/t").read_only);
    assert!(mount("type=ssh").read_only);
    assert!(mount("type=cache,target=/c,ro").read_only);
    assert!(!mount("type=bind,target=/c,rw=true").read_only);
    assert!(mount("type=bind,target=/c,readwrite=0").read_only);
}

#[test]
fn secrets_and_ssh() {
    let m = mount("type=secret,id=aws,required,env=TOKEN");
    assert!(m.required && m.read_only);
    assert_eq!(m.env.as_deref(), Some("TOKEN"));
    assert_eq!(mount("type=secret,target=/s,env=").env.as_deref(), Some(""));
    assert!(mount("type=ssh,required=true").required);
    assert!(!mount("type=ssh,required=f").required);
}

#[test]
fn sizes() {
    let size = |s: &str| ram_in_bytes(s);
    assert_eq!(size("64m"), Some(64 << 20));
    assert_eq!(size("1.5GiB"), Some(1_610_612_736));
    assert_eq!(size("512 kb"), Some(512 << 10));
    assert_eq!(size("1kib"), Some(1024));
    assert_eq!(size("10"), Some(10));
    assert_eq!(size("1b"), Some(1));
    assert_eq!(size("1e3"), Some(1000));
    assert_eq!(size("0x1p4"), Some(16));
    for bad in ["1bb", "1x", "m", "-1", "1kb2", "1mbb", "", "1.2.3", "1_0"] {
        assert_eq!(size(bad), None, "{bad}");
    }
    assert_eq!(mount("type=tmpfs,size=1g").size_limit, 1 << 30);
}

#[test]
fn errors() {
    let cases = [
        ("", "failed to parse csv mounts: EOF"),
        ("a\"b", "failed to parse csv mounts: parse error on line 1, column 2: bare \" in non-quoted-field"),
        ("foo", "invalid field 'foo' must be a key=value pair"),
        ("required", "unexpected key 'required' for mount type 'bind'"),
        ("type=bnd", "unsupported mount type \"bnd\" (did you mean bind?)"),
        ("type=volume", "unsupported mount type \"volume\""),
        ("size=1g,type=tmpfs", "unexpected key 'size' for mount type 'bind'"),
        ("type=cache,required=true", "unexpected key 'required' for mount type 'cache'"),
        ("type=tmpfs,size=lots", "invalid value for size: lots"),
        ("ro=maybe", "invalid value for ro: maybe"),
        ("type=secret,id=a,required=yes", "invalid value for required: yes"),
        ("targt=/x", "unexpected key 'targt' in 'targt=/x' (did you mean target?)"),
        ("Foo=bar", "unexpected key 'foo' in 'Foo=bar' (did you mean from?)"),
        ("xyzzy=1", "unexpected key 'xyzzy' in 'xyzzy=1'"),
        ("type=cache,sharing=lockd", "unsupported sharing value \"lockd\" (did you mean locked?)"),
        ("type=cache,uid=abc", "invalid value abc for uid"),
        ("type=cache,gid=-1", "invalid value -1 for gid"),
        ("type=cache,mode=999", "invalid value 999 for mode"),
        ("type=cache,uid=4294967296", "invalid value 4294967296 for uid"),
        ("type=bind,mode=0755", "mode not allowed for \"bind\" type mounts"),
        ("type=tmpfs,uid=0", "uid not allowed for \"tmpfs\" type mounts"),
        ("gid=0", "gid not allowed for \"bind\" type mounts"),
        ("type=secret", "invalid secret mount. one of source, target required"),
        ("type=secret,id=x,from=a", "secret mount should not have a from"),
        ("type=secret,id=x,sharing=shared", "secret mount should not define sharing"),
        ("type=secret,id=x,src=y", "both source and id can't be set"),
        ("type=bind,sharing=shared", "invalid cache sharing set for bind mount"),
    ];
    for (spec, want) in cases {
        assert_eq!(error(spec), want, "{spec}");
    }
}

#[test]
fn parse_time_checks() {
    assert_eq!(
        RunMount::check_flag("type=bind,from=$STAGE")
            .unwrap_err()
            .to_string(),
        "'from' doesn't support variable expansion, define alias stage instead"
    );
    assert!(RunMount::check_flag("from=stage$").is_ok());
    assert!(RunMount::check_flag("type=bogus,uid=$U").is_ok());
    let deferred = RunMount::from_flag("type=cache,target=$HOME/.cache").unwrap();
    assert_eq!(deferred.mount, None);
    let env = [("HOME", "/root")];
    let m = deferred
        .resolve(|w| crate::shell::Lexer::new('\\').process_word(w, &env))
        .unwrap();
    assert_eq!(m.target.as_deref(), Some("/root/.cache"));
}
