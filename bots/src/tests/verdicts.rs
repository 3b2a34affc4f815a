//! on_before_message: verdicts, the deadline and the default.

use super::*;
use crate::{DefaultVerdict, Interceptor};
use parley_engine::model::Verdict;

fn before(text: &str) -> Arc<Envelope> {
    let mut e = message(ConversationId::group("lobby"), "bob", text);
    let Event::Message(m) = e.event else {
        unreachable!()
    };
    e.event = Event::BeforeSend(m);
    Arc::new(e)
}

const JUDGE: &str = r#"
fn on_before_message(ctx, msg) {
    if msg.text.contains("darn") { return reject("no swearing"); }
    if msg.text.contains("http") { return replace(text("[link removed]")); }
    if msg.text == "loop" { loop {} }
    if msg.text == "bad" { return 42; }
}
"#;

#[tokio::test]
async fn interceptors_allow_reject_or_replace() {
    let dir = scripts(&[("judge.rhai", JUDGE)]);
    let runtime = load(dir.path());
    assert_eq!(
        runtime.intercept(before("hello"), BotStates::new()).await,
        Some(Verdict::Allow)
    );
    assert_eq!(
        runtime.intercept(before("darn it"), BotStates::new()).await,
        Some(Verdict::Reject {
            reason: "no swearing".into()
        })
    );
    assert_eq!(
        runtime
            .intercept(before("see http://x"), BotStates::new())
            .await,
        Some(Verdict::Replace {
            content: Content::text("[link removed]")
        })
    );
    // Not a pre-delivery event, or nobody intercepts: no opinion.
    let plain = Arc::new(message(ConversationId::group("lobby"), "bob", "darn"));
    assert_eq!(runtime.intercept(plain, BotStates::new()).await, None);
    let empty = scripts(&[("echo.rhai", ECHO)]);
    assert_eq!(
        load(empty.path())
            .intercept(before("darn"), BotStates::new())
            .await,
        None
    );
}

#[tokio::test]
async fn a_slow_or_failing_interceptor_gets_the_configured_default() {
    let dir = scripts(&[("judge.rhai", JUDGE)]);
    let options = BotOptions {
        max_operations: 0,
        before_message: Interceptor {
            timeout_ms: 50,
            default: DefaultVerdict::Reject,
        },
        ..BotOptions::default()
    };
    let runtime = load_with(dir.path(), options);
    let started = std::time::Instant::now();
    assert_eq!(
        runtime.intercept(before("loop"), BotStates::new()).await,
        Some(Verdict::Reject {
            reason: "the interceptor did not answer in time".into()
        })
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(
        runtime.intercept(before("bad"), BotStates::new()).await,
        Some(Verdict::Reject {
            reason: "the interceptor gave no verdict".into()
        })
    );
}
