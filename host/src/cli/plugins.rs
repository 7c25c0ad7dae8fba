//! `troupe plugins`: load every manifest entry and show what it is.

use super::ManifestArgs;
use anyhow::Context as _;
use clap::Args;
use std::process::ExitCode;
use troupe::plugin::{Actor, CacheOutcome, PluginInfo, Plugins};
use troupe::Manifest;

#[derive(Args)]
pub struct PluginsArgs {
    #[command(flatten)]
    manifest: ManifestArgs,
    /// Print one JSON object per plugin instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: PluginsArgs) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::load(&args.manifest.manifest)?;
    let plugins = match Plugins::load(&manifest, &args.manifest.load_options()) {
        Ok(p) => p,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut rows: Vec<PluginInfo> = plugins.executors().map(|(_, p)| p.info().clone()).collect();
    let mut builtins = Vec::new();
    let mut externals = Vec::new();
    for (name, actor) in plugins.actors() {
        match actor {
            Actor::Component(p) => rows.push(p.info().clone()),
            Actor::Builtin(b) => builtins.push((name.to_string(), b.clone())),
            Actor::External(description) => externals.push((name.to_string(), description.clone())),
        }
    }
    if args.json {
        for row in &rows {
            println!("{}", serde_json::to_string(row).context("cannot print plugin info")?);
        }
        for (name, b) in &builtins {
            println!("{}", serde_json::json!({ "role": "actor", "name": name, "builtin": b }));
        }
        for (name, description) in &externals {
            let row =
                serde_json::json!({ "role": "actor", "name": name, "external": true, "description": description });
            println!("{row}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<6} {:<16} {:<6} {:<10} {:>9}  {:<64}  {:<11} {:<8} {:>9}  FILE",
        "KIND", "NAME", "WIT", "LANGUAGE", "SIZE", "SHA256", "SOURCE", "CACHE", "LOAD"
    );
    for r in &rows {
        println!(
            "{:<6} {:<16} {:<6} {:<10} {:>9}  {:<64}  {:<11} {:<8} {:>7.1}ms  {}",
            r.role,
            r.name,
            r.wit_version,
            r.language.as_deref().unwrap_or("?"),
            human_size(r.size),
            r.sha256,
            json_word(&r.source),
            r.cache.word(),
            r.load_ms,
            r.file.display()
        );
    }
    for r in rows.iter() {
        if let Some(actors) = &r.actors {
            println!("{} {} may enqueue for (actors): {}", r.role, r.name, actors.join(", "));
        }
    }
    for r in rows.iter().filter(|r| !r.allow_http.is_empty()) {
        println!("{} {} may reach (allow-http): {}", r.role, r.name, r.allow_http.join(", "));
    }
    for (name, b) in &builtins {
        println!("{:<6} {:<16} builtin `{b}`", "actor", name);
    }
    for (name, description) in &externals {
        let about = description.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
        println!("{:<6} {:<16} external (served by a worker of your own over Redis){about}", "actor", name);
    }
    for r in rows.iter().filter(|r| matches!(r.cache, CacheOutcome::Rejected(_) | CacheOutcome::Refused(_))) {
        println!("cache of {} {}: {}", r.role, r.name, r.cache);
    }
    Ok(ExitCode::SUCCESS)
}

fn json_word(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}
