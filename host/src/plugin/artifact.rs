//! Reading a plugin file: existence, sha256 pin, and turning a core module that carries
//! wit-bindgen's component-type section into a component, so a plain `cargo build`
//! output can be dropped into the plugins directory.

use super::error::LoadProblem;
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

pub(crate) fn read(path: &Path, pin: Option<&Sha256Pin>, plugins_dir: &Path) -> Result<Artifact, LoadProblem> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LoadProblem::Missing { plugins_dir: plugins_dir.display().to_string() })
        }
        Err(e) => return Err(LoadProblem::Unreadable(e)),
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
