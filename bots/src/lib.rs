//! Parley's Rhai bot runtime (DESIGN.md §3).
//!
//! A bot is a `.rhai` file in the scripts directory; its name is the file stem. It defines
//! the handlers it cares about (`fn on_message(ctx, msg) { ... }`), and [`BotRuntime`], an
//! [`EventHandler`](parley_engine::handler::EventHandler), calls them for each event of a
//! conversation, in bot order, collecting the commands they queue, the per-conversation
//! state they keep in `ctx.state` and the per-bot `ctx.store`.
//!
//! Scripts run sandboxed: one Rhai engine per bot with the limits of [`BotOptions`], no
//! file, process or network access, `print`/`debug` sent to `tracing`, and `import` limited
//! to files inside the scripts directory. A failing script is logged, counted, and its
//! effects on that event discarded; the other bots go on. The script-facing API is in
//! `docs/bots.md`.

mod api;
mod bot;
mod config;
mod error;
mod kv;
mod reload;
mod resolver;
mod runtime;
mod verdict;

#[cfg(test)]
mod tests;

pub use config::{Binding, BotOptions, BotsConfig, DefaultVerdict, Interceptor};
pub use error::ScriptError;
pub use kv::KvError;
pub use reload::Watcher;
pub use runtime::BotRuntime;

use std::path::PathBuf;

/// A loaded bot, as listed by [`BotRuntime::bots`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotInfo {
    /// The script's file stem.
    pub name: String,
    /// The script's path (the scripts directory joined with the file name).
    pub file: PathBuf,
    /// The handlers the script defines (`on_*` functions taking `ctx` and the event), sorted.
    pub handlers: Vec<String>,
}
