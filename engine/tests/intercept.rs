//! Pre-delivery checks answer within the platform's deadline, with the handler's verdict
//! or the configured default.

mod support;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use parley_engine::handler::{BotStates, EventHandler, Handled};
use parley_engine::model::*;
use parley_engine::store::Store;
use parley_engine::{Engine, EngineConfig};
use std::sync::Arc;
use std::time::Duration;
use support::{text_event, RecordingAdapter};

/// Rejects "spam", replaces "darn", hangs on "slow", has no opinion otherwise.
struct Censor;

impl EventHandler for Censor {
    fn handle(&self, _: Arc<Envelope>, state: BotStates) -> BoxFuture<'static, Handled> {
        async move { Handled::new(state, vec![]) }.boxed()
    }

    fn verdict(
        &self,
        envelope: Arc<Envelope>,
        _: BotStates,
    ) -> BoxFuture<'static, Option<Verdict>> {
        let text = match &envelope.event {
            Event::BeforeSend(m) => m.content.plain_text(),
            _ => String::new(),
        };
        async move {
            match text.as_str() {
                "spam" => Some(Verdict::Reject {
                    reason: "no spam here".into(),
                }),
                "darn" => Some(Verdict::Replace {
                    content: Content::text("****"),
                }),
                "slow" => futures_util::future::pending().await,
                _ => None,
            }
        }
        .boxed()
    }
}

fn before_send(text: &str) -> Envelope {
    let mut e = text_event("b1", ConversationId::group("g"), text);
    if let Event::Message(m) = e.event {
        e.event = Event::BeforeSend(m);
    }
    e
}

#[actix_rt::test]
async fn verdicts_come_from_the_handler_or_the_default_on_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let conn = ConnectionId::from("test");
    let engine = Engine::start(
        EngineConfig::default(),
        store,
        Arc::new(Censor),
        vec![(conn.clone(), RecordingAdapter::new())],
    )
    .await
    .unwrap();
    let intake = engine.intake(&conn).unwrap();
    let deadline = Duration::from_millis(50);
    let default = Verdict::Allow;
    assert_eq!(
        intake
            .verdict(before_send("spam"), deadline, default.clone())
            .await,
        Verdict::Reject {
            reason: "no spam here".into()
        }
    );
    assert_eq!(
        intake
            .verdict(before_send("darn"), deadline, default.clone())
            .await,
        Verdict::Replace {
            content: Content::text("****")
        }
    );
    assert_eq!(
        intake
            .verdict(before_send("fine"), deadline, default.clone())
            .await,
        Verdict::Allow
    );
    let strict = Verdict::Reject {
        reason: "checks are down".into(),
    };
    assert_eq!(
        intake
            .verdict(before_send("slow"), deadline, strict.clone())
            .await,
        strict,
        "a late verdict gives the default"
    );
    drop(intake);
    engine.shutdown().await;
}
