//! BuildKit's build-check rules: names, descriptions, documentation links
//! and message texts, worded as BuildKit words them.

use serde::Serialize;

/// One build-check rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Rule {
    StageNameCasing,
    FromAsCasing,
    NoEmptyContinuation,
    ConsistentInstructionCasing,
    DuplicateStageName,
    ReservedStageName,
    JsonArgsRecommended,
    MaintainerDeprecated,
    UndefinedArgInFrom,
    WorkdirRelativePath,
    UndefinedVar,
    MultipleInstructionsDisallowed,
    LegacyKeyValueFormat,
    RedundantTargetPlatform,
    SecretsUsedInArgOrEnv,
    InvalidDefaultArgInFrom,
    FromPlatformFlagConstDisallowed,
    CopyIgnoredFile,
    InvalidDefinitionDescription,
    ExposeProtoCasing,
    ExposeInvalidFormat,
}

impl Rule {
    /// Every rule, in BuildKit's order.
    pub const ALL: [Rule; 21] = [
        Rule::StageNameCasing,
        Rule::FromAsCasing,
        Rule::NoEmptyContinuation,
        Rule::ConsistentInstructionCasing,
        Rule::DuplicateStageName,
        Rule::ReservedStageName,
        Rule::JsonArgsRecommended,
        Rule::MaintainerDeprecated,
        Rule::UndefinedArgInFrom,
        Rule::WorkdirRelativePath,
        Rule::UndefinedVar,
        Rule::MultipleInstructionsDisallowed,
        Rule::LegacyKeyValueFormat,
        Rule::RedundantTargetPlatform,
        Rule::SecretsUsedInArgOrEnv,
        Rule::InvalidDefaultArgInFrom,
        Rule::FromPlatformFlagConstDisallowed,
        Rule::CopyIgnoredFile,
        Rule::InvalidDefinitionDescription,
        Rule::ExposeProtoCasing,
        Rule::ExposeInvalidFormat,
    ];

    /// The rule's name as used in `# check=skip=NAME`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::StageNameCasing => "StageNameCasing",
            Rule::FromAsCasing => "FromAsCasing",
            Rule::NoEmptyContinuation => "NoEmptyContinuation",
            Rule::ConsistentInstructionCasing => "ConsistentInstructionCasing",
            Rule::DuplicateStageName => "DuplicateStageName",
            Rule::ReservedStageName => "ReservedStageName",
            Rule::JsonArgsRecommended => "JSONArgsRecommended",
            Rule::MaintainerDeprecated => "MaintainerDeprecated",
            Rule::UndefinedArgInFrom => "UndefinedArgInFrom",
            Rule::WorkdirRelativePath => "WorkdirRelativePath",
            Rule::UndefinedVar => "UndefinedVar",
            Rule::MultipleInstructionsDisallowed => "MultipleInstructionsDisallowed",
            Rule::LegacyKeyValueFormat => "LegacyKeyValueFormat",
            Rule::RedundantTargetPlatform => "RedundantTargetPlatform",
            Rule::SecretsUsedInArgOrEnv => "SecretsUsedInArgOrEnv",
            Rule::InvalidDefaultArgInFrom => "InvalidDefaultArgInFrom",
            Rule::FromPlatformFlagConstDisallowed => "FromPlatformFlagConstDisallowed",
            Rule::CopyIgnoredFile => "CopyIgnoredFile",
            Rule::InvalidDefinitionDescription => "InvalidDefinitionDescription",
            Rule::ExposeProtoCasing => "ExposeProtoCasing",
            Rule::ExposeInvalidFormat => "ExposeInvalidFormat",
        }
    }

    /// The rule with this name.
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Experimental rules run only when `# check=experimental=` names them.
    pub fn is_experimental(self) -> bool {
        matches!(self, Rule::InvalidDefinitionDescription)
    }

    pub fn description(self) -> &'static str {
        match self {
            Rule::StageNameCasing => "Stage names should be lowercase",
            Rule::FromAsCasing => "The 'as' keyword should match the case of the 'from' keyword",
            Rule::NoEmptyContinuation => "Empty continuation lines will become errors in a future release",
            Rule::ConsistentInstructionCasing => "All commands within the Dockerfile should use the same casing (either upper or lower)",
            Rule::DuplicateStageName => "Stage names should be unique",
            Rule::ReservedStageName => "Reserved words should not be used as stage names",
            Rule::JsonArgsRecommended => "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals",
            Rule::MaintainerDeprecated => "The MAINTAINER instruction is deprecated, use a label instead to define an image author",
            Rule::UndefinedArgInFrom => "FROM command must use declared ARGs",
            Rule::WorkdirRelativePath => "Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes",
            Rule::UndefinedVar => "Variables should be defined before their use",
            Rule::MultipleInstructionsDisallowed => "Multiple instructions of the same type should not be used in the same stage",
            Rule::LegacyKeyValueFormat => "Legacy key/value format with whitespace separator should not be used",
            Rule::RedundantTargetPlatform => "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior",
            Rule::SecretsUsedInArgOrEnv => "Sensitive data should not be used in the ARG or ENV commands",
            Rule::InvalidDefaultArgInFrom => "Default value for global ARG results in an empty or invalid base image name",
            Rule::FromPlatformFlagConstDisallowed => "FROM --platform flag should not use a constant value",
            Rule::CopyIgnoredFile => "Attempting to Copy file that is excluded by .dockerignore",
            Rule::InvalidDefinitionDescription => "Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. If this is not intended to be a description comment, add an empty line or comment between the instruction and the comment.",
            Rule::ExposeProtoCasing => "Protocol in EXPOSE instruction should be lowercase",
            Rule::ExposeInvalidFormat => "IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release",
        }
    }

    /// The documentation page of the rule.
    pub fn url(self) -> String {
        let mut slug = String::new();
        let name = match self {
            Rule::JsonArgsRecommended => "JsonArgsRecommended",
            r => r.name(),
        };
        for (i, c) in name.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                slug.push('-');
            }
            slug.push(c.to_ascii_lowercase());
        }
        format!("https://docs.docker.com/go/dockerfile/rule/{slug}/")
    }
}

/// Message texts, one function per rule that takes arguments.
pub(crate) mod msg {
    pub fn stage_name_casing(name: &str) -> String {
        format!("Stage name '{name}' should be lowercase")
    }
    pub fn from_as_casing(from: &str, as_: &str) -> String {
        format!("'{as_}' and '{from}' keywords' casing do not match")
    }
    pub fn consistent_casing(cmd: &str, casing: &str) -> String {
        format!("Command '{cmd}' should match the case of the command majority ({casing})")
    }
    pub fn duplicate_stage_name(name: &str) -> String {
        format!(
            "Duplicate stage name {}, stage names should be unique",
            crate::go_quote(name)
        )
    }
    pub fn reserved_stage_name(name: &str) -> String {
        format!(
            "Stage name should not use the same name as reserved stage {}",
            crate::go_quote(name)
        )
    }
    pub fn json_args(instruction: &str) -> String {
        format!("JSON arguments recommended for {instruction} to prevent unintended behavior related to OS signals")
    }
    pub const MAINTAINER: &str = "Maintainer instruction is deprecated in favor of using label";
    pub const EMPTY_CONTINUATION: &str = "Empty continuation line";
    pub fn undefined_arg_in_from(arg: &str, suggest: Option<&str>) -> String {
        let mut out = format!("FROM argument '{arg}' is not declared");
        if let Some(s) = suggest {
            out += &format!(" (did you mean {s}?)");
        }
        out
    }
    pub fn workdir_relative(path: &str) -> String {
        format!(
            "Relative workdir {} can have unexpected results if the base image changes",
            crate::go_quote(path)
        )
    }
    pub fn undefined_var(var: &str, suggest: Option<&str>) -> String {
        let mut out = format!("Usage of undefined variable '${var}'");
        if let Some(s) = suggest {
            out += &format!(" (did you mean ${s}?)");
        }
        out
    }
    pub fn multiple_instructions(name: &str) -> String {
        format!("Multiple {name} instructions should not be used in the same stage because only the last one will be used")
    }
    pub fn legacy_key_value(cmd: &str) -> String {
        format!("\"{cmd} key=value\" should be used instead of legacy \"{cmd} key value\" format")
    }
    pub fn redundant_target_platform(var: &str) -> String {
        format!("Setting platform to predefined {var} in FROM is redundant as this is the default behavior")
    }
    pub fn secrets(instruction: &str, key: &str) -> String {
        format!(
            "Do not use ARG or ENV instructions for sensitive data ({instruction} {})",
            crate::go_quote(key)
        )
    }
    pub fn invalid_default_arg_in_from(base: &str) -> String {
        format!("Default value for ARG {base} results in empty or invalid base image name")
    }
    pub fn const_platform(platform: &str) -> String {
        format!(
            "FROM --platform flag should not use constant value {}",
            crate::go_quote(platform)
        )
    }
    pub fn copy_ignored(cmd: &str, file: &str) -> String {
        format!(
            "Attempting to {cmd} file {} that is excluded by .dockerignore",
            crate::go_quote(file)
        )
    }
    pub fn invalid_description(instruction: &str, name: &str) -> String {
        format!("Comment for {instruction} should follow the format: `# {name} <description>`")
    }
    pub fn expose_proto_casing(port: &str) -> String {
        format!("Defined protocol '{port}' in EXPOSE instruction should be lowercase")
    }
    pub fn expose_invalid_format(port: &str) -> String {
        format!("EXPOSE instruction should not define an IP address or host-port mapping, found '{port}'")
    }
}

#[cfg(test)]
mod tests {
    use super::Rule;

    #[test]
    fn names_and_urls() {
        assert_eq!(
            Rule::from_name("JSONArgsRecommended"),
            Some(Rule::JsonArgsRecommended)
        );
        assert_eq!(
            Rule::JsonArgsRecommended.url(),
            "https://docs.docker.com/go/dockerfile/rule/json-args-recommended/"
        );
        assert_eq!(
            Rule::FromPlatformFlagConstDisallowed.url(),
            "https://docs.docker.com/go/dockerfile/rule/from-platform-flag-const-disallowed/"
        );
        for r in Rule::ALL {
            assert_eq!(Rule::from_name(r.name()), Some(r));
        }
    }
}
