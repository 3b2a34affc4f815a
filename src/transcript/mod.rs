//! `parley test [paths]`: runs transcript files against an in-process Parley and prints a
//! pass/fail line per transcript, with a diff of what was expected and what happened for
//! the first step that went wrong. The file format is described in `docs/bots.md`.
//!
//! - `parse.rs`: the transcript format.
//! - `run.rs`: one transcript against a fresh Parley (temporary data folder, a copy of the
//!   scripts folder with only the transcript's bots, port 0), driven over the hub's
//!   WebSocket protocol.

mod parse;
mod run;

use crate::config::Config;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where `parley test` looks when given no paths: `transcripts/` in the bots folder.
pub const DEFAULT_FOLDER: &str = "transcripts";
/// Transcript files in a folder are the ones ending in this.
pub const EXTENSION: &str = "txt";

/// `parley test [paths]`: every path is a transcript file or a folder of `*.txt`
/// transcripts; no paths means the `transcripts/` folder of the config's bots folder.
/// Fails (after running all of them) when one or more transcripts fail.
pub fn test(config_path: &Path, paths: &[PathBuf]) -> Result<()> {
    let (config, _) = Config::load(config_path)?;
    let paths = if paths.is_empty() {
        vec![config.bots.dir.join(DEFAULT_FOLDER)]
    } else {
        paths.to_vec()
    };
    let files = transcript_files(&paths)?;
    if files.is_empty() {
        bail!(
            "no transcripts (*.{EXTENSION}) in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let system = actix_web::rt::System::new();
    let mut failed = 0;
    for file in &files {
        let started = Instant::now();
        let outcome = system.block_on(run::run_file(config_path, file));
        let ms = started.elapsed().as_millis();
        match outcome {
            Ok(run::Outcome::Passed { steps }) => {
                println!(
                    "ok    {} ({steps} steps, {ms} ms)",
                    crate::check::shown(file)
                );
            }
            Ok(run::Outcome::Failed { report }) => {
                failed += 1;
                println!("FAIL  {}", crate::check::shown(file));
                for line in report.lines() {
                    println!("      {line}");
                }
            }
            Err(e) => {
                failed += 1;
                println!("FAIL  {}: {e:#}", crate::check::shown(file));
            }
        }
    }
    println!("{} passed, {failed} failed", files.len() - failed);
    if failed > 0 {
        bail!("{failed} of {} transcript(s) failed", files.len());
    }
    Ok(())
}

/// Files as given, and the `*.txt` files directly in given folders, sorted per folder.
fn transcript_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == EXTENSION))
                .collect();
            found.sort();
            files.extend(found);
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            bail!("no transcript file or folder {}", path.display());
        }
    }
    Ok(files)
}
