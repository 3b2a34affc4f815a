//! The embedded hub's side of a transcript: the transcript's users and groups are hub users
//! and groups, each user (and the bot's own user) a WebSocket client of the hub; the
//! hub's clock is the transcript's clock. The hub runs in-process, so the outbox itself is
//! the record of what the bots did.

use super::parse::{Action, Step, Transcript, BOT};
use super::run::{next_time, Driver, PlatformCall, SETTLE_TIMEOUT};
use crate::config::{Config, ConnectionConfig};
use crate::hub_client::HubClient;
use anyhow::{anyhow, bail, Context, Result};
use parley_engine::model::{ConnectionId, ConversationId};
use parley_engine::store::Store;
use parley_hub::{Hub, HubGroupConfig, HubUserConfig};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

pub struct HubDriver {
    hub: Option<Hub>,
    clients: HashMap<String, HubClient>,
    /// The highest message and event sequences the bot's user has seen.
    seen: (u64, u64),
}

fn token(user: &str) -> String {
    format!("transcript-token-{user}")
}

impl Driver for HubDriver {
    fn cannot(_: &Transcript, _: &Step) -> Option<String> {
        None
    }

    async fn start(_: &Transcript) -> Result<Self> {
        Ok(HubDriver {
            hub: None,
            clients: HashMap::new(),
            seen: (0, 0),
        })
    }

    fn configure(&self, config: &mut Config, id: &str, t: &Transcript) -> Result<()> {
        config.connections = vec![ConnectionConfig::Hub {
            id: id.to_string(),
            user: BOT.into(),
            rate_limits: Vec::new(),
        }];
        config.hub.users = std::iter::once(BOT.to_string())
            .chain(t.users.iter().cloned())
            .map(|id| HubUserConfig {
                token: Some(token(&id)),
                name: None,
                id,
            })
            .collect();
        config.hub.groups = t
            .groups
            .iter()
            .map(|g| HubGroupConfig {
                id: g.id.clone(),
                name: None,
                owner: g.members[0].clone(),
                members: g.members[1..].to_vec(),
            })
            .collect();
        Ok(())
    }

    fn env(var: &str) -> Option<String> {
        std::env::var(var).ok()
    }

    async fn attach(&mut self, running: &crate::app::Running, t: &Transcript) -> Result<()> {
        let addr = running
            .addrs
            .first()
            .ok_or_else(|| anyhow!("Parley listens nowhere"))?
            .to_string();
        for user in std::iter::once(BOT).chain(t.users.iter().map(String::as_str)) {
            let client = HubClient::login(&addr, user, &token(user))
                .await
                .with_context(|| format!("cannot log in as {user}"))?;
            self.clients.insert(user.to_string(), client);
        }
        self.hub = Some(running.hub.clone());
        Ok(())
    }

    async fn act(&mut self, action: &Action) -> Result<Option<(String, String)>> {
        let (user, request) = match action {
            Action::Say { user, to, text } => {
                let to: ConversationId = to.parse().map_err(|e: String| anyhow!(e))?;
                (
                    user,
                    json!({"type": "send", "to": to, "content": {"kind": "text", "text": text}}),
                )
            }
            Action::AddFriend {
                user,
                friend,
                greeting,
            } => {
                let mut r = json!({"type": "add_friend", "user": friend});
                if let Some(g) = greeting {
                    r["greeting"] = json!(g);
                }
                (user, r)
            }
            Action::RemoveFriend { user, friend } => {
                (user, json!({"type": "remove_friend", "user": friend}))
            }
            Action::Request { user, request } => (user, request.clone()),
            Action::Clock {
                weekday,
                minute_of_day,
            } => {
                let clock = self.hub().clock();
                let now = clock.now_ms();
                let target = next_time(now, *weekday, *minute_of_day);
                clock.advance(Duration::from_millis((target - now).max(0) as u64));
                return Ok(None);
            }
            Action::Wait { ms } => {
                self.hub().clock().advance(Duration::from_millis(*ms));
                return Ok(None);
            }
            Action::Tick { .. } => bail!("the hub does not play `{action}`; the runner does"),
        };
        let client = self
            .clients
            .get_mut(user.as_str())
            .ok_or_else(|| anyhow!("no hub user {user} in this transcript"))?;
        let (answer, _) = client.call(request).await?;
        if answer["type"] == "error" {
            return Ok(Some((
                answer["code"].as_str().unwrap_or("error").to_string(),
                answer["message"].as_str().unwrap_or("").to_string(),
            )));
        }
        Ok(None)
    }

    /// Waits until the engine has taken in and handled everything the bot's user has seen,
    /// and sent every command; again while that made the bot see more.
    async fn settle(&mut self, store: &Store, connection: &ConnectionId) -> Result<()> {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let mut target = self.bot_position().await?;
        loop {
            loop {
                let cursor = store.cursor(connection).await?;
                let at = cursor
                    .as_deref()
                    .and_then(|c| c.split_once(':'))
                    .and_then(|(m, e)| Some((m.parse::<u64>().ok()?, e.parse::<u64>().ok()?)))
                    .unwrap_or((0, 0));
                let caught_up = at.0 >= target.0 && at.1 >= target.1;
                if caught_up
                    && store.unhandled(connection).await?.is_empty()
                    && store.pending_count(connection).await? == 0
                {
                    break;
                }
                if Instant::now() > deadline {
                    bail!(
                        "the bots did not finish within {} s (the engine is at {at:?}, the bot's user at {target:?})",
                        SETTLE_TIMEOUT.as_secs()
                    );
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let now = self.bot_position().await?;
            if now == target {
                break;
            }
            target = now;
        }
        // Read what reached the users, so that no session's queue fills up.
        for (user, client) in self.clients.iter_mut() {
            if user != BOT {
                client.call(json!({"type": "ping"})).await?;
            }
        }
        Ok(())
    }

    fn calls(&mut self) -> Option<Vec<PlatformCall>> {
        None
    }

    async fn stop(self) {}
}

impl HubDriver {
    fn hub(&self) -> &Hub {
        self.hub.as_ref().expect("attached to the hub")
    }

    /// What the bot's user has seen so far: pings its session and reads what came first.
    async fn bot_position(&mut self) -> Result<(u64, u64)> {
        let bot = self.clients.get_mut(BOT).expect("the bot's session");
        let (_, frames) = bot.call(json!({"type": "ping"})).await?;
        for f in frames {
            // The bot's own messages are not echoed to the engine (the hub leaves out the
            // adapter's session), so they are not waited for.
            if f["type"] == "message" && f["message"]["sender"] != BOT {
                if let Some(seq) = f["message"]["id"]["seq"].as_u64() {
                    self.seen.0 = self.seen.0.max(seq);
                }
            } else if f["type"] == "event" {
                if let Some(seq) = f["seq"].as_u64() {
                    self.seen.1 = self.seen.1.max(seq);
                }
            }
        }
        Ok(self.seen)
    }
}
