//! Parley's Rhai bot runtime (DESIGN.md §3).
//!
//! A bot is a `.rhai` file in the scripts directory; its name is the file stem. It defines
//! the handlers it cares about (`fn on_message(ctx, msg) { ... }`), and [`BotRuntime`], an
//! [`EventHandler`](parley_engine::handler::EventHandler), calls them for each event of a
//! conversation, in bot order, collecting the commands they queue and the per-conversation
//! state they keep in `ctx.state`.
//!
//! Scripts run sandboxed: one Rhai engine per bot with the limits of [`BotOptions`], no
//! file, process or network access, `print`/`debug` sent to `tracing`, and `import` limited
//! to files inside the scripts directory. A failing script is logged, counted, and its
//! effects on that event discarded; the other bots go on.

mod api;
mod error;
mod resolver;
mod runtime;

#[cfg(test)]
mod tests;

pub use error::ScriptError;
pub use runtime::BotRuntime;

use std::path::PathBuf;

/// Sandbox limits applied to every bot script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotOptions {
    /// Rhai operations one handler call may perform (stops runaway loops).
    pub max_operations: u64,
    /// Nesting depth of function calls (stops runaway recursion).
    pub max_call_levels: usize,
    /// Longest string a script may build, in bytes.
    pub max_string_size: usize,
    /// Most elements in one array.
    pub max_array_size: usize,
    /// Most properties in one object map.
    pub max_map_size: usize,
    /// Largest `ctx.state` of one bot in one conversation, as serialized JSON bytes.
    pub max_state_bytes: usize,
}

impl Default for BotOptions {
    fn default() -> Self {
        Self {
            max_operations: 1_000_000,
            max_call_levels: 64,
            max_string_size: 64 * 1024,
            max_array_size: 10_000,
            max_map_size: 10_000,
            max_state_bytes: 64 * 1024,
        }
    }
}

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
