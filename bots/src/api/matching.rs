//! Matching helpers that keep common bots short: commands with arguments (`msg.command`,
//! `msg.args`, `msg.is_command("ticket")`), keywords (`msg.has_keyword(["refund", "return"])`),
//! regexes (`msg.matches(re)`, `msg.captures(re)`) and per-key cooldowns
//! (`ctx.cooldown(msg.sender, 30)`).

use super::ctx::{Ctx, RhaiResult};
use regex::{Regex, RegexBuilder};
use rhai::{Array, Dynamic, Engine, ImmutableString, Map, INT};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// `/ticket 123 urgent` -> (`ticket`, [`123`, `urgent`], `123 urgent`). A `@bot` suffix on
/// the name (`/help@bot`) is dropped. `None` when the text is not a command.
pub(crate) fn parse_command(text: &str) -> Option<(String, Array, String)> {
    let rest = text.trim_start().strip_prefix('/')?;
    let (word, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let name = word.split('@').next().unwrap_or_default();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return None;
    }
    let args = rest
        .split_whitespace()
        .map(|w| Dynamic::from(w.to_string()))
        .collect();
    Some((name.to_string(), args, rest.trim().to_string()))
}

fn text_of(msg: &Map) -> String {
    msg.get("text").map(|t| t.to_string()).unwrap_or_default()
}

/// Whether `text` contains any of the words, ignoring case.
fn has_keyword(text: &str, words: &[String]) -> bool {
    let text = text.to_lowercase();
    words
        .iter()
        .any(|w| !w.is_empty() && text.contains(&w.to_lowercase()))
}

fn words(words: Dynamic) -> RhaiResult<Vec<String>> {
    if words.is_string() {
        return Ok(vec![words.to_string()]);
    }
    match words.try_cast::<Array>() {
        Some(list) => Ok(list.iter().map(|w| w.to_string()).collect()),
        None => Err("has_keyword: expected a word or an array of words".into()),
    }
}

/// Compiled regexes by pattern, shared by all bots (patterns are usually literals).
fn regex(pattern: &str) -> RhaiResult<Arc<Regex>> {
    const MAX_CACHED: usize = 1_000;
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(re) = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(pattern)
    {
        return Ok(re.clone());
    }
    let re = RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map(Arc::new)
        .map_err(|e| format!("bad regex `{pattern}`: {e}"))?;
    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.len() >= MAX_CACHED {
        cache.clear();
    }
    cache.insert(pattern.to_string(), re.clone());
    Ok(re)
}

fn matches(text: &str, pattern: &str) -> RhaiResult<bool> {
    Ok(regex(pattern)?.is_match(text))
}

/// The whole match and each group (`()` for a group that did not take part), or `()`.
fn captures(text: &str, pattern: &str) -> RhaiResult<Dynamic> {
    Ok(match regex(pattern)?.captures(text) {
        Some(caps) => {
            let groups: Array = caps
                .iter()
                .map(|g| g.map_or(Dynamic::UNIT, |g| g.as_str().into()))
                .collect();
            groups.into()
        }
        None => Dynamic::UNIT,
    })
}

/// Per-bot cooldowns: `conversation key` -> until when (event time, ms).
#[derive(Default)]
pub(crate) struct Cooldowns(Mutex<HashMap<String, i64>>);

impl Cooldowns {
    const MAX_KEYS: usize = 10_000;

    /// True (and the cooldown starts) unless `key` is still cooling down at `now_ms`.
    fn take(&self, key: String, now_ms: i64, seconds: INT) -> bool {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.get(&key).is_some_and(|&until| until > now_ms) {
            return false;
        }
        if map.len() >= Self::MAX_KEYS {
            map.retain(|_, until| *until > now_ms);
        }
        map.insert(key, now_ms + seconds.max(0) * 1000);
        true
    }
}

pub(crate) fn register(engine: &mut Engine) {
    engine
        .register_fn("is_command", |msg: &mut Map, name: &str| {
            msg.get("command").is_some_and(|c| c.to_string() == name)
        })
        .register_fn(
            "has_keyword",
            |msg: &mut Map, w: Dynamic| -> RhaiResult<bool> {
                Ok(has_keyword(&text_of(msg), &words(w)?))
            },
        )
        .register_fn(
            "has_keyword",
            |text: &str, w: Dynamic| -> RhaiResult<bool> { Ok(has_keyword(text, &words(w)?)) },
        )
        .register_fn("matches", |msg: &mut Map, pattern: &str| {
            matches(&text_of(msg), pattern)
        })
        .register_fn("matches", |text: &str, pattern: &str| {
            matches(text, pattern)
        })
        .register_fn("captures", |msg: &mut Map, pattern: &str| {
            captures(&text_of(msg), pattern)
        })
        .register_fn("captures", |text: &str, pattern: &str| {
            captures(text, pattern)
        })
        .register_fn(
            "cooldown",
            |ctx: &mut Ctx, key: ImmutableString, seconds: INT| {
                let shared = ctx.shared();
                let key = format!("{} {key}", shared.conversation);
                shared.cooldowns.take(key, shared.time_ms, seconds)
            },
        );
}
