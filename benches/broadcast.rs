//! A broadcast on the embedded hub: sends per second from job start to the last
//! confirmation with no limit, peak memory for 10,000 and 100,000 recipients, and how
//! close a limited job stays to its configured rate (its pace from the first recorded
//! progress to the last send, and, for reference, from job start).
//!
//! Run: `cargo bench --bench broadcast` (add `-- --quick` for 20,000 recipients).

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use parley_engine::adapter::{Adapter, RateLimit};
use parley_engine::handler::{BotStates, EventHandler, Handled};
use parley_engine::model::*;
use parley_engine::store::{JobStatus, Store};
use parley_engine::{Engine, EngineConfig};
use parley_hub::{Hub, HubAdapter, HubConfig, HubUserConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The allocator `parley` runs with (see src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Quiet;
impl EventHandler for Quiet {
    fn handle(&self, _: Arc<Envelope>, state: BotStates) -> BoxFuture<'static, Handled> {
        async move { Handled::new(state, vec![]) }.boxed()
    }
}

/// Peak resident memory of this process so far, in MiB (Linux).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn user(i: usize) -> String {
    format!("u{i:06}")
}

/// What one broadcast measured.
struct Run {
    /// Sends per second from job start (recipients being stored) to the last confirmation.
    per_sec: f64,
    secs: f64,
    /// Sends per second from the first recorded progress to the last confirmation: the
    /// pace the platform saw, without the job's creation.
    paced_per_sec: f64,
}

/// Runs one broadcast to `n` users.
async fn run(n: usize, per_second: Option<u32>) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut users: Vec<HubUserConfig> = (0..n)
        .map(|i| HubUserConfig {
            id: user(i),
            name: None,
            token: None,
        })
        .collect();
    users.push(HubUserConfig {
        id: "bot".into(),
        name: None,
        token: None,
    });
    let hub = Hub::open(
        &dir.path().join("hub.db"),
        &HubConfig {
            users,
            ..HubConfig::default()
        },
    )
    .await
    .unwrap();
    let store = Store::open(&dir.path().join("parley.db")).await.unwrap();
    let conn = ConnectionId::from("hub");
    let mut config = EngineConfig::default();
    if let Some(rate) = per_second {
        config.rate_limits.insert(
            conn.clone(),
            vec![RateLimit {
                commands: vec![],
                per_second: Some(rate),
                per_minute: None,
            }],
        );
    }
    let adapter: Arc<dyn Adapter> =
        Arc::new(HubAdapter::new(hub.clone(), conn.clone(), "bot".into()));
    let engine = Engine::start(
        config,
        store,
        Arc::new(Quiet),
        vec![(conn.clone(), adapter)],
    )
    .await
    .unwrap();
    let recipients = (0..n).map(|i| ConversationId::direct(user(i))).collect();
    let start = Instant::now();
    let job = engine
        .broadcasts()
        .start(&conn, Content::text("flash sale"), recipients, "bench")
        .await
        .unwrap();
    let mut first_progress: Option<(Instant, i64)> = None;
    let done = loop {
        let j = engine.broadcasts().get(job.id).await.unwrap();
        if j.status == JobStatus::Done {
            break j;
        }
        if j.sent > 0 && first_progress.is_none() {
            first_progress = Some((Instant::now(), j.sent));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let end = Instant::now();
    let secs = (end - start).as_secs_f64();
    assert_eq!(done.sent as usize, n, "{done:?}");
    engine.shutdown().await;
    hub.close().await;
    let paced_per_sec = match first_progress {
        Some((at, sent)) => (n as i64 - sent) as f64 / (end - at).as_secs_f64(),
        None => n as f64 / secs,
    };
    Run {
        per_sec: n as f64 / secs,
        secs,
        paced_per_sec,
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let big = if quick { 20_000 } else { 100_000 };
    actix_rt::System::new().block_on(async move {
        let base = peak_rss_mib();
        let rate_small = run(10_000, None).await.per_sec;
        let after_small = peak_rss_mib();
        println!("unlimited, 10,000 recipients : {rate_small:>8.0} sends/s, peak RSS {after_small:.0} MiB (process start {base:.0} MiB)");
        let big_run = run(big, None).await;
        let after_big = peak_rss_mib();
        println!(
            "unlimited, {big} recipients: {:>8.0} sends/s over {:.1} s, peak RSS {after_big:.0} MiB",
            big_run.per_sec, big_run.secs
        );
        println!("peak memory growth from 10,000 to {big} recipients: {:.0} MiB", after_big - after_small);
        let limit = 2_000;
        let limited = run(20_000, Some(limit)).await;
        println!(
            "limited to {limit}/s, 20,000 recipients: paced at {:.0} sends/s = {:.1}% of the limit (first progress to last send); {:.0} sends/s over {:.1} s from job start",
            limited.paced_per_sec,
            limited.paced_per_sec / limit as f64 * 100.0,
            limited.per_sec,
            limited.secs
        );
    });
}
