//! Tencent Cloud IM's side of a transcript (`parley test --platform tencent`): the
//! transcript's users are accounts of a local Tencent (`parley_tencent::testing`) whose
//! REST API the adapter calls; what a user says is posted to Parley's callback endpoint as
//! the signed `C2C.` / `Group.CallbackAfterSendMsg` Tencent would post, with the message's
//! time on the transcript's clock. The bot's own messages come back as Tencent echoes
//! them (callbacks from the bot's account), and every REST call is read back as the
//! command it carries out.

use super::parse::{Action, Step, Transcript, BOT};
use super::run::{next_time, store_idle, Driver, PlatformCall, SETTLE_TIMEOUT};
use crate::config::{Config, ConnectionConfig};
use anyhow::{anyhow, bail, Context, Result};
use parley_engine::model::ConnectionId;
use parley_engine::store::Store;
use parley_tencent::testing::{self, FakeTencent};
use serde_json::{json, Value};
use tokio::time::Instant;

/// Where the connection's callbacks are posted (the adapter's default path).
const CALLBACK_PATH: &str = "/webhooks/tencent";

pub struct TencentDriver {
    fake: FakeTencent,
    http: reqwest::Client,
    callback_url: String,
    /// The transcript's clock, ms since the epoch: the time of the messages users send.
    clock_ms: i64,
    /// Counts the 1:1 messages users send (their `MsgSeq` and `MsgRandom`).
    sent: u64,
    /// REST calls already read back, and already echoed as callbacks.
    read: usize,
    echoed: usize,
}

impl Driver for TencentDriver {
    fn cannot(_: &Transcript, step: &Step) -> Option<String> {
        if step.refused.is_some() {
            return Some("the step expects the hub to refuse it".into());
        }
        match &step.action {
            Action::Request { .. } => Some("a hub request".into()),
            Action::AddFriend { .. } => Some(
                "a friend request: Tencent has no REST call to answer one (answer_friend_request is unsupported on Tencent)"
                    .into(),
            ),
            _ => None,
        }
    }

    async fn start(_: &Transcript) -> Result<Self> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Ok(TencentDriver {
            fake: FakeTencent::start().await,
            http: reqwest::Client::new(),
            callback_url: String::new(),
            clock_ms: now,
            sent: 0,
            read: 0,
            echoed: 0,
        })
    }

    fn configure(&self, config: &mut Config, id: &str, _: &Transcript) -> Result<()> {
        let mut c = testing::config(&self.fake.url);
        c.id = id.to_string();
        c.bot = BOT.to_string();
        c.callback_path = CALLBACK_PATH.into();
        config.connections = vec![ConnectionConfig::Tencent(c)];
        Ok(())
    }

    fn env(var: &str) -> Option<String> {
        testing::env(var)
    }

    async fn attach(&mut self, running: &crate::app::Running, _: &Transcript) -> Result<()> {
        let addr = running
            .addrs
            .first()
            .ok_or_else(|| anyhow!("Parley listens nowhere"))?;
        self.callback_url = format!("http://{addr}{CALLBACK_PATH}");
        Ok(())
    }

    async fn act(&mut self, action: &Action) -> Result<Option<(String, String)>> {
        let secs = self.clock_ms.div_euclid(1000);
        match action {
            Action::Say { user, to, text } => {
                let body = json!([{"MsgType": "TIMTextElem", "MsgContent": {"Text": text}}]);
                match to.strip_prefix("group:") {
                    Some(group) => {
                        let seq = self.fake.next_group_seq(group);
                        self.post(
                            "Group.CallbackAfterSendMsg",
                            json!({"GroupId": group, "Type": "Public", "From_Account": user,
                                   "Operator_Account": user, "Random": seq, "MsgSeq": seq,
                                   "MsgTime": secs, "EventTime": self.clock_ms,
                                   "OnlineOnlyFlag": 0, "MsgBody": body}),
                        )
                        .await?;
                    }
                    None => {
                        self.sent += 1;
                        let n = self.sent;
                        self.post(
                            "C2C.CallbackAfterSendMsg",
                            json!({"From_Account": user, "To_Account": to, "MsgSeq": n,
                                   "MsgRandom": n, "MsgTime": secs, "MsgKey": format!("{n}_{n}_{secs}"),
                                   "SendMsgResult": 0, "UnreadMsgNum": 0,
                                   "EventTime": self.clock_ms, "MsgBody": body}),
                        )
                        .await?;
                    }
                }
            }
            Action::RemoveFriend { user, friend } => {
                self.post(
                    "Sns.CallbackFriendDelete",
                    json!({"PairList": [{"From_Account": user, "To_Account": friend}],
                           "EventTime": self.clock_ms}),
                )
                .await?;
            }
            Action::Clock {
                weekday,
                minute_of_day,
            } => self.clock_ms = next_time(self.clock_ms, *weekday, *minute_of_day),
            Action::Wait { ms } => self.clock_ms += *ms as i64,
            Action::AddFriend { .. } | Action::Request { .. } | Action::Tick { .. } => {
                bail!("Tencent cannot play `{action}`")
            }
        }
        Ok(None)
    }

    /// Each callback was answered once its events were stored; waits until they are
    /// handled, then echoes the bot's own messages as Tencent does, until nothing is left.
    async fn settle(&mut self, store: &Store, connection: &ConnectionId) -> Result<()> {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            store_idle(store, connection, deadline).await?;
            if !self.echo().await? {
                return Ok(());
            }
        }
    }

    fn calls(&mut self) -> Option<Vec<PlatformCall>> {
        let requests = self.fake.requests_from(self.read);
        self.read += requests.len();
        Some(
            requests
                .into_iter()
                .map(|r| PlatformCall {
                    command: testing::command_of(&r.api, &r.body, BOT),
                    raw: format!("{} {}", r.api, r.body),
                })
                .collect(),
        )
    }

    async fn stop(self) {
        self.fake.stop().await;
    }
}

impl TencentDriver {
    /// Posts a signed callback and checks Tencent's envelope in the answer.
    async fn post(&self, command: &str, body: Value) -> Result<()> {
        let url = format!(
            "{}?{}",
            self.callback_url,
            testing::callback_query(command, testing::now())
        );
        let response = self
            .http
            .post(&url)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("cannot post {command} to {url}"))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() || answer["ErrorCode"] != 0 {
            bail!("Parley answered the {command} callback with {status}: {answer}");
        }
        Ok(())
    }

    /// Posts the callbacks of the bot's messages sent since the last time (Tencent calls
    /// back for messages sent through the REST API too); false when there were none.
    async fn echo(&mut self) -> Result<bool> {
        let requests = self.fake.requests_from(self.echoed);
        self.echoed += requests.len();
        let mut any = false;
        for r in requests {
            let (Some(answer), b) = (&r.answer, &r.body) else {
                continue;
            };
            let time = answer["MsgTime"].as_i64().unwrap_or_default();
            let (command, body) = match r.api.as_str() {
                "openim/sendmsg" => (
                    "C2C.CallbackAfterSendMsg",
                    json!({"From_Account": b["From_Account"], "To_Account": b["To_Account"],
                           "MsgSeq": b["MsgSeq"], "MsgRandom": b["MsgRandom"], "MsgTime": time,
                           "MsgKey": answer["MsgKey"], "SendMsgResult": 0,
                           "MsgBody": b["MsgBody"]}),
                ),
                "group_open_http_svc/send_group_msg" => (
                    "Group.CallbackAfterSendMsg",
                    json!({"GroupId": b["GroupId"], "Type": "Public",
                           "From_Account": b["From_Account"], "Operator_Account": testing::ADMIN,
                           "Random": b["Random"], "MsgSeq": answer["MsgSeq"], "MsgTime": time,
                           "MsgBody": b["MsgBody"]}),
                ),
                _ => continue,
            };
            self.post(command, body).await?;
            any = true;
        }
        Ok(any)
    }
}
