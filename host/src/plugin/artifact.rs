//! Reading a plugin file: existence, sha256 pin, and turning a core module that carries
//! wit-bindgen's component-type section into a component, so a plain `cargo build`
//! output can be dropped into the plugins directory.

use super::error::LoadProblem;
use crate::files::{self, FileError};
use crate::manifest::Sha256Pin;
use sha2::{Digest, Sha256};
use std::path::Path;

const WASM_MAGIC: &[u8; 4] = b"\0asm";
/// Core modules are binary version 1 with layer 0; components set layer 1.
const CORE_MODULE_VERSION: [u8; 4] = [1, 0, 0, 0];

/// What kind of file the plugin was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    Component,
    /// A core module, componentized on load.
    CoreModule,
}

pub(crate) struct Artifact {
    /// The component's bytes (after componentizing a core module).
    pub component: Vec<u8>,
    /// sha256 of the file as it is on disk (what pins compare against).
    pub file_sha256: String,
    pub file_size: u64,
    pub source: SourceKind,
}

/// Read the component file: a regular file of at most `component_mib` MiB (see
/// [`crate::files`]), checked against its pin.
pub(crate) fn read(
    path: &Path,
    pin: Option<&Sha256Pin>,
    plugins_dir: &Path,
    component_mib: u32,
) -> Result<Artifact, LoadProblem> {
    let limit = format!("component-mib = {component_mib}");
    let bytes = match files::read(path, u64::from(component_mib) * 1024 * 1024, &limit) {
        Ok(b) => b,
        Err(FileError::Missing) => return Err(LoadProblem::Missing { plugins_dir: plugins_dir.display().to_string() }),
        Err(FileError::Io(e)) => return Err(LoadProblem::Unreadable(e)),
        Err(e) => return Err(LoadProblem::File(e)),
    };
    let file_sha256 = hex::encode(Sha256::digest(&bytes));
    if let Some(pin) = pin {
        if pin.as_str() != file_sha256 {
            return Err(LoadProblem::PinMismatch { pinned: pin.to_string(), actual: file_sha256 });
        }
    }
    if bytes.len() < 8 || &bytes[..4] != WASM_MAGIC {
        return Err(LoadProblem::NotWasm);
    }
    let file_size = bytes.len() as u64;
    if bytes[4..8] == CORE_MODULE_VERSION {
        if !has_component_type_section(&bytes) {
            return Err(LoadProblem::NotComponentizable(
                "it has no `component-type` custom section, so its WIT world is unknown".into(),
            ));
        }
        let component = componentize(&bytes).map_err(|e| LoadProblem::NotComponentizable(format!("{e:#}")))?;
        Ok(Artifact { component, file_sha256, file_size, source: SourceKind::CoreModule })
    } else {
        Ok(Artifact { component: bytes, file_sha256, file_size, source: SourceKind::Component })
    }
}

/// Wrap a core module into a component using the component-type custom section that
/// wit-bindgen embedded in it.
pub fn componentize(module: &[u8]) -> anyhow::Result<Vec<u8>> {
    wit_component::ComponentEncoder::default().module(module)?.validate(true).encode()
}

/// Whether a core module carries a custom section named `component-type...` (what
/// wit-bindgen embeds). Walks the section headers only; anything malformed is `false`
/// and left to the encoder to report.
fn has_component_type_section(module: &[u8]) -> bool {
    fn leb128(bytes: &[u8], at: &mut usize) -> Option<usize> {
        let (mut value, mut shift) = (0usize, 0);
        loop {
            let byte = *bytes.get(*at)?;
            *at += 1;
            value |= ((byte & 0x7f) as usize).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(value);
            }
            shift += 7;
        }
    }
    let mut at = 8;
    while at < module.len() {
        let id = module[at];
        at += 1;
        let Some(size) = leb128(module, &mut at) else { return false };
        let end = at.saturating_add(size);
        if id == 0 {
            let mut name_at = at;
            if let Some(len) = leb128(module, &mut name_at) {
                if module.get(name_at..name_at.saturating_add(len)).is_some_and(|n| n.starts_with(b"component-type")) {
                    return true;
                }
            }
        }
        at = end;
    }
    false
}
