//! Lexical path helpers with Go's exact rules: [`clean`] is `path.Clean` (the
//! form `filepath.Clean` takes on Unix) and [`parent`] is `filepath.Dir`.
//! Both work on slash-separated text and never touch the file system.

/// Shortest equivalent form of `path`: repeated slashes collapse, `.`
/// elements go, `..` eats the element before it (or stays, at the start of a
/// relative path, or vanishes after the root), trailing slashes go. An empty
/// result is `.`.
pub(crate) fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut kept: Vec<&str> = Vec::new();
    for element in path.split('/') {
        match element {
            "" | "." => {}
            ".." => match kept.last() {
                Some(&last) if last != ".." => {
                    kept.pop();
                }
                _ if rooted => {}
                _ => kept.push(".."),
            },
            other => kept.push(other),
        }
    }
    let joined = kept.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Everything but the last element of `path`, cleaned; `.` when there is no
/// slash at all.
pub(crate) fn parent(path: &str) -> String {
    match path.rfind('/') {
        Some(slash) => clean(&path[..=slash]),
        None => ".".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{clean, parent};

    #[test]
    fn clean_follows_go() {
        let cases = [
            ("", "."),
            (".", "."),
            ("/", "/"),
            ("//", "/"),
            ("a/", "a"),
            ("a//b", "a/b"),
            ("./a/./b/", "a/b"),
            ("a/../b", "b"),
            ("a/..", "."),
            ("../a", "../a"),
            ("../../a/../b", "../../b"),
            ("/../a", "/a"),
            ("/a/b/../../..", "/"),
            ("!/", "!"),
            ("!./foo", "!./foo"),
            ("**/", "**"),
        ];
        for (input, want) in cases {
            assert_eq!(clean(input), want, "clean({input:?})");
        }
    }

    #[test]
    fn parent_follows_go_dir() {
        let cases = [
            ("a", "."),
            ("", "."),
            ("a/b", "a"),
            ("a/b/", "a/b"),
            ("a//b", "a"),
            ("/", "/"),
            ("/a", "/"),
            ("../a", ".."),
        ];
        for (input, want) in cases {
            assert_eq!(parent(input), want, "parent({input:?})");
        }
    }
}
