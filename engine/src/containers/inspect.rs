//! `docker inspect`'s JSON for a container, from its config and state.

use serde_json::{json, Value};

use super::lifecycle::ContainerInfo;
use super::mounts::MountSpec;

/// The container as `docker inspect` shows it (the fields rdock knows).
pub fn inspect_container(info: &ContainerInfo) -> Value {
    let (c, s) = (&info.config, &info.state);
    let args = c.args();
    let mounts: Vec<Value> = c
        .mounts
        .iter()
        .map(|m| match m {
            MountSpec::Bind {
                source,
                target,
                readonly,
                ..
            } => json!({"Type": "bind", "Source": source, "Destination": target, "RW": !readonly}),
            MountSpec::Volume {
                name,
                target,
                readonly,
                ..
            } => json!({"Type": "volume", "Name": name, "Destination": target, "RW": !readonly}),
            MountSpec::Tmpfs { target, options } => {
                json!({"Type": "tmpfs", "Destination": target, "RW": !options.readonly})
            }
        })
        .collect();
    let r = &c.resources;
    json!({
        "Id": c.id,
        "Created": c.created,
        "Path": args.first().cloned().unwrap_or_default(),
        "Args": args.iter().skip(1).collect::<Vec<_>>(),
        "State": {
            "Status": s.status.name(),
            "Running": s.status == super::Status::Running,
            "Paused": false,
            "Restarting": s.status == super::Status::Restarting,
            "OOMKilled": s.oom_killed,
            "Dead": false,
            "Pid": s.pid,
            "ExitCode": s.exit_code.unwrap_or(0),
            "Error": s.error,
            "StartedAt": if s.started_at.is_empty() { "0001-01-01T00:00:00Z" } else { &s.started_at },
            "FinishedAt": if s.finished_at.is_empty() { "0001-01-01T00:00:00Z" } else { &s.finished_at },
        },
        "Image": c.image_id,
        "LogPath": info.log_path,
        "Name": format!("/{}", c.name),
        "RestartCount": s.restart_count,
        "HostConfig": {
            "NetworkMode": c.network.name(),
            "PortBindings": c.publish,
            "RestartPolicy": {"Name": c.restart.name(), "MaximumRetryCount": match c.restart {
                super::RestartPolicy::OnFailure(n) => n,
                _ => 0,
            }},
            "AutoRemove": c.auto_remove,
            "CapAdd": c.cap_add,
            "CapDrop": c.cap_drop,
            "Privileged": c.privileged,
            "SecurityOpt": c.security.to_strings(),
            "ReadonlyRootfs": c.read_only,
            "Init": c.init,
            "UsernsMode": c.userns.clone().unwrap_or_default(),
            "Memory": r.memory.unwrap_or(0),
            "MemorySwap": r.memory_swap.unwrap_or(0),
            "NanoCpus": r.cpus.map_or(0, |c| (c * 1e9) as i64),
            "PidsLimit": r.pids_limit,
        },
        "Mounts": mounts,
        "NetworkSettings": {"IPAddress": s.ip, "Ports": s.ports},
        "Config": {
            "Hostname": c.hostname,
            "User": c.user,
            "Tty": c.tty,
            "OpenStdin": c.interactive,
            "Env": c.env,
            "Cmd": c.cmd,
            "Entrypoint": if c.entrypoint.is_empty() { Value::Null } else { json!(c.entrypoint) },
            "Image": c.image,
            "WorkingDir": c.workdir,
            "StopSignal": super::options::signal_name(c.stop_signal),
            "StopTimeout": c.stop_timeout,
        },
    })
}
