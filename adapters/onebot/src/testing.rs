//! A local OneBot v11 implementation for tests (feature `testing`), playing the QQ side:
//! it connects to Parley as a reverse WebSocket client, pushes events and answers
//! actions; event builders in the shapes NapCat and go-cqhttp send; and [`command_of`],
//! which reads an action back as the model command it carries out.
//!
//! This crate's tests use it, and so does `parley test --platform onebot`, which plays the
//! QQ side of a transcript with it.

use crate::segments;
use futures_util::{SinkExt, StreamExt};
use parley_engine::model::{
    Command, ConversationId, GroupId, GroupInfoPatch, MessageRef, RecallScope, RequestId,
    SendOptions, UserId,
};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub const SELF_ID: u64 = 10001;
pub const TOKEN: &str = "s3cret";

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The implementation's side of one WebSocket connection.
pub struct Qq {
    pub ws: Ws,
}

impl Qq {
    /// Connects as a reverse WebSocket client; Err(status) when Parley refuses.
    pub async fn dial(url: &str, role: &str, self_id: u64, token: Option<&str>) -> Result<Qq, u16> {
        match Qq::connect(url, role, self_id, token).await {
            Ok(qq) => Ok(qq),
            Err(Refused::Status(status)) => Err(status),
            Err(Refused::Other(e)) => panic!("{e}"),
        }
    }

    /// As [`dial`](Self::dial), with every failure as an error.
    pub async fn connect(
        url: &str,
        role: &str,
        self_id: u64,
        token: Option<&str>,
    ) -> Result<Qq, Refused> {
        let mut req = url
            .into_client_request()
            .map_err(|e| Refused::Other(format!("{url}: {e}")))?;
        let h = req.headers_mut();
        let header = |v: String| {
            v.parse()
                .map_err(|e| Refused::Other(format!("header {v:?}: {e}")))
        };
        h.insert("x-self-id", header(self_id.to_string())?);
        h.insert("x-client-role", header(role.to_string())?);
        if let Some(t) = token {
            h.insert("authorization", header(format!("Bearer {t}"))?);
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok((ws, _)) => Ok(Qq { ws }),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                Err(Refused::Status(r.status().as_u16()))
            }
            Err(e) => Err(Refused::Other(format!("{url}: {e}"))),
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

    /// Plays the implementation in the background: events given to the returned
    /// [`Implementation`] are pushed in order, and every action is recorded and answered
    /// with what `answer` says.
    pub fn serve(self, answer: impl Fn(&Value) -> Value + Send + 'static) -> Implementation {
        let recorder = Recorder::new();
        let (events, mut rx) = mpsc::channel::<Value>(64);
        let rec = recorder.clone();
        let mut ws = self.ws;
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    event = rx.recv() => match event {
                        Some(event) => {
                            if ws.send(Message::Text(event.to_string())).await.is_err() {
                                return;
                            }
                        }
                        None => {
                            let _ = ws.close(None).await;
                            return;
                        }
                    },
                    frame = ws.next() => match frame {
                        Some(Ok(Message::Text(t))) => {
                            let Ok(action) = serde_json::from_str::<Value>(&t) else { continue };
                            let mut a = answer(&action);
                            a["echo"] = action["echo"].clone();
                            rec.keep(&action);
                            if ws.send(Message::Text(a.to_string())).await.is_err() {
                                return;
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => return,
                    },
                }
            }
        });
        Implementation {
            events,
            recorder,
            task,
        }
    }
}

/// Why a connection could not be made.
#[derive(Debug)]
pub enum Refused {
    /// Parley answered the upgrade with this HTTP status.
    Status(u16),
    Other(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Status(s) => write!(f, "refused with HTTP {s}"),
            Refused::Other(e) => f.write_str(e),
        }
    }
}

/// An implementation running in the background ([`Qq::serve`]).
pub struct Implementation {
    events: mpsc::Sender<Value>,
    pub recorder: Recorder,
    task: JoinHandle<()>,
}

impl Implementation {
    /// Pushes an event; false once the connection is gone.
    pub async fn push(&self, event: Value) -> bool {
        self.events.send(event).await.is_ok()
    }

    /// Closes the connection.
    pub async fn close(self) {
        drop(self.events);
        let _ = self.task.await;
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
    /// Records an action and answers it with success and the next `message_id`.
    pub fn record(&self, action: &Value) -> Value {
        let id = self.keep(action);
        ok(json!({"message_id": id}))
    }
    /// Records an action; returns how many there are now.
    pub fn keep(&self, action: &Value) -> usize {
        let mut a = self.actions.lock().expect("recorder lock");
        a.push(action.clone());
        let n = a.len();
        self.count.send_replace(n);
        n
    }
    pub async fn wait(&self, n: usize) {
        self.count.subscribe().wait_for(|c| *c >= n).await.unwrap();
    }
    /// The actions from the `from`th on.
    pub fn since(&self, from: usize) -> Vec<Value> {
        let a = self.actions.lock().expect("recorder lock");
        a.iter().skip(from).cloned().collect()
    }
    pub fn texts(&self) -> Vec<String> {
        self.actions
            .lock()
            .expect("recorder lock")
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

/// An id as the model has it: OneBot sends numbers, some implementations strings.
fn id(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The model command an action carries out, read back from its `action` and `params`;
/// `recalled` names the conversation of a message id (`delete_msg` carries only the id).
/// `None` for an action this crate does not make for a command.
pub fn command_of(
    action: &str,
    params: &Value,
    recalled: impl Fn(&str) -> Option<ConversationId>,
) -> Option<Command> {
    let user = |k: &str| id(&params[k]).map(UserId);
    let group = || id(&params["group_id"]).map(GroupId);
    let text = |k: &str| {
        params[k]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let send = |to: ConversationId| -> Option<Command> {
        let (content, reply_to) = segments::to_content(&segments::parse(&params["message"]).ok()?);
        Some(Command::Send {
            to,
            content,
            reply_to,
            options: SendOptions::default(),
            as_user: None,
        })
    };
    Some(match action {
        "send_private_msg" => send(ConversationId::direct(user("user_id")?.0))?,
        "send_group_msg" => send(ConversationId::group(group()?.0))?,
        "send_msg" if params["message_type"] == "group" => send(ConversationId::group(group()?.0))?,
        "send_msg" => send(ConversationId::direct(user("user_id")?.0))?,
        "delete_msg" => {
            let message = id(&params["message_id"])?;
            Command::Recall {
                conversation: recalled(&message)?,
                message: MessageRef::new(message),
                scope: RecallScope::Everyone,
            }
        }
        "set_friend_add_request" => Command::AnswerFriendRequest {
            request: RequestId(params["flag"].as_str()?.to_string()),
            accept: params["approve"].as_bool().unwrap_or(true),
            remark: text("remark"),
            add_back: false,
        },
        "set_group_add_request" if params["sub_type"] == "invite" => Command::AnswerInvitation {
            request: RequestId(params["flag"].as_str()?.to_string()),
            accept: params["approve"].as_bool().unwrap_or(true),
        },
        "set_group_add_request" => Command::AnswerJoinRequest {
            request: RequestId(params["flag"].as_str()?.to_string()),
            accept: params["approve"].as_bool().unwrap_or(true),
            reason: text("reason"),
        },
        "delete_friend" => Command::RemoveFriend {
            user: user("user_id")?,
        },
        "set_group_kick" => Command::Kick {
            group: group()?,
            users: vec![user("user_id")?],
            ban_seconds: None,
        },
        "set_group_ban" => match params["duration"].as_u64().unwrap_or(30 * 60) {
            0 => Command::Unmute {
                group: group()?,
                user: user("user_id")?,
            },
            seconds => Command::Mute {
                group: group()?,
                user: user("user_id")?,
                seconds,
            },
        },
        "set_group_whole_ban" if params["enable"] == false => {
            Command::UnmuteAll { group: group()? }
        }
        "set_group_whole_ban" => Command::MuteAll { group: group()? },
        "set_group_admin" => Command::SetAdmin {
            group: group()?,
            user: user("user_id")?,
            admin: params["enable"].as_bool().unwrap_or(true),
        },
        "set_group_name" => Command::SetGroupInfo {
            group: group()?,
            patch: GroupInfoPatch {
                name: text("group_name"),
                ..GroupInfoPatch::default()
            },
        },
        "_send_group_notice" => Command::SetAnnouncement {
            group: group()?,
            text: params["content"].as_str()?.to_string(),
        },
        "set_group_leave" if params["is_dismiss"] == true => Command::Dismiss { group: group()? },
        "set_group_leave" => Command::LeaveGroup { group: group()? },
        "get_friend_list" => Command::ListFriends,
        "get_group_list" => Command::ListGroups,
        "get_group_info" => Command::GetGroupInfo { group: group()? },
        "get_group_member_list" => Command::ListMembers { group: group()? },
        "get_stranger_info" => Command::GetProfile {
            user: user("user_id")?,
        },
        _ => return None,
    })
}
