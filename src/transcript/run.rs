//! Running one transcript: a fresh Parley per transcript (temporary data folder, a copy of
//! the scripts folder with only the transcript's bots, the transcript's hub users and
//! groups, port 0), each user a WebSocket client of the hub.
//!
//! After each action the runner waits until the bots are done with everything it caused:
//! a WebSocket session of the bot's user tells what reached the bot (message and event
//! sequences); the engine's store tells when its cursor has passed them, no event is left
//! unhandled and the outbox is empty. The bots' commands are read from the outbox, in the
//! order they were queued, and compared with the step's expectations.

use super::parse::{self, Action, Expected, StateCheck, Step, Transcript, BOT};
use crate::config::{Config, ConnectionConfig};
use crate::hub_client::HubClient;
use anyhow::{anyhow, bail, Context, Result};
use parley_engine::model::{
    Command, CommandResult, ConnectionId, Content, ConversationId, ConversationKind,
};
use parley_engine::store::{OutboxEntry, Store};
use parley_hub::{HubGroupConfig, HubUserConfig};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;

/// How long the bots may take over one step before the transcript fails.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

pub enum Outcome {
    Passed {
        steps: usize,
    },
    /// What went wrong, readable, several lines.
    Failed {
        report: String,
    },
}

pub async fn run_file(config_path: &Path, file: &Path) -> Result<Outcome> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let transcript = match parse::parse(&text) {
        Ok(t) => t,
        Err(e) => bail!("{}:{e}", file.display()),
    };
    let (config, _) = Config::load(config_path)?;
    let temp = TempDir::new()?;
    let config = prepare(config, &transcript, temp.path())?;
    let (_, errors) = crate::app::load_bots(&config);
    if !errors.is_empty() {
        let mut report = String::from("the bots do not compile:\n");
        for e in errors {
            let _ = writeln!(report, "  {e}");
        }
        return Ok(Outcome::Failed { report });
    }
    let running = crate::app::start(&config).await?;
    let outcome = async {
        let store = Store::open(&config.engine_db()).await?;
        let outcome = match Runner::new(&config, &running, store.clone(), &transcript).await {
            Ok(mut runner) => runner.run(&transcript).await,
            Err(e) => Err(e),
        };
        store.close().await;
        outcome
    }
    .await;
    running.shutdown().await;
    drop(temp);
    outcome
}

/// The config for one transcript: the user's bot options and engine settings, with a
/// temporary data folder, port 0, the scripts copied, one hub connection and the cast.
fn prepare(mut config: Config, t: &Transcript, dir: &Path) -> Result<Config> {
    let scripts = dir.join("scripts");
    copy_scripts(&config.bots.dir, &scripts, t.bots.as_deref())?;
    config.bots.dir = scripts;
    config.bots.hot_reload = false;
    config.server.data_dir = dir.join("data");
    config.server.bind = "127.0.0.1:0".into();
    let connection = config
        .connections
        .first()
        .map(|c| c.id().to_string())
        .unwrap_or_else(|| "hub".into());
    config.connections = vec![ConnectionConfig::Hub {
        id: connection,
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
    Ok(config)
}

fn token(user: &str) -> String {
    format!("transcript-token-{user}")
}

/// Copies `from` to `to`: the `.rhai` bots directly in it (only `bots` when given), and
/// every subfolder but `transcripts/` (shared code and data).
fn copy_scripts(from: &Path, to: &Path, bots: Option<&[String]>) -> Result<()> {
    std::fs::create_dir_all(to)?;
    if let Some(bots) = bots {
        for bot in bots {
            if !from.join(format!("{bot}.rhai")).is_file() {
                bail!(
                    "`bots:` names {bot}, but there is no {bot}.rhai in {}",
                    from.display()
                );
            }
        }
    }
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default();
        if path.is_dir() {
            if name != super::DEFAULT_FOLDER {
                copy_dir(&path, &to.join(name))?;
            }
        } else if path.extension().is_some_and(|e| e == "rhai") {
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            if bots.is_none_or(|bots| bots.iter().any(|b| *b == stem)) {
                std::fs::copy(&path, to.join(name))?;
            }
        }
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        let target = to.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            std::fs::copy(&path, &target)?;
        }
    }
    Ok(())
}

/// A folder under the system's temporary folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "parley-test-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(TempDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Runner<'a> {
    running: &'a crate::app::Running,
    store: Store,
    connection: ConnectionId,
    clients: HashMap<String, HubClient>,
    /// The highest message and event sequences the bot's user has seen.
    seen: (u64, u64),
    /// The last outbox row already compared.
    last_command: i64,
}

impl<'a> Runner<'a> {
    async fn new(
        config: &Config,
        running: &'a crate::app::Running,
        store: Store,
        t: &Transcript,
    ) -> Result<Runner<'a>> {
        let addr = running
            .addrs
            .first()
            .ok_or_else(|| anyhow!("Parley listens nowhere"))?
            .to_string();
        let mut clients = HashMap::new();
        for user in std::iter::once(BOT).chain(t.users.iter().map(String::as_str)) {
            let client = HubClient::login(&addr, user, &token(user))
                .await
                .with_context(|| format!("cannot log in as {user}"))?;
            clients.insert(user.to_string(), client);
        }
        Ok(Runner {
            running,
            store,
            connection: ConnectionId::from(config.connections[0].id()),
            clients,
            seen: (0, 0),
            last_command: 0,
        })
    }

    async fn run(&mut self, t: &Transcript) -> Result<Outcome> {
        for step in &t.steps {
            if let Some(report) = self.step(step).await? {
                let mut out = format!("line {}: {}\n", step.line, step.action);
                out.push_str(&report);
                return Ok(Outcome::Failed { report: out });
            }
        }
        Ok(Outcome::Passed {
            steps: t.steps.len(),
        })
    }

    /// Runs one step; `Some(report)` when it did not go as the transcript says.
    async fn step(&mut self, step: &Step) -> Result<Option<String>> {
        let mut report = String::new();
        let refused = self.act(&step.action).await?;
        match (&refused, &step.refused) {
            (None, None) => {}
            (Some((code, _)), Some(want)) if code == want => {}
            (Some((code, message)), want) => {
                let _ = writeln!(
                    report,
                    "the hub refused the action: {code}: {message}{}",
                    want.as_ref()
                        .map(|w| format!(" (expected `refused: {w}`)"))
                        .unwrap_or_default()
                );
            }
            (None, Some(want)) => {
                let _ = writeln!(
                    report,
                    "expected the hub to refuse with {want}; it accepted"
                );
            }
        }
        self.settle().await?;
        let actual = self.new_commands().await?;
        if !same(&step.outputs, &actual) {
            let _ = writeln!(report, "expected (-) and actual (+) output:");
            report.push_str(&diff(&step.outputs, &actual));
        }
        for check in &step.states {
            if let Some(problem) = self.check_state(check).await? {
                report.push_str(&problem);
            }
        }
        Ok((!report.is_empty()).then_some(report))
    }

    /// Does what the action says; `Some((code, message))` when the hub refused it.
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
                let clock = self.running.hub.clock();
                let now = clock.now_ms();
                let target = next_time(now, *weekday, *minute_of_day);
                clock.advance(Duration::from_millis((target - now).max(0) as u64));
                return Ok(None);
            }
            Action::Wait { ms } => {
                self.running.hub.clock().advance(Duration::from_millis(*ms));
                return Ok(None);
            }
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

    /// Waits until the engine has taken in and handled everything the bot's user has seen,
    /// and sent every command; again while that made the bot see more.
    async fn settle(&mut self) -> Result<()> {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let mut target = self.bot_position().await?;
        loop {
            loop {
                let cursor = self.store.cursor(&self.connection).await?;
                let at = cursor
                    .as_deref()
                    .and_then(|c| c.split_once(':'))
                    .and_then(|(m, e)| Some((m.parse::<u64>().ok()?, e.parse::<u64>().ok()?)))
                    .unwrap_or((0, 0));
                let caught_up = at.0 >= target.0 && at.1 >= target.1;
                if caught_up
                    && self.store.unhandled(&self.connection).await?.is_empty()
                    && self.store.pending_count(&self.connection).await? == 0
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

    /// The commands queued since the last call, as transcript lines.
    async fn new_commands(&mut self) -> Result<Vec<Actual>> {
        let entries = self.store.outbox(&self.connection).await?;
        let mut out = Vec::new();
        let last = self.last_command;
        for e in entries.into_iter().filter(|e| e.id > last) {
            self.last_command = self.last_command.max(e.id);
            out.push(Actual::from_entry(&e)?);
        }
        Ok(out)
    }

    async fn check_state(&self, check: &StateCheck) -> Result<Option<String>> {
        let conversation: ConversationId = check
            .conversation
            .parse()
            .map_err(|e: String| anyhow!("line {}: {e}", check.line))?;
        let states = self
            .store
            .load_state(&self.connection, &conversation)
            .await?;
        let actual = states.get(&check.bot).cloned().unwrap_or(Value::Null);
        Ok((!subset(&check.expected, &actual)).then(|| {
            format!(
                "line {}: state {} {}:\n  expected {}\n  actual   {}\n",
                check.line, check.bot, check.conversation, check.expected, actual
            )
        }))
    }
}

/// The next time at or after `now` (ms) that is `minute_of_day` (UTC) on `weekday`
/// (0 = Monday; any day when `None`).
fn next_time(now: i64, weekday: Option<u32>, minute_of_day: u32) -> i64 {
    const DAY: i64 = 86_400_000;
    let mut day = now.div_euclid(DAY);
    loop {
        let at = day * DAY + i64::from(minute_of_day) * 60_000;
        // 1970-01-01 was a Thursday (3 when Monday is 0).
        let wd = (day + 3).rem_euclid(7) as u32;
        if at >= now && weekday.is_none_or(|w| w == wd) {
            return at;
        }
        day += 1;
    }
}

/// One command the bots queued, as the transcript sees it.
#[derive(Debug)]
enum Actual {
    Message {
        to: String,
        text: String,
        /// The hub's error, when the send failed.
        failed: Option<String>,
    },
    Command {
        name: String,
        fields: Value,
    },
}

impl Actual {
    fn from_entry(e: &OutboxEntry) -> Result<Actual> {
        let failed = match &e.result {
            Some(CommandResult::Failed(err)) => Some(
                serde_json::to_value(err.kind)?
                    .as_str()
                    .unwrap_or("failed")
                    .to_string(),
            ),
            _ => None,
        };
        Ok(match &e.command.command {
            Command::Send { to, content, .. } => Actual::Message {
                to: match to.kind {
                    ConversationKind::Direct => to.id.to_string(),
                    _ => to.to_string(),
                },
                text: render_content(content)?,
                failed,
            },
            other => {
                let mut fields = serde_json::to_value(other)?;
                if let Some(map) = fields.as_object_mut() {
                    map.remove("type");
                }
                Actual::Command {
                    name: other.name().to_string(),
                    fields,
                }
            }
        })
    }

    fn line(&self) -> String {
        match self {
            Actual::Message { to, text, failed } => {
                let mut line = format!("{BOT} -> {to}: {}", parse::escape(text));
                if let Some(f) = failed {
                    let _ = write!(line, "    (failed: {f})");
                }
                line
            }
            Actual::Command { name, fields } => format!("{BOT} does {name} {fields}"),
        }
    }
}

/// Text as its text; other content as `[kind] {fields}`.
fn render_content(content: &Content) -> Result<String> {
    if let Content::Text(t) = content {
        return Ok(t.text.clone());
    }
    let mut v = serde_json::to_value(content)?;
    let kind = v["kind"].as_str().unwrap_or("content").to_string();
    if let Some(map) = v.as_object_mut() {
        map.remove("kind");
    }
    Ok(format!("[{kind}] {v}"))
}

fn matches(expected: &Expected, actual: &Actual) -> bool {
    match (expected, actual) {
        (
            Expected::Message { to, text },
            Actual::Message {
                to: a_to,
                text: a_text,
                failed: None,
            },
        ) => to == a_to && text == a_text,
        (
            Expected::Command { name, fields },
            Actual::Command {
                name: a_name,
                fields: a_fields,
            },
        ) => name == a_name && (fields.is_null() || subset(fields, a_fields)),
        _ => false,
    }
}

/// Whether `actual` has everything `expected` names: objects key by key (a `null` expects
/// the key to be absent or null), everything else equal.
fn subset(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().all(|(k, v)| match a.get(k) {
            Some(av) => subset(v, av),
            None => v.is_null(),
        }),
        (Value::Object(e), Value::Null) => e.values().all(Value::is_null),
        (e, a) => e == a,
    }
}

fn same(expected: &[Expected], actual: &[Actual]) -> bool {
    expected.len() == actual.len() && expected.iter().zip(actual).all(|(e, a)| matches(e, a))
}

/// A line diff (longest common subsequence): `  ` both, `- ` expected only, `+ ` actual
/// only. Matching lines are shown as the transcript wrote them.
fn diff(expected: &[Expected], actual: &[Actual]) -> String {
    let (n, m) = (expected.len(), actual.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if matches(&expected[i], &actual[j]) {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < n || j < m {
        if i < n && j < m && matches(&expected[i], &actual[j]) {
            let _ = writeln!(out, "  {}", expected[i]);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            let _ = writeln!(out, "+ {}", actual[j].line());
            j += 1;
        } else {
            let _ = writeln!(out, "- {}", expected[i]);
            i += 1;
        }
    }
    if n == 0 && m == 0 {
        out.push_str("  (nothing)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(to: &str, text: &str) -> Actual {
        Actual::Message {
            to: to.into(),
            text: text.into(),
            failed: None,
        }
    }

    #[test]
    fn diffs_show_missing_and_unexpected_lines() {
        let expected = vec![
            Expected::Message {
                to: "alice".into(),
                text: "one".into(),
            },
            Expected::Message {
                to: "alice".into(),
                text: "two".into(),
            },
            Expected::Command {
                name: "mute".into(),
                fields: json!({"user": "bob"}),
            },
        ];
        let actual = vec![
            msg("alice", "one"),
            msg("alice", "three"),
            Actual::Command {
                name: "mute".into(),
                fields: json!({"group": "lobby", "user": "bob", "seconds": 600}),
            },
        ];
        assert!(!same(&expected, &actual));
        assert_eq!(
            diff(&expected, &actual),
            "  bot -> alice: one\n+ bot -> alice: three\n- bot -> alice: two\n  bot does mute {\"user\":\"bob\"}\n"
        );
        assert!(same(&expected[..1], &actual[..1]));
    }

    #[test]
    fn state_is_compared_by_the_keys_the_transcript_names() {
        let actual = json!({"step": "order", "recent": {"bob": [1, 2]}, "strikes": {"bob": 1}});
        assert!(subset(&json!({"step": "order"}), &actual));
        assert!(subset(
            &json!({"strikes": {"bob": 1}, "last": null}),
            &actual
        ));
        assert!(!subset(&json!({"strikes": {"bob": 2}}), &actual));
        assert!(!subset(&json!({"recent": {"bob": [1]}}), &actual));
        assert!(subset(&json!({}), &Value::Null));
        assert!(!subset(&json!({"count": 1}), &Value::Null));
    }

    #[test]
    fn clock_times_are_the_next_matching_minute() {
        const H: i64 = 3_600_000;
        // 1970-01-05 was a Monday.
        let monday = 4 * 24 * H;
        assert_eq!(next_time(monday, Some(0), 600), monday + 10 * H);
        assert_eq!(
            next_time(monday + 11 * H, Some(0), 600),
            monday + 7 * 24 * H + 10 * H
        );
        assert_eq!(next_time(monday + 11 * H, None, 600), monday + 34 * H);
        assert_eq!(next_time(monday + 11 * H, Some(5), 0), monday + 5 * 24 * H);
    }
}
