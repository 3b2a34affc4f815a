//! `parley test [paths] [--platform P]`: runs transcript files against an in-process
//! Parley and prints a pass/fail line per transcript and platform, with a diff of what was
//! expected and what happened for the first step that went wrong. The file format is
//! described in `docs/bots.md`.
//!
//! - `parse.rs`: the transcript format.
//! - `run.rs`: one transcript against a fresh Parley (temporary data folder, a copy of the
//!   scripts folder with only the transcript's bots, port 0) with one connection, whose
//!   platform side a [`run::Driver`] plays:
//! - `hub.rs`: the embedded hub, driven over its WebSocket protocol;
//! - `tencent.rs`: Tencent Cloud IM, as signed callbacks in and a local REST API v4 out;
//! - `onebot.rs`: QQ through OneBot v11, as a reverse WebSocket client.

mod hub;
mod onebot;
mod parse;
mod run;
mod tencent;

use crate::config::Config;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where `parley test` looks when given no paths: `transcripts/` in the bots folder.
pub const DEFAULT_FOLDER: &str = "transcripts";
/// Transcript files in a folder are the ones ending in this.
pub const EXTENSION: &str = "txt";

/// The platform a transcript is played on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// The embedded hub.
    Hub,
    /// Tencent Cloud IM, played by a local Tencent.
    Tencent,
    /// QQ through OneBot v11, played by a local implementation.
    OneBot,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Hub, Platform::Tencent, Platform::OneBot];

    pub fn name(self) -> &'static str {
        match self {
            Platform::Hub => "hub",
            Platform::Tencent => "tencent",
            Platform::OneBot => "onebot",
        }
    }
}

/// The platforms named on the command line (`hub`, `tencent`, `onebot`, `all`), each once.
pub fn platforms(names: &[String]) -> Result<Vec<Platform>> {
    let mut out = Vec::new();
    for name in names.iter().flat_map(|n| n.split(',')) {
        let given: &[Platform] = match name.trim() {
            "all" => &Platform::ALL,
            "hub" => &[Platform::Hub],
            "tencent" => &[Platform::Tencent],
            "onebot" => &[Platform::OneBot],
            other => bail!("no platform `{other}`: hub, tencent, onebot or all"),
        };
        for p in given {
            if !out.contains(p) {
                out.push(*p);
            }
        }
    }
    Ok(out)
}

/// `parley test [paths]`: every path is a transcript file or a folder of `*.txt`
/// transcripts; no paths means the `transcripts/` folder of the config's bots folder.
/// Each runs on every platform given (default: the hub). Fails (after running all of
/// them) when one or more transcripts fail; a transcript a platform cannot play to the end
/// is reported as skipped there, with the reason.
pub fn test(config_path: &Path, paths: &[PathBuf], platforms: &[Platform]) -> Result<()> {
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
    let platforms = if platforms.is_empty() {
        &[Platform::Hub][..]
    } else {
        platforms
    };
    let system = actix_web::rt::System::new();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for &platform in platforms {
        for file in &files {
            let shown = match platform {
                Platform::Hub => crate::check::shown(file),
                other => format!("{} on {}", crate::check::shown(file), other.name()),
            };
            let started = Instant::now();
            let outcome = system.block_on(run::run_file(config_path, file, platform));
            let ms = started.elapsed().as_millis();
            match outcome {
                Ok(run::Outcome::Passed { steps }) => {
                    passed += 1;
                    println!("ok    {shown} ({steps} steps, {ms} ms)");
                }
                Ok(run::Outcome::Skipped { line, reason, ran }) => {
                    skipped += 1;
                    println!(
                        "skip  {shown}: line {line}: {} cannot play {reason}; the {ran} steps before it passed",
                        platform.name()
                    );
                }
                Ok(run::Outcome::Failed { report }) => {
                    failed += 1;
                    println!("FAIL  {shown}");
                    for line in report.lines() {
                        println!("      {line}");
                    }
                }
                Err(e) => {
                    failed += 1;
                    println!("FAIL  {shown}: {e:#}");
                }
            }
        }
    }
    if skipped > 0 {
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    } else {
        println!("{passed} passed, {failed} failed");
    }
    if failed > 0 {
        bail!(
            "{failed} of {} transcript run(s) failed",
            passed + failed + skipped
        );
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
