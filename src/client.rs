//! `parley chat`, `parley send` and `parley call`: a terminal client of the hub's WebSocket protocol
//! (docs/hub-protocol.md), so a newcomer or a shell script can talk to the bots.

use crate::hub_client::{HubClient, Login};
use anyhow::{anyhow, bail, Result};
use parley_engine::model::ConversationId;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub fn send(
    config: &Path,
    login: Login,
    to: &str,
    text: &str,
    wait: f64,
    replies: Option<usize>,
) -> Result<()> {
    let target: ConversationId = to.parse().map_err(|e| anyhow!("--to {to}: {e}"))?;
    runtime()?.block_on(async {
        let mut client = HubClient::connect(config, &login).await?;
        client.send_text(&target, text).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(wait.max(0.0));
        let mut got = 0usize;
        while replies.is_none_or(|n| got < n) {
            let Ok(frame) = tokio::time::timeout_at(deadline, client.next()).await else {
                break;
            };
            let frame = frame?;
            if let Some(message) = client.incoming(&frame) {
                if message["conversation"] == serde_json::to_value(&target)? {
                    println!("{message}");
                    got += 1;
                }
            }
        }
        match replies {
            Some(n) if got < n => bail!("{got} of {n} replies arrived within {wait} s"),
            _ => Ok(()),
        }
    })
}

/// How long `call` waits for the answer to its request.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// `parley call --as USER 'REQUEST-JSON' [--wait SECONDS]`: sends one protocol request as
/// USER and prints, one JSON object per line, every frame that reaches the user until
/// `wait` seconds after the answer: the answer itself (matched by its `req`, which `call`
/// sets) and the events and messages pushed meanwhile. An `error` answer is printed and
/// also returned as the command's error.
pub fn call(config: &Path, login: Login, request: &str, wait: f64) -> Result<()> {
    let frame: Value =
        serde_json::from_str(request).map_err(|e| anyhow!("the request is not valid JSON: {e}"))?;
    if !frame.is_object() {
        bail!(r#"the request must be a JSON object, e.g. '{{"type": "friends"}}'"#);
    }
    if !(wait.is_finite() && wait >= 0.0) {
        bail!("--wait must be a number of seconds, at least 0");
    }
    runtime()?.block_on(async {
        let mut client = HubClient::connect(config, &login).await?;
        let req = client.request(frame).await?;
        let mut deadline = tokio::time::Instant::now() + ANSWER_TIMEOUT;
        let mut answered = false;
        loop {
            let Ok(frame) = tokio::time::timeout_at(deadline, client.next()).await else {
                if answered {
                    return Ok(());
                }
                bail!("no answer within {} s", ANSWER_TIMEOUT.as_secs());
            };
            let frame = frame?;
            println!("{frame}");
            if !answered && frame["req"] == req.as_str() {
                if frame["type"] == "error" {
                    bail!(
                        "{}: {}",
                        frame["code"].as_str().unwrap_or("error"),
                        frame["message"].as_str().unwrap_or("")
                    );
                }
                answered = true;
                deadline = tokio::time::Instant::now() + Duration::from_secs_f64(wait);
            }
        }
    })
}

pub fn chat(config: &Path, login: Login) -> Result<()> {
    runtime()?.block_on(async {
        let mut client = HubClient::connect(config, &login).await?;
        let mut target = ConversationId::direct("bot");
        println!("logged in as {}. Talking to {target}. /to USER or /to group:ID switches, /history shows the last messages, /quit leaves.", client.user);
        let (lines_tx, mut lines) = tokio::sync::mpsc::channel::<String>(16);
        std::thread::spawn(move || {
            for line in std::io::stdin().lines().map_while(Result::ok) {
                if lines_tx.blocking_send(line).is_err() {
                    break;
                }
            }
        });
        loop {
            tokio::select! {
                line = lines.recv() => {
                    let Some(line) = line else { break };
                    let line = line.trim();
                    if line.is_empty() { continue }
                    if line == "/quit" { break }
                    if let Some(t) = line.strip_prefix("/to ") {
                        match t.trim().parse() {
                            Ok(t) => { target = t; println!("now talking to {target}"); }
                            Err(e) => println!("! {e}"),
                        }
                    } else if line == "/history" {
                        let req = client.request(json!({"type": "history", "conversation": target, "limit": 20})).await?;
                        let answer = client.answer(&req).await?;
                        for m in answer["messages"].as_array().into_iter().flatten() {
                            println!("{}", render(m));
                        }
                    } else if line.starts_with('/') {
                        println!("! commands: /to TARGET, /history, /quit");
                    } else if let Err(e) = client.send_text(&target, line).await {
                        println!("! not sent: {e}");
                    }
                }
                frame = client.next() => {
                    let frame = frame?;
                    if let Some(m) = client.incoming(&frame) {
                        println!("{}", render(m));
                    } else if frame["type"] == "error" {
                        println!("! {}: {}", frame["code"].as_str().unwrap_or(""), frame["message"].as_str().unwrap_or(""));
                    }
                }
            }
        }
        Ok(())
    })
}

/// `[group:lobby] bob: hello` for a message frame.
fn render(m: &Value) -> String {
    let conversation: Option<ConversationId> =
        serde_json::from_value(m["conversation"].clone()).ok();
    let text = match m["content"]["kind"].as_str() {
        Some("text") => m["content"]["text"].as_str().unwrap_or("").to_string(),
        Some(kind) => format!("<{kind}> {}", m["content"]),
        None => m["content"].to_string(),
    };
    format!(
        "[{}] {}: {}",
        conversation.map(|c| c.to_string()).unwrap_or_default(),
        m["sender"].as_str().unwrap_or("?"),
        text
    )
}
