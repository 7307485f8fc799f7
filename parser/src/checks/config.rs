//! Which checks run and whether findings fail the build: the `# check=`
//! directive (`skip=A,B;error=true;experimental=all`), and the same syntax in
//! a comment right above an instruction, which adds to it for that line.

use std::collections::BTreeSet;

use super::rules::Rule;

/// A check configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckConfig {
    pub skip_all: bool,
    pub skip: BTreeSet<String>,
    pub experimental_all: bool,
    pub experimental: BTreeSet<String>,
    /// `error=true`: findings fail the build.
    pub error: bool,
}

/// A `# check=` value that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckConfigError {
    #[error("invalid check option {}", crate::go_quote(.0))]
    InvalidOption(String),
    #[error("failed to parse check option {}: strconv.ParseBool: parsing {}: invalid syntax", crate::go_quote(.0), crate::go_quote(.1))]
    InvalidBool(String, String),
}

impl CheckConfig {
    /// Parses the value of a `check` directive.
    pub fn parse(value: &str) -> Result<Self, CheckConfigError> {
        let value = value.trim();
        let mut cfg = CheckConfig::default();
        if value.is_empty() {
            return Ok(cfg);
        }
        for part in value.splitn(3, ';') {
            let Some((k, v)) = part.split_once('=') else {
                return Err(CheckConfigError::InvalidOption(part.to_string()));
            };
            let v = v.trim();
            let list = || {
                v.split(',')
                    .map(|r| r.trim().to_string())
                    .collect::<BTreeSet<_>>()
            };
            match k.trim() {
                "skip" if v == "all" => cfg.skip_all = true,
                "skip" => cfg.skip = list(),
                "experimental" if v == "all" => cfg.experimental_all = true,
                "experimental" => cfg.experimental = list(),
                "error" => {
                    cfg.error = parse_go_bool(v).ok_or_else(|| {
                        CheckConfigError::InvalidBool(part.to_string(), v.to_string())
                    })?
                }
                other => return Err(CheckConfigError::InvalidOption(other.to_string())),
            }
        }
        Ok(cfg)
    }

    /// Whether `rule` runs under this configuration.
    pub fn enabled(&self, rule: Rule) -> bool {
        if rule.is_experimental() {
            self.experimental_all || self.experimental.contains(rule.name())
        } else {
            !(self.skip_all || self.skip.contains(rule.name()))
        }
    }

    /// This configuration plus the `check=` comment among `comments` (the
    /// comment lines above an instruction), if any. A bad one is ignored.
    pub fn merged_with_comments(&self, comments: &[String]) -> CheckConfig {
        for c in comments {
            let Some(v) = check_comment_value(c) else {
                continue;
            };
            let Ok(other) = CheckConfig::parse(v) else {
                return self.clone();
            };
            let mut merged = self.clone();
            merged.skip_all |= other.skip_all;
            merged.experimental_all |= other.experimental_all;
            merged.skip.extend(other.skip);
            merged.experimental.extend(other.experimental);
            return merged;
        }
        self.clone()
    }
}

/// The value of a `check=VALUE` comment up to its first space (what follows
/// is free text), or `None` when the comment is not one. The name is matched
/// without regard to case, as directive names are.
fn check_comment_value(comment: &str) -> Option<&str> {
    let c = comment.trim_start();
    let name_len = c
        .char_indices()
        .find(|(i, ch)| !(ch.is_ascii_alphabetic() || (*i > 0 && ch.is_ascii_digit())))
        .map_or(c.len(), |(i, _)| i);
    if !c[..name_len].eq_ignore_ascii_case("check") {
        return None;
    }
    let value = c[name_len..].trim_start().strip_prefix('=')?.trim();
    if value.is_empty() {
        return None;
    }
    Some(value.split(' ').next().unwrap_or(""))
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_directive_values() {
        let c = CheckConfig::parse("skip=JSONArgsRecommended, StageNameCasing;error=true").unwrap();
        assert!(c.error);
        assert!(!c.enabled(Rule::JsonArgsRecommended));
        assert!(!c.enabled(Rule::StageNameCasing));
        assert!(c.enabled(Rule::UndefinedVar));
        assert!(!c.enabled(Rule::InvalidDefinitionDescription));
        let all = CheckConfig::parse("skip=all;experimental=all").unwrap();
        assert!(!all.enabled(Rule::UndefinedVar));
        assert!(all.enabled(Rule::InvalidDefinitionDescription));
        assert_eq!(
            CheckConfig::parse("bogus").unwrap_err().to_string(),
            "invalid check option \"bogus\""
        );
        assert_eq!(
            CheckConfig::parse("error=maybe").unwrap_err().to_string(),
            "failed to parse check option \"error=maybe\": strconv.ParseBool: parsing \"maybe\": invalid syntax"
        );
        assert_eq!(CheckConfig::parse("  ").unwrap(), CheckConfig::default());
    }

    #[test]
    fn comments_add_to_config() {
        let base = CheckConfig::parse("skip=UndefinedVar").unwrap();
        let m = base.merged_with_comments(&["check=skip=JSONArgsRecommended".to_string()]);
        assert!(!m.enabled(Rule::UndefinedVar) && !m.enabled(Rule::JsonArgsRecommended));
        let same = base.merged_with_comments(&["just a comment".to_string()]);
        assert_eq!(same, base);
        let upper = base.merged_with_comments(&["CHECK = skip=all // why".to_string()]);
        assert!(upper.skip_all);
        let other = base.merged_with_comments(&["checker=skip=all".to_string()]);
        assert_eq!(other, base);
    }
}
