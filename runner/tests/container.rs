//! Containers from the inside (needs root): Docker's default capabilities,
//! seccomp profile, masked paths, cgroup limits, terminals, exec and init.

mod common;

use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use common::{cgroup_dirs, cgroup_name, fixture, install_probe, out};
use nix::sys::signal::Signal;
use rdock_runner::{exec, run, spawn, ExecSpec, ExitStatus, Network, Resources, Stdio};

fn status_field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[test]
fn root_gets_dockers_default_capabilities() {
    let Some(f) = fixture() else { return };
    let o = run(&f.spec(&["cat", "/proc/self/status"])).unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(status_field(&text, "CapEff:"), "00000000a80425fb");
    assert_eq!(status_field(&text, "CapPrm:"), "00000000a80425fb");
    assert_eq!(status_field(&text, "CapBnd:"), "00000000a80425fb");
    assert_eq!(status_field(&text, "CapInh:"), "0000000000000000");
    assert_eq!(status_field(&text, "CapAmb:"), "0000000000000000");
    // Docker does not set no_new_privs unless asked; seccomp is on.
    assert_eq!(status_field(&text, "NoNewPrivs:"), "0");
    assert_eq!(status_field(&text, "Seccomp:"), "2");
}

#[test]
fn non_root_has_nothing_effective() {
    let Some(f) = fixture() else { return };
    let mut spec = f.spec(&["cat", "/proc/self/status"]);
    spec.user = "app".into();
    let text = out(&run(&spec).unwrap());
    assert_eq!(status_field(&text, "CapEff:"), "0000000000000000");
    assert_eq!(status_field(&text, "CapBnd:"), "00000000a80425fb");
}

#[test]
fn cap_add_drop_and_privileged() {
    let Some(f) = fixture() else { return };
    let mut spec = f.spec(&["cat", "/proc/self/status"]);
    spec.security.cap_add = vec!["net_admin".into()];
    spec.security.cap_drop = vec!["CAP_CHOWN".into(), "NET_RAW".into()];
    let text = out(&run(&spec).unwrap());
    let want = (0xa80425fbu64 | 1 << 12) & !(1 | 1 << 13);
    assert_eq!(status_field(&text, "CapEff:"), format!("{want:016x}"));

    spec.security = Default::default();
    spec.security.privileged = true;
    let text = out(&run(&spec).unwrap());
    // Everything this process has itself.
    let ours = status_field(&fs::read_to_string("/proc/self/status").unwrap(), "CapBnd:");
    assert_eq!(status_field(&text, "CapEff:"), ours);
    assert_eq!(status_field(&text, "CapBnd:"), ours);
    assert_eq!(status_field(&text, "Seccomp:"), "0");

    spec.security = Default::default();
    spec.security.cap_add = vec!["CAP_FLY".into()];
    let err = run(&spec).unwrap_err().to_string();
    assert_eq!(err, "unknown capability: \"CAP_FLY\"");
}

#[test]
fn no_new_privs_on_request() {
    let Some(f) = fixture() else { return };
    let mut spec = f.spec(&["grep", "NoNewPrivs", "/proc/self/status"]);
    spec.security.no_new_privs = true;
    assert_eq!(out(&run(&spec).unwrap()), "NoNewPrivs:\t1");
}

#[test]
fn seccomp_refuses_what_docker_refuses() {
    let Some(f) = fixture() else { return };
    install_probe(&f);
    let tests = [
        "unshare-user",
        "unshare-mount",
        "keyctl",
        "add_key",
        "clone3",
        "vsock",
        "alg",
        "inet",
        "personality-query",
        "personality-bad",
        "getpid",
        "sethostname",
    ];
    let mut args = vec!["probe"];
    args.extend(tests);
    let o = run(&f.spec(&args)).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "unshare-user=EPERM\nunshare-mount=EPERM\nkeyctl=EPERM\nadd_key=EPERM\n\
         clone3=ENOSYS\nvsock=EPERM\nalg=EPERM\ninet=ok\npersonality-query=ok\npersonality-bad=EPERM\n\
         getpid=ok\nsethostname=EPERM\n"
    );
    // busybox's own unshare fails the same way, and fork still works.
    let o = run(&f.sh("unshare -U true; echo rc=$?; (true) && echo forked")).unwrap();
    assert!(out(&o).ends_with("rc=1\nforked"), "{o:?}");

    // With CAP_SYS_ADMIN the guarded calls are allowed (the kernel decides).
    let mut spec = f.spec(&["probe", "sethostname", "clone3", "unshare-mount"]);
    spec.security.cap_add = vec!["SYS_ADMIN".into()];
    assert_eq!(
        out(&run(&spec).unwrap()),
        "sethostname=ok\nclone3=EINVAL\nunshare-mount=ok"
    );
    // Unconfined: keyctl reaches the kernel.
    let mut spec = f.spec(&["probe", "keyctl"]);
    spec.security.seccomp = false;
    assert_ne!(out(&run(&spec).unwrap()), "keyctl=EPERM");
}

#[test]
fn masked_and_readonly_paths() {
    let Some(f) = fixture() else { return };
    // Masks apply to what the kernel has: check the host's paths first.
    for p in [
        "/proc/keys",
        "/proc/timer_list",
        "/sys/firmware",
        "/proc/acpi",
        "/proc/sys",
    ] {
        assert!(fs::metadata(p).is_ok(), "{p} missing on this host");
    }
    let script = "wc -c < /proc/keys; wc -c < /proc/timer_list; ls /sys/firmware | wc -l; \
                  ls /proc/acpi | wc -l; \
                  echo 1 > /proc/sys/kernel/domainname && echo wrote || echo ro; \
                  touch /proc/acpi/x && echo wrote || echo ro; \
                  grep -c ' - mqueue ' /proc/self/mountinfo; \
                  grep ' /dev/shm ' /proc/self/mountinfo | grep -o 'size=[0-9a-z]*'";
    let o = run(&f.sh(script)).unwrap();
    assert_eq!(out(&o), "0\n0\n0\n0\nro\nro\n1\nsize=65536k", "{o:?}");

    let mut spec = f.sh("wc -c < /proc/timer_list | grep -vx 0 >/dev/null && echo visible; test -e /dev/kmsg && echo devices; grep ' /sys ' /proc/self/mountinfo | grep -c ' rw,'");
    spec.security.privileged = true;
    assert_eq!(out(&run(&spec).unwrap()), "visible\ndevices\n1");
    assert!(!out(&run(&f.sh("ls /dev")).unwrap()).contains("kmsg"));
}

#[test]
fn readonly_rootfs() {
    let Some(f) = fixture() else { return };
    let mut spec =
        f.sh("touch /new 2>/dev/null && echo wrote || echo ro; touch /dev/shm/x && echo shm");
    spec.readonly_rootfs = true;
    assert_eq!(out(&run(&spec).unwrap()), "ro\nshm");
    assert!(!f.upper.join("new").exists());
}

#[test]
fn cgroup_limits_are_written_and_namespaced() {
    let Some(f) = fixture() else { return };
    let _parents = common::CgroupParents;
    let name = cgroup_name("limits");
    let mut spec = f.sh(
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max \
         /sys/fs/cgroup/cpu/cpu.cfs_quota_us; mkdir /sys/fs/cgroup/memory/x 2>/dev/null || echo ro; \
         cat /proc/self/cgroup; sleep 0.3",
    );
    spec.cgroup = Some(name.clone());
    spec.resources = Resources {
        memory: Some(64 << 20),
        memory_swap: None,
        cpus: Some(0.5),
        pids_limit: Some(42),
    };
    let running = spawn(&spec).unwrap();
    let read = |p: &str| fs::read_to_string(format!("/sys/fs/cgroup/{p}")).unwrap();
    assert_eq!(
        read(&format!("memory/{name}/memory.limit_in_bytes")).trim(),
        "67108864"
    );
    assert_eq!(
        read(&format!("cpu/{name}/cpu.cfs_quota_us")).trim(),
        "50000"
    );
    assert_eq!(read(&format!("pids/{name}/pids.max")).trim(), "42");
    let procs = read(&format!("pids/{name}/cgroup.procs"));
    assert!(
        procs.lines().any(|l| l == running.pid().to_string()),
        "{procs}"
    );
    // Also in the v2 tree (hybrid host), where it is born by clone3.
    if std::path::Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists() {
        let v2 = read(&format!("unified/{name}/cgroup.procs"));
        assert!(v2.lines().any(|l| l == running.pid().to_string()), "{v2}");
    }
    let done = running.wait().unwrap();
    assert!(!done.oom_killed);
    // The container reads its own limits, read-only.
    let text = out(&done.outcome);
    let first: Vec<&str> = text.lines().take(4).collect();
    assert_eq!(
        first,
        ["67108864", "42", "50000", "ro"],
        "{:?}",
        done.outcome
    );
    // The cgroup namespace is rooted at the container's cgroup.
    for line in text.lines().skip(4) {
        if line.contains("memory") || line.contains("pids") || line.starts_with("0::") {
            assert!(line.ends_with(":/"), "{line}");
        }
    }
    assert!(cgroup_dirs(&name).is_empty(), "{:?}", cgroup_dirs(&name));
    // A container keeps the mount points it made in its own upper dir.
    assert!(f.upper.join("etc/hostname").is_file());
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    let Some(f) = fixture() else { return };
    let _parents = common::CgroupParents;
    let name = cgroup_name("forkbomb");
    // Start far more sleepers than allowed (the subshell dies on the first
    // failed fork); count what really runs with shell builtins only.
    let mut spec = f.sh(
        "(i=0; while [ $i -lt 100 ]; do sleep 5 & i=$((i+1)); done) 2>/dev/null; \
         set -- /proc/[0-9]*; echo $#; kill -9 -1",
    );
    spec.cgroup = Some(name.clone());
    spec.resources.pids_limit = Some(16);
    spec.timeout = Some(Duration::from_secs(20));
    let o = spawn(&spec).unwrap().wait().unwrap().outcome;
    let count: usize = out(&o)
        .lines()
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("no count: {o:?}"));
    assert!(count <= 16, "{count} processes: {o:?}");
    assert!(
        count >= 10,
        "the limit, not something else, stopped it: {count}"
    );
    assert!(!o.timed_out);
    assert!(cgroup_dirs(&name).is_empty());
}

#[test]
fn memory_hog_is_oom_killed() {
    let Some(f) = fixture() else { return };
    let _parents = common::CgroupParents;
    let name = cgroup_name("oom");
    // tail keeps its whole input in memory.
    let mut spec = f.sh("head -c 200000000 /dev/zero | tail -c 150000000 | wc -c");
    spec.cgroup = Some(name.clone());
    spec.resources.memory = Some(32 << 20);
    spec.resources.memory_swap = Some(32 << 20);
    let done = spawn(&spec).unwrap().wait().unwrap();
    assert!(done.oom_killed, "{:?}", done.outcome);
    assert_ne!(out(&done.outcome), "150000000");
    assert!(cgroup_dirs(&name).is_empty());
}

fn read_all(fd: OwnedFd) -> String {
    let mut file = fs::File::from(fd);
    let mut buf = Vec::new();
    // EIO once the slave side is closed ends the stream.
    let _ = file.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

#[test]
fn pty_is_the_controlling_terminal() {
    let Some(f) = fixture() else { return };
    let mut spec = f.sh("sleep 0.2; tty; stty size; ls -l /proc/self/fd/0 | grep -o '/dev/pts/0'");
    spec.stdio = Stdio::Pty;
    let mut running = spawn(&spec).unwrap();
    let master = running.pty_master().unwrap();
    assert!(running.pty_master().is_none());
    rdock_runner::resize_pty(std::os::fd::AsFd::as_fd(&master), 33, 120).unwrap();
    let reader = std::thread::spawn(move || read_all(master));
    let done = running.wait().unwrap();
    assert!(done.outcome.status.success());
    let text = reader.join().unwrap().replace('\r', "");
    assert_eq!(text, "/dev/pts/0\n33 120\n/dev/pts/0\n");
}

#[test]
fn init_gives_the_terminal_to_the_command() {
    let Some(f) = fixture() else { return };
    // pgrp and foreground pgrp of the shell (pid 2 under the init).
    let mut spec = f.sh("echo $$; cut -d' ' -f5,8 /proc/$$/stat");
    spec.stdio = Stdio::Pty;
    spec.init = true;
    let mut running = spawn(&spec).unwrap();
    let master = running.pty_master().unwrap();
    let reader = std::thread::spawn(move || read_all(master));
    assert!(running.wait().unwrap().outcome.status.success());
    assert_eq!(reader.join().unwrap().replace('\r', ""), "2\n2 2\n");
}

#[test]
fn exec_joins_the_container() {
    let Some(f) = fixture() else { return };
    let _parents = common::CgroupParents;
    let name = cgroup_name("exec");
    let mut spec = f.spec(&["sleep", "30"]);
    spec.hostname = "exec-box".into();
    spec.cgroup = Some(name.clone());
    spec.network = Network::None;
    let running = spawn(&spec).unwrap();
    let mut e = ExecSpec::new(
        ["sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$; pwd; id -u; grep CapEff /proc/self/status; cat /proc/net/dev | wc -l; sleep 0.3"]
            .map(String::from)
            .to_vec(),
    );
    e.cwd = "/etc".into();
    let ex = exec(running.pid(), &e).unwrap();
    let host_pid = ex.pid();
    let in_cgroup = fs::read_to_string(format!("/sys/fs/cgroup/pids/{name}/cgroup.procs")).unwrap();
    let stat = fs::read_to_string(format!("/proc/{host_pid}/stat")).unwrap();
    let helper = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    let o = ex.wait().unwrap().outcome;
    assert!(o.status.success(), "{o:?}");
    let lines: Vec<String> = out(&o).lines().map(str::to_owned).collect();
    assert_eq!(lines[0], "exec-box");
    assert_eq!(lines[1].trim(), "sleep 30");
    assert_ne!(lines[2], "1");
    assert_eq!(lines[3], "/etc");
    assert_eq!(lines[4], "0");
    assert_eq!(lines[5], "CapEff:\t00000000a80425fb");
    assert_eq!(lines[6], "3", "only lo in the container's netns");
    // The exec'd process is in the container's cgroup; its helper is not.
    let members: Vec<&str> = in_cgroup.lines().collect();
    assert!(
        members.contains(&host_pid.to_string().as_str()),
        "{members:?}"
    );
    assert!(members.contains(&running.pid().to_string().as_str()));
    assert!(
        !members.contains(&helper.as_str()),
        "{helper} in {members:?}"
    );

    let mut missing = ExecSpec::new(vec!["nope".into()]);
    missing.stdio = Stdio::Null;
    assert_eq!(
        exec(running.pid(), &missing).unwrap_err().to_string(),
        "exec: \"nope\": executable file not found in $PATH"
    );
    running.signal(Signal::SIGKILL).unwrap();
    let done = running.wait().unwrap();
    assert_eq!(done.outcome.status, ExitStatus::Signaled(9));
    assert!(matches!(
        exec(999_999_999, &e),
        Err(rdock_runner::Error::NotRunning { .. })
    ));
    assert!(cgroup_dirs(&name).is_empty());
}

#[test]
fn init_reaps_zombies_and_forwards_signals() {
    let Some(f) = fixture() else { return };
    // An orphan that exits becomes a zombie unless pid 1 reaps it.
    let mut spec = f.sh(
        "sh -c 'sleep 0.1 &'; sleep 0.5; echo $$; grep -l '^State:.Z' /proc/[0-9]*/status | wc -l",
    );
    spec.init = true;
    assert_eq!(out(&run(&spec).unwrap()), "2\n0");

    let mut spec = f.sh("trap 'exit 3' TERM; while true; do sleep 0.02; done");
    spec.init = true;
    let running = spawn(&spec).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    running.signal(Signal::SIGTERM).unwrap();
    assert_eq!(
        running.wait().unwrap().outcome.status,
        ExitStatus::Exited(3)
    );

    let mut spec = f.spec(&["sleep", "30"]);
    spec.init = true;
    let running = spawn(&spec).unwrap();
    running.signal(Signal::SIGKILL).unwrap_or(());
    let start = Instant::now();
    let st = running.wait().unwrap().outcome.status;
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(st, ExitStatus::Signaled(9));
}

#[test]
fn fds_stdio_and_host_file_overrides() {
    let Some(f) = fixture() else { return };
    let hosts = f.dir.path().join("my-hosts");
    fs::write(&hosts, "10.1.2.3 other\n").unwrap();
    let outfile = f.dir.path().join("out.txt");
    let file = fs::File::create(&outfile).unwrap();
    let input = fs::File::open(&hosts).unwrap();
    use std::os::fd::AsRawFd;
    let mut spec = f.sh("cat; cat /etc/hosts; echo err >&2");
    spec.hosts_file = Some(hosts.clone());
    spec.stdio = Stdio::Fds {
        stdin: input.as_raw_fd(),
        stdout: file.as_raw_fd(),
        stderr: file.as_raw_fd(),
    };
    assert!(run(&spec).unwrap().status.success());
    assert_eq!(
        fs::read_to_string(&outfile).unwrap(),
        "10.1.2.3 other\n10.1.2.3 other\nerr\n"
    );
}

#[test]
fn user_namespace_maps_root() {
    let Some(f) = fixture() else { return };
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let base = 200_000;
    fs::set_permissions(f.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // The layer stays owned by host root: it is idmapped, not chowned;
    // the runner gives the upper and work dirs to the mapped root.
    let _parents = common::CgroupParents;
    let name = cgroup_name("userns");
    let mut spec = f.sh(
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; grep CapEff /proc/self/status; \
         echo hi > /made; hostname; stat -c %u:%g /bin/busybox /etc/passwd; \
         echo more >> /etc/passwd; sleep 0.3",
    );
    spec.userns = Some(rdock_runner::IdMapping::single(base, 65536));
    spec.cgroup = Some(name.clone());
    spec.hostname = "remapped".into();
    let running = spawn(&spec).unwrap();
    // The container's root is an unprivileged host user.
    let status = fs::read_to_string(format!("/proc/{}/status", running.pid())).unwrap();
    // Only the container's own processes are in its cgroup, not the helper.
    let ppid = status_field(&status, "PPid:");
    let procs = fs::read_to_string(format!("/sys/fs/cgroup/pids/{name}/cgroup.procs")).unwrap();
    assert!(
        procs.lines().any(|l| l == running.pid().to_string()),
        "{procs}"
    );
    assert!(!procs.lines().any(|l| l == ppid), "{ppid} in {procs}");
    // exec enters the user namespace too.
    let e = ExecSpec::new(
        ["sh", "-c", "id -u; cat /proc/self/uid_map"]
            .map(String::from)
            .to_vec(),
    );
    let eo = exec(running.pid(), &e).unwrap().wait().unwrap().outcome;
    let etext = out(&eo);
    let mut elines = etext.lines();
    assert_eq!(elines.next(), Some("0"), "{eo:?}");
    assert_eq!(
        elines
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["0", "200000", "65536"])
    );
    let o = running.wait().unwrap().outcome;
    assert!(o.status.success(), "{o:?}");
    let uid_line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .to_owned();
    assert!(uid_line.contains(&base.to_string()), "{uid_line}");
    let text = out(&o);
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["0", "200000", "65536"]);
    assert_eq!(lines[1], ["0", "200000", "65536"]);
    assert_eq!(text.lines().nth(2), Some("0"));
    assert_eq!(text.lines().nth(3), Some("CapEff:\t00000000a80425fb"));
    assert_eq!(text.lines().nth(4), Some("remapped"));
    // Image files appear owned by root inside; what the container writes
    // (new files, copied-up ones) belongs to the mapped ids on the host.
    assert_eq!(text.lines().nth(5), Some("0:0"), "{text}");
    assert_eq!(text.lines().nth(6), Some("0:0"), "{text}");
    for p in ["made", "etc/passwd"] {
        let m = fs::metadata(f.upper.join(p)).unwrap();
        assert_eq!((m.uid(), m.gid()), (base, base), "{p}");
    }
    assert_eq!(fs::metadata(f.lower.join("etc/passwd")).unwrap().uid(), 0);

    // A terminal from the container's own devpts works under the mapping.
    let mut spec = f.sh("tty");
    spec.userns = Some(rdock_runner::IdMapping::single(base, 65536));
    spec.stdio = Stdio::Pty;
    let mut running = spawn(&spec).unwrap();
    let master = running.pty_master().unwrap();
    let reader = std::thread::spawn(move || read_all(master));
    assert!(running.wait().unwrap().outcome.status.success());
    assert_eq!(reader.join().unwrap().trim(), "/dev/pts/0");
    assert!(cgroup_dirs(&name).is_empty());
}

#[test]
fn user_namespace_idmaps_every_layer() {
    let Some(f) = fixture() else { return };
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(f.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // More layers than one descriptor message carries.
    let mut lowers = Vec::new();
    for i in 0..70 {
        let dir = f.dir.path().join(format!("l{i}"));
        fs::create_dir_all(dir.join("layers")).unwrap();
        fs::write(dir.join("layers").join(i.to_string()), "").unwrap();
        lowers.push(dir);
    }
    lowers.push(f.lower.clone());
    let mut spec =
        f.sh("ls /layers | wc -l; stat -c %u:%g /layers/0 /layers/69 /bin/busybox | sort -u");
    spec.lower_dirs = lowers;
    spec.userns = Some(rdock_runner::IdMapping::single(300_000, 65536));
    let o = run(&spec).unwrap();
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        out(&o).split_whitespace().collect::<Vec<_>>(),
        ["70", "0:0"]
    );
}

/// A network namespace made with `ip netns add`, deleted on drop.
struct NetNs(String);

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.0])
            .status();
    }
}

#[test]
fn joins_an_existing_network_namespace() {
    let Some(f) = fixture() else { return };
    let ns = NetNs(format!("rdock-a-{}", std::process::id()));
    let ip = |args: &[&str]| {
        let st = std::process::Command::new("ip")
            .args(args)
            .status()
            .unwrap();
        assert!(st.success(), "ip {args:?}");
    };
    ip(&["netns", "add", &ns.0]);
    ip(&[
        "-n", &ns.0, "link", "add", "veth7a", "type", "veth", "peer", "name", "veth7b",
    ]);
    let mut spec = f.sh("cat /proc/net/dev");
    spec.network = Network::Join(format!("/run/netns/{}", ns.0).into());
    let o = run(&spec).unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("veth7a:") && text.contains("veth7b:"),
        "{text}"
    );

    spec.network = Network::Join("/run/netns/rdock-missing-ns".into());
    let err = run(&spec).unwrap_err().to_string();
    assert!(
        err.starts_with("open network namespace /run/netns/rdock-missing-ns: "),
        "{err}"
    );
}
