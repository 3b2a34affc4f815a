//! `parley check [paths]`: compiles bot scripts the way `parley run` does and reports every
//! script that does not compile as `file:line:col: message`, exiting non-zero when one
//! does not. Also warns about `on_*` functions that no event calls (a misspelt handler).

use crate::config::Config;
use anyhow::{bail, Result};
use parley_bots::{BotInfo, BotRuntime, ScriptError};
use parley_engine::model::Event;
use std::path::{Path, PathBuf};

/// The handlers the runtime calls besides one per event kind; an `on_*` function named
/// otherwise is never called.
const BOT_HANDLERS: &[&str] = &["on_start"];

fn is_handler(name: &str) -> bool {
    Event::HANDLER_NAMES.contains(&name) || BOT_HANDLERS.contains(&name)
}

/// `parley check [paths]`: each path is a script or a folder of scripts (its `*.rhai`
/// files, as `parley run` loads them); no paths means the config's bots folder. A single
/// script is compiled with its folder as the scripts folder, so its imports resolve.
pub fn check(config_path: &Path, paths: &[PathBuf]) -> Result<()> {
    let (config, _) = Config::load(config_path)?;
    let paths = if paths.is_empty() {
        vec![config.bots.dir.clone()]
    } else {
        paths.to_vec()
    };
    let mut checked = 0;
    let mut errors = 0;
    for path in &paths {
        let (bots, script_errors) = if path.is_dir() {
            let (runtime, errors) = BotRuntime::load(path, config.bots.options.clone());
            (runtime.bots(), errors)
        } else if path.is_file() {
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let (runtime, all_errors) = BotRuntime::load(dir, config.bots.options.clone());
            let name = path.file_name();
            let bots: Vec<BotInfo> = runtime
                .bots()
                .into_iter()
                .filter(|b| b.file.file_name() == name)
                .collect();
            let file_errors: Vec<ScriptError> = all_errors
                .into_iter()
                .filter(|e| e.file.file_name() == name)
                .collect();
            if bots.is_empty() && file_errors.is_empty() {
                println!(
                    "error {}: not a bot script (a .rhai file is needed)",
                    shown(path)
                );
                checked += 1;
                errors += 1;
                continue;
            }
            (bots, file_errors)
        } else {
            println!("error {}: no such file or folder", shown(path));
            checked += 1;
            errors += 1;
            continue;
        };
        for bot in &bots {
            checked += 1;
            println!("ok    {} ({})", shown(&bot.file), bot.handlers.join(", "));
            for h in &bot.handlers {
                if !is_handler(h) {
                    println!(
                        "warning {}: `{h}` is not a handler and is never called{}",
                        shown(&bot.file),
                        suggestion(h)
                            .map(|s| format!(" (did you mean `{s}`?)"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        for e in &script_errors {
            checked += 1;
            errors += 1;
            println!("error {}", located(e));
        }
    }
    if errors > 0 {
        bail!("{errors} of {checked} script(s) do not compile");
    }
    println!("{checked} script(s) compile");
    Ok(())
}

/// `file:line:col: message`, the file relative to the current folder when inside it.
fn located(e: &ScriptError) -> String {
    let mut s = shown(&e.file);
    if let Some(line) = e.line {
        s.push_str(&format!(":{line}"));
        if let Some(col) = e.column {
            s.push_str(&format!(":{col}"));
        }
    }
    format!("{s}: {}", e.message)
}

/// `path` relative to the current folder when it is inside it.
pub(crate) fn shown(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// The known handler closest to `name`, if it is close (a typo).
fn suggestion(name: &str) -> Option<&'static str> {
    Event::HANDLER_NAMES
        .iter()
        .chain(BOT_HANDLERS)
        .map(|h| (distance(name, h), *h))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, h)| h)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_handlers_get_a_suggestion() {
        assert_eq!(suggestion("on_mesage"), Some("on_message"));
        assert_eq!(suggestion("on_friend_add"), Some("on_friend_added"));
        assert_eq!(suggestion("on_everything_at_once"), None);
    }
}
