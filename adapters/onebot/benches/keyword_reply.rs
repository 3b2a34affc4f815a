//! A keyword-reply bot over OneBot v11 reverse WebSocket, driven by a load generator that
//! plays the QQ side (the OneBot implementation): private messages `ping N` pushed as
//! message events, the bot's `pong N` coming back as `send_*` actions, each answered ok.
//!
//! Two phases: replies per second at full load (a window of events in flight), then p50/p99
//! event-to-reply latency at half of that rate, paced, after a one-second pause.
//!
//! - `cargo bench -p parley-onebot --bench keyword_reply` runs Parley (the engine with its
//!   SQLite store, the OneBot adapter, the bot as a Rhai script) and drives it.
//! - `... -- --drive ws://127.0.0.1:8080/onebot/v11/ws --name nonebot2` drives another
//!   framework's reverse WebSocket endpoint with the same generator instead
//!   (`benches/compare/run.sh` does this for NoneBot2 and Koishi).
//!
//! Settings: `BENCH_EVENTS` (full load, default 5000), `BENCH_LATENCY_EVENTS` (default
//! 2000), `BENCH_WINDOW` (events in flight at full load, default 500). Each run ends with a
//! line `ROW <name> <replies/s> <p50 ms> <p99 ms> <replies>/<events>` for the table.

use actix_web::{App, HttpServer};
use futures_util::{SinkExt, StreamExt};
use parley_bots::{BotOptions, BotRuntime};
use parley_engine::adapter::Adapter;
use parley_engine::handler::EventHandler;
use parley_engine::model::ConnectionId;
use parley_engine::store::Store;
use parley_engine::{Engine, EngineConfig};
use parley_onebot::{OneBotAdapter, OneBotConfig};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The allocator `parley` runs with (see src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SELF_ID: u64 = 10001;

/// The bot, the same in every framework: a message containing `ping` is answered with the
/// same text, `ping` replaced by `pong`.
const SCRIPT: &str = r#"
fn on_message(ctx, msg) {
    if msg.text.contains("ping") {
        let reply = msg.text;
        reply.replace("ping", "pong");
        ctx.reply(reply);
    }
}
"#;

/// How long a phase may wait for its last replies.
/// The pause between the full-load and half-load phases, for every framework alike.
const SETTLE: Duration = Duration::from_secs(1);
const PHASE_DEADLINE: Duration = Duration::from_secs(120);

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn message_event(i: u64) -> Value {
    let user = 20_000 + i % 100;
    let text = format!("ping {i}");
    json!({
        "time": now_secs(), "self_id": SELF_ID, "post_type": "message", "message_type": "private",
        "sub_type": "friend", "message_id": i as i32, "user_id": user,
        "message": [{"type": "text", "data": {"text": text}}], "raw_message": text, "font": 0,
        "sender": {"user_id": user, "nickname": format!("user{user}"), "sex": "unknown", "age": 0},
    })
}

/// The text a `send_*` action carries, in either message form.
fn action_text(params: &Value) -> String {
    match &params["message"] {
        Value::String(s) => s.clone(),
        Value::Array(segments) => segments
            .iter()
            .filter(|s| s["type"] == "text")
            .filter_map(|s| s["data"]["text"].as_str())
            .collect(),
        _ => String::new(),
    }
}

/// `pong N` → N.
fn reply_number(text: &str) -> Option<u64> {
    let rest = &text[text.find("pong ")? + 5..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// What the implementation answers to an action: sends succeed with a message id; the
/// start-up queries frameworks make (Koishi: `get_login_info`, ...) get plausible data.
fn answer_to(action: &str, n: u64) -> Value {
    let data = match action {
        a if a.starts_with("send_") => json!({"message_id": n as i32}),
        "get_login_info" => json!({"user_id": SELF_ID, "nickname": "bench"}),
        "get_version_info" => {
            json!({"app_name": "parley-bench", "app_version": "1", "protocol_version": "v11"})
        }
        "get_status" => json!({"online": true, "good": true}),
        a if a.ends_with("_list") => json!([]),
        _ => Value::Null,
    };
    json!({"status": "ok", "retcode": 0, "data": data})
}

/// One reverse WebSocket connection playing the implementation.
struct Generator {
    frames: mpsc::UnboundedSender<Message>,
    replies: mpsc::UnboundedReceiver<(u64, Instant)>,
}

impl Generator {
    /// Connects to `url` (retrying while the framework starts) and serves actions.
    async fn connect(url: &str) -> Generator {
        let deadline = Instant::now() + Duration::from_secs(60);
        let ws = loop {
            let mut req = url.into_client_request().expect("a ws:// URL");
            let h = req.headers_mut();
            h.insert("x-self-id", SELF_ID.to_string().parse().unwrap());
            h.insert("x-client-role", "Universal".parse().unwrap());
            h.insert("user-agent", "OneBot/11 parley-bench".parse().unwrap());
            match tokio_tungstenite::connect_async(req).await {
                Ok((ws, _)) => break ws,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("waiting for {url}: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => panic!("cannot connect to {url}: {e}"),
            }
        };
        let (mut sink, mut stream) = ws.split();
        let (frames, mut outgoing) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(frame) = outgoing.recv().await {
                if sink.send(frame).await.is_err() {
                    break;
                }
            }
        });
        let (reply_tx, replies) = mpsc::unbounded_channel();
        let answers = frames.clone();
        // BENCH_TRACE=1: every frame the framework sends, on stderr.
        let trace = std::env::var("BENCH_TRACE").is_ok();
        tokio::spawn(async move {
            let mut n = 0u64;
            while let Some(frame) = stream.next().await {
                if trace {
                    eprintln!("<- {frame:?}");
                }
                let Ok(Message::Text(text)) = frame else {
                    if frame.is_err() {
                        break;
                    }
                    continue;
                };
                let Ok(action) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let Some(name) = action["action"].as_str() else {
                    continue;
                };
                let at = Instant::now();
                n += 1;
                let mut answer = answer_to(name, n);
                answer["echo"] = action["echo"].clone();
                let _ = answers.send(Message::Text(answer.to_string()));
                if name.starts_with("send_") {
                    if let Some(i) = reply_number(&action_text(&action["params"])) {
                        let _ = reply_tx.send((i, at));
                    }
                }
            }
        });
        let g = Generator { frames, replies };
        let connect = json!({"time": now_secs(), "self_id": SELF_ID, "post_type": "meta_event",
                             "meta_event_type": "lifecycle", "sub_type": "connect"});
        g.push(connect);
        g
    }

    fn push(&self, event: Value) {
        let _ = self.frames.send(Message::Text(event.to_string()));
    }

    /// Waits for one reply; `None` past `deadline`.
    async fn reply(&mut self, deadline: Instant) -> Option<(u64, Instant)> {
        tokio::time::timeout_at(deadline.into(), self.replies.recv())
            .await
            .ok()
            .flatten()
    }
}

struct Load {
    events: usize,
    replies: usize,
    per_sec: f64,
}

/// Events `ids` pushed with at most `window` unanswered; replies counted.
async fn full_load(g: &mut Generator, ids: std::ops::Range<u64>, window: usize) -> Load {
    let events = (ids.end - ids.start) as usize;
    let start = Instant::now();
    let deadline = start + PHASE_DEADLINE;
    let (mut sent, mut replies) = (0usize, 0usize);
    for i in ids {
        while sent - replies >= window {
            match g.reply(deadline).await {
                Some(_) => replies += 1,
                None => break,
            }
        }
        g.push(message_event(i));
        sent += 1;
    }
    while replies < events {
        match g.reply(deadline).await {
            Some(_) => replies += 1,
            None => break,
        }
    }
    Load {
        events,
        replies,
        per_sec: replies as f64 / start.elapsed().as_secs_f64(),
    }
}

struct Latency {
    p50_ms: f64,
    p99_ms: f64,
    replies: usize,
}

/// Events `ids` pushed at `rate` per second; each reply's time since its event.
async fn paced(g: &mut Generator, ids: std::ops::Range<u64>, rate: f64) -> Latency {
    let events = (ids.end - ids.start) as usize;
    let start = tokio::time::Instant::now();
    let mut sent_at: HashMap<u64, Instant> = HashMap::with_capacity(events);
    let mut latencies = Vec::with_capacity(events);
    fn record((i, at): (u64, Instant), sent_at: &HashMap<u64, Instant>, latencies: &mut Vec<f64>) {
        if let Some(t) = sent_at.get(&i) {
            latencies.push(at.duration_since(*t).as_secs_f64() * 1000.0);
        }
    }
    for (k, i) in ids.enumerate() {
        let due = start + Duration::from_secs_f64(k as f64 / rate);
        // Read replies while waiting for the event's time.
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => break,
                r = g.replies.recv() => match r {
                    Some(r) => record(r, &sent_at, &mut latencies),
                    None => break,
                },
            }
        }
        sent_at.insert(i, Instant::now());
        g.push(message_event(i));
    }
    let deadline = Instant::now() + PHASE_DEADLINE;
    while latencies.len() < events {
        match g.reply(deadline).await {
            Some(r) => record(r, &sent_at, &mut latencies),
            None => break,
        }
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    Latency {
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        replies: latencies.len(),
    }
}

/// Warm-up, full load, then half of the measured rate, against the endpoint at `url`.
async fn drive(name: &str, url: &str) {
    let (events, latency_events, window) = (
        setting("BENCH_EVENTS", 5000) as u64,
        setting("BENCH_LATENCY_EVENTS", 2000) as u64,
        setting("BENCH_WINDOW", 500),
    );
    let mut g = Generator::connect(url).await;
    let warm = full_load(&mut g, 1..201, window).await;
    println!("{name}: warm-up {}/{} replies", warm.replies, warm.events);
    let full = full_load(&mut g, 1000..1000 + events, window).await;
    println!(
        "{name}: full load, {} private messages ({window} in flight): {:.0} replies/s, {}/{} replies",
        full.events, full.per_sec, full.replies, full.events
    );
    if full.replies == 0 {
        println!("{name}: no replies at all; no latency phase");
        println!("ROW {name} 0 - - 0/{}", full.events);
        return;
    }
    // The full-load phase ends at its last reply, with its tail (the last answers'
    // records, a checkpoint) still running; half load is measured from a settled start.
    tokio::time::sleep(SETTLE).await;
    let rate = full.per_sec / 2.0;
    let first = 1_000_000;
    let lat = paced(&mut g, first..first + latency_events, rate).await;
    println!(
        "{name}: half load, {latency_events} messages at {rate:.0}/s: p50 {:.2} ms, p99 {:.2} ms, {}/{latency_events} replies",
        lat.p50_ms, lat.p99_ms, lat.replies
    );
    println!(
        "ROW {name} {:.0} {:.2} {:.2} {}/{}",
        full.per_sec,
        lat.p50_ms,
        lat.p99_ms,
        full.replies + lat.replies,
        full.events + latency_events as usize
    );
}

/// Parley with the keyword bot on a reverse WebSocket endpoint of 127.0.0.1; its URL.
async fn start_parley() -> (String, Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir(&scripts).unwrap();
    std::fs::write(scripts.join("keyword.rhai"), SCRIPT).unwrap();
    let (runtime, errors) = BotRuntime::load(&scripts, BotOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    let config: OneBotConfig =
        serde_json::from_value(json!({"id": "qq", "self_id": SELF_ID, "mode": "reverse_ws"}))
            .unwrap();
    let adapter = Arc::new(OneBotAdapter::new(config).unwrap());
    let store = Store::open(&dir.path().join("parley.db")).await.unwrap();
    let engine = Engine::start(
        EngineConfig::default(),
        store,
        Arc::new(runtime) as Arc<dyn EventHandler>,
        vec![(
            ConnectionId::from("qq"),
            adapter.clone() as Arc<dyn Adapter>,
        )],
    )
    .await
    .unwrap();
    let routes = adapter.routes();
    let server = HttpServer::new(move || App::new().configure(routes.clone()))
        .workers(1)
        .tcp_nodelay(true) // as `parley run` serves
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
    let url = format!("ws://{}/onebot/qq", server.addrs()[0]);
    tokio::spawn(server.run());
    (url, engine, dir)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    actix_rt::System::new().block_on(async move {
        match flag("--drive") {
            Some(url) => drive(&flag("--name").unwrap_or_else(|| "other".into()), &url).await,
            None => {
                let (url, engine, _dir) = start_parley().await;
                drive("parley", &url).await;
                engine.shutdown().await;
            }
        }
    });
}
