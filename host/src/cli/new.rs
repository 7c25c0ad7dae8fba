//! `troupe new executor NAME` / `troupe new actor NAME [--dir D]`: scaffold a plugin crate
//! outside any troupe checkout: the crate type, release profile and stack setting
//! troupe's own plugins use, a troupe-sdk dependency, a `src/lib.rs` that builds, a test
//! in the harness (executor) or a pipeline (actor), and a README with the build commands
//! for both toolchain routes. The templates are `cli/new/*.tmpl`.
//!
//! The troupe-sdk dependency: `--sdk-path` or `--sdk-git` when given; else a path to the
//! SDK of the troupe that runs this command, found from its executable (a checkout's
//! `target/release/troupe` has `plugins/sdk` two levels up) or where it was built; else a
//! git dependency on a placeholder URL the README and the printed note say to replace.

use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What `--sdk-git` defaults to when no SDK is found: a placeholder to replace with the
/// troupe repository's URL (docs/writing-an-executor.md).
pub const SDK_GIT_PLACEHOLDER: &str = "https://REPLACE-WITH-THE-TROUPE-REPOSITORY/troupe.git";

#[derive(Args)]
pub struct NewArgs {
    /// What to scaffold.
    kind: Kind,
    /// The crate's name, and the executor's mode name (an actor is named in CamelCase):
    /// lowercase letters, digits and '-', starting with a letter.
    name: String,
    /// Where to create the crate (default: ./NAME); it must not exist or be empty.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Depend on the troupe-sdk crate at this path.
    #[arg(long, conflicts_with = "sdk_git")]
    sdk_path: Option<PathBuf>,
    /// Depend on troupe-sdk from this git repository (the SDK is `plugins/sdk` in it).
    #[arg(long)]
    sdk_git: Option<String>,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Kind {
    Executor,
    Actor,
}

/// One file of the crate: its path in the crate, its template.
const COMMON: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("new/Cargo.toml.tmpl")),
    (".cargo/config.toml", include_str!("new/cargo-config.toml.tmpl")),
    (".gitignore", include_str!("new/gitignore.tmpl")),
    ("README.md", include_str!("new/README.md.tmpl")),
];
const EXECUTOR: &[(&str, &str)] = &[
    ("src/lib.rs", include_str!("new/executor-lib.rs.tmpl")),
    ("tests/harness.rs", include_str!("new/executor-harness.rs.tmpl")),
    ("tests/harness/stage.json", include_str!("new/stage.json.tmpl")),
    ("tests/harness/context.json", include_str!("new/context.json.tmpl")),
    ("tests/harness/outcomes.json", include_str!("new/outcomes.json.tmpl")),
];
const ACTOR: &[(&str, &str)] = &[
    ("src/lib.rs", include_str!("new/actor-lib.rs.tmpl")),
    ("tests/pipeline.rs", include_str!("new/actor-pipeline.rs.tmpl")),
    ("tests/pipeline/troupe.toml", include_str!("new/actor-manifest.toml.tmpl")),
    ("tests/pipeline/pipeline.json", include_str!("new/actor-pipeline.json.tmpl")),
    ("tests/pipeline/input.json", include_str!("new/actor-input.json.tmpl")),
];

pub fn run(args: NewArgs) -> anyhow::Result<ExitCode> {
    check_name(&args.name)?;
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        bail!("{} exists and is not empty; choose another --dir", dir.display());
    }
    let exe = std::env::current_exe().ok().and_then(|e| e.canonicalize().ok());
    let (sdk_dependency, sdk_note) = sdk_dependency(&args, exe.as_deref())?;
    let values = values(&args, exe.as_deref(), &sdk_dependency);
    let files = COMMON.iter().chain(if args.kind == Kind::Executor { EXECUTOR } else { ACTOR });
    for (path, template) in files {
        let dest = dir.join(path);
        std::fs::create_dir_all(dest.parent().expect("a file in the crate"))
            .with_context(|| format!("cannot create {}", dest.display()))?;
        std::fs::write(&dest, render(template, &values)).with_context(|| format!("cannot write {}", dest.display()))?;
    }
    println!("created {} `{}` in {}", kind_name(args.kind), args.name, dir.display());
    println!("troupe-sdk: {sdk_note}");
    println!("next: cd {} and follow README.md (build, then cargo test)", dir.display());
    Ok(ExitCode::SUCCESS)
}

fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if !ok {
        bail!("NAME `{name}`: use lowercase letters, digits and '-', starting with a letter (such as `my-pattern`)");
    }
    Ok(())
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Executor => "executor",
        Kind::Actor => "actor",
    }
}

/// The `troupe-sdk = ...` line and a note saying where it points.
fn sdk_dependency(args: &NewArgs, exe: Option<&Path>) -> anyhow::Result<(String, String)> {
    if let Some(url) = &args.sdk_git {
        return Ok((format!("troupe-sdk = {{ git = {} }}", toml_string(url)), format!("git {url}")));
    }
    let path = match &args.sdk_path {
        Some(p) => Some(p.canonicalize().with_context(|| format!("--sdk-path {}", p.display()))?),
        None => find_sdk(exe),
    };
    match path {
        Some(p) => {
            let shown = p.display().to_string();
            Ok((format!("troupe-sdk = {{ path = {} }}", toml_string(&shown)), format!("path {shown}")))
        }
        None => Ok((
            format!(
                "# Replace the URL with the troupe repository's (or use a path to its plugins/sdk).\n\
                 troupe-sdk = {{ git = {} }}",
                toml_string(SDK_GIT_PLACEHOLDER)
            ),
            format!("not found beside this troupe: edit the placeholder git URL in Cargo.toml ({SDK_GIT_PLACEHOLDER})"),
        )),
    }
}

/// The SDK of this troupe: `plugins/sdk` above its executable (a checkout's
/// `target/<profile>/troupe`), else where this binary was built from.
fn find_sdk(exe: Option<&Path>) -> Option<PathBuf> {
    let is_sdk =
        |dir: &Path| std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|t| t.contains("name = \"troupe-sdk\""));
    let beside_exe = exe.into_iter().flat_map(Path::ancestors).map(|a| a.join("plugins/sdk"));
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(|root| root.join("plugins/sdk"));
    beside_exe.chain(built_from).find(|d| is_sdk(d)).and_then(|d| d.canonicalize().ok())
}

/// This troupe's `single.wasm` (for the actor's trial manifest), beside its executable
/// (`target/release/troupe` -> `target/plugins/single.wasm`).
fn find_single(exe: Option<&Path>) -> Option<PathBuf> {
    let dir = exe?.parent()?.parent()?.join("plugins/single.wasm");
    dir.is_file().then_some(dir)
}

fn type_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

fn values(args: &NewArgs, exe: Option<&Path>, sdk_dependency: &str) -> Vec<(&'static str, String)> {
    let type_name = type_name(&args.name);
    let exe_shown = exe.map(|e| e.display().to_string()).unwrap_or_else(|| "troupe".to_string());
    let (single_wasm, single_note) = match find_single(exe) {
        Some(p) => (p.display().to_string(), "found beside it".to_string()),
        None => ("single.wasm".to_string(), "not found: point `component` at troupe's single.wasm".to_string()),
    };
    let (test_note, use_it) = match args.kind {
        Kind::Executor => (
            "tests/harness.rs runs the stage in tests/harness/ through `troupe test --plugin`".to_string(),
            format!(
                "Copy the `.wasm` into your plugins directory and register the mode in `troupe.toml`:\n\n\
                 ```toml\n[executors.{name}]\ncomponent = \"{lib}.wasm\"\n```\n\n\
                 then `troupe test tests/harness/stage.json --context tests/harness/context.json` (or \
                 `--plugin target/wasm32-unknown-unknown/release/{lib}.wasm` before registering it), and \
                 `troupe run` a pipeline with a stage of `\"mode\": \"{name}\"`.",
                name = args.name,
                lib = args.name.replace('-', "_"),
            ),
        ),
        Kind::Actor => (
            "tests/pipeline.rs runs tests/pipeline/pipeline.json with the manifest beside it".to_string(),
            format!(
                "Copy the `.wasm` into your plugins directory and register the actor in `troupe.toml`:\n\n\
                 ```toml\n[actors.{type_name}]\ncomponent = \"{lib}.wasm\"\n```\n\n\
                 `troupe run tests/pipeline/pipeline.json --input tests/pipeline/input.json --manifest \
                 tests/pipeline/troupe.toml` tries it with troupe's `single` executor.",
                lib = args.name.replace('-', "_"),
            ),
        ),
    };
    vec![
        ("name", args.name.clone()),
        ("lib_name", args.name.replace('-', "_")),
        ("type_name", type_name),
        ("kind", kind_name(args.kind).to_string()),
        ("kind_title", if args.kind == Kind::Executor { "stage executor" } else { "actor" }.to_string()),
        ("sdk_dependency", sdk_dependency.to_string()),
        ("troupe_exe", exe_shown.replace('\\', "\\\\").replace('"', "\\\"")),
        ("single_wasm", single_wasm.replace('\\', "\\\\").replace('"', "\\\"")),
        ("single_note", single_note),
        ("test_note", test_note),
        ("use_it", use_it),
    ]
}

fn render(template: &str, values: &[(&str, String)]) -> String {
    values.iter().fold(template.to_string(), |text, (key, value)| text.replace(&format!("{{{{{key}}}}}"), value))
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_types_and_bad_names_are_refused() {
        assert_eq!(type_name("my-pattern"), "MyPattern");
        assert_eq!(type_name("x"), "X");
        assert!(check_name("my-pattern2").is_ok());
        for bad in ["My", "2x", "a_b", "a-", ""] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_placeholder_is_filled() {
        let args = NewArgs {
            kind: Kind::Actor,
            name: "x".into(),
            dir: None,
            sdk_path: None,
            sdk_git: Some("https://example.org/troupe.git".into()),
        };
        let values = values(&args, None, "troupe-sdk = { git = \"u\" }");
        for (path, template) in COMMON.iter().chain(EXECUTOR).chain(ACTOR) {
            let text = render(template, &values);
            assert!(!text.contains("{{"), "{path} keeps a placeholder: {text}");
        }
    }
}
