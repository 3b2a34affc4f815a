//! A platform slow to answer for one conversation does not hold back the others.

mod support;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use parley_engine::adapter::{Adapter, AdapterError, Intake};
use parley_engine::model::*;
use parley_engine::store::Store;
use parley_engine::{Engine, EngineConfig};
use std::sync::{Arc, Mutex};
use support::{text_event, FnHandler};
use tokio::sync::watch;

/// Holds every send to `slow` until released; answers the others at once.
struct Platform {
    release: watch::Receiver<bool>,
    sent: Arc<Mutex<Vec<String>>>,
    count: watch::Sender<usize>,
}

impl Adapter for Platform {
    fn kind(&self) -> &'static str {
        "platform"
    }
    fn start(&self, _: Intake, _: Option<String>) -> BoxFuture<'static, Result<(), AdapterError>> {
        async { Ok(()) }.boxed()
    }
    fn stop(&self) -> BoxFuture<'static, ()> {
        async {}.boxed()
    }
    fn execute(&self, c: OutboundCommand) -> BoxFuture<'static, CommandResult> {
        let Command::Send { to, .. } = &c.command else {
            unreachable!()
        };
        let to = to.id.clone();
        let mut release = self.release.clone();
        let (sent, count) = (self.sent.clone(), self.count.clone());
        async move {
            if to == "slow" {
                release.wait_for(|r| *r).await.unwrap();
            }
            sent.lock().unwrap().push(to);
            count.send_modify(|n| *n += 1);
            CommandResult::Ok(CommandOutput::Done)
        }
        .boxed()
    }
}

#[actix_rt::test]
async fn a_slow_conversation_does_not_block_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let (release_tx, release) = watch::channel(false);
    let platform = Arc::new(Platform {
        release,
        sent: Arc::default(),
        count: watch::channel(0).0,
    });
    let handler = FnHandler(Box::new(|env, state| {
        if !matches!(env.event, Event::Message(_)) {
            return async move { parley_engine::handler::Handled::new(state, vec![]) }.boxed();
        }
        let reply = Command::Send {
            to: env.route(),
            content: Content::text("ok"),
            reply_to: None,
            options: SendOptions::default(),
            as_user: None,
        };
        async move { parley_engine::handler::Handled::new(state, vec![reply]) }.boxed()
    }));
    let conn = ConnectionId::from("test");
    let engine = Engine::start(
        EngineConfig::default(),
        store,
        Arc::new(handler),
        vec![(conn.clone(), platform.clone())],
    )
    .await
    .unwrap();
    let intake = engine.intake(&conn).unwrap();
    intake
        .deliver(text_event("a", ConversationId::direct("slow"), "1"), None)
        .await
        .unwrap();
    intake
        .deliver(text_event("b", ConversationId::direct("fast"), "2"), None)
        .await
        .unwrap();
    intake
        .deliver(text_event("c", ConversationId::direct("quick"), "3"), None)
        .await
        .unwrap();
    let mut count = platform.count.subscribe();
    count.wait_for(|n| *n >= 2).await.unwrap();
    let mut sent = platform.sent.lock().unwrap().clone();
    sent.sort();
    assert_eq!(
        sent,
        vec!["fast".to_string(), "quick".to_string()],
        "others went out while `slow` was held"
    );
    release_tx.send(true).unwrap();
    count.wait_for(|n| *n >= 3).await.unwrap();
    drop(intake);
    engine.shutdown().await;
}
