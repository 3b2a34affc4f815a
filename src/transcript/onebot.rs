//! QQ's side of a transcript over OneBot v11 (`parley test --platform onebot`): a local
//! implementation (`parley_onebot::testing`) connects to Parley as a reverse WebSocket
//! client, pushes what users say as message events (times on the transcript's clock) and
//! answers the adapter's actions, each read back as the command it carries out.
//!
//! QQ accounts and groups are numbers: the bot is [`SELF_ID`], the transcript's users
//! 20001, 20002, ... and its groups 30001, ... in the order the transcript names them.
//! Names are translated both ways: a word of a user's text that is a cast name becomes
//! that number, numbers in what the bots do and keep in their state become names again,
//! and in the copied scripts, `const` lines that name a cast member in a string literal
//! (`const AGENT = "agent";`) name its number, as they would in a bot deployed on QQ.

use super::parse::{Action, Step, Transcript, BOT};
use super::run::{map_strings, next_time, replace_numbers, Driver, PlatformCall, SETTLE_TIMEOUT};
use crate::config::{Config, ConnectionConfig};
use anyhow::{anyhow, bail, Context, Result};
use parley_engine::handler::EventHandler;
use parley_engine::model::{ConnectionId, ConversationId};
use parley_engine::monitor::EngineMonitor;
use parley_engine::store::Store;
use parley_onebot::testing::{self, Implementation, Qq, SELF_ID, TOKEN};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The environment variable the connection reads its access token from.
const TOKEN_ENV: &str = "PARLEY_TRANSCRIPT_ONEBOT_TOKEN";
const FIRST_USER: u64 = 20001;
const FIRST_GROUP: u64 = 30001;

pub struct OneBotDriver {
    /// Cast name -> QQ number, and back.
    numbers: HashMap<String, u64>,
    names: HashMap<String, String>,
    path: String,
    qq: Option<Implementation>,
    monitor: Option<EngineMonitor>,
    /// Events pushed, and the engine's intake count before the first.
    pushed: u64,
    base: u64,
    /// Whether a bot handles command results: only then does each finished command come
    /// back to the engine as an event.
    results_come_back: bool,
    clock_ms: i64,
    /// Message ids, shared by the users' messages and the bot's (the actions' answers).
    next_id: Arc<AtomicI64>,
    /// The conversation of every message id, for `delete_msg`.
    messages: Arc<Mutex<HashMap<String, ConversationId>>>,
    read: usize,
}

impl Driver for OneBotDriver {
    fn cannot(_: &Transcript, step: &Step) -> Option<String> {
        if step.refused.is_some() {
            return Some("the step expects the hub to refuse it".into());
        }
        match &step.action {
            Action::Request { .. } => Some("a hub request".into()),
            Action::AddFriend { .. } => Some("a friend request (not played on OneBot yet)".into()),
            Action::RemoveFriend { .. } => {
                Some("a friendship ending: OneBot v11 has no event for it".into())
            }
            _ => None,
        }
    }

    async fn start(t: &Transcript) -> Result<Self> {
        let mut numbers = HashMap::from([(BOT.to_string(), SELF_ID)]);
        for (i, user) in t.users.iter().enumerate() {
            numbers.insert(user.clone(), FIRST_USER + i as u64);
        }
        for (i, group) in t.groups.iter().enumerate() {
            numbers.insert(group.id.clone(), FIRST_GROUP + i as u64);
        }
        let names = numbers
            .iter()
            .map(|(name, n)| (n.to_string(), name.clone()))
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Ok(OneBotDriver {
            numbers,
            names,
            path: String::new(),
            qq: None,
            monitor: None,
            pushed: 0,
            base: 0,
            results_come_back: true,
            clock_ms: now,
            next_id: Arc::new(AtomicI64::new(1)),
            messages: Arc::default(),
            read: 0,
        })
    }

    fn configure(&self, config: &mut Config, id: &str, t: &Transcript) -> Result<()> {
        let c = serde_json::from_value(json!({
            "id": id, "self_id": SELF_ID, "access_token_env": TOKEN_ENV,
        }))?;
        config.connections = vec![ConnectionConfig::OneBot(c)];
        let cast: Vec<&str> = std::iter::once(BOT)
            .chain(t.users.iter().map(String::as_str))
            .collect();
        for entry in std::fs::read_dir(&config.bots.dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "rhai") {
                self.renumber_consts(&path, &cast)?;
            }
        }
        Ok(())
    }

    fn env(var: &str) -> Option<String> {
        (var == TOKEN_ENV).then(|| TOKEN.to_string())
    }

    async fn attach(&mut self, running: &crate::app::Running, _: &Transcript) -> Result<()> {
        let addr = running
            .addrs
            .first()
            .ok_or_else(|| anyhow!("Parley listens nowhere"))?;
        let connection = running_connection(running)?;
        self.results_come_back = running.bots.handles("on_command_result");
        self.path = format!("ws://{addr}/onebot/{connection}");
        let qq = Qq::connect(&self.path, "Universal", SELF_ID, Some(TOKEN))
            .await
            .map_err(|e| anyhow!("cannot connect to {} as QQ: {e}", self.path))?;
        let (next_id, messages) = (self.next_id.clone(), self.messages.clone());
        self.qq = Some(qq.serve(move |action| {
            let params = &action["params"];
            match action["action"].as_str().unwrap_or_default() {
                send @ ("send_private_msg" | "send_group_msg" | "send_msg") => {
                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                    let id_of = |v: &Value| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let to = if send == "send_group_msg" || params["message_type"] == "group" {
                        ConversationId::group(id_of(&params["group_id"]))
                    } else {
                        ConversationId::direct(id_of(&params["user_id"]))
                    };
                    if let Ok(mut m) = messages.lock() {
                        m.insert(id.to_string(), to);
                    }
                    testing::ok(json!({"message_id": id}))
                }
                _ => testing::ok(Value::Null),
            }
        }));
        let monitor = running.monitor();
        self.base = monitor.events_in();
        self.monitor = Some(monitor);
        let time = self.clock_ms / 1000;
        self.push(
            json!({"time": time, "self_id": SELF_ID, "post_type": "meta_event",
                         "meta_event_type": "lifecycle", "sub_type": "connect"}),
        )
        .await
    }

    async fn act(&mut self, action: &Action) -> Result<Option<(String, String)>> {
        let time = self.clock_ms.div_euclid(1000);
        match action {
            Action::Say { user, to, text } => {
                let from = self.number(user)?;
                let text = self.numbered_text(text);
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                let mut event = json!({"time": time, "self_id": SELF_ID, "post_type": "message",
                    "message_id": id, "user_id": from, "font": 0,
                    "message": [{"type": "text", "data": {"text": text}}], "raw_message": text,
                    "sender": {"user_id": from, "nickname": user}});
                let conversation = match to.strip_prefix("group:") {
                    Some(group) => {
                        let group = self.number(group)?;
                        event["message_type"] = json!("group");
                        event["sub_type"] = json!("normal");
                        event["group_id"] = json!(group);
                        event["sender"]["role"] = json!("member");
                        ConversationId::group(group.to_string())
                    }
                    // QQ shows the bot only its own conversations.
                    None if to != BOT => return Ok(None),
                    None => {
                        event["message_type"] = json!("private");
                        event["sub_type"] = json!("friend");
                        ConversationId::direct(from.to_string())
                    }
                };
                if let Ok(mut m) = self.messages.lock() {
                    m.insert(id.to_string(), conversation);
                }
                self.push(event).await?;
            }
            Action::Clock {
                weekday,
                minute_of_day,
            } => self.clock_ms = next_time(self.clock_ms, *weekday, *minute_of_day),
            Action::Wait { ms } => self.clock_ms += *ms as i64,
            _ => bail!("OneBot cannot play `{action}`"),
        }
        Ok(None)
    }

    /// Waits until the engine has taken in every event pushed and the result of every
    /// command the bots sent (results come back to the bots as events), handled them all,
    /// and has no command left to send.
    ///
    /// Events pushed over the WebSocket are not acknowledged, so this counts: the engine
    /// takes in each event pushed and each result once, and a result exists only for a
    /// finished command. Once the events taken in are as many as those pushed plus the
    /// finished commands (counted after them), every one of both is in.
    async fn settle(&mut self, store: &Store, connection: &ConnectionId) -> Result<()> {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let monitor = self.monitor.as_ref().expect("attached");
        loop {
            // In this order: what was taken in, then whether all of it is handled, then
            // the commands (a handled event's commands are stored with it).
            let taken = monitor.events_in() - self.base;
            let handled = store.unhandled(connection).await?.is_empty();
            let outbox = store.outbox(connection).await?;
            let results = match self.results_come_back {
                true => outbox
                    .iter()
                    .filter(|e| e.origin.is_some() && e.status != "pending")
                    .count() as u64,
                false => 0,
            };
            let pending = outbox.iter().any(|e| e.status == "pending");
            if taken >= self.pushed + results && handled && !pending {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the bots did not finish within {} s (Parley took in {taken} events; {} were pushed and {results} commands finished)",
                    SETTLE_TIMEOUT.as_secs(),
                    self.pushed
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn calls(&mut self) -> Option<Vec<PlatformCall>> {
        let qq = self.qq.as_ref()?;
        let actions = qq.recorder.since(self.read);
        self.read += actions.len();
        let messages = self.messages.lock().map(|m| m.clone()).unwrap_or_default();
        Some(
            actions
                .into_iter()
                .map(|a| PlatformCall {
                    command: testing::command_of(
                        a["action"].as_str().unwrap_or_default(),
                        &a["params"],
                        |id| messages.get(id).cloned(),
                    ),
                    raw: format!("{} {}", a["action"], a["params"]),
                })
                .collect(),
        )
    }

    fn to_platform(&self, conversation: &str) -> String {
        match conversation.split_once(':') {
            Some((kind, id)) => match self.numbers.get(id) {
                Some(n) => format!("{kind}:{n}"),
                None => conversation.to_string(),
            },
            None => conversation.to_string(),
        }
    }

    fn to_names(&self, value: Value) -> Value {
        map_strings(value, &|s| replace_numbers(s, &self.names))
    }

    async fn stop(self) {
        if let Some(qq) = self.qq {
            qq.close().await;
        }
    }
}

/// The id of the running connection (the only one).
fn running_connection(running: &crate::app::Running) -> Result<String> {
    running
        .monitor()
        .connections()
        .first()
        .map(|c| c.id.to_string())
        .ok_or_else(|| anyhow!("Parley has no connection"))
}

impl OneBotDriver {
    fn number(&self, name: &str) -> Result<u64> {
        self.numbers
            .get(name)
            .copied()
            .ok_or_else(|| anyhow!("`{name}` is not in this transcript's cast"))
    }

    /// `text` with every word that is a cast name replaced by its number.
    fn numbered_text(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut word = String::new();
        let flush = |word: &mut String, out: &mut String| {
            match self.numbers.get(word.as_str()) {
                Some(n) => out.push_str(&n.to_string()),
                None => out.push_str(word),
            }
            word.clear();
        };
        for c in text.chars() {
            if c.is_alphanumeric() || c == '_' {
                word.push(c);
            } else {
                flush(&mut word, &mut out);
                out.push(c);
            }
        }
        flush(&mut word, &mut out);
        out
    }

    /// Rewrites the `const` lines of a copied script that name cast members in string
    /// literals to name their numbers.
    fn renumber_consts(&self, path: &Path, cast: &[&str]) -> Result<()> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut changed = false;
        let lines: Vec<String> = text
            .lines()
            .map(|line| {
                if !line.trim_start().starts_with("const ") {
                    return line.to_string();
                }
                let mut line = line.to_string();
                for name in cast {
                    let quoted = format!("\"{name}\"");
                    if line.contains(&quoted) {
                        line = line.replace(&quoted, &format!("\"{}\"", self.numbers[*name]));
                        changed = true;
                    }
                }
                line
            })
            .collect();
        if changed {
            std::fs::write(path, lines.join("\n") + "\n")
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }

    async fn push(&mut self, event: Value) -> Result<()> {
        let qq = self.qq.as_ref().expect("attached");
        if !qq.push(event).await {
            bail!("the OneBot connection closed");
        }
        self.pushed += 1;
        Ok(())
    }
}
