//! End-to-end runs of the sandbox on a busybox rootfs (needs root).

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;
use std::time::Duration;

use common::{fixture, out};
use rdock_runner::{run, Error, ExitStatus, Mount, Network, Stage, Stdio};

#[test]
fn echo_output_is_captured() {
    let Some(f) = fixture() else { return };
    let o = run(&f.sh("echo hello; echo oops >&2")).unwrap();
    assert_eq!(o.status, ExitStatus::Exited(0));
    assert_eq!(o.stdout, b"hello\n");
    assert_eq!(o.stderr, b"oops\n");
}

#[test]
fn null_stdio_discards_output() {
    let Some(f) = fixture() else { return };
    let mut spec = f.sh("echo hidden; cat; echo err >&2");
    spec.stdio = Stdio::Null;
    let o = run(&spec).unwrap();
    assert!(o.status.success());
    assert!(o.stdout.is_empty() && o.stderr.is_empty());
}

#[test]
fn signals_start_clean() {
    let Some(f) = fixture() else { return };
    // The test harness ignores SIGPIPE; the command must not inherit that
    // (nor anything its own parent ignored).
    let o = run(&f.spec(&["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"])).unwrap();
    assert_eq!(
        out(&o),
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000"
    );
}

#[test]
fn capture_keeps_the_tail() {
    let Some(f) = fixture() else { return };
    let mut spec = f.sh("seq 1 10000");
    spec.capture_limit = 6;
    assert_eq!(run(&spec).unwrap().stdout, b"10000\n");
}

#[test]
fn exit_code_is_propagated() {
    let Some(f) = fixture() else { return };
    let o = run(&f.sh("exit 7")).unwrap();
    assert_eq!(o.status, ExitStatus::Exited(7));
    assert!(!o.timed_out);
}

#[test]
fn timeout_kills_with_a_signal() {
    let Some(f) = fixture() else { return };
    let mut spec = f.spec(&["sleep", "30"]);
    spec.timeout = Some(Duration::from_millis(300));
    let o = run(&spec).unwrap();
    assert_eq!(o.status, ExitStatus::Signaled(9));
    assert!(o.timed_out);
}

#[test]
fn command_is_pid_one() {
    let Some(f) = fixture() else { return };
    assert_eq!(out(&run(&f.sh("echo $$")).unwrap()), "1");
}

#[test]
fn hostname_is_set() {
    let Some(f) = fixture() else { return };
    let mut spec = f.sh("hostname; cat /etc/hostname; grep -c sandbox-test /etc/hosts");
    spec.hostname = "sandbox-test".into();
    assert_eq!(out(&run(&spec).unwrap()), "sandbox-test\nsandbox-test\n1");
}

fn interfaces(proc_net_dev: &str) -> Vec<String> {
    let mut names: Vec<String> = proc_net_dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn network_none_has_only_loopback_up() {
    let Some(f) = fixture() else { return };
    for network in [Network::None, Network::Default] {
        let mut spec = f.sh("cat /proc/net/dev; echo ---; ip -o link show lo");
        spec.network = network.clone();
        let o = run(&spec).unwrap();
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let (dev, lo) = text.split_once("---").unwrap();
        assert_eq!(interfaces(dev), vec!["lo"], "{network:?}");
        assert!(lo.contains("UP"), "{lo}");
    }
}

#[test]
fn network_host_sees_host_interfaces() {
    let Some(f) = fixture() else { return };
    let mut spec = f.sh("cat /proc/net/dev");
    spec.network = Network::Host;
    let o = run(&spec).unwrap();
    let host = fs::read_to_string("/proc/net/dev").unwrap();
    assert_eq!(
        interfaces(&String::from_utf8_lossy(&o.stdout)),
        interfaces(&host)
    );
}

#[test]
fn writes_go_to_the_upper_dir_only() {
    let Some(f) = fixture() else { return };
    let o = run(&f.sh("echo data > /new.txt && mkdir -p /a/b && echo more >> /etc/motd")).unwrap();
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        fs::read_to_string(f.upper.join("new.txt")).unwrap(),
        "data\n"
    );
    assert!(f.upper.join("a/b").is_dir());
    assert_eq!(
        fs::read_to_string(f.upper.join("etc/motd")).unwrap(),
        "hello from the image\nmore\n"
    );
    assert_eq!(
        fs::read_to_string(f.lower.join("etc/motd")).unwrap(),
        "hello from the image\n"
    );
    assert!(!f.lower.join("new.txt").exists());
    assert!(!f.lower.join("a").exists());
}

#[test]
fn deleting_a_lower_file_leaves_a_whiteout() {
    let Some(f) = fixture() else { return };
    assert!(run(&f.sh("rm /etc/motd")).unwrap().status.success());
    let meta = fs::symlink_metadata(f.upper.join("etc/motd")).unwrap();
    assert!(meta.file_type().is_char_device());
    assert_eq!(meta.rdev(), 0);
    assert!(f.lower.join("etc/motd").exists());
}

#[test]
fn mount_stubs_do_not_leak_into_the_layer() {
    let Some(f) = fixture() else { return };
    let script = "test -s /etc/resolv.conf && test -s /etc/hosts && test -s /etc/hostname \
                  && ls /proc/self >/dev/null && ls /dev/pts >/dev/null";
    let o = run(&f.sh(script)).unwrap();
    assert!(o.status.success(), "{o:?}");
    assert_eq!(f.upper_entries(), Vec::<String>::new());
}

#[test]
fn image_etc_files_are_shadowed_not_copied() {
    let Some(f) = fixture() else { return };
    fs::write(f.lower.join("etc/hosts"), "10.0.0.1 image\n").unwrap();
    let o = run(&f.sh("cat /etc/hosts; touch /etc/new")).unwrap();
    assert!(out(&o).contains("localhost"), "{o:?}");
    assert_eq!(f.upper_entries(), vec!["etc", "etc/new"]);
}

#[test]
fn dev_proc_and_sys() {
    let Some(f) = fixture() else { return };
    let script = "echo x > /dev/null && test -c /dev/null && test -c /dev/urandom \
                  && test -c /dev/tty && test -L /dev/ptmx && test -d /dev/shm \
                  && test -e /proc/self/status && test -d /sys/class \
                  && if touch /sys/x 2>/dev/null; then echo writable; fi; \
                  head -c 4 /dev/zero | wc -c";
    let o = run(&f.sh(script)).unwrap();
    assert_eq!(out(&o), "4", "{o:?}");
}

#[test]
fn runs_as_the_image_user() {
    let Some(f) = fixture() else { return };
    let mut spec =
        f.sh("id -u; id -g; id -G; echo $HOME; touch /home/app/x 2>/dev/null || echo denied");
    spec.user = "1000:1000".into();
    assert_eq!(
        out(&run(&spec).unwrap()),
        "1000\n1000\n1000\n/home/app\ndenied"
    );
    // A name alone brings its memberships (and its primary group).
    spec.user = "app".into();
    spec.args = vec!["id".into(), "-G".into()];
    assert_eq!(out(&run(&spec).unwrap()), "1000 50");
}

#[test]
fn unknown_user_is_a_typed_error() {
    let Some(f) = fixture() else { return };
    let mut spec = f.sh("true");
    spec.user = "nobody-here".into();
    let e = run(&spec).unwrap_err();
    assert!(matches!(e, Error::UserNotFound { .. }), "{e:?}");
}

#[test]
fn missing_binary_is_a_typed_error() {
    let Some(f) = fixture() else { return };
    let e = run(&f.spec(&["foo"])).unwrap_err();
    assert!(matches!(e, Error::ExecNotFound { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "exec: \"foo\": executable file not found in $PATH"
    );
    let e = run(&f.spec(&["/bin/nope"])).unwrap_err();
    assert!(matches!(e, Error::Exec { .. }), "{e:?}");
    assert_eq!(f.upper_entries(), Vec::<String>::new());
}

#[test]
fn setup_failure_names_its_stage() {
    let Some(f) = fixture() else { return };
    let mut spec = f.sh("true");
    // procfs refuses new files, so the bind target cannot be created.
    spec.mounts = vec![Mount::Bind {
        source: PathBuf::from("/etc/hostname"),
        target: "/proc/x".into(),
        readonly: false,
    }];
    match run(&spec) {
        Err(Error::Setup { stage, .. }) => assert_eq!(stage, Stage::MountPoint),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cwd_is_created() {
    let Some(f) = fixture() else { return };
    let mut spec = f.sh("pwd");
    spec.cwd = "/srv/app".into();
    assert_eq!(out(&run(&spec).unwrap()), "/srv/app");
    assert!(f.upper.join("srv/app").is_dir());
}

#[test]
fn scratch_with_bind_and_tmpfs_mounts() {
    let Some(f) = fixture() else { return };
    let mut spec = f.spec(&[
        "/bin/busybox",
        "sh",
        "-c",
        "echo hi > /cache/x && cat /cache/x",
    ]);
    spec.lower_dirs.clear();
    spec.mounts = vec![
        Mount::Bind {
            source: f.lower.join("bin/busybox"),
            target: "/bin/busybox".into(),
            readonly: true,
        },
        Mount::Tmpfs {
            target: "/cache".into(),
            size: Some(1 << 20),
        },
    ];
    let o = run(&spec).unwrap();
    assert_eq!(out(&o), "hi", "{o:?}");
    assert_eq!(f.upper_entries(), Vec::<String>::new());
}

#[test]
fn readonly_bind_is_readonly() {
    let Some(f) = fixture() else { return };
    let data = f.dir.path().join("data");
    fs::create_dir(&data).unwrap();
    let mut spec = f.sh("touch /data/x 2>/dev/null && echo wrote; ls /data");
    spec.mounts = vec![Mount::Bind {
        source: data.clone(),
        target: "/data".into(),
        readonly: true,
    }];
    assert_eq!(out(&run(&spec).unwrap()), "");
    assert!(!data.join("x").exists());
}

#[test]
fn background_processes_die_with_the_command() {
    let Some(f) = fixture() else { return };
    let start = std::time::Instant::now();
    let o = run(&f.sh("sleep 60 & echo started")).unwrap();
    assert_eq!(out(&o), "started");
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn absolute_symlinks_in_the_image_stay_inside_it() {
    let Some(f) = fixture() else { return };
    let link_target = "/run/rdock-test-resolv/resolv.conf";
    std::os::unix::fs::symlink(link_target, f.lower.join("etc/resolv.conf")).unwrap();
    let mut spec = f.sh("cat /etc/resolv.conf");
    spec.network = Network::Host;
    let o = run(&spec).unwrap();
    assert!(o.status.success(), "{o:?}");
    assert!(!std::path::Path::new("/run/rdock-test-resolv").exists());
    assert_eq!(f.upper_entries(), Vec::<String>::new());
}

#[test]
fn long_layer_chains_mount_through_short_links() {
    let Some(f) = fixture() else { return };
    // 200 layers with long paths: far more than one page of overlay
    // options; each adds a file, the topmost first.
    let deep = f
        .dir
        .path()
        .join("a-rather-long-directory-name-for-the-layers-of-this-test");
    let mut spec = f.sh("ls /layers | wc -l; cat /layers/199");
    let mut lowers = Vec::new();
    for i in (0..200).rev() {
        let layer = deep.join(format!("layer-{i:04}-with-a-long-name"));
        fs::create_dir_all(layer.join("layers")).unwrap();
        fs::write(layer.join("layers").join(i.to_string()), format!("{i}\n")).unwrap();
        lowers.push(layer);
    }
    lowers.extend(spec.lower_dirs.clone());
    let total: usize = lowers.iter().map(|l| l.as_os_str().len() + 1).sum();
    assert!(total > 4096, "{total}");
    spec.lower_dirs = lowers;
    let o = run(&spec).unwrap();
    assert_eq!(out(&o), "200\n199", "{o:?}");
    // Over the kernel's 500 lowers is refused before anything runs.
    spec.lower_dirs = vec![f.lower.clone(); 501];
    assert!(matches!(
        run(&spec),
        Err(Error::InvalidSpec {
            field: "lower_dirs",
            ..
        })
    ));
}
