//! Shared by the integration tests: a hub served on 127.0.0.1 and a WebSocket client.
#![allow(dead_code)] // each test binary uses a different part

pub mod bot;

use actix_web::{dev::ServerHandle, App, HttpServer};
use futures_util::{SinkExt, StreamExt};
use parley_hub::{Hub, HubConfig, HubGroupConfig, HubUserConfig};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for something that should happen before calling it a failure.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub const ADMIN_TOKEN: &str = "admin-secret";

pub struct TestHub {
    pub hub: Hub,
    pub addr: SocketAddr,
    server: ServerHandle,
    _dir: tempfile::TempDir,
}

fn user(id: &str, name: &str) -> HubUserConfig {
    HubUserConfig {
        id: id.into(),
        name: Some(name.into()),
        token: Some(format!("tok-{id}")),
    }
}

/// alice, bob, carol and bot (tokens `tok-<id>`); group `lobby`: alice (owner), bob, bot.
pub fn config() -> HubConfig {
    HubConfig {
        users: vec![
            user("alice", "Alice"),
            user("bob", "Bob"),
            user("carol", "Carol"),
            user("bot", "Bot"),
        ],
        groups: vec![HubGroupConfig {
            id: "lobby".into(),
            name: Some("Lobby".into()),
            owner: "alice".into(),
            members: vec!["bob".into(), "bot".into()],
        }],
        ..HubConfig::default()
    }
}

impl TestHub {
    pub async fn start(admin_token: Option<&str>) -> TestHub {
        Self::start_with(admin_token, config()).await
    }

    /// A hub with its own `[hub]` config (e.g. [`config`] with a device policy).
    pub async fn start_with(admin_token: Option<&str>, config: HubConfig) -> TestHub {
        let dir = tempfile::tempdir().unwrap();
        let hub = Hub::open(&dir.path().join("hub.db"), &config)
            .await
            .unwrap();
        let routes = hub.configure(admin_token.map(Into::into));
        let server = HttpServer::new(move || App::new().configure(routes.clone()))
            .workers(1)
            .bind(("127.0.0.1", 0))
            .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        TestHub {
            hub,
            addr,
            server: handle,
            _dir: dir,
        }
    }

    pub async fn client(&self) -> Client {
        Client::connect(self.addr).await
    }

    /// A client logged in as `user` (token `tok-<user>`).
    pub async fn login(&self, user: &str) -> Client {
        let mut client = self.client().await;
        let ok = client
            .request(json!({"type": "login", "req": "login", "token": format!("tok-{user}")}))
            .await;
        assert_eq!(ok["type"], "login_ok", "{ok}");
        client
    }

    /// A client logged in as `user` on the named device.
    pub async fn login_on(&self, user: &str, device: &str) -> Client {
        let mut client = self.client().await;
        let ok = client
            .request(json!({"type": "login", "req": "login", "token": format!("tok-{user}"), "device": device}))
            .await;
        assert_eq!(ok["type"], "login_ok", "{ok}");
        assert_eq!(ok["device"], device, "{ok}");
        client
    }

    pub async fn stop(self) {
        self.server.stop(false).await;
        self.hub.close().await;
    }

    /// A raw HTTP/1.1 request; returns the status and the JSON body.
    pub async fn http(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: &str,
    ) -> (u16, Value) {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        let auth = bearer
            .map(|b| format!("Authorization: Bearer {b}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        tokio::time::timeout(PATIENCE, stream.read_to_string(&mut response))
            .await
            .unwrap()
            .unwrap();
        let status = response.split(' ').nth(1).unwrap().parse().unwrap();
        let body = response.split_once("\r\n\r\n").unwrap().1;
        (
            status,
            serde_json::from_str(body).unwrap_or_else(|e| panic!("body {body:?}: {e}")),
        )
    }
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Frames read while looking for another one (an answer, an event), oldest first.
    pending: std::collections::VecDeque<Value>,
    next_req: u64,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/hub/ws"))
            .await
            .unwrap();
        Client {
            ws,
            pending: Default::default(),
            next_req: 0,
        }
    }

    pub async fn send_raw(&mut self, message: WsMessage) {
        self.ws.send(message).await.unwrap();
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_raw(WsMessage::Text(frame.to_string())).await;
    }

    /// The next frame other than pings and pongs; fails the test if none comes in time.
    pub async fn next_raw(&mut self) -> WsMessage {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("no frame from the hub in time");
            match next.expect("the hub closed the connection").unwrap() {
                WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
                other => return other,
            }
        }
    }

    /// The next text frame, parsed (frames set aside by `call` and `event` first).
    pub async fn recv(&mut self) -> Value {
        if let Some(frame) = self.pending.pop_front() {
            return frame;
        }
        self.read().await
    }

    async fn read(&mut self) -> Value {
        match self.next_raw().await {
            WsMessage::Text(text) => serde_json::from_str(&text).unwrap(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// Sends a request and returns the next frame (the tests keep answers and pushes apart).
    pub async fn request(&mut self, frame: Value) -> Value {
        self.send(frame).await;
        self.recv().await
    }

    /// Sends a request with a fresh `req` and returns its answer; pushed frames that
    /// arrive meanwhile are set aside for `recv` and `event`.
    pub async fn call(&mut self, mut frame: Value) -> Value {
        self.next_req += 1;
        let req = format!("call-{}", self.next_req);
        frame["req"] = Value::from(req.clone());
        self.send(frame).await;
        self.take(|f| f["req"] == req.as_str()).await
    }

    /// Like `call`, but expects an error and returns its code.
    pub async fn call_err(&mut self, frame: Value) -> String {
        let answer = self.call(frame).await;
        assert_eq!(answer["type"], "error", "{answer}");
        answer["code"].as_str().unwrap().to_string()
    }

    /// The next pushed event of `kind` (its `event.type`), with its frame.
    pub async fn event(&mut self, kind: &str) -> Value {
        self.take(|f| f["type"] == "event" && f["event"]["type"] == kind)
            .await
    }

    /// Reads until the hub closes the connection; returns the close code and reason.
    /// Text frames read on the way are set aside for `recv` and `event`.
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            match self.next_raw().await {
                WsMessage::Close(Some(frame)) => {
                    return (u16::from(frame.code), frame.reason.to_string())
                }
                WsMessage::Close(None) => return (1005, String::new()),
                WsMessage::Text(text) => {
                    self.pending.push_back(serde_json::from_str(&text).unwrap())
                }
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    /// Closes the connection from the client's side and waits for the hub's close frame
    /// (sent once the hub has ended the session).
    pub async fn close(mut self) {
        self.ws.close(None).await.unwrap();
        loop {
            match tokio::time::timeout(PATIENCE, self.ws.next()).await {
                Ok(Some(Ok(WsMessage::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => return,
                Ok(Some(Ok(_))) => continue,
                Err(_) => panic!("the hub did not confirm the close in time"),
            }
        }
    }

    /// The first frame, set aside or read now, that `wanted` accepts.
    async fn take(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(&wanted) {
            return self.pending.remove(i).unwrap();
        }
        loop {
            let frame = self.read().await;
            if wanted(&frame) {
                return frame;
            }
            self.pending.push_back(frame);
        }
    }

    /// Sends a text frame as given (not necessarily JSON) and returns the next frame.
    pub async fn request_raw(&mut self, text: &str) -> Value {
        self.send_raw(WsMessage::Text(text.to_string())).await;
        self.recv().await
    }

    /// Sends a text message to `to` (`direct:bob` / `group:lobby` form) and returns the answer.
    pub async fn say(&mut self, to: &str, text: &str, client_id: &str) -> Value {
        let (kind, id) = to.split_once(':').unwrap();
        self.request(json!({
            "type": "send", "req": client_id,
            "to": {"kind": kind, "id": id},
            "content": {"kind": "text", "text": text},
            "client_id": client_id,
        }))
        .await
    }

    /// Waits for the next pushed message (setting events aside) and returns its text.
    pub async fn next_text(&mut self) -> String {
        let frame = self
            .take(|f| f["type"] == "message" || f["type"] == "error")
            .await;
        assert_eq!(frame["type"], "message", "{frame}");
        frame["message"]["content"]["text"]
            .as_str()
            .unwrap()
            .to_string()
    }
}
