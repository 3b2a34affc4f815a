//! The local Tencent (`parley_tencent::testing`, shared with `parley test --platform
//! tencent`) and helpers to build an adapter pointing at it.

#![allow(dead_code)]

use parley_engine::model::{Command, Content, ConversationId, OutboundCommand, SendOptions};
pub use parley_tencent::testing::*;
use parley_tencent::{TencentAdapter, TencentConfig};
use parley_vendor::Clock;
use std::sync::Arc;

pub fn adapter_with(config: TencentConfig, clock: Clock) -> Arc<TencentAdapter> {
    Arc::new(TencentAdapter::with_env(config, env, clock).unwrap())
}

pub fn adapter(rest_url: &str) -> Arc<TencentAdapter> {
    adapter_with(config(rest_url), Clock::system())
}

/// A command on the connection `tc` with the idempotency key `key`.
pub fn cmd(key: &str, command: Command) -> OutboundCommand {
    OutboundCommand {
        connection: "tc".into(),
        idempotency_key: key.into(),
        command,
    }
}

/// A plain text send.
pub fn send(to: ConversationId, text: &str) -> Command {
    Command::Send {
        to,
        content: Content::text(text),
        reply_to: None,
        options: SendOptions::default(),
        as_user: None,
    }
}
