//! What scripts see: `ctx` and its commands, content builders, event objects, matching
//! helpers and `ctx.store`. Each submodule registers its part on a bot's Rhai engine.

mod content;
mod ctx;
mod events;
mod http;
mod matching;
mod moderation;
mod queries;
mod schedules;
mod store;
mod verdicts;

pub(crate) use ctx::{Ctx, CtxInput};
pub(crate) use events::{event_object, for_bot};
pub(crate) use http::HttpPolicy;
pub(crate) use matching::Cooldowns;
pub(crate) use verdicts::verdict_from;

use rhai::Engine;

/// Registers the whole script API on a bot's engine.
pub(crate) fn register(engine: &mut Engine, http: HttpPolicy) {
    ctx::register(engine);
    http::register(engine, http);
    moderation::register(engine);
    queries::register(engine);
    schedules::register(engine);
    content::register(engine);
    events::register(engine);
    matching::register(engine);
    store::register(engine);
    verdicts::register(engine);
}

/// Converts a stored bot state into the map scripts see as `ctx.state`.
pub(crate) fn state_to_map(state: Option<&serde_json::Value>) -> Result<rhai::Map, String> {
    match state {
        None | Some(serde_json::Value::Null) => Ok(rhai::Map::new()),
        Some(value @ serde_json::Value::Object(_)) => rhai::serde::to_dynamic(value)
            .map_err(|e| e.to_string())?
            .try_cast::<rhai::Map>()
            .ok_or_else(|| "stored state is not an object".to_string()),
        Some(other) => Err(format!(
            "stored state is not an object but {}; leaving it untouched",
            json_kind(other)
        )),
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
