//! Issue 4's load test: 1,000 WebSocket clients on 127.0.0.1 exchanging 1:1 and group
//! messages (5 groups of 200, every client in one) through a real hub server.
//!
//! 1. Full load (closed loop): every client keeps one send in flight (1,000 concurrent
//!    sends); one send in ten goes to the client's group (199 deliveries), the others to a
//!    random client (1 delivery). Measured: messages persisted (`sent` answers) and
//!    deliveries (`message` frames read by the clients) per second, after a warm-up.
//! 2. Half load (open loop): the clients send on a fixed schedule at half the message rate
//!    of phase 1; latency is from the moment a client writes `send` to the moment another
//!    client reads the `message` frame (the send time travels in the text).
//!
//! Server and clients share the process (and the 2 cores): the server is actix-web with 2
//! workers, the clients a 2-thread tokio runtime (threads `bench-client`), one reader and
//! one writer task per connection. CPU time per side is printed so that one can see which
//! side is saturated. After each phase the bench waits for every expected delivery and
//! fails on any error answer or closed socket.
//!
//! Run: `cargo bench -p parley-hub --bench ws_load` (add `-- --quick` for short phases,
//! `-- --rate N` to measure latency at N messages/s instead of half the full rate).

use actix_web::{App, HttpServer};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use parley_hub::{Hub, HubConfig, HubGroupConfig, HubUserConfig};
use rand::Rng;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The allocator `parley` runs with (see src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CLIENTS: usize = 1000;
const GROUP_SIZE: usize = 200;
/// One send in this many goes to the sender's group.
const GROUP_EVERY: u64 = 10;
/// Concurrent connection attempts while setting up.
const CONNECT_AT_ONCE: usize = 100;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Sink = SplitSink<Ws, WsMessage>;

fn user(i: usize) -> String {
    format!("u{i:04}")
}

fn group_of(i: usize) -> String {
    format!("g{}", i / GROUP_SIZE)
}

/// Counters shared by every client.
#[derive(Default)]
struct Counters {
    /// `sent` answers.
    acked: AtomicU64,
    /// Error answers (must stay 0).
    errors: AtomicU64,
    /// Sockets closed by the server (must stay 0).
    closed: AtomicU64,
    /// `message` frames read.
    delivered: AtomicU64,
    /// Deliveries the sends so far should produce.
    expected: AtomicU64,
}

struct Client {
    index: usize,
    sink: Sink,
    /// Released by the reader on each answer: the closed loop's window.
    answers: Arc<Semaphore>,
    sent: u64,
}

/// Latency samples (µs) a reader collected: (full load, half load).
type Samples = (Vec<u32>, Vec<u32>);

fn start_server(
    config: HubConfig,
) -> (
    SocketAddr,
    actix_web::dev::ServerHandle,
    std::thread::JoinHandle<()>,
) {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let dir = tempfile::tempdir().unwrap();
            let hub = Hub::open(&dir.path().join("hub.db"), &config)
                .await
                .unwrap();
            let routes = hub.configure(None);
            let server = HttpServer::new(move || App::new().configure(routes.clone()))
                .workers(2)
                .tcp_nodelay(true) // as `parley run` serves
                .backlog(4096)
                .bind(("127.0.0.1", 0))
                .unwrap();
            let addr = server.addrs()[0];
            let server = server.run();
            tx.send((addr, server.handle())).unwrap();
            server.await.unwrap();
            hub.close().await;
        })
    });
    let (addr, handle) = rx.recv().unwrap();
    (addr, handle, thread)
}

async fn connect(addr: SocketAddr, index: usize) -> (Ws, usize) {
    // Without Nagle's algorithm, as browsers' WebSockets are.
    let url = format!("ws://{addr}/hub/ws");
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .unwrap();
    let login = format!(
        r#"{{"type":"login","req":"l","token":"tok-{}","device":"bench"}}"#,
        user(index)
    );
    ws.send(WsMessage::Text(login)).await.unwrap();
    loop {
        match ws.next().await {
            Some(Ok(WsMessage::Text(t))) if t.contains(r#""type":"login_ok""#) => break,
            Some(Ok(WsMessage::Text(t))) => panic!("login of {}: {t}", user(index)),
            Some(Ok(_)) => {}
            other => panic!("login of {}: {other:?}", user(index)),
        }
    }
    (ws, index)
}

/// The send time (µs since `base`) and phase tag a delivered frame carries in its text.
fn stamp(frame: &str) -> Option<(u8, u64)> {
    let at = frame.find(r#""text":""#)? + 8;
    let rest = frame.as_bytes().get(at..)?;
    let tag = *rest.first()?;
    let digits = rest[1..].iter().take_while(|b| b.is_ascii_digit());
    let mut value = 0u64;
    for b in digits {
        value = value * 10 + u64::from(b - b'0');
    }
    Some((tag, value))
}

async fn read(
    mut stream: SplitStream<Ws>,
    answers: Arc<Semaphore>,
    counters: Arc<Counters>,
    base: Instant,
) -> Samples {
    let mut samples: Samples = (Vec::new(), Vec::new());
    while let Some(frame) = stream.next().await {
        let text = match frame {
            Ok(WsMessage::Text(t)) => t,
            Ok(WsMessage::Close(_)) | Err(_) => {
                counters.closed.fetch_add(1, Relaxed);
                break;
            }
            Ok(_) => continue,
        };
        if text.starts_with(r#"{"type":"message""#) {
            counters.delivered.fetch_add(1, Relaxed);
            if let Some((tag, sent_us)) = stamp(&text) {
                let now = base.elapsed().as_micros() as u64;
                let latency = now.saturating_sub(sent_us).min(u32::MAX as u64) as u32;
                match tag {
                    b'f' => samples.0.push(latency),
                    b'h' => samples.1.push(latency),
                    _ => {}
                }
            }
        } else if text.starts_with(r#"{"type":"sent""#) {
            counters.acked.fetch_add(1, Relaxed);
            answers.add_permits(1);
        } else if text.starts_with(r#"{"type":"error""#) {
            eprintln!("error answer: {text}");
            counters.errors.fetch_add(1, Relaxed);
            answers.add_permits(1);
        }
    }
    samples
}

impl Client {
    /// Sends one message, to the group or to a random other client, stamped with `tag` and
    /// the time since `base`.
    async fn send_one(&mut self, tag: char, base: Instant, counters: &Counters) {
        self.sent += 1;
        let group = (self.sent + self.index as u64).is_multiple_of(GROUP_EVERY);
        let (kind, to, deliveries) = if group {
            ("group", group_of(self.index), GROUP_SIZE as u64 - 1)
        } else {
            let mut peer = rand::thread_rng().gen_range(0..CLIENTS - 1);
            if peer >= self.index {
                peer += 1;
            }
            ("direct", user(peer), 1)
        };
        counters.expected.fetch_add(deliveries, Relaxed);
        let frame = format!(
            r#"{{"type":"send","to":{{"kind":"{kind}","id":"{to}"}},"content":{{"kind":"text","text":"{tag}{}"}},"client_id":"c{}-{}"}}"#,
            base.elapsed().as_micros(),
            self.index,
            self.sent
        );
        self.sink.send(WsMessage::Text(frame)).await.unwrap();
    }

    /// Closed loop: one send in flight until `until`.
    async fn full(mut self, until: Instant, base: Instant, counters: Arc<Counters>) -> Client {
        while Instant::now() < until {
            self.answers.acquire().await.unwrap().forget();
            self.send_one('f', base, &counters).await;
        }
        self
    }

    /// Open loop: one send every `every`, from a random offset, until `until`.
    async fn paced(
        mut self,
        every: Duration,
        until: Instant,
        base: Instant,
        counters: Arc<Counters>,
    ) -> Client {
        let offset = every.mul_f64(rand::thread_rng().gen::<f64>());
        let mut next = tokio::time::Instant::now() + offset;
        while next.into_std() < until {
            tokio::time::sleep_until(next).await;
            self.send_one('h', base, &counters).await;
            next += every;
        }
        self
    }
}

/// CPU time (s) used so far by this process's threads: (client threads, all others).
fn cpu_split() -> (f64, f64) {
    let ticks = 100.0; // USER_HZ
    let (mut client, mut server) = (0.0, 0.0);
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0.0, 0.0);
    };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let Some(after) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[after + 2..].split_whitespace().collect();
        // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the command.
        let used: f64 = fields
            .get(11..13)
            .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
            .unwrap_or(0.0);
        if comm.trim() == "bench-client" {
            client += used / ticks;
        } else {
            server += used / ticks;
        }
    }
    (client, server)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[at] as f64 / 1000.0
}

async fn drain(counters: &Counters, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (got, want) = (
            counters.delivered.load(Relaxed),
            counters.expected.load(Relaxed),
        );
        if got >= want {
            assert_eq!(
                got, want,
                "{what}: more deliveries than sends could produce"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {got} of {want} deliveries after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(counters.errors.load(Relaxed), 0, "{what}: error answers");
    assert_eq!(counters.closed.load(Relaxed), 0, "{what}: sockets closed");
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (warm, window) = if quick { (1, 3) } else { (2, 10) };
    let args: Vec<String> = std::env::args().collect();
    let rate: Option<f64> = args
        .iter()
        .position(|a| a == "--rate")
        .and_then(|i| args.get(i + 1))
        .map(|r| r.parse().expect("--rate takes messages per second"));
    let config = HubConfig {
        users: (0..CLIENTS)
            .map(|i| HubUserConfig {
                id: user(i),
                name: None,
                token: Some(format!("tok-{}", user(i))),
            })
            .collect(),
        groups: (0..CLIENTS / GROUP_SIZE)
            .map(|g| HubGroupConfig {
                id: format!("g{g}"),
                name: None,
                owner: user(g * GROUP_SIZE),
                members: (g * GROUP_SIZE + 1..(g + 1) * GROUP_SIZE)
                    .map(user)
                    .collect(),
            })
            .collect(),
        ..HubConfig::default()
    };
    let (addr, server, server_thread) = start_server(config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-client")
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let base = Instant::now();
        let counters = Arc::new(Counters::default());
        let setup = Instant::now();
        let mut connected = Vec::with_capacity(CLIENTS);
        let mut pending = futures_util::stream::iter((0..CLIENTS).map(|i| connect(addr, i)))
            .buffer_unordered(CONNECT_AT_ONCE);
        while let Some(c) = pending.next().await {
            connected.push(c);
        }
        connected.sort_by_key(|(_, i)| *i);
        let mut clients = Vec::with_capacity(CLIENTS);
        let mut readers = Vec::with_capacity(CLIENTS);
        for (ws, index) in connected {
            let (sink, stream) = ws.split();
            let answers = Arc::new(Semaphore::new(1));
            readers.push(tokio::spawn(read(stream, answers.clone(), counters.clone(), base)));
            clients.push(Client { index, sink, answers, sent: 0 });
        }
        println!(
            "{CLIENTS} clients logged in in {:.1} s; groups of {GROUP_SIZE}, 1 send in {GROUP_EVERY} to a group",
            setup.elapsed().as_secs_f64()
        );

        // Phase 1: full load.
        let start = Instant::now();
        let until = start + Duration::from_secs(warm + window);
        let writers: Vec<_> = clients
            .into_iter()
            .map(|c| tokio::spawn(c.full(until, base, counters.clone())))
            .collect();
        tokio::time::sleep_until((start + Duration::from_secs(warm)).into()).await;
        let (acked0, delivered0) = (counters.acked.load(Relaxed), counters.delivered.load(Relaxed));
        let cpu0 = cpu_split();
        let t0 = Instant::now();
        tokio::time::sleep_until(until.into()).await;
        let secs = t0.elapsed().as_secs_f64();
        let (acked1, delivered1) = (counters.acked.load(Relaxed), counters.delivered.load(Relaxed));
        let cpu1 = cpu_split();
        let mut clients = Vec::with_capacity(CLIENTS);
        for w in writers {
            clients.push(w.await.unwrap());
        }
        drain(&counters, "full load").await;
        let messages = (acked1 - acked0) as f64 / secs;
        let deliveries = (delivered1 - delivered0) as f64 / secs;
        println!(
            "full load : {messages:>7.0} messages persisted/s, {deliveries:>7.0} deliveries/s ({window} s after {warm} s warm-up)"
        );
        println!(
            "            CPU: server {:.2} cores, clients {:.2} cores",
            (cpu1.1 - cpu0.1) / secs,
            (cpu1.0 - cpu0.0) / secs
        );

        // Phase 2: half of that message rate (or `--rate N` messages/s), open loop.
        let every = Duration::from_secs_f64(CLIENTS as f64 / rate.unwrap_or(messages / 2.0));
        let acked_before = counters.acked.load(Relaxed);
        let delivered_before = counters.delivered.load(Relaxed);
        let cpu0 = cpu_split();
        let start = Instant::now();
        let until = start + Duration::from_secs(window);
        let writers: Vec<_> = clients
            .into_iter()
            .map(|c| tokio::spawn(c.paced(every, until, base, counters.clone())))
            .collect();
        let mut clients = Vec::with_capacity(CLIENTS);
        for w in writers {
            clients.push(w.await.unwrap());
        }
        drain(&counters, "half load").await;
        let secs = start.elapsed().as_secs_f64();
        let cpu1 = cpu_split();
        // Close the sockets; the readers end and hand over their samples.
        for c in &mut clients {
            let _ = c.sink.close().await;
        }
        let (mut full, mut half) = (Vec::new(), Vec::new());
        for r in readers {
            let (f, h) = r.await.unwrap();
            full.extend(f);
            half.extend(h);
        }
        full.sort_unstable();
        half.sort_unstable();
        println!(
            "half load : {:>7.0} messages/s, {:>7.0} deliveries/s: latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} deliveries)",
            (counters.acked.load(Relaxed) - acked_before) as f64 / secs,
            (counters.delivered.load(Relaxed) - delivered_before) as f64 / secs,
            percentile(&half, 0.5),
            percentile(&half, 0.99),
            percentile(&half, 1.0),
            half.len()
        );
        println!(
            "            CPU: server {:.2} cores, clients {:.2} cores",
            (cpu1.1 - cpu0.1) / secs,
            (cpu1.0 - cpu0.0) / secs
        );
        println!(
            "(full load latency, for reference: p50 {:.1} ms, p99 {:.1} ms)",
            percentile(&full, 0.5),
            percentile(&full, 0.99)
        );
        server.stop(true).await;
    });
    server_thread.join().unwrap();
}
