//! A local OneBot v11 implementation playing the QQ side: it connects to Parley (reverse
//! WebSocket) or is connected to (forward WebSocket), pushes events and answers actions.

#![allow(dead_code)]

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer};
use futures_util::{SinkExt, StreamExt};
use parley_onebot::{OneBotAdapter, OneBotConfig};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub const SELF_ID: u64 = 10001;
pub const TOKEN: &str = "s3cret";

pub fn adapter(extra: Value) -> Arc<OneBotAdapter> {
    let mut v = json!({"id": "qq", "self_id": SELF_ID, "access_token_env": "QQ_TOKEN"});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let config: OneBotConfig = serde_json::from_value(v).unwrap();
    Arc::new(
        OneBotAdapter::with_env(config, |k| (k == "QQ_TOKEN").then(|| TOKEN.to_string())).unwrap(),
    )
}

/// Parley's HTTP server with the adapter's routes, on a free port.
pub struct Server {
    pub addr: std::net::SocketAddr,
    handle: ServerHandle,
}

impl Server {
    pub async fn start(adapter: &OneBotAdapter) -> Server {
        let routes = adapter.routes();
        let server = HttpServer::new(move || App::new().configure(routes.clone()))
            .workers(1)
            .disable_signals()
            .bind("127.0.0.1:0")
            .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Server { addr, handle }
    }
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The implementation's side of one WebSocket connection.
pub struct Qq {
    pub ws: Ws,
}

impl Qq {
    /// Connects as a reverse WebSocket client; Err(status) when Parley refuses.
    pub async fn dial(url: &str, role: &str, self_id: u64, token: Option<&str>) -> Result<Qq, u16> {
        let mut req = url.into_client_request().unwrap();
        let h = req.headers_mut();
        h.insert("x-self-id", self_id.to_string().parse().unwrap());
        h.insert("x-client-role", role.parse().unwrap());
        if let Some(t) = token {
            h.insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok((ws, _)) => Ok(Qq { ws }),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
            Err(e) => panic!("{e}"),
        }
    }

    /// Closes as an implementation that restarts does: a close frame, then whatever Parley
    /// still sends is read and dropped (not carried out) until Parley closes too.
    pub async fn hang_up(mut self) {
        self.ws.close(None).await.unwrap();
        while let Some(Ok(_)) = self.ws.next().await {}
    }

    pub async fn push(&mut self, event: Value) {
        self.ws
            .send(Message::Text(event.to_string()))
            .await
            .unwrap();
    }

    pub async fn push_raw(&mut self, text: &str) {
        self.ws.send(Message::Text(text.to_string())).await.unwrap();
    }

    /// The next action Parley calls.
    pub async fn action(&mut self) -> Value {
        loop {
            match self.ws.next().await.expect("connection open").unwrap() {
                Message::Text(t) => return serde_json::from_str(&t).unwrap(),
                _ => continue,
            }
        }
    }

    pub async fn answer(&mut self, action: &Value, answer: Value) {
        let mut a = answer;
        a["echo"] = action["echo"].clone();
        self.push(a).await;
    }
}

pub fn ok(data: Value) -> Value {
    json!({"status": "ok", "retcode": 0, "data": data})
}

pub fn group_message(message_id: i64, group: u64, user: u64, message: Value) -> Value {
    json!({"time": 1700000000, "self_id": SELF_ID, "post_type": "message", "message_type": "group",
           "sub_type": "normal", "message_id": message_id, "group_id": group, "user_id": user,
           "message": message, "raw_message": "", "font": 0, "sender": {"user_id": user, "nickname": "n"}})
}

pub fn lifecycle_connect() -> Value {
    json!({"time": 1700000000, "self_id": SELF_ID, "post_type": "meta_event",
           "meta_event_type": "lifecycle", "sub_type": "connect"})
}

/// Answers every action with success (`message_id`s counting up) and records them.
#[derive(Clone, Default)]
pub struct Recorder {
    pub actions: Arc<Mutex<Vec<Value>>>,
    pub count: Arc<watch::Sender<usize>>,
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            actions: Arc::default(),
            count: Arc::new(watch::channel(0).0),
        }
    }
    pub fn record(&self, action: &Value) -> Value {
        let mut a = self.actions.lock().unwrap();
        a.push(action.clone());
        let id = a.len();
        self.count.send_replace(id);
        ok(json!({"message_id": id}))
    }
    pub async fn wait(&self, n: usize) {
        self.count.subscribe().wait_for(|c| *c >= n).await.unwrap();
    }
    pub fn texts(&self) -> Vec<String> {
        self.actions
            .lock()
            .unwrap()
            .iter()
            .map(|a| {
                a["params"]["message"][0]["data"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }
}

pub fn failed(retcode: i64, msg: &str, wording: &str) -> Value {
    json!({"status": "failed", "retcode": retcode, "data": null, "msg": msg, "wording": wording})
}

/// A mute that ends long after any test run (2100-01-01), in seconds as OneBot sends it.
pub const MUTED_UNTIL: i64 = 4_102_444_800;

/// The QQ account's world as the implementation reports it to the query actions, in the
/// shapes NapCat and go-cqhttp answer with (numbers where v11 has numbers, a string id
/// where some implementations send one, their extension fields). Group 500 is known;
/// any other group is answered `GROUP_NOT_FOUND`, and group 700's member list comes back
/// malformed. `None` for an action that is not a query.
pub fn directory_answer(action: &str, params: &Value) -> Option<Value> {
    let group_500 = json!({"group_id": 500, "group_name": "Lobby", "member_count": 3,
                           "max_member_count": 200, "group_all_shut": 0, "group_remark": ""});
    let group = params["group_id"].as_i64();
    Some(match (action, group) {
        ("get_friend_list", _) => ok(json!([
            {"user_id": 42, "nickname": "alice", "remark": "Alice from support"},
            {"user_id": "43", "nickname": "bob", "remark": ""},
        ])),
        ("get_group_list", _) => ok(json!([
            group_500,
            {"group_id": 600, "group_name": "Ops", "member_count": 2, "max_member_count": 500,
             "group_all_shut": -1},
        ])),
        ("get_group_info", Some(500)) => ok(group_500),
        ("get_group_member_list", Some(500)) => ok(json!([
            {"group_id": 500, "user_id": 1, "nickname": "boss", "card": "", "role": "owner",
             "join_time": 1600000000, "last_sent_time": 1700000000, "shut_up_timestamp": 0,
             "level": "100", "title": ""},
            {"group_id": 500, "user_id": 42, "nickname": "alice", "card": "Alice (ops)",
             "role": "admin", "join_time": 1650000000, "shut_up_timestamp": 0},
            {"group_id": 500, "user_id": SELF_ID, "nickname": "parley", "card": "",
             "role": "member", "join_time": 1690000000, "shut_up_timestamp": MUTED_UNTIL},
        ])),
        ("get_group_member_list", Some(700)) => ok(json!({"members": "soon"})),
        ("get_group_info" | "get_group_member_list", _) => {
            failed(100, "GROUP_NOT_FOUND", "群不存在")
        }
        ("get_stranger_info", _) => ok(json!({
            "user_id": params["user_id"], "nickname": "alice", "sex": "female", "age": 20,
            "qid": "", "level": 12, "login_days": 300, "long_nick": "here to help"})),
        _ => return None,
    })
}
