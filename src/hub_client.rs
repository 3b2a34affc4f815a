//! A client of the hub's WebSocket protocol (docs/hub-protocol.md), used by the terminal
//! commands.

use crate::config::Config;
use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use parley_engine::model::ConversationId;
use serde_json::{json, Value};
use std::path::Path;
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

pub struct HubClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub user: String,
    next_req: u64,
}

impl HubClient {
    pub async fn connect(config_path: &Path, login: &Login) -> Result<HubClient> {
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
        HubClient::login(&server, &login.user, &token).await
    }

    /// Connects to the hub at `server` (host:port) and logs in as `user` with `token`.
    pub async fn login(server: &str, user: &str, token: &str) -> Result<HubClient> {
        let url = format!("ws://{server}/hub/ws");
        let (ws, _) = tokio_tungstenite::connect_async(&url)
            .await
            .with_context(|| format!("cannot connect to {url}; is `parley run` running?"))?;
        let mut client = HubClient {
            ws,
            user: user.to_string(),
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
    pub async fn request(&mut self, mut frame: Value) -> Result<String> {
        self.next_req += 1;
        let req = format!("cli-{}", self.next_req);
        frame["req"] = json!(req);
        self.ws.send(Frame::text(frame.to_string())).await?;
        Ok(req)
    }

    pub async fn next(&mut self) -> Result<Value> {
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
    pub async fn answer(&mut self, req: &str) -> Result<Value> {
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

    // Used by `parley test` (src/transcript); allowed until main.rs declares that module.
    /// Sends a request and returns its answer (an `error` frame too, as a value) with every
    /// frame that arrived before it, in order.
    pub async fn call(&mut self, frame: Value) -> Result<(Value, Vec<Value>)> {
        let req = self.request(frame).await?;
        let mut before = Vec::new();
        loop {
            let frame = self.next().await?;
            if frame["req"] == req.as_str() {
                return Ok((frame, before));
            }
            before.push(frame);
        }
    }

    pub async fn send_text(&mut self, to: &ConversationId, text: &str) -> Result<Value> {
        let req = self
            .request(json!({"type": "send", "to": to, "content": {"kind": "text", "text": text}}))
            .await?;
        self.answer(&req).await
    }

    /// A message frame from someone else, if `frame` is one.
    pub fn incoming<'a>(&self, frame: &'a Value) -> Option<&'a Value> {
        (frame["type"] == "message" && frame["message"]["sender"] != self.user.as_str())
            .then(|| &frame["message"])
    }
}
