//! Which `troupe:executor` version a component targets, read from its import and export
//! names (`troupe:executor/queue@0.1.0`), and the versions this host speaks.
//!
//! Why by names: a component's names are the contract it was built against, and they
//! are known before any of its code runs. Every `troupe:executor` name of a component
//! must be of one minor version the host speaks; a component of another version, or one
//! that mixes versions, is refused at load (README, "Compatibility").

use super::error::{LoadProblem, WIT_PACKAGE};

/// A `troupe:executor` minor version this host speaks, each served in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WitVersion {
    V0_1,
    V0_2,
}

/// Every version this host speaks, oldest first.
pub(crate) const SPOKEN: [WitVersion; 2] = [WitVersion::V0_1, WitVersion::V0_2];

impl WitVersion {
    /// The minor version as people write it (`0.2`).
    pub fn minor(self) -> &'static str {
        match self {
            WitVersion::V0_1 => "0.1",
            WitVersion::V0_2 => "0.2",
        }
    }

    /// The version of a name's `@...` part, when this host speaks it: any patch or
    /// pre-release of a spoken minor (`0.2.0`, `0.2.3`, `0.2.1-rc.1`).
    pub fn of(version: &str) -> Option<WitVersion> {
        SPOKEN.into_iter().find(|v| {
            version.strip_prefix(v.minor()).and_then(|rest| rest.strip_prefix('.')).is_some_and(|patch| {
                let digits = patch.split(['-', '+']).next().unwrap_or_default();
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
            })
        })
    }
}

/// The versions this host speaks as the error says them: `troupe:executor@0.1 and @0.2`.
pub(crate) fn spoken() -> String {
    let minors: Vec<String> = SPOKEN.iter().map(|v| format!("@{}", v.minor())).collect();
    let listed = match minors.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    };
    format!("{WIT_PACKAGE}{listed}")
}

/// The version every `troupe:executor` name among `names` targets, or why the component
/// is refused: a name without a version, a version this host does not speak, or names of
/// two versions. `None` when no name is a `troupe:executor` one (the world check then
/// says what the component is missing).
pub(crate) fn detect<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Option<WitVersion>, LoadProblem> {
    let prefix = format!("{WIT_PACKAGE}/");
    // (version, the first name with it), in the order first seen.
    let mut seen: Vec<(WitVersion, &str)> = Vec::new();
    for name in names.into_iter().filter(|n| n.starts_with(&prefix)) {
        let Some((_, version)) = name.split_once('@') else {
            return Err(LoadProblem::UnsupportedVersion { found: format!("an unversioned {WIT_PACKAGE} ({name})") });
        };
        let Some(known) = WitVersion::of(version) else {
            return Err(LoadProblem::UnsupportedVersion { found: format!("{WIT_PACKAGE}@{version}") });
        };
        if !seen.iter().any(|(v, _)| *v == known) {
            seen.push((known, name));
        }
    }
    match seen.as_slice() {
        [] => Ok(None),
        [(only, _)] => Ok(Some(*only)),
        [(_, first), (_, second), ..] => {
            Err(LoadProblem::MixedVersions { first: first.to_string(), second: second.to_string() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_patch_of_a_spoken_minor_is_that_minor() {
        assert_eq!(WitVersion::of("0.1.0"), Some(WitVersion::V0_1));
        assert_eq!(WitVersion::of("0.1.7"), Some(WitVersion::V0_1));
        assert_eq!(WitVersion::of("0.2.0"), Some(WitVersion::V0_2));
        assert_eq!(WitVersion::of("0.2.1-rc.1"), Some(WitVersion::V0_2));
        for other in ["0.3.0", "1.0.0", "0.10.0", "0.20.1", "0.1", "0.1.", "0.1.x", "", "v0.1.0"] {
            assert_eq!(WitVersion::of(other), None, "{other}");
        }
    }

    #[test]
    fn the_spoken_versions_read_as_a_list() {
        assert_eq!(spoken(), "troupe:executor@0.1 and @0.2");
    }

    #[test]
    fn a_component_targets_the_one_version_of_its_names() {
        let v01 = ["wasi:cli/stdout@0.2.0", "troupe:executor/log@0.1.0", "troupe:executor/stage-executor@0.1.0"];
        assert_eq!(detect(v01).unwrap(), Some(WitVersion::V0_1));
        let v02 = ["troupe:executor/queue@0.2.0", "troupe:executor/stage-executor@0.2.0"];
        assert_eq!(detect(v02).unwrap(), Some(WitVersion::V0_2));
        assert_eq!(detect(["wasi:io/streams@0.2.0"]).unwrap(), None, "WASI's 0.2 is not troupe's");
    }

    #[test]
    fn other_versions_and_mixtures_are_refused_naming_what_was_asked() {
        let err = detect(["troupe:executor/log@0.1.0", "troupe:executor/stage-executor@0.9.0"]).unwrap_err();
        assert!(matches!(&err, LoadProblem::UnsupportedVersion { found } if found == "troupe:executor@0.9.0"), "{err}");
        let err = detect(["troupe:executor/log"]).unwrap_err();
        assert!(matches!(&err, LoadProblem::UnsupportedVersion { found } if found.contains("unversioned")), "{err}");
        let err = detect(["troupe:executor/log@0.1.0", "troupe:executor/queue@0.2.0"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mixes troupe:executor/log@0.1.0 and troupe:executor/queue@0.2.0; a component targets one version \
             of troupe:executor, and this host speaks troupe:executor@0.1 and @0.2"
        );
    }
}
