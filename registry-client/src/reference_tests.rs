//! Table tests for [`ImageRef`], with cases taken from distribution/reference's
//! `normalize_test.go` and `reference_test.go`.

use super::*;

const D: &str = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";

#[test]
fn normalizes_like_docker() {
    // (input, full form, familiar form, domain, path)
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            "busybox",
            "docker.io/library/busybox:latest",
            "busybox:latest",
            "docker.io",
            "library/busybox",
        ),
        (
            "user/app:1",
            "docker.io/user/app:1",
            "user/app:1",
            "docker.io",
            "user/app",
        ),
        (
            "localhost:5000/x",
            "localhost:5000/x:latest",
            "localhost:5000/x:latest",
            "localhost:5000",
            "x",
        ),
        (
            "localhost/x",
            "localhost/x:latest",
            "localhost/x:latest",
            "localhost",
            "x",
        ),
        (
            "fooo/bar",
            "docker.io/fooo/bar:latest",
            "fooo/bar:latest",
            "docker.io",
            "fooo/bar",
        ),
        (
            "index.docker.io/fooo/bar",
            "docker.io/fooo/bar:latest",
            "fooo/bar:latest",
            "docker.io",
            "fooo/bar",
        ),
        (
            "library/ubuntu",
            "docker.io/library/ubuntu:latest",
            "ubuntu:latest",
            "docker.io",
            "library/ubuntu",
        ),
        (
            "docker.io/foo",
            "docker.io/library/foo:latest",
            "foo:latest",
            "docker.io",
            "library/foo",
        ),
        (
            "library/foo/bar",
            "docker.io/library/foo/bar:latest",
            "library/foo/bar:latest",
            "docker.io",
            "library/foo/bar",
        ),
        (
            "store/foo/bar",
            "docker.io/store/foo/bar:latest",
            "store/foo/bar:latest",
            "docker.io",
            "store/foo/bar",
        ),
        (
            "other/library",
            "docker.io/other/library:latest",
            "other/library:latest",
            "docker.io",
            "other/library",
        ),
        (
            "127.0.0.1:8000/private/moonbase",
            "127.0.0.1:8000/private/moonbase:latest",
            "127.0.0.1:8000/private/moonbase:latest",
            "127.0.0.1:8000",
            "private/moonbase",
        ),
        (
            "example.com:8000/privatebasee",
            "example.com:8000/privatebasee:latest",
            "example.com:8000/privatebasee:latest",
            "example.com:8000",
            "privatebasee",
        ),
        (
            "ubuntu-12.04-base",
            "docker.io/library/ubuntu-12.04-base:latest",
            "ubuntu-12.04-base:latest",
            "docker.io",
            "library/ubuntu-12.04-base",
        ),
        ("Foo/bar", "Foo/bar:latest", "Foo/bar:latest", "Foo", "bar"),
        (
            "test_com/foo",
            "docker.io/test_com/foo:latest",
            "test_com/foo:latest",
            "docker.io",
            "test_com/foo",
        ),
        (
            "test-com:8080/foo",
            "test-com:8080/foo:latest",
            "test-com:8080/foo:latest",
            "test-com:8080",
            "foo",
        ),
        (
            "xn--n3h.com:18080/foo",
            "xn--n3h.com:18080/foo:latest",
            "xn--n3h.com:18080/foo:latest",
            "xn--n3h.com:18080",
            "foo",
        ),
        (
            "[fc00::1]:5000/docker/docker",
            "[fc00::1]:5000/docker/docker:latest",
            "[fc00::1]:5000/docker/docker:latest",
            "[fc00::1]:5000",
            "docker/docker",
        ),
        (
            "192.168.0.1",
            "docker.io/library/192.168.0.1:latest",
            "192.168.0.1:latest",
            "docker.io",
            "library/192.168.0.1",
        ),
        (
            "busybox:Latest_1.0",
            "docker.io/library/busybox:Latest_1.0",
            "busybox:Latest_1.0",
            "docker.io",
            "library/busybox",
        ),
        (
            "dbcc1",
            "docker.io/library/dbcc1:latest",
            "dbcc1:latest",
            "docker.io",
            "library/dbcc1",
        ),
    ];
    for &(input, full, familiar, domain, path) in cases {
        let r: ImageRef = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(r.to_string(), full, "{input}");
        assert_eq!(r.familiar(), familiar, "{input}");
        assert_eq!(r.domain(), domain, "{input}");
        assert_eq!(r.path(), path, "{input}");
        // The full form is a fixed point.
        assert_eq!(full.parse::<ImageRef>().unwrap(), r, "{full}");
    }
}

#[test]
fn digests() {
    let r: ImageRef = format!("busybox:latest@{D}").parse().unwrap();
    assert_eq!(
        r.to_string(),
        format!("docker.io/library/busybox:latest@{D}")
    );
    assert_eq!(r.familiar(), format!("busybox:latest@{D}"));
    assert_eq!(r.tag(), Some("latest"));
    assert_eq!(r.digest(), Some(D));
    let r: ImageRef = format!("ghcr.io/a/b@{D}").parse().unwrap();
    assert_eq!(r.tag(), None);
    assert_eq!(r.to_string(), format!("ghcr.io/a/b@{D}"));
    let r: ImageRef = format!("redis@{D}").parse().unwrap();
    assert_eq!(r.to_string(), format!("docker.io/library/redis@{D}"));
    assert!("redis@sha256:abc".parse::<ImageRef>().is_err());
    assert!(format!("redis@md5:{}", &D[7..])
        .parse::<ImageRef>()
        .is_err());
}

#[test]
fn accepts_valid_names() {
    let long64 = "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev";
    let valid = [
        "docker/docker",
        "library/debian",
        "debian",
        "docker.io/docker/docker",
        "docker.io/library/debian",
        "docker.io/debian",
        "index.docker.io/docker/docker",
        "index.docker.io/library/debian",
        "index.docker.io/debian",
        "127.0.0.1:5000/docker/docker",
        "127.0.0.1:5000/library/debian",
        "127.0.0.1:5000/debian",
        "192.168.0.1",
        "192.168.0.1:80",
        "192.168.0.1:8/debian",
        "192.168.0.2:25000/debian",
        long64,
        "[fc00::1]:5000/docker",
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
        "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "Docker/docker",
        "DOCKER/docker",
        "docker-rules/docker",
        "docker---rules/docker",
        "doc/docker",
        "d/docker",
        "jess/t",
        "dock__er/docker",
        "a:b.c-d_e",
        "a:_",
    ];
    for name in valid {
        assert!(name.parse::<ImageRef>().is_ok(), "{name} should be valid");
    }
}

#[test]
fn rejects_invalid_names() {
    let too_long = format!("{}/docker", "a".repeat(250));
    let long_tag = format!("a:{}", "t".repeat(129));
    let invalid = [
        "",
        "https://github.com/docker/docker",
        "docker/Docker",
        "-docker",
        "-docker/docker",
        "-docker.io/docker/docker",
        "docker///docker",
        "docker.io/docker/Docker",
        "docker.io/docker///docker",
        "[fc00::1]",
        "[fc00::1]:5000",
        "fc00::1:5000/debian",
        "[fe80::1%eth0]:5000/debian",
        "[2001:db8:3:4::192.0.2.33]:5000/debian",
        "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "docker-/docker",
        "-docker-/docker",
        "____/____",
        "_docker/_docker",
        "dock..er/docker",
        "dock_.er/docker",
        "dock-.er/docker",
        "docker/",
        "Uppercase:tag",
        "a:-tag",
        "a:.tag",
        "a b",
        "a:",
        "a@",
        &too_long,
        &long_tag,
    ];
    for name in invalid {
        assert!(
            name.parse::<ImageRef>().is_err(),
            "{name:?} should be invalid"
        );
    }
}

#[test]
fn errors_say_why() {
    assert!(matches!("".parse::<ImageRef>(), Err(Error::EmptyReference)));
    assert!(matches!(
        "Uppercase".parse::<ImageRef>(),
        Err(Error::Uppercase { name }) if name == "library/Uppercase"
    ));
    let hex = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";
    assert!(matches!(
        hex.parse::<ImageRef>(),
        Err(Error::HexName { .. })
    ));
    let long = format!("{}/docker", "a".repeat(250));
    assert!(matches!(
        long.parse::<ImageRef>(),
        Err(Error::NameTooLong { max: 255 })
    ));
}

#[test]
fn with_tag_replaces_tag_and_digest() {
    let r: ImageRef = format!("busybox:1@{D}").parse().unwrap();
    assert_eq!(r.with_tag("2").unwrap().familiar(), "busybox:2");
    assert!(r.with_tag("-x").is_err());
}
