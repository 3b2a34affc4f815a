//! What several benchmarks share.

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use parley_engine::adapter::{Adapter, AdapterError, Intake};
use parley_engine::model::{CommandOutput, CommandResult, MessageRef, OutboundCommand};
use tokio::sync::watch;

/// A platform that confirms every command at once and counts them.
pub struct Sink(pub watch::Sender<usize>);

impl Adapter for Sink {
    fn kind(&self) -> &'static str {
        "sink"
    }
    fn start(&self, _: Intake, _: Option<String>) -> BoxFuture<'static, Result<(), AdapterError>> {
        async { Ok(()) }.boxed()
    }
    fn stop(&self) -> BoxFuture<'static, ()> {
        async {}.boxed()
    }
    fn execute(&self, c: OutboundCommand) -> BoxFuture<'static, CommandResult> {
        self.0.send_modify(|n| *n += 1);
        async move {
            CommandResult::Ok(CommandOutput::Sent {
                message: MessageRef::new(c.idempotency_key),
            })
        }
        .boxed()
    }
}
