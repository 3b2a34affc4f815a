//! Broadcast jobs: every recipient once, failures recorded, transient ones retried,
//! pause/resume/cancel, resumption after a stop, and interactive replies ahead of bulk sends.

mod support;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use parley_engine::adapter::{Adapter, AdapterError, Intake, RateLimit};
use parley_engine::audience::Recipient;
use parley_engine::model::*;
use parley_engine::store::{JobStatus, Store};
use parley_engine::{Engine, EngineConfig};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{text_event, Counter, FnHandler};
use tokio::sync::watch;

/// Records sends; `ghost*` users do not exist, `flaky*` users fail once with a 5xx first.
#[derive(Default)]
struct Platform {
    sends: Mutex<Vec<(String, String)>>,
    attempts: Mutex<HashMap<String, u32>>,
    count: watch::Sender<usize>,
    /// Whether it answers `list_friends` and `list_groups` (else: unsupported).
    lookups: bool,
}

impl Platform {
    fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    async fn wait_sends(&self, n: usize) {
        self.count.subscribe().wait_for(|c| *c >= n).await.unwrap();
    }
    /// Friends fan0..fan2 and alice; groups g1 and g2.
    fn lookup(&self, command: &Command) -> Option<CommandResult> {
        let output = match command {
            Command::ListFriends => CommandOutput::Friends {
                friends: ["fan0", "fan1", "fan2", "alice"]
                    .map(|u| FriendInfo {
                        user: u.into(),
                        nickname: None,
                        alias: None,
                    })
                    .into(),
            },
            Command::ListGroups => CommandOutput::Groups {
                groups: ["g1", "g2"]
                    .map(|g| GroupInfo {
                        group: g.into(),
                        name: g.to_uppercase(),
                        kind: None,
                        owner: None,
                        member_count: None,
                        capacity: None,
                        description: None,
                        announcement: None,
                        avatar_url: None,
                        all_muted: false,
                        ext: serde_json::Value::Null,
                    })
                    .into(),
            },
            _ => return None,
        };
        Some(match self.lookups {
            true => CommandResult::Ok(output),
            false => CommandResult::Failed(CommandError::new(
                ErrorKind::Unsupported,
                "this platform has no friend list",
            )),
        })
    }

    fn keys(&self) -> Vec<String> {
        self.sends
            .lock()
            .unwrap()
            .iter()
            .map(|(k, _)| k.clone())
            .collect()
    }
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
        if let Some(answer) = self.lookup(&c.command) {
            return async move { answer }.boxed();
        }
        let Command::Send { to, .. } = &c.command else {
            unreachable!()
        };
        let attempt = {
            let mut a = self.attempts.lock().unwrap();
            let n = a.entry(c.idempotency_key.clone()).or_default();
            *n += 1;
            *n
        };
        let result = if to.id.starts_with("ghost") {
            CommandResult::Failed(CommandError::new(
                ErrorKind::NotFound,
                format!("no user {}", to.id),
            ))
        } else if to.id.starts_with("flaky") && attempt == 1 {
            CommandResult::Failed(CommandError::new(ErrorKind::Unavailable, "HTTP 503"))
        } else {
            self.sends
                .lock()
                .unwrap()
                .push((c.idempotency_key.clone(), to.id.clone()));
            self.count.send_modify(|n| *n += 1);
            CommandResult::Ok(CommandOutput::Sent {
                message: MessageRef::new(format!("m-{}", c.idempotency_key)),
            })
        };
        async move { result }.boxed()
    }
}

fn conn() -> ConnectionId {
    ConnectionId::from("test")
}

fn quiet_handler() -> FnHandler {
    FnHandler(Box::new(|_, state| {
        async move { parley_engine::handler::Handled::new(state, vec![]) }.boxed()
    }))
}

fn config(per_second: Option<u32>) -> EngineConfig {
    let mut c = EngineConfig::default();
    c.retry.first_backoff = Duration::from_millis(1);
    if let Some(rate) = per_second {
        c.rate_limits.insert(
            conn(),
            vec![RateLimit {
                commands: vec![],
                per_second: Some(rate),
                per_minute: None,
            }],
        );
    }
    c
}

fn users(prefix: &str, n: usize) -> Vec<ConversationId> {
    (0..n)
        .map(|i| ConversationId::direct(format!("{prefix}{i}")))
        .collect()
}

async fn wait_status(engine: &Engine, id: i64, status: JobStatus) -> parley_engine::store::JobInfo {
    // The job's row is the only place progress lives; poll it until the status shows.
    loop {
        let job = engine.broadcasts().get(id).await.unwrap();
        if job.status == status {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[actix_rt::test]
async fn every_recipient_gets_one_send_and_failures_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let platform = Platform::new();
    let engine = Engine::start(
        config(None),
        store,
        Arc::new(quiet_handler()),
        vec![(conn(), platform.clone())],
    )
    .await
    .unwrap();
    let mut recipients = users("u", 1000);
    recipients.extend(users("ghost", 3));
    recipients.extend(users("flaky", 5));
    let job = engine
        .broadcasts()
        .start(&conn(), Content::text("news"), recipients, "test")
        .await
        .unwrap();
    assert_eq!(job.total, 1008);
    let done = wait_status(&engine, job.id, JobStatus::Done).await;
    assert_eq!((done.sent, done.failed, done.left), (1005, 3, 0));

    let mut keys = platform.keys();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "no recipient was sent twice");
    assert_eq!(n, 1005);
    let failures = engine.broadcasts().failures(job.id).await.unwrap();
    assert_eq!(failures.len(), 3);
    assert!(
        failures[0].target.starts_with("direct:ghost") && failures[0].error.contains("no user"),
        "{failures:?}"
    );
    engine.shutdown().await;
}

#[actix_rt::test]
async fn a_job_can_be_paused_resumed_and_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let platform = Platform::new();
    let engine = Engine::start(
        config(Some(200)),
        store,
        Arc::new(quiet_handler()),
        vec![(conn(), platform.clone())],
    )
    .await
    .unwrap();
    let b = engine.broadcasts();
    let job = b
        .start(&conn(), Content::text("news"), users("u", 400), "test")
        .await
        .unwrap();
    platform.wait_sends(10).await;
    assert_eq!(b.pause(job.id).await.unwrap().status, JobStatus::Paused);
    assert!(b
        .pause(job.id)
        .await
        .unwrap_err()
        .to_string()
        .contains("cannot be paused"));
    let at_pause = platform.keys().len();
    // Sends already started may finish; no new one starts while paused.
    let overran = tokio::time::timeout(
        Duration::from_millis(200),
        platform.wait_sends(at_pause + 33),
    )
    .await;
    assert!(overran.is_err(), "sends went on while paused");
    b.resume(job.id).await.unwrap();
    platform.wait_sends(at_pause + 40).await;
    let cancelled = b.cancel(job.id).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    let after_cancel = wait_for_settled(&engine, job.id).await;
    assert!(
        after_cancel.left > 0,
        "a cancelled job keeps its unsent recipients as left"
    );
    assert!(
        b.resume(job.id).await.is_err(),
        "a cancelled job cannot be resumed"
    );
    engine.shutdown().await;
}

/// Waits until the recorded progress stops changing after a cancel (in-flight sends land).
async fn wait_for_settled(engine: &Engine, id: i64) -> parley_engine::store::JobInfo {
    let mut last = engine.broadcasts().get(id).await.unwrap();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = engine.broadcasts().get(id).await.unwrap();
        if now.sent == last.sent {
            return now;
        }
        last = now;
    }
}

#[actix_rt::test]
async fn a_stopped_job_resumes_at_the_next_start_without_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let platform = Platform::new();
    let id = {
        let store = Store::open(&path).await.unwrap();
        let engine = Engine::start(
            config(Some(500)),
            store,
            Arc::new(quiet_handler()),
            vec![(conn(), platform.clone())],
        )
        .await
        .unwrap();
        let job = engine
            .broadcasts()
            .start(&conn(), Content::text("news"), users("u", 300), "test")
            .await
            .unwrap();
        platform.wait_sends(50).await;
        engine.shutdown().await;
        job.id
    };
    let sent_before = platform.keys().len();
    assert!(sent_before < 300, "stopped in the middle");
    let store = Store::open(&path).await.unwrap();
    let engine = Engine::start(
        config(None),
        store,
        Arc::new(quiet_handler()),
        vec![(conn(), platform.clone())],
    )
    .await
    .unwrap();
    let done = wait_status(&engine, id, JobStatus::Done).await;
    assert_eq!(done.sent, 300);
    let mut keys = platform.keys();
    keys.sort();
    keys.dedup();
    assert_eq!(
        keys.len(),
        300,
        "each recipient sent once across the restart"
    );
    assert_eq!(platform.keys().len(), 300);
    engine.shutdown().await;
}

#[actix_rt::test]
async fn a_reply_overtakes_a_running_broadcast() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let platform = Platform::new();
    // Sends in flight when the customer's reply is queued: the broadcast may finish the one
    // whose slot it holds, then waits for the reply.
    let queued_at: Arc<Mutex<Option<usize>>> = Arc::default();
    let handled = Counter::new();
    let handler = {
        let (platform, queued_at, handled) = (platform.clone(), queued_at.clone(), handled.clone());
        FnHandler(Box::new(move |env, state| {
            if !matches!(env.event, Event::Message(_)) {
                return async move { parley_engine::handler::Handled::new(state, vec![]) }.boxed();
            }
            *queued_at.lock().unwrap() = Some(platform.keys().len());
            handled.bump();
            let reply = Command::Send {
                to: env.route(),
                content: Content::text("we are on it"),
                reply_to: None,
                options: SendOptions::default(),
                as_user: None,
            };
            async move { parley_engine::handler::Handled::new(state, vec![reply]) }.boxed()
        }))
    };
    let engine = Engine::start(
        config(Some(20)),
        store,
        Arc::new(handler),
        vec![(conn(), platform.clone())],
    )
    .await
    .unwrap();
    let job = engine
        .broadcasts()
        .start(&conn(), Content::text("news"), users("u", 100), "test")
        .await
        .unwrap();
    platform.wait_sends(5).await;
    let intake = engine.intake(&conn()).unwrap();
    intake
        .deliver(
            text_event("help-1", ConversationId::direct("customer"), "help!"),
            None,
        )
        .await
        .unwrap();
    handled.wait_for(1).await;
    // Wait for the reply itself.
    loop {
        if platform
            .sends
            .lock()
            .unwrap()
            .iter()
            .any(|(_, to)| to == "customer")
        {
            break;
        }
        platform.count.subscribe().changed().await.unwrap();
    }
    let sends = platform.sends.lock().unwrap().clone();
    let reply_at = sends.iter().position(|(_, to)| to == "customer").unwrap();
    let queued_at = queued_at.lock().unwrap().unwrap();
    assert!(
        reply_at <= queued_at + 2,
        "the reply waited behind {} broadcast sends",
        reply_at - queued_at
    );
    engine.broadcasts().cancel(job.id).await.unwrap();
    drop(intake);
    engine.shutdown().await;
}

#[actix_rt::test]
async fn a_bot_starts_a_broadcast_by_batch_send_and_a_replay_does_not_start_it_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let platform = Platform::new();
    let handler = FnHandler(Box::new(|_, state| {
        let batch = Command::BatchSend {
            to: users("fan", 50),
            content: Content::text("new album out"),
        };
        async move { parley_engine::handler::Handled::new(state, vec![batch]) }.boxed()
    }));
    let engine = Engine::start(
        config(None),
        store.clone(),
        Arc::new(handler),
        vec![(conn(), platform.clone())],
    )
    .await
    .unwrap();
    let intake = engine.intake(&conn()).unwrap();
    intake
        .deliver(
            text_event("go", ConversationId::direct("artist"), "/announce"),
            None,
        )
        .await
        .unwrap();
    platform.wait_sends(50).await;
    let jobs = engine.broadcasts().list().await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].origin, "bot");
    let done = wait_status(&engine, jobs[0].id, JobStatus::Done).await;
    assert_eq!(done.sent, 50);

    // The same effects recorded again (an event replayed after a crash) find the same job.
    store
        .complete(parley_engine::store::Completion {
            connection: conn(),
            conversation: None,
            inbox_seq: None,
            state: vec![],
            commands: vec![],
            jobs: vec![parley_engine::store::NewJob {
                origin_key: "go#0".into(),
                content: Content::text("new album out"),
                targets: users("fan", 50),
            }],
            schedules: vec![],
        })
        .await
        .unwrap();
    assert_eq!(engine.broadcasts().list().await.unwrap().len(), 1);
    drop(intake);
    engine.shutdown().await;
}

#[actix_rt::test]
async fn all_friends_and_all_groups_are_looked_up_once_and_stored_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let platform = Arc::new(Platform {
        lookups: true,
        ..Platform::default()
    });
    let engine = Engine::start(
        config(None),
        store,
        Arc::new(quiet_handler()),
        vec![(conn(), platform.clone())],
    )
    .await
    .unwrap();
    let broadcasts = engine.broadcasts();
    let named = ["alice", "all:friends", "all:groups", "group:g1"]
        .map(|r| r.parse::<Recipient>().unwrap())
        .to_vec();
    let recipients = broadcasts.resolve(&conn(), named).await.unwrap();
    let shown: Vec<String> = recipients.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "direct:alice",
            "direct:fan0",
            "direct:fan1",
            "direct:fan2",
            "group:g1",
            "group:g2"
        ],
        "each once, in the order first named"
    );
    let job = broadcasts
        .start(&conn(), Content::text("hi all"), recipients, "test")
        .await
        .unwrap();
    assert_eq!(job.total, 6);
    wait_status(&engine, job.id, JobStatus::Done).await;
    engine.shutdown().await;
}

#[actix_rt::test]
async fn an_audience_the_platform_cannot_list_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let engine = Engine::start(
        config(None),
        store,
        Arc::new(quiet_handler()),
        vec![(conn(), Platform::new())],
    )
    .await
    .unwrap();
    let e = engine
        .broadcasts()
        .resolve(&conn(), vec![Recipient::AllFriends])
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("cannot list the friends of connection")
            && e.to_string().contains("no friend list"),
        "{e}"
    );
    assert!(engine.broadcasts().list().await.unwrap().is_empty());
    engine.shutdown().await;
}
