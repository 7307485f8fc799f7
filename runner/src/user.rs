//! Resolving a `USER` string (`name`, `uid`, `name:group`, `uid:gid`)
//! against an image's `/etc/passwd` and `/etc/group` into an [`ExecUser`],
//! with the same rules as runc: numeric ids need no entry, names must have
//! one, and supplementary groups come from `/etc/group` membership.

use crate::error::{Error, Result};

/// The credentials a command runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary group ids.
    pub groups: Vec<u32>,
    /// Home directory (`/` when unknown), for `$HOME`.
    pub home: String,
}

/// Resolves `spec` against the text of `/etc/passwd` and `/etc/group`
/// (either may be empty when the file is missing).
pub fn resolve_user(spec: &str, passwd: &str, group: &str) -> Result<ExecUser> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let entry = passwd
        .lines()
        .filter_map(parse_passwd)
        .find(|p| p.name == user_part || user_part.parse() == Ok(p.uid));
    let (uid, mut gid, home, name) = match (entry, user_part.parse::<u32>()) {
        (Some(p), _) => (p.uid, p.gid, p.home.to_owned(), Some(p.name)),
        (None, Ok(uid)) => (uid, 0, "/".to_owned(), None),
        (None, Err(_)) => {
            return Err(Error::UserNotFound {
                user: user_part.to_owned(),
            })
        }
    };
    let groups: Vec<Group<'_>> = group.lines().filter_map(parse_group).collect();
    if let Some(g) = group_part.filter(|g| !g.is_empty()) {
        gid = match groups
            .iter()
            .find(|e| e.name == g || g.parse() == Ok(e.gid))
        {
            Some(e) => e.gid,
            None => g.parse().map_err(|_| Error::GroupNotFound {
                group: g.to_owned(),
            })?,
        };
    }
    // As runc: memberships count only when USER names no group; then, as
    // containerd and BuildKit since CVE-2023-25173, the primary group is
    // always one of the supplementary groups.
    let explicit_group = group_part.is_some_and(|g| !g.is_empty());
    let mut supplementary: Vec<u32> = match name {
        Some(name) if !explicit_group => groups
            .iter()
            .filter(|g| g.members.split(',').any(|m| m == name))
            .map(|g| g.gid)
            .collect(),
        _ => Vec::new(),
    };
    if !supplementary.contains(&gid) {
        supplementary.insert(0, gid);
    }
    Ok(ExecUser {
        uid,
        gid,
        groups: supplementary,
        home: if home.is_empty() {
            "/".to_owned()
        } else {
            home
        },
    })
}

/// The uid and primary gid of user `name` in the text of `/etc/passwd`.
pub fn passwd_ids(passwd: &str, name: &str) -> Option<(u32, u32)> {
    passwd
        .lines()
        .filter_map(parse_passwd)
        .find(|p| p.name == name)
        .map(|p| (p.uid, p.gid))
}

/// The gid of group `name` in the text of `/etc/group`.
pub fn group_id(group: &str, name: &str) -> Option<u32> {
    group
        .lines()
        .filter_map(parse_group)
        .find(|g| g.name == name)
        .map(|g| g.gid)
}

struct Passwd<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct Group<'a> {
    name: &'a str,
    gid: u32,
    members: &'a str,
}

fn parse_passwd(line: &str) -> Option<Passwd<'_>> {
    let f: Vec<&str> = line.split(':').collect();
    if line.starts_with('#') || f.len() < 4 {
        return None;
    }
    Some(Passwd {
        name: f[0],
        uid: f[2].parse().ok()?,
        gid: f[3].parse().ok()?,
        home: f.get(5).copied().unwrap_or(""),
    })
}

fn parse_group(line: &str) -> Option<Group<'_>> {
    let f: Vec<&str> = line.split(':').collect();
    if line.starts_with('#') || f.len() < 3 {
        return None;
    }
    Some(Group {
        name: f[0],
        gid: f[2].parse().ok()?,
        members: f.get(3).copied().unwrap_or(""),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nalice:x:1000:\nwheel:x:10:alice,bob\nstaff:x:50:alice\n";

    #[test]
    fn root_by_default() {
        let u = resolve_user("", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        assert_eq!(u.groups, vec![0]);
    }

    #[test]
    fn name_with_supplementary_groups() {
        let u = resolve_user("alice", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert_eq!(u.groups, vec![1000, 10, 50]);
        assert_eq!(u.home, "/home/alice");
    }

    #[test]
    fn explicit_group_and_numeric_ids() {
        // An explicit group: no memberships, only that group.
        let u = resolve_user("alice:wheel", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.groups.clone()), (1000, 10, vec![10]));
        let u = resolve_user("1234:4321", "", "").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1234, 4321, "/"));
        assert_eq!(u.groups, vec![4321]);
        // A uid with no entry: group 0, as BuildKit's `uid=1234 gid=0(root) groups=0(root)`.
        let u = resolve_user("1234", PASSWD, GROUP).unwrap();
        assert_eq!((u.gid, u.groups.clone()), (0, vec![0]));
    }

    #[test]
    fn unknown_names_fail() {
        let e = resolve_user("bob", PASSWD, GROUP).unwrap_err();
        assert!(e.to_string().contains("unable to find user bob"), "{e}");
        assert!(matches!(
            resolve_user("alice:nogroup", PASSWD, GROUP),
            Err(Error::GroupNotFound { .. })
        ));
    }
}
