//! "Did you mean ...?" suggestions: the closest name within edit distance 2,
//! as BuildKit's `suggest` package picks it.

/// The option closest to `val` (distance below 3), or `None` when `val` is
/// itself an option or nothing is close.
pub fn suggest<'a>(
    val: &str,
    options: impl IntoIterator<Item = &'a str>,
    case_sensitive: bool,
) -> Option<String> {
    let fold = |s: &str| {
        if case_sensitive {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    };
    let v = fold(val);
    let mut best: Option<String> = None;
    let mut min = 3;
    for opt in options {
        let o = fold(opt);
        if o == v {
            return None;
        }
        let d = levenshtein(&v, &o);
        if d < min {
            min = d;
            best = Some(if case_sensitive {
                o
            } else {
                match_case(&o, val)
            });
        }
    }
    best
}

fn match_case(val: &str, orig: &str) -> String {
    if orig == orig.to_lowercase() {
        val.to_lowercase()
    } else if orig == orig.to_uppercase() {
        val.to_uppercase()
    } else {
        val.to_string()
    }
}

/// Edit distance counted in characters.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("foo", "from"), 2);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("ü", "u"), 1);
        assert_eq!(suggest("HOMe", ["HOME", "PATH"], true), Some("HOME".into()));
        assert_eq!(suggest("HOME", ["HOME"], true), None);
        assert_eq!(suggest("XYZABC", ["HOME"], true), None);
        assert_eq!(suggest("cpy", ["copy", "run"], false), Some("copy".into()));
        assert_eq!(suggest("CPY", ["copy", "run"], false), Some("COPY".into()));
    }
}
