//! HEALTHCHECK: `NONE`, or `CMD` with `--interval`, `--timeout`,
//! `--start-period`, `--start-interval` (Go durations, zero or at least
//! 1ms) and `--retries` (a non-negative 32-bit integer), checked as BuildKit
//! does. [`Healthcheck`] holds the image-config form of the check.

use std::time::Duration;

use serde::Serialize;

use super::commands::CommandLine;
use super::duration::parse_go_duration;
use super::{Failure, InstructionError, Request};
use crate::ast::Span;

/// `HEALTHCHECK NONE` or `HEALTHCHECK [flags] CMD command`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Healthcheck {
    pub keyword: String,
    pub span: Span,
    /// The image-config test: `["NONE"]`, `["CMD", args...]` (exec form) or
    /// `["CMD-SHELL", command]` (shell form).
    pub test: Vec<String>,
    /// Zero means "inherit from the base image", as in the image config.
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    /// Zero means "inherit from the base image".
    pub retries: u32,
}

impl Healthcheck {
    /// Whether this disables any inherited check (`HEALTHCHECK NONE`).
    pub fn is_none(&self) -> bool {
        self.test.first().is_some_and(|t| t == "NONE")
    }
}

const DURATION_FLAGS: [&str; 4] = ["interval", "timeout", "start-period", "start-interval"];

pub(crate) fn parse_healthcheck(mut req: Request<'_>) -> Result<Healthcheck, Failure> {
    let Some(kind) = req.args.first().map(|k| k.to_uppercase()) else {
        return Err(InstructionError::AtLeastOneArgument("HEALTHCHECK").into());
    };
    let mut check = Healthcheck {
        keyword: req.keyword(),
        span: req.span(),
        test: vec![kind.clone()],
        interval: Duration::ZERO,
        timeout: Duration::ZERO,
        start_period: Duration::ZERO,
        start_interval: Duration::ZERO,
        retries: 0,
    };
    let rest = &req.args[1..];
    if kind == "NONE" {
        // Flags are not even looked at here, as in BuildKit.
        if !rest.is_empty() {
            return Err(InstructionError::HealthcheckNoneArguments.into());
        }
        return Ok(check);
    }
    for name in DURATION_FLAGS {
        req.flags.add_string(name, "");
    }
    req.flags.add_string("retries", "");
    req.flags.parse()?;
    if kind != "CMD" {
        return Err(InstructionError::HealthcheckType(kind).into());
    }
    match CommandLine::from_args(rest, req.json) {
        CommandLine::Exec(words) if !words.is_empty() => check.test.extend(words),
        CommandLine::Shell(text) if !rest.is_empty() => {
            check.test = vec!["CMD-SHELL".to_string(), text];
        }
        _ => return Err(InstructionError::HealthcheckMissingCommand.into()),
    }
    let mut durations = [Duration::ZERO; 4];
    for (slot, name) in durations.iter_mut().zip(DURATION_FLAGS) {
        let at = req.flags.word_index(name, None);
        *slot = interval(name, req.flags.string(name)).map_err(|e| Failure::near(e, at))?;
    }
    [
        check.interval,
        check.timeout,
        check.start_period,
        check.start_interval,
    ] = durations;
    let retries = req.flags.string("retries");
    if !retries.is_empty() {
        let at = req.flags.word_index("retries", None);
        let n = parse_int32(retries).map_err(|out_of_range| {
            Failure::near(
                InstructionError::InvalidRetries {
                    value: retries.to_string(),
                    out_of_range,
                },
                at,
            )
        })?;
        check.retries = u32::try_from(n)
            .map_err(|_| Failure::near(InstructionError::NegativeRetries(n), at))?;
    }
    Ok(check)
}

/// A duration flag: empty or zero means unset, otherwise at least 1ms.
fn interval(name: &'static str, value: &str) -> Result<Duration, InstructionError> {
    if value.is_empty() {
        return Ok(Duration::ZERO);
    }
    let nanos = parse_go_duration(value)?;
    if nanos == 0 {
        return Ok(Duration::ZERO);
    }
    match u64::try_from(nanos) {
        Ok(n) if n >= 1_000_000 => Ok(Duration::from_nanos(n)),
        _ => Err(InstructionError::IntervalTooShort(name)),
    }
}

/// Go's `strconv.ParseInt(s, 10, 32)`; the error says whether the value was
/// out of range (rather than not a number).
fn parse_int32(s: &str) -> Result<i64, bool> {
    let (negative, digits) = match s.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        all => (false, all),
    };
    if digits.is_empty() {
        return Err(false);
    }
    let mut n: u64 = 0;
    for d in digits {
        if !d.is_ascii_digit() {
            return Err(false);
        }
        n = n * 10 + u64::from(d - b'0');
        if n > u64::from(u32::MAX) {
            return Err(true);
        }
    }
    let limit = 1u64 << 31;
    match negative {
        false if n >= limit => Err(true),
        true if n > limit => Err(true),
        false => Ok(n as i64),
        true => Ok(-(n as i64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(interval("interval", ""), Ok(Duration::ZERO));
        assert_eq!(interval("interval", "0s"), Ok(Duration::ZERO));
        assert_eq!(interval("interval", "1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(
            interval("interval", "50ns").unwrap_err().to_string(),
            "Interval \"interval\" cannot be less than 1ms"
        );
        assert_eq!(
            interval("timeout", "-5s").unwrap_err().to_string(),
            "Interval \"timeout\" cannot be less than 1ms"
        );
        assert_eq!(
            interval("timeout", "5").unwrap_err().to_string(),
            "time: missing unit in duration \"5\""
        );
    }

    #[test]
    fn int32() {
        assert_eq!(parse_int32("3"), Ok(3));
        assert_eq!(parse_int32("+3"), Ok(3));
        assert_eq!(parse_int32("-3"), Ok(-3));
        assert_eq!(parse_int32("-0"), Ok(0));
        assert_eq!(parse_int32("2147483647"), Ok(2147483647));
        assert_eq!(parse_int32("2147483648"), Err(true));
        assert_eq!(parse_int32("-2147483648"), Ok(-2147483648));
        assert_eq!(parse_int32("-2147483649"), Err(true));
        assert_eq!(parse_int32("99999999999x"), Err(true));
        assert_eq!(parse_int32("1x"), Err(false));
        assert_eq!(parse_int32(""), Err(false));
        assert_eq!(parse_int32("-"), Err(false));
        assert_eq!(parse_int32("1_0"), Err(false));
    }
}
