//! HTTP from scripts: allowed hosts only, a timeout, and a slow call holding only its own
//! conversation.

use super::*;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// A tiny HTTP server on 127.0.0.1: `/ok` answers JSON at once, `/slow` once released.
async fn server(release: Arc<Notify>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let release = release.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                if request.starts_with("GET /slow") {
                    release.notified().await;
                }
                let body = if request.starts_with("POST") {
                    request.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
                } else {
                    r#"{"answer":42}"#.to_string()
                };
                let response = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

fn options(hosts: &[&str], timeout_ms: u64) -> BotOptions {
    BotOptions {
        http_allowed_hosts: hosts.iter().map(|h| h.to_string()).collect(),
        http_timeout_ms: timeout_ms,
        ..BotOptions::default()
    }
}

fn bot(base: &str) -> String {
    format!(
        r#"
fn on_message(ctx, msg) {{
    if msg.text == "post" {{
        let r = http_post_json("{base}/echo", #{{ n: 7 }});
        ctx.reply(`posted ${{r.json.n}}`);
    }} else {{
        let r = http_get("{base}/" + msg.text);
        ctx.reply(`${{r.status}} ${{r.json.answer}}`);
    }}
}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_call_allowed_hosts_and_read_the_answer() {
    let base = server(Arc::new(Notify::new())).await;
    let dir = scripts(&[("h.rhai", &bot(&base))]);
    let runtime = load_with(dir.path(), options(&["127.0.0.1"], 5_000));
    let handled = handle(
        &runtime,
        message(ConversationId::direct("alice"), "alice", "ok"),
        BotStates::new(),
    )
    .await;
    assert_eq!(
        sends(&handled),
        vec![send("direct:alice", "200 42")],
        "{:?}",
        runtime.last_error("h")
    );
    let handled = handle(
        &runtime,
        message(ConversationId::direct("alice"), "alice", "post"),
        BotStates::new(),
    )
    .await;
    assert_eq!(
        sends(&handled),
        vec![send("direct:alice", "posted 7")],
        "{:?}",
        runtime.last_error("h")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_hosts_are_refused_and_slow_answers_time_out() {
    let release = Arc::new(Notify::new());
    let base = server(release.clone()).await;
    let dir = scripts(&[("h.rhai", &bot(&base))]);
    let refused = load_with(dir.path(), options(&["api.example.com"], 5_000));
    handle(
        &refused,
        message(ConversationId::direct("alice"), "alice", "ok"),
        BotStates::new(),
    )
    .await;
    let e = refused.last_error("h").unwrap().to_string();
    assert!(
        e.contains("host `127.0.0.1` is not in [bots] http_allowed_hosts"),
        "{e}"
    );

    let impatient = load_with(dir.path(), options(&["127.0.0.1"], 200));
    let handled = handle(
        &impatient,
        message(ConversationId::direct("alice"), "alice", "slow"),
        BotStates::new(),
    )
    .await;
    assert!(handled.commands.is_empty());
    let e = impatient.last_error("h").unwrap().to_string();
    assert!(e.contains("no answer within 200 ms"), "{e}");
    release.notify_waiters();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_call_holds_only_its_own_conversation() {
    let release = Arc::new(Notify::new());
    let base = server(release.clone()).await;
    let dir = scripts(&[("h.rhai", &bot(&base))]);
    let runtime = load_with(dir.path(), options(&["127.0.0.1"], 30_000));
    let slow = {
        let runtime = runtime.clone();
        tokio::spawn(async move {
            handle(
                &runtime,
                message(ConversationId::direct("alice"), "alice", "slow"),
                BotStates::new(),
            )
            .await
        })
    };
    let fast = handle(
        &runtime,
        message(ConversationId::direct("bob"), "bob", "ok"),
        BotStates::new(),
    )
    .await;
    assert_eq!(sends(&fast), vec![send("direct:bob", "200 42")]);
    assert!(!slow.is_finished(), "alice's call is still waiting");
    // A stored permit: released whether or not the server is waiting yet.
    release.notify_one();
    assert_eq!(
        sends(&slow.await.unwrap()),
        vec![send("direct:alice", "200 42")]
    );
}
