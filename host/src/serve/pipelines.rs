//! `--pipelines DIR`: the named pipelines a server offers, one per file (`.json`, `.yaml`,
//! `.yml` or `.wdl`), named by the file's stem. Every file is read at start; one that is
//! not a pipeline stops the server with its error, as a bad manifest does.

use crate::pipeline::Pipeline;
use anyhow::Context as _;
use std::collections::BTreeMap;
use std::path::Path;

const EXTENSIONS: &[&str] = &["json", "yaml", "yml", "wdl"];

pub fn load(dir: &Path) -> anyhow::Result<BTreeMap<String, Pipeline>> {
    let mut pipelines = BTreeMap::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read the pipelines folder {}", dir.display()))?;
    let mut files: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    for file in files {
        let Some(ext) = file.extension().and_then(|e| e.to_str()) else { continue };
        if !EXTENSIONS.contains(&ext) || !file.is_file() {
            continue;
        }
        let name = file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        let pipeline = Pipeline::load(&file).map_err(|e| anyhow::anyhow!("{}", e.render(false)))?;
        if let Some(_earlier) = pipelines.insert(name.clone(), pipeline) {
            anyhow::bail!("two files in {} are named `{name}`: name each pipeline once", dir.display());
        }
    }
    Ok(pipelines)
}
