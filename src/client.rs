//! `parley chat` and `parley send`: a terminal client of the hub's WebSocket protocol
//! (docs/hub-protocol.md), so a newcomer or a shell script can talk to the bots.

use crate::config::Config;
use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use parley_engine::model::ConversationId;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

#[derive(clap::Args)]
pub struct Login {
    /// The hub user to act as.
    #[arg(long = "as")]
    pub user: String,
    /// The user's login token (default: looked up in the hub's database under data_dir).
    #[arg(long, env = "PARLEY_TOKEN")]
    pub token: Option<String>,
    /// The server's address, host:port (default: the config's server.bind).
    #[arg(long)]
    pub server: Option<String>,
}

struct HubClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    user: String,
    next_req: u64,
}

impl HubClient {
    async fn connect(config_path: &Path, login: &Login) -> Result<HubClient> {
        let (config, _) = Config::load(config_path)?;
        let server = match &login.server {
            Some(s) => s.clone(),
            None => config.server.bind.replace("0.0.0.0", "127.0.0.1"),
        };
        let token = match &login.token {
            Some(t) => t.clone(),
            None => parley_hub::lookup_token(&config.hub_db(), &login.user)
                .await
                .with_context(|| format!("cannot read tokens from {}", config.hub_db().display()))?
                .ok_or_else(|| {
                    anyhow!(
                        "no hub user `{}` in {} (give --token, or start parley run once)",
                        login.user,
                        config.hub_db().display()
                    )
                })?,
        };
        let url = format!("ws://{server}/hub/ws");
        let (ws, _) = tokio_tungstenite::connect_async(&url)
            .await
            .with_context(|| format!("cannot connect to {url}; is `parley run` running?"))?;
        let mut client = HubClient {
            ws,
            user: login.user.clone(),
            next_req: 0,
        };
        let req = client
            .request(json!({"type": "login", "token": token}))
            .await?;
        let answer = client.answer(&req).await?;
        if answer["type"] != "login_ok" {
            bail!(
                "login refused: {}",
                answer["message"].as_str().unwrap_or("no reason given")
            );
        }
        if let Some(id) = answer["user"]["id"].as_str() {
            client.user = id.to_string();
        }
        Ok(client)
    }

    /// Sends a request with a fresh `req` id and returns the id.
    async fn request(&mut self, mut frame: Value) -> Result<String> {
        self.next_req += 1;
        let req = format!("cli-{}", self.next_req);
        frame["req"] = json!(req);
        self.ws.send(Frame::text(frame.to_string())).await?;
        Ok(req)
    }

    async fn next(&mut self) -> Result<Value> {
        loop {
            match self.ws.next().await {
                Some(Ok(Frame::Text(t))) => return Ok(serde_json::from_str(&t)?),
                Some(Ok(Frame::Close(c))) => bail!(
                    "the server closed the connection{}",
                    c.map(|c| format!(": {}", c.reason)).unwrap_or_default()
                ),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => bail!("the server closed the connection"),
            }
        }
    }

    /// Waits for the answer to `req`, returning an error frame as an error.
    async fn answer(&mut self, req: &str) -> Result<Value> {
        loop {
            let frame = self.next().await?;
            if frame["req"] == req {
                if frame["type"] == "error" {
                    bail!(
                        "{}: {}",
                        frame["code"].as_str().unwrap_or("error"),
                        frame["message"].as_str().unwrap_or("")
                    );
                }
                return Ok(frame);
            }
        }
    }

    async fn send_text(&mut self, to: &ConversationId, text: &str) -> Result<Value> {
        let req = self
            .request(json!({"type": "send", "to": to, "content": {"kind": "text", "text": text}}))
            .await?;
        self.answer(&req).await
    }

    /// A message frame from someone else, if `frame` is one.
    fn incoming<'a>(&self, frame: &'a Value) -> Option<&'a Value> {
        (frame["type"] == "message" && frame["message"]["sender"] != self.user.as_str())
            .then(|| &frame["message"])
    }
}

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
