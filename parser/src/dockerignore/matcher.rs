//! [`PatternMatcher`]: an ordered list of compiled rules and the decision
//! procedure of patternmatcher's `MatchesOrParentMatches`, plus the
//! directory-skipping test BuildKit's file walker (fsutil) applies.

use super::glob::{check_syntax, Pattern};
use super::path::{clean, parent};
use super::PatternError;

/// Characters that make an exclusion rule more than a plain path for
/// [`PatternMatcher::may_reinclude_below`] (fsutil's list on Unix).
const WILDCARDS: &[char] = &['*', '[', ']', '?', '^', '\\'];

/// Compiled `.dockerignore` rules.
///
/// Rules apply in order: a path is excluded when the last rule that matches
/// it, or one of its parent directories, is not a `!` rule.
#[derive(Debug, Clone)]
pub struct PatternMatcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
    wildcard_exclusions: bool,
}

impl PatternMatcher {
    /// Compiles `patterns` as patternmatcher's `New` does: each is trimmed,
    /// blank ones are skipped, the rest is cleaned as a path, a leading `!`
    /// marks an exclusion (a lone `!` is an error), and the syntax is checked
    /// with Go's `filepath.Match` rules. [`super::read_patterns`] output is
    /// the usual input.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        let mut compiled = Vec::with_capacity(patterns.len());
        for (index, raw) in patterns.iter().enumerate() {
            let trimmed = raw.as_ref().trim();
            if trimmed.is_empty() {
                continue;
            }
            let cleaned = clean(trimmed);
            let (exclusion, text) = match cleaned.strip_prefix('!') {
                Some("") => return Err(PatternError::IllegalExclusion),
                Some(rest) => (true, rest.to_owned()),
                None => (false, cleaned),
            };
            if !check_syntax(&text) {
                return Err(PatternError::Syntax { pattern: text });
            }
            compiled.push(Pattern::new(index, text, exclusion));
        }
        let exclusions = compiled.iter().any(Pattern::is_exclusion);
        let wildcard_exclusions = compiled.iter().any(|pattern| {
            pattern.is_exclusion() && without_trailing_glob(pattern.as_str()).contains(WILDCARDS)
        });
        Ok(PatternMatcher {
            patterns: compiled,
            exclusions,
            wildcard_exclusions,
        })
    }

    /// The compiled rules, in order (blank inputs are not among them).
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Whether `path` is excluded. `path` is slash-separated and relative to
    /// the context root, in clean form (`a/b`, not `./a/b/`); a rule matching
    /// one of its parent directories counts, so `docs` excludes `docs/a.md`.
    /// Fails when a rule consulted on the way has an invalid regular
    /// expression (rules skipped by the ordering are not consulted).
    pub fn matches(&self, path: &str) -> Result<bool, PatternError> {
        Ok(self.matching_pattern(path)?.is_some())
    }

    /// Like [`Self::matches`], but returns the rule that excluded `path`:
    /// the last non-`!` rule that matched it or a parent, when no later `!`
    /// rule re-included it. `None` means the path is kept.
    pub fn matching_pattern(&self, path: &str) -> Result<Option<&Pattern>, PatternError> {
        let parent = parent(path);
        let ancestors = if parent == "." {
            Vec::new()
        } else {
            prefixes(&parent)
        };
        let mut decided: Option<&Pattern> = None;
        for pattern in &self.patterns {
            if pattern.is_exclusion() != decided.is_some() {
                continue;
            }
            let matched = pattern.is_match(path)?
                || ancestors
                    .iter()
                    .any(|dir| pattern.is_match(dir).unwrap_or(false));
            if matched {
                decided = if pattern.is_exclusion() {
                    None
                } else {
                    Some(pattern)
                };
            }
        }
        Ok(decided)
    }

    /// Whether any rule is a `!` exclusion (patternmatcher's `Exclusions`):
    /// without one, a walker may skip every excluded directory wholesale.
    pub fn has_exclusions(&self) -> bool {
        self.exclusions
    }

    /// For an excluded directory `dir`, whether a `!` rule might re-include
    /// something below it, so a walker must still descend (BuildKit's fsutil
    /// rule). Always true when some `!` rule has wildcards other than a
    /// trailing `/*` or `/**`; otherwise true when a `!` rule names `dir` or
    /// a path inside it.
    pub fn may_reinclude_below(&self, dir: &str) -> bool {
        if !self.exclusions {
            return false;
        }
        if self.wildcard_exclusions {
            return true;
        }
        let dir_slash = format!("{dir}/");
        self.patterns
            .iter()
            .filter(|pattern| pattern.is_exclusion())
            .any(|pattern| {
                format!("{}/", without_trailing_glob(pattern.as_str())).starts_with(&dir_slash)
            })
    }
}

/// A rule without a trailing `/**`, then without a trailing `/*`.
fn without_trailing_glob(text: &str) -> &str {
    let text = text.strip_suffix("/**").unwrap_or(text);
    text.strip_suffix("/*").unwrap_or(text)
}

/// Every leading run of elements of `dir`, shortest first, as Go's
/// `strings.Join(strings.Split(dir, "/")[:i+1], "/")` gives them (so `/`
/// yields `""` then `"/"`).
fn prefixes(dir: &str) -> Vec<&str> {
    let mut out: Vec<&str> = dir
        .match_indices('/')
        .map(|(slash, _)| &dir[..slash])
        .collect();
    out.push(dir);
    out
}
