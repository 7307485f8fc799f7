//! `--chmod` values of COPY and ADD: an octal mode up to `07777`, or a
//! symbolic mode as chmod(1) takes it (`u+x`, `go-w`, `u=rwx,go=u-w`, `+X`),
//! accepted and applied the way BuildKit's mode library (a port of BSD
//! `setmode`) does with a zero umask. [`Chmod`] is the checked value,
//! [`SymbolicMode::apply`] computes the resulting permission bits.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

const SET_ID: u16 = 0o6000;
const STICKY: u16 = 0o1000;
const STANDARD: u16 = 0o6777;
const USER: u16 = 0o4700;
const GROUP: u16 = 0o2070;
const OTHER: u16 = 0o0007;
const READ: u16 = 0o444;
const WRITE: u16 = 0o222;
const EXEC: u16 = 0o111;

/// Why a `--chmod` value is refused, in BuildKit's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChmodError {
    /// Starts like a number but is not octal, or is above `07777`.
    #[error("invalid chmod parameter: '{0}'. it should be octal string and between 0 and 07777")]
    NotOctal(String),
    /// Not a valid symbolic mode.
    #[error("invalid syntax")]
    Syntax(String),
}

/// A checked `--chmod` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chmod {
    /// Octal permission bits, at most `0o7777`, and the text they were
    /// written as (history records it so: `600` stays `600`).
    Octal(u32, String),
    /// A symbolic mode.
    Symbolic(SymbolicMode),
    /// The value uses variables (or quotes or escapes): it is checked by
    /// parsing it again once the builder has expanded it.
    Unexpanded(String),
}

impl Chmod {
    /// A flag value as found in the Dockerfile: `None` when empty, checked
    /// now unless it needs expanding first.
    pub(crate) fn from_flag(value: &str) -> Result<Option<Chmod>, ChmodError> {
        if value.is_empty() {
            return Ok(None);
        }
        if value.contains(['$', '\'', '"', '\\', '`']) {
            return Ok(Some(Chmod::Unexpanded(value.to_string())));
        }
        value.parse().map(Some)
    }

    /// The permission bits of a file whose bits were `mode` (a directory
    /// when `is_dir`) after this change; `None` for [`Chmod::Unexpanded`].
    pub fn apply(&self, mode: u32, is_dir: bool) -> Option<u32> {
        match self {
            Chmod::Octal(bits, _) => Some(*bits),
            Chmod::Symbolic(s) => Some(s.apply(mode, is_dir)),
            Chmod::Unexpanded(_) => None,
        }
    }
}

impl FromStr for Chmod {
    type Err = ChmodError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let octal = !s.is_empty() && s.bytes().all(|b| (b'0'..=b'7').contains(&b));
        if octal {
            return match u32::from_str_radix(s, 8) {
                Ok(bits) if bits <= 0o7777 => Ok(Chmod::Octal(bits, s.to_string())),
                _ => Err(ChmodError::NotOctal(s.to_string())),
            };
        }
        if s.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            return Err(ChmodError::NotOctal(s.to_string()));
        }
        SymbolicMode::parse(s).map(Chmod::Symbolic)
    }
}

impl Chmod {
    /// The value as written in the Dockerfile (after expansion), as
    /// BuildKit records it in the history.
    pub fn as_written(&self) -> &str {
        match self {
            Chmod::Octal(_, text) | Chmod::Unexpanded(text) => text,
            Chmod::Symbolic(s) => &s.text,
        }
    }
}

impl fmt::Display for Chmod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Chmod::Octal(bits, _) => write!(f, "{bits:04o}"),
            Chmod::Symbolic(s) => f.write_str(&s.text),
            Chmod::Unexpanded(s) => f.write_str(s),
        }
    }
}

impl Serialize for Chmod {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (index, name) = match self {
            Chmod::Octal(..) => (0, "Octal"),
            Chmod::Symbolic(_) => (1, "Symbolic"),
            Chmod::Unexpanded(_) => (2, "Unexpanded"),
        };
        serializer.serialize_newtype_variant("Chmod", index, name, &self.to_string())
    }
}

/// One step of a symbolic mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Set(u16),
    Clear(u16),
    /// `X`: set when the file is a directory or already executable by someone.
    SetIfSearchable(u16),
    /// `u=g`-style copy of one class's bits onto the classes in `to`.
    Copy {
        from: u8,
        to: [bool; 3],
        clear: bool,
        set: bool,
    },
}

/// A checked symbolic mode, kept with its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolicMode {
    text: String,
    steps: Vec<Step>,
}

impl SymbolicMode {
    /// The mode as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn parse(text: &str) -> Result<Self, ChmodError> {
        let syntax = || ChmodError::Syntax(text.to_string());
        let b = text.as_bytes();
        let mut steps = Vec::new();
        let mut i = 0;
        let mut equal_done = false;
        loop {
            // Who: any of a, u, g, o.
            let mut who: u16 = 0;
            loop {
                let Some(&c) = b.get(i) else {
                    return Err(syntax());
                };
                who |= match c {
                    b'a' => STANDARD,
                    b'u' => USER,
                    b'g' => GROUP,
                    b'o' => OTHER,
                    _ => break,
                };
                i += 1;
            }
            // One or more operators, each with its permissions.
            loop {
                let op = b[i];
                i += 1;
                match op {
                    b'+' | b'-' => {}
                    b'=' => equal_done = false,
                    _ => return Err(syntax()),
                }
                who &= !STICKY;
                let (mut perm, mut perm_x) = (0u16, 0u16);
                loop {
                    let c = b.get(i).copied().unwrap_or(0);
                    let not_only_other = who == 0 || who & !OTHER != 0;
                    match c {
                        b'r' => perm |= READ,
                        b'w' => perm |= WRITE,
                        b'x' => perm |= EXEC,
                        b's' if not_only_other => perm |= SET_ID,
                        b't' if not_only_other => {
                            who |= STICKY;
                            perm |= STICKY;
                        }
                        b's' | b't' => {}
                        b'X' if op == b'-' => perm |= EXEC,
                        b'X' => perm_x = EXEC,
                        b'u' | b'g' | b'o' => {
                            if perm != 0 {
                                push(&mut steps, op, who, perm);
                                perm = 0;
                            }
                            if op == b'=' {
                                equal_done = true;
                            }
                            if perm_x != 0 {
                                push(&mut steps, b'X', who, perm_x);
                                perm_x = 0;
                            }
                            steps.push(copy_step(c, who, op));
                        }
                        _ => {
                            if perm != 0 || (op == b'=' && !equal_done) {
                                if op == b'=' {
                                    equal_done = true;
                                }
                                push(&mut steps, op, who, perm);
                            }
                            if perm_x != 0 {
                                push(&mut steps, b'X', who, perm_x);
                            }
                            break;
                        }
                    }
                    i += 1;
                }
                if i == b.len() {
                    return Ok(SymbolicMode {
                        text: text.to_string(),
                        steps,
                    });
                }
                if b[i] == b',' {
                    i += 1;
                    break;
                }
            }
        }
    }

    /// The permission bits (including set-id and sticky, as `0o7777`) of a
    /// file whose bits were `mode` after this change.
    pub fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        let original = (mode & 0o7777) as u16;
        let mut m = original;
        for step in &self.steps {
            match *step {
                Step::Set(bits) => m |= bits,
                Step::Clear(bits) => m &= !bits,
                Step::SetIfSearchable(bits) => {
                    if original & EXEC != 0 || is_dir {
                        m |= bits;
                    }
                }
                Step::Copy {
                    from,
                    to,
                    clear,
                    set,
                } => {
                    let value = match from {
                        b'u' => (m & 0o700) >> 6,
                        b'g' => (m & 0o070) >> 3,
                        _ => m & 0o007,
                    };
                    let shifts = [6, 3, 0];
                    if clear {
                        let cleared = if set { 0o7 } else { value };
                        for (on, shift) in to.iter().zip(shifts) {
                            if *on {
                                m &= !(cleared << shift);
                            }
                        }
                    }
                    if set {
                        for (on, shift) in to.iter().zip(shifts) {
                            if *on {
                                m |= value << shift;
                            }
                        }
                    }
                }
            }
        }
        (mode & !0o7777) | u32::from(m)
    }
}

/// Adds the steps of `op` (`+`, `-`, `=` or `X`) for `perm` on `who`.
fn push(steps: &mut Vec<Step>, op: u8, who: u16, perm: u16) {
    let bits = if who != 0 { who & perm } else { perm };
    match op {
        b'=' => {
            steps.push(Step::Clear(if who != 0 { who } else { STANDARD }));
            steps.push(Step::Set(bits));
        }
        b'+' => steps.push(Step::Set(bits)),
        b'-' => steps.push(Step::Clear(bits)),
        _ => steps.push(Step::SetIfSearchable(bits)),
    }
}

fn copy_step(from: u8, who: u16, op: u8) -> Step {
    let to = if who == 0 {
        [true; 3]
    } else {
        [who & 0o400 != 0, who & 0o040 != 0, who & 0o004 != 0]
    };
    Step::Copy {
        from,
        to,
        clear: matches!(op, b'-' | b'='),
        set: matches!(op, b'+' | b'='),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(s: &str, mode: u32, is_dir: bool) -> u32 {
        s.parse::<Chmod>().unwrap().apply(mode, is_dir).unwrap()
    }

    #[test]
    fn octal() {
        assert_eq!(
            "755".parse::<Chmod>(),
            Ok(Chmod::Octal(0o755, "755".into()))
        );
        assert_eq!("0".parse::<Chmod>(), Ok(Chmod::Octal(0, "0".into())));
        assert_eq!(
            "07777".parse::<Chmod>(),
            Ok(Chmod::Octal(0o7777, "07777".into()))
        );
        for bad in ["10000", "0o755", "8", "778", "1x", "99999999999999"] {
            assert_eq!(
                bad.parse::<Chmod>(),
                Err(ChmodError::NotOctal(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(Chmod::Octal(0o644, "644".into()).to_string(), "0644");
        assert_eq!(Chmod::Octal(0o644, "644".into()).as_written(), "644");
    }

    #[test]
    fn symbolic_syntax() {
        for good in [
            "u+x",
            "go-w",
            "=rw,+X",
            "+X",
            "u=rwx,go=rx",
            "u=rwx,go=u-w",
            "go=",
            "a+rwxst",
            "ug+s,o+t",
            "u=g",
            "+",
        ] {
            assert!(good.parse::<Chmod>().is_ok(), "{good}");
        }
        for bad in ["", "u", "u+x,", "x", "-1", "u+x;", "u+q", "+x,,u+x", "U+x"] {
            assert!(
                matches!(bad.parse::<Chmod>(), Err(ChmodError::Syntax(_))),
                "{bad}"
            );
        }
        assert_eq!(ChmodError::Syntax("x".into()).to_string(), "invalid syntax");
    }

    #[test]
    fn symbolic_apply() {
        assert_eq!(apply("u+x", 0o644, false), 0o744);
        assert_eq!(apply("go-w", 0o666, false), 0o644);
        assert_eq!(apply("=rw,+X", 0o700, false), 0o777);
        assert_eq!(apply("=rw,+X", 0o600, false), 0o666);
        assert_eq!(apply("+X", 0o644, true), 0o755);
        assert_eq!(apply("u=rwx,go=u-w", 0o000, false), 0o755);
        assert_eq!(apply("go=", 0o777, false), 0o700);
        assert_eq!(apply("u=rwx,go=rx", 0o000, false), 0o755);
        assert_eq!(apply("a+s", 0o755, false), 0o6755);
        assert_eq!(apply("o+s", 0o755, false), 0o755);
        assert_eq!(apply("+t", 0o755, true), 0o1755);
        assert_eq!(apply("g=u", 0o640, false), 0o660);
        assert_eq!(apply("u-x", 0o100755, false), 0o100655);
    }

    #[test]
    fn flag_values() {
        assert_eq!(Chmod::from_flag(""), Ok(None));
        assert_eq!(
            Chmod::from_flag("$M"),
            Ok(Some(Chmod::Unexpanded("$M".into())))
        );
        assert!(Chmod::from_flag("abc").is_err());
    }
}
