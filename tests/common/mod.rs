//! Starting the real `parley` binary on a free loopback port with its own data folder, and
//! a small WebSocket client of the hub protocol.

#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Generous: only a broken server ever waits this long.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes `dir/config/parley.toml`: the hub with alice, bob, carol and the bot, the group
/// lobby, data under `dir/data`, bots from `scripts`.
pub fn write_config(dir: &Path, scripts: &Path) -> PathBuf {
    let config = format!(
        r#"
[server]
bind = "127.0.0.1:0"
data_dir = "data"

[engine]
idle_timeout_secs = 60

[bots]
dir = "{scripts}"

[[connections]]
id = "hub"
kind = "hub"
user = "bot"

[[hub.users]]
id = "bot"
name = "Bot"
[[hub.users]]
id = "alice"
token = "alice-token"
[[hub.users]]
id = "bob"
token = "bob-token"
[[hub.users]]
id = "carol"
token = "carol-token"

[[hub.groups]]
id = "lobby"
owner = "alice"
members = ["bob", "bot"]
"#,
        scripts = scripts.display()
    );
    std::fs::create_dir_all(dir.join("config")).unwrap();
    let path = dir.join("config/parley.toml");
    std::fs::write(&path, config).unwrap();
    path
}

pub struct Server {
    child: Child,
    pub addr: String,
    pub config: PathBuf,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `parley run` with `config` and waits until it listens.
    pub fn start(config: &Path, envs: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(["--config", config.to_str().unwrap(), "run"])
            .envs(envs.iter().copied())
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start parley");
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let stderr = stderr.clone();
            let pipe = child.stderr.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut s = stderr.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                }
            });
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("parley listening on http://") {
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        let addr = match rx.recv_timeout(PATIENCE) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("parley did not start; stderr:\n{}", stderr.lock().unwrap());
            }
        };
        Server {
            child,
            addr,
            config: config.to_path_buf(),
            stderr,
        }
    }

    /// SIGKILL: no shutdown, no draining, exactly like a crash.
    pub fn kill(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success());
        let _ = self.child.wait();
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Ctrl-C, then waits for a clean exit.
    pub fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let log = self.stderr();
        assert!(exit.success(), "parley exited with {exit}; stderr:\n{log}");
        log
    }

    pub async fn client(&self, token: &str) -> Client {
        let mut c = Client::connect(&self.addr).await;
        let answer = c.request(json!({"type": "login", "token": token})).await;
        assert_eq!(answer["type"], "login_ok", "{answer}");
        c
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_req: u64,
    /// Frames read while waiting for something else, in order.
    backlog: Vec<Value>,
}

impl Client {
    pub async fn connect(addr: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/hub/ws"))
            .await
            .unwrap();
        Client {
            ws,
            next_req: 0,
            backlog: Vec::new(),
        }
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.ws.send(Frame::text(text.to_string())).await.unwrap();
    }

    /// The next text frame; `None` once the server closed the socket.
    pub async fn next(&mut self) -> Option<Value> {
        if !self.backlog.is_empty() {
            return Some(self.backlog.remove(0));
        }
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("no frame in time")?;
            match frame {
                Ok(Frame::Text(t)) => return Some(serde_json::from_str(&t).unwrap()),
                Ok(Frame::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// Sends a request with a fresh `req` and returns its answer.
    pub async fn request(&mut self, mut frame: Value) -> Value {
        self.next_req += 1;
        let req = format!("t{}", self.next_req);
        frame["req"] = json!(req);
        self.send_raw(&frame.to_string()).await;
        self.wait_for(|f| f["req"] == req.as_str()).await
    }

    /// Reads frames until one matches; others are kept for later `next` calls.
    pub async fn wait_for(&mut self, want: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.backlog.iter().position(&want) {
            return self.backlog.remove(i);
        }
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("the awaited frame did not come");
            match frame {
                Some(Ok(Frame::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if want(&v) {
                        return v;
                    }
                    self.backlog.push(v);
                }
                Some(Ok(_)) => continue,
                other => panic!("connection ended while waiting: {other:?}"),
            }
        }
    }

    pub async fn send_text(&mut self, to: Value, text: &str) -> Value {
        let answer = self
            .request(json!({"type": "send", "to": to, "content": {"kind": "text", "text": text}}))
            .await;
        assert_eq!(answer["type"], "sent", "{answer}");
        answer
    }

    /// Waits for a message from `sender` in `conversation` and returns its text.
    pub async fn message_from(&mut self, sender: &str, conversation: Value) -> String {
        let frame = self
            .wait_for(|f| {
                f["type"] == "message"
                    && f["message"]["sender"] == sender
                    && f["message"]["conversation"] == conversation
            })
            .await;
        frame["message"]["content"]["text"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn history(&mut self, conversation: Value) -> Vec<(String, String)> {
        let answer = self
            .request(json!({"type": "history", "conversation": conversation, "limit": 200}))
            .await;
        answer["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["sender"].as_str().unwrap().to_string(),
                    m["content"]["text"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }
}

pub fn direct(peer: &str) -> Value {
    json!({"kind": "direct", "id": peer})
}

pub fn group(id: &str) -> Value {
    json!({"kind": "group", "id": id})
}
