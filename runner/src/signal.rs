//! Signal names as docker and BuildKit read them (moby's signal map for
//! Linux): `SIGTERM`, `term` or `15`; real-time signals as `RTMIN+3` or
//! `RTMAX-1`. [`signal_number`] parses, [`signal_name`] names.

const SIGRTMIN: i32 = 34;
const SIGRTMAX: i32 = 64;

const NAMES: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
    ("UNUSED", 31),
];

/// The number of a signal written as a number (any but 0, as moby takes
/// it) or a name, with or without `SIG`, in any case. `None` when unknown.
pub fn signal_number(text: &str) -> Option<i32> {
    if let Ok(n) = text.parse::<i32>() {
        return (n != 0).then_some(n);
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some((_, n)) = NAMES.iter().find(|(n, _)| *n == name) {
        return Some(*n);
    }
    let (base, rest) = match name {
        _ if name.starts_with("RTMIN") => (SIGRTMIN, &name[5..]),
        _ if name.starts_with("RTMAX") => (SIGRTMAX, &name[5..]),
        _ => return None,
    };
    let n = match rest {
        "" => base,
        _ if rest.starts_with('+') && base == SIGRTMIN => base + rest[1..].parse::<i32>().ok()?,
        _ if rest.starts_with('-') && base == SIGRTMAX => base - rest[1..].parse::<i32>().ok()?,
        _ => return None,
    };
    (SIGRTMIN..=SIGRTMAX).contains(&n).then_some(n)
}

/// A signal's name as docker shows it (`SIGTERM`); `None` for real-time
/// and unnamed numbers.
pub fn signal_name(number: i32) -> Option<String> {
    NAMES
        .iter()
        .find(|(_, n)| *n == number)
        .map(|(name, _)| format!("SIG{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_realtime() {
        assert_eq!(signal_number("SIGTERM"), Some(15));
        assert_eq!(signal_number("term"), Some(15));
        assert_eq!(signal_number("9"), Some(9));
        assert_eq!(signal_number("0"), None);
        assert_eq!(signal_number("SIGFOO"), None);
        assert_eq!(signal_number("RTMIN+3"), Some(37));
        assert_eq!(signal_number("SIGRTMAX-1"), Some(63));
        assert_eq!(signal_number("RTMIN+40"), None);
        assert_eq!(signal_name(10).as_deref(), Some("SIGUSR1"));
        assert_eq!(signal_name(40), None);
    }
}
