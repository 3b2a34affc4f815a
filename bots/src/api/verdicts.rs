//! What `on_before_message` returns: `allow()`, `reject(reason)` or `replace(content)`
//! (returning nothing allows).

use super::content::content_from;
use super::ctx::RhaiResult;
use parley_engine::model::Verdict;
use rhai::{Dynamic, Engine, Map};

fn verdict(kind: &str, key: &str, value: Dynamic) -> Map {
    let mut map = Map::new();
    map.insert("verdict".into(), kind.into());
    if !key.is_empty() {
        map.insert(key.into(), value);
    }
    map
}

pub(crate) fn verdict_from(value: Dynamic) -> RhaiResult<Verdict> {
    if value.is_unit() {
        return Ok(Verdict::Allow);
    }
    let bad = || -> RhaiResult<Verdict> {
        Err("on_before_message must return allow(), reject(reason) or replace(content)".into())
    };
    let Some(map) = value.try_cast::<Map>() else {
        return bad();
    };
    match map.get("verdict").map(|v| v.to_string()).as_deref() {
        Some("allow") => Ok(Verdict::Allow),
        Some("reject") => Ok(Verdict::Reject {
            reason: map.get("reason").map(|r| r.to_string()).unwrap_or_default(),
        }),
        Some("replace") => Ok(Verdict::Replace {
            content: content_from(
                map.get("content").cloned().unwrap_or(Dynamic::UNIT),
                "replace",
            )?,
        }),
        _ => bad(),
    }
}

pub(crate) fn register(engine: &mut Engine) {
    engine
        .register_fn("allow", || verdict("allow", "", Dynamic::UNIT))
        .register_fn("reject", |reason: &str| {
            verdict("reject", "reason", reason.into())
        })
        .register_fn("replace", |content: Dynamic| {
            verdict("replace", "content", content)
        });
}
