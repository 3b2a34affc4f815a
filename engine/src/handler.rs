//! The interface between the actors and whatever reacts to events (the Rhai bot runtime,
//! or a Rust handler when the engine is embedded).

use crate::model::{Command, Envelope, Verdict};
use crate::scheduler::ScheduleChange;
use futures_util::future::BoxFuture;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The persisted state of one conversation: one JSON value per bot name.
pub type BotStates = BTreeMap<String, Value>;

/// What handling one event produced: the conversation's new state, the commands to send
/// and the changes to the bots' schedules. All are written to the store in one transaction
/// with the event's "handled" mark, so a crash either keeps all of it or replays the event.
#[derive(Debug, Default)]
pub struct Handled {
    pub state: BotStates,
    pub commands: Vec<Queued>,
    pub schedules: Vec<ScheduleChange>,
}

impl Handled {
    /// A new state and commands sent on no particular bot's behalf.
    pub fn new(state: BotStates, commands: Vec<Command>) -> Self {
        Handled {
            state,
            commands: commands.into_iter().map(Queued::from).collect(),
            schedules: Vec::new(),
        }
    }
}

/// A command and the bot that sent it, if one did: its result goes back to that bot only.
#[derive(Clone, Debug, PartialEq)]
pub struct Queued {
    pub command: Command,
    pub bot: Option<String>,
}

impl From<Command> for Queued {
    fn from(command: Command) -> Self {
        Queued { command, bot: None }
    }
}

/// Called by a conversation or group actor for each of its events, strictly one at a time
/// and in arrival order. The results of the commands a handler returns come back later as
/// `Event::CommandResult` events of the same conversation: a handler that answers every
/// event with a command must leave those out, or it never stops. The future may take as long as it needs: the actor's mailbox
/// fills and its connection's intake waits, nothing is dropped.
pub trait EventHandler: Send + Sync + 'static {
    fn handle(&self, envelope: Arc<Envelope>, state: BotStates) -> BoxFuture<'static, Handled>;

    /// Whether some handler acts on events that call `handler` (`on_command_result`, ...),
    /// so the engine can skip producing events nobody would handle. Asked each time, so a
    /// reloaded script that starts handling them gets them from then on.
    fn handles(&self, _handler: &str) -> bool {
        true
    }

    /// The verdict on a message awaiting delivery (`Event::BeforeSend`), given a snapshot
    /// of its conversation's state; `None` when no interceptor has an opinion. Called
    /// outside the conversation's actor, under the platform's deadline.
    fn verdict(
        &self,
        _envelope: Arc<Envelope>,
        _state: BotStates,
    ) -> BoxFuture<'static, Option<Verdict>> {
        Box::pin(async { None })
    }
}
