//! Parley's OneBot v11 adapter (docs/platforms/onebot.md): a bot is a QQ account served by a
//! OneBot v11 implementation (NapCat, Lagrange.OneBot, LLOneBot, go-cqhttp), reached by
//! reverse WebSocket, forward WebSocket, or HTTP POST + HTTP API. One connection per account.

pub mod actions;
mod adapter;
mod auth;
pub mod config;
pub mod directory;
pub mod events;
mod forward_ws;
mod http;
mod reverse_ws;
mod rpc;
pub mod segments;
mod session;
#[cfg(feature = "testing")]
pub mod testing;

pub use adapter::OneBotAdapter;
pub use config::{Mode, OneBotConfig};
