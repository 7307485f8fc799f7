//! Picking a platform's manifest out of an image index: [`select`], with
//! the registry client's [`Platform`] (`os/arch[/variant]`, normalized as
//! docker's `--platform`).

use rdock_cache::oci_spec::image::Descriptor;
pub use rdock_registry_client::Platform;

use crate::error::{Error, Result};

/// The manifest of `manifests` for `platform` (a missing variant matches
/// any), else an error naming `reference`.
pub(crate) fn select<'a>(
    platform: &Platform,
    manifests: &'a [Descriptor],
    reference: &str,
) -> Result<&'a Descriptor> {
    manifests
        .iter()
        .find(|d| {
            d.platform().as_ref().is_some_and(|p| {
                platform.matches(
                    &p.os().to_string(),
                    &p.architecture().to_string(),
                    p.variant().as_deref(),
                )
            })
        })
        .ok_or_else(|| Error::NoMatchingPlatform {
            reference: reference.to_owned(),
            platform: platform.to_string(),
        })
}
