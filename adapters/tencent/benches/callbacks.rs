//! Callbacks per second through the webhook endpoint (signatures checked) into a bot and
//! back out as REST calls to the local Tencent server; then a flood at ten times that
//! concurrency with a short intake wait. Two ceilings come first, measured with the same
//! harness but no engine: callbacks in only, and callbacks in with each echo sent straight
//! out; the phases through the engine are compared with them. Tencent's 200 calls/s limit is lifted here, so the
//! figure is Parley's own capacity: only 200/429/503 answers, every accepted event
//! answered by the bot, and the process's peak memory.
//!
//! Run: `cargo bench -p parley-tencent --bench callbacks` (needs nothing but 127.0.0.1).
//! Settings: `BENCH_CALLBACKS` (default 10000), `BENCH_WINDOW` (steady-phase callbacks in
//! flight, default 64; the flood has ten times as many).

#[path = "../tests/support/mod.rs"]
mod support;

use actix_web::{App, HttpServer};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use parley_engine::adapter::{Adapter, Intake};
use parley_engine::handler::{BotStates, EventHandler, Handled};
use parley_engine::model::*;
use parley_engine::store::Store;
use parley_engine::{Engine, EngineConfig};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

/// The allocator `parley` runs with (see src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The echo of `m`: what the bot sends back and what the in-and-out ceiling sends.
fn echo(m: &Message) -> Command {
    Command::Send {
        to: m.conversation.clone(),
        content: Content::text(format!("echo: {}", m.content.plain_text())),
        reply_to: None,
        options: SendOptions::default(),
        as_user: None,
    }
}

/// Echoes every message but those of the `quiet` phase.
struct Echo;

impl EventHandler for Echo {
    /// Like the shipped echo bot, it has no `on_command_result`: the engine then reports no
    /// send's result back to it as an event.
    fn handles(&self, handler: &str) -> bool {
        handler != "on_command_result"
    }

    fn handle(&self, envelope: Arc<Envelope>, state: BotStates) -> BoxFuture<'static, Handled> {
        let commands = match &envelope.event {
            Event::Message(m)
                if !envelope.from_self && !m.content.plain_text().starts_with("quiet") =>
            {
                vec![echo(m)]
            }
            _ => Vec::new(),
        };
        Box::pin(async move { Handled::new(state, commands) })
    }
}

fn memory_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Posts `n` distinct callbacks with `concurrency` in flight, from a thread and runtime of
/// their own (as Tencent's servers are not in Parley's process: the load generator must not
/// queue its work among the engine's tasks); returns the answers by status.
async fn post_all(
    url: &str,
    tag: &str,
    n: usize,
    concurrency: usize,
) -> (BTreeMap<u16, usize>, Vec<String>) {
    let (url, tag) = (url.to_string(), tag.to_string());
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("bench-client".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let _ = tx.send(runtime.block_on(post_from_here(&url, &tag, n, concurrency)));
        })
        .unwrap();
    rx.await.unwrap()
}

async fn post_from_here(
    url: &str,
    tag: &str,
    n: usize,
    concurrency: usize,
) -> (BTreeMap<u16, usize>, Vec<String>) {
    let client = reqwest::Client::new();
    let results: Vec<(u16, String)> = futures_util::stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            let text = format!("{tag} {i}");
            let body = json!({"CallbackCommand": "C2C.CallbackAfterSendMsg", "From_Account": format!("user{}", i % 500),
                              "To_Account": "bot", "MsgRandom": i, "MsgTime": 1557481126, "MsgKey": format!("{tag}_{i}"),
                              "SendMsgResult": 0, "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]});
            let url = format!("{url}?{}", callback_query("C2C.CallbackAfterSendMsg", now()));
            async move {
                let status = match client.post(url).json(&body).send().await {
                    Ok(r) => r.status().as_u16(),
                    Err(_) => 0,
                };
                (status, format!("echo: {text}"))
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut by_status = BTreeMap::new();
    let mut accepted = Vec::new();
    for (status, reply) in results {
        *by_status.entry(status).or_default() += 1;
        if status == 200 {
            accepted.push(reply);
        }
    }
    (by_status, accepted)
}

/// Serves the adapter's webhook on a free loopback port: its URL and the server's handle.
fn serve_webhook(
    adapter: &parley_tencent::TencentAdapter,
) -> (String, actix_web::dev::ServerHandle) {
    let routes = adapter.routes();
    let server = HttpServer::new(move || App::new().configure(routes.clone()))
        .workers(2)
        .tcp_nodelay(true) // as `parley run` serves
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
    let url = format!("http://{}/webhooks/tencent", server.addrs()[0]);
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (url, handle)
}

/// The same callbacks to the same endpoint (signatures checked, bodies parsed) with an
/// intake that takes each event at once and keeps nothing: what the HTTP harness and the
/// webhook layer alone can do on this machine, the ceiling of the quiet phase. With
/// `reply`, each event's echo is also sent at once through the adapter's REST client to
/// the local Tencent (no store, no bot, no outbox): the ceiling of the steady phase, two
/// HTTP exchanges per callback and nothing of the engine.
async fn ceiling(n: usize, concurrency: usize, reply: bool) -> f64 {
    let fake = FakeTencent::start().await;
    let adapter = adapter_with(support::config(&fake.url), parley_vendor::Clock::system());
    let (intake, mut events) = Intake::collecting(ConnectionId::from("tc"), 1024);
    adapter.start(intake, None).await.unwrap();
    let replier = adapter.clone();
    let drain = tokio::spawn(async move {
        let mut sends = tokio::task::JoinSet::new();
        while let Some((envelope, _)) = events.recv().await {
            let Event::Message(m) = &envelope.event else {
                continue;
            };
            if reply {
                let command = OutboundCommand {
                    connection: ConnectionId::from("tc"),
                    idempotency_key: envelope.id.0.clone(),
                    command: echo(m),
                };
                sends.spawn(replier.execute(command));
            }
            while sends.try_join_next().is_some() {}
        }
        while sends.join_next().await.is_some() {}
    });
    let (url, handle) = serve_webhook(&adapter);
    let start = Instant::now();
    let (statuses, _) = post_all(&url, "ceiling", n, concurrency).await;
    assert_eq!(statuses.get(&200), Some(&n), "{statuses:?}");
    if reply {
        fake.wait_sends(n).await;
    }
    let per_sec = n as f64 / start.elapsed().as_secs_f64();
    handle.stop(true).await;
    adapter.stop().await;
    drain.abort();
    fake.stop().await;
    per_sec
}

struct Phase {
    statuses: BTreeMap<u16, usize>,
    answered_per_sec: f64,
    out_per_sec: f64,
    lost: usize,
}

/// One engine, one adapter with `intake_wait_ms`, `n` callbacks at `concurrency`; the
/// engine is shut down (its outbox drained) before the accepted events are checked.
async fn phase(tag: &str, n: usize, concurrency: usize, intake_wait_ms: u64) -> Phase {
    let fake = FakeTencent::start().await;
    let mut config = support::config(&fake.url);
    config.intake_wait_ms = intake_wait_ms;
    let adapter = adapter_with(config, parley_vendor::Clock::system());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.db")).await.unwrap();
    // Tencent's 200 calls/s would be the ceiling; this measures Parley's own.
    let mut engine_config = EngineConfig {
        drain_timeout: Duration::from_secs(600),
        ..EngineConfig::default()
    };
    engine_config
        .rate_limits
        .insert(ConnectionId::from("tc"), Vec::new());
    let engine = Engine::start(
        engine_config,
        store,
        Arc::new(Echo),
        vec![(
            ConnectionId::from("tc"),
            adapter.clone() as Arc<dyn Adapter>,
        )],
    )
    .await
    .unwrap();
    let (url, handle) = serve_webhook(&adapter);

    let start = Instant::now();
    let (statuses, mut accepted) = post_all(&url, tag, n, concurrency).await;
    let answered = start.elapsed();
    let quiet = tag == "quiet";
    if !quiet {
        fake.wait_sends(accepted.len()).await;
    }
    handle.stop(true).await;
    // Shutting down drains the engine: in the quiet phase, the end of the bot's work.
    engine.shutdown().await;
    let through = accepted.len() as f64 / start.elapsed().as_secs_f64();
    if quiet {
        // Nothing goes out: nothing to find at the platform.
        accepted.clear();
    }
    let delivered: HashSet<String> = fake.delivered().into_iter().map(|(_, t)| t).collect();
    let lost = accepted.iter().filter(|r| !delivered.contains(*r)).count();
    fake.stop().await;
    Phase {
        statuses,
        answered_per_sec: n as f64 / answered.as_secs_f64(),
        out_per_sec: through,
        lost,
    }
}

fn main() {
    let n: usize = std::env::var("BENCH_CALLBACKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    // Callbacks in flight in the steady phase (Tencent posts callbacks concurrently); the
    // flood has ten times as many.
    let window: usize = std::env::var("BENCH_WINDOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    actix_rt::System::new().block_on(async move {
        let rss_start = memory_kb("VmRSS:");
        let ceiling_in = ceiling(n, window, false).await;
        println!(
            "ceiling, in: {n} callbacks at {window} in flight into an intake that keeps nothing: {ceiling_in:.0} callbacks/s (HTTP client, server and webhook layer on the same 2 cores)"
        );
        let ceiling_out = ceiling(n, window, true).await;
        println!(
            "ceiling, in and out: the same, each echoed at once through the adapter's REST client to the local Tencent (no engine): {ceiling_out:.0} callbacks/s"
        );
        let quiet = phase("quiet", n, window, 1000).await;
        println!(
            "quiet: {n} callbacks at {window} in flight, answers {:?}, handled by the bot without replying: {:.0} callbacks/s",
            quiet.statuses, quiet.out_per_sec
        );
        let steady = phase("steady", n, window, 1000).await;
        println!(
            "steady: {n} callbacks at {window} in flight, answers {:?}: {:.0} callbacks/s answered, {:.0}/s through the bot and out as REST calls, lost {}",
            steady.statuses, steady.answered_per_sec, steady.out_per_sec, steady.lost
        );
        println!(
            "quiet / ceiling in: {:.0}%; steady / ceiling in and out: {:.0}% (the rest is the engine: store, bot, outbox)",
            100.0 * quiet.out_per_sec / ceiling_in,
            100.0 * steady.out_per_sec / ceiling_out
        );
        let flood = phase("flood", n, window * 10, 20).await;
        println!(
            "flood: {n} callbacks at {} in flight, answers {:?}: {:.0} callbacks/s answered, accepted events lost {}; RSS {} MB at start, peak {} MB",
            window * 10, flood.statuses, flood.answered_per_sec, flood.lost, rss_start / 1024, memory_kb("VmHWM:") / 1024
        );
        assert!(
            flood.statuses.keys().all(|s| [200, 429, 503].contains(s)),
            "only 200/429/503 answers under a flood"
        );
        assert_eq!(steady.lost + flood.lost, 0, "no accepted event lost");
    });
}
