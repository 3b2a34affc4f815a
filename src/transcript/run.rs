//! Running one transcript on one platform: a fresh Parley per transcript (temporary data
//! folder, a copy of the scripts folder with only the transcript's bots, port 0) with one
//! connection, and a [`Driver`] playing the platform's side of it.
//!
//! After each action the runner waits until the bots are done with everything it caused
//! (the driver knows when what it sent has reached the engine; the engine's store tells
//! when no event is left unhandled and the outbox is empty). The bots' commands are read
//! from the outbox, in the order they were queued; on a platform other than the hub each
//! is shown as the platform call that carried it out, read back into a transcript line,
//! so what is compared is what the platform was asked to do.

use super::parse::{self, Action, Expected, StateCheck, Step, Transcript, BOT};
use super::Platform;
use crate::config::Config;
use anyhow::{anyhow, bail, Context, Result};
use parley_engine::adapter::Intake;
use parley_engine::model::{
    Command, CommandResult, ConnectionId, Content, ConversationId, ConversationKind, Envelope,
    Event, EventId, ScheduleId,
};
use parley_engine::outbox::order_key;
use parley_engine::store::{OutboxEntry, Store};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;

/// How long the bots may take over one step before the transcript fails.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

pub enum Outcome {
    Passed {
        steps: usize,
    },
    /// What went wrong, readable, several lines.
    Failed {
        report: String,
    },
    /// The platform cannot play the step at `line`; the `ran` steps before it passed.
    Skipped {
        line: usize,
        reason: String,
        ran: usize,
    },
}

/// One platform's side of a transcript: it turns the transcript's actions into what the
/// platform sends Parley, and what Parley asked the platform to do back into commands.
pub trait Driver: Sized {
    /// Why this platform cannot play `step`, when it cannot.
    fn cannot(t: &Transcript, step: &Step) -> Option<String>;
    /// Starts whatever plays the platform before Parley starts (a fake server).
    async fn start(t: &Transcript) -> Result<Self>;
    /// Gives Parley its one connection, `id`, to this platform, and anything else the
    /// platform needs of the config and of the copied scripts.
    fn configure(&self, config: &mut Config, id: &str, t: &Transcript) -> Result<()>;
    /// The connection's secrets, in place of the process environment.
    fn env(var: &str) -> Option<String>;
    /// Parley has started: connect to it.
    async fn attach(&mut self, running: &crate::app::Running, t: &Transcript) -> Result<()>;
    /// Does what the action says; `Some((code, message))` when the platform refused it.
    async fn act(&mut self, action: &Action) -> Result<Option<(String, String)>>;
    /// Returns once everything the actions caused has been handled and sent.
    async fn settle(&mut self, store: &Store, connection: &ConnectionId) -> Result<()>;
    /// The calls the platform received since the last time, as the commands they carry
    /// out; `None` where the outbox itself is the record (the hub, which is in-process).
    fn calls(&mut self) -> Option<Vec<PlatformCall>>;
    /// A transcript conversation (`direct:alice`) as the platform names it.
    fn to_platform(&self, conversation: &str) -> String {
        conversation.to_string()
    }
    /// The platform's ids in `value` (text, fields, state) as the transcript names them.
    fn to_names(&self, value: Value) -> Value {
        value
    }
    /// Stops what `start` started (after Parley has stopped).
    async fn stop(self);
}

/// A call the platform received.
pub struct PlatformCall {
    /// The command it carries out; `None` when the call means nothing to the model.
    pub command: Option<Command>,
    /// The call as it came, for the report.
    pub raw: String,
}

pub async fn run_file(config_path: &Path, file: &Path, platform: Platform) -> Result<Outcome> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let transcript = match parse::parse(&text) {
        Ok(t) => t,
        Err(e) => bail!("{}:{e}", file.display()),
    };
    match platform {
        Platform::Hub => run_on::<super::hub::HubDriver>(config_path, &transcript).await,
        Platform::Tencent => {
            run_on::<super::tencent::TencentDriver>(config_path, &transcript).await
        }
        Platform::OneBot => run_on::<super::onebot::OneBotDriver>(config_path, &transcript).await,
    }
}

async fn run_on<D: Driver>(config_path: &Path, t: &Transcript) -> Result<Outcome> {
    // The steps before the first one the platform cannot play.
    let cut = t
        .steps
        .iter()
        .enumerate()
        .find_map(|(i, s)| D::cannot(t, s).map(|why| (i, s.line, why)));
    let steps = match &cut {
        Some((i, ..)) => &t.steps[..*i],
        None => &t.steps[..],
    };
    let skipped = |ran: usize| {
        cut.clone()
            .map(|(_, line, reason)| Outcome::Skipped { line, reason, ran })
    };
    if steps.is_empty() {
        if let Some(outcome) = skipped(0) {
            return Ok(outcome);
        }
    }
    let (config, _) = Config::load(config_path)?;
    let connection = config
        .connections
        .first()
        .map(|c| c.id().to_string())
        .unwrap_or_else(|| "hub".into());
    let temp = TempDir::new()?;
    let mut config = prepare(config, t, temp.path())?;
    let mut driver = D::start(t).await?;
    driver.configure(&mut config, &connection, t)?;
    let (_, errors) = crate::app::load_bots(&config);
    if !errors.is_empty() {
        driver.stop().await;
        let mut report = String::from("the bots do not compile:\n");
        for e in errors {
            let _ = writeln!(report, "  {e}");
        }
        return Ok(Outcome::Failed { report });
    }
    let running = match crate::app::start_with_env(&config, &D::env).await {
        Ok(running) => running,
        Err(e) => {
            driver.stop().await;
            return Err(e);
        }
    };
    let outcome = async {
        let store = Store::open(&config.engine_db()).await?;
        let outcome = match driver.attach(&running, t).await {
            Ok(()) => {
                let connection_id = ConnectionId::from(connection.as_str());
                let intake = running
                    .intake(&connection_id)
                    .ok_or_else(|| anyhow!("no connection `{connection}`"))?;
                let mut runner = Runner {
                    intake,
                    driver: &mut driver,
                    store: store.clone(),
                    connection: ConnectionId::from(connection.as_str()),
                    last_command: 0,
                };
                runner.run(steps).await
            }
            Err(e) => Err(e),
        };
        store.close().await;
        outcome
    }
    .await;
    running.shutdown().await;
    driver.stop().await;
    drop(temp);
    match outcome? {
        Outcome::Passed { steps } => Ok(skipped(steps).unwrap_or(Outcome::Passed { steps })),
        other => Ok(other),
    }
}

/// The config for one transcript: the user's bot options and engine settings, with a
/// temporary data folder, port 0, and the scripts copied; the driver adds the connection.
fn prepare(mut config: Config, t: &Transcript, dir: &Path) -> Result<Config> {
    let scripts = dir.join("scripts");
    copy_scripts(&config.bots.dir, &scripts, t.bots.as_deref())?;
    config.bots.dir = scripts;
    config.bots.hot_reload = false;
    config.server.data_dir = dir.join("data");
    config.server.bind = "127.0.0.1:0".into();
    config.connections.clear();
    config.hub.users.clear();
    config.hub.groups.clear();
    Ok(config)
}

/// Waits until the engine has handled every event it took in on `connection` and sent
/// every command.
pub async fn store_idle(store: &Store, connection: &ConnectionId, deadline: Instant) -> Result<()> {
    loop {
        if store.unhandled(connection).await?.is_empty()
            && store.pending_count(connection).await? == 0
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "the bots did not finish within {} s",
                SETTLE_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Replaces every run of ASCII digits that `names` knows by its name.
pub fn replace_numbers(text: &str, names: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        match names.get(digits.as_str()) {
            Some(name) => out.push_str(name),
            None => out.push_str(digits),
        }
        digits.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// `value` with every string (and object key) passed through `f`.
pub fn map_strings(value: Value, f: &impl Fn(&str) -> String) -> Value {
    match value {
        Value::String(s) => Value::String(f(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| map_strings(v, f)).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (f(&k), map_strings(v, f)))
                .collect(),
        ),
        other => other,
    }
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

struct Runner<'a, D: Driver> {
    /// Where ticks are delivered: schedules fire inside Parley, on every platform.
    intake: Intake,
    driver: &'a mut D,
    store: Store,
    connection: ConnectionId,
    /// The last outbox row already compared.
    last_command: i64,
}

impl<D: Driver> Runner<'_, D> {
    async fn run(&mut self, steps: &[Step]) -> Result<Outcome> {
        for step in steps {
            if let Some(report) = self.step(step).await? {
                let mut out = format!("line {}: {}\n", step.line, step.action);
                out.push_str(&report);
                return Ok(Outcome::Failed { report: out });
            }
        }
        Ok(Outcome::Passed { steps: steps.len() })
    }

    /// Fires the schedule `schedule` as the scheduler would.
    async fn tick(&self, line: usize, schedule: &str, payload: &Value) -> Result<()> {
        let envelope = Envelope {
            id: EventId(format!("tick:transcript:{line}")),
            connection: self.connection.clone(),
            time_ms: parley_engine::store::now_ms(),
            backlog: false,
            from_self: false,
            event: Event::Tick {
                schedule: ScheduleId(schedule.to_string()),
                conversation: None,
                payload: payload.clone(),
                bot: None,
                handler: None,
            },
            raw: Value::Null,
        };
        self.intake
            .deliver(envelope, None)
            .await
            .map_err(|e| anyhow!("the tick was not delivered: {e}"))?;
        Ok(())
    }

    /// Runs one step; `Some(report)` when it did not go as the transcript says.
    async fn step(&mut self, step: &Step) -> Result<Option<String>> {
        let mut report = String::new();
        let refused = match &step.action {
            Action::Tick { schedule, payload } => {
                self.tick(step.line, schedule, payload).await?;
                None
            }
            action => self.driver.act(action).await?,
        };
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
        self.driver.settle(&self.store, &self.connection).await?;
        let actual = self.new_outputs().await?;
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

    /// What the bots did since the last call, as transcript lines: the commands they
    /// queued, in order, each as the platform call that carried it out where the driver
    /// records calls.
    async fn new_outputs(&mut self) -> Result<Vec<Actual>> {
        let last = self.last_command;
        let entries: Vec<OutboxEntry> = self
            .store
            .outbox(&self.connection)
            .await?
            .into_iter()
            .filter(|e| e.id > last)
            .collect();
        if let Some(e) = entries.last() {
            self.last_command = e.id;
        }
        let lines = match self.driver.calls() {
            None => entries
                .iter()
                .map(Actual::from_entry)
                .collect::<Result<Vec<_>>>()?,
            Some(calls) => merge(&entries, calls)?,
        };
        Ok(lines
            .into_iter()
            .map(|a| a.named(|v| self.driver.to_names(v)))
            .collect())
    }

    async fn check_state(&self, check: &StateCheck) -> Result<Option<String>> {
        let conversation: ConversationId = self
            .driver
            .to_platform(&check.conversation)
            .parse()
            .map_err(|e: String| anyhow!("line {}: {e}", check.line))?;
        let states = self
            .store
            .load_state(&self.connection, &conversation)
            .await?;
        let actual = states.get(&check.bot).cloned().unwrap_or(Value::Null);
        let actual = self.driver.to_names(actual);
        Ok((!subset(&check.expected, &actual)).then(|| {
            format!(
                "line {}: state {} {}:\n  expected {}\n  actual   {}\n",
                check.line, check.bot, check.conversation, check.expected, actual
            )
        }))
    }
}

/// The outbox entries in queue order, each shown as the platform call that carried it out
/// (the next call of its lane, when it is a call for the same kind of command). A command
/// the platform never saw, and a call no command explains, are shown with what is wrong.
fn merge(entries: &[OutboxEntry], calls: Vec<PlatformCall>) -> Result<Vec<Actual>> {
    let mut lanes: HashMap<String, VecDeque<Command>> = HashMap::new();
    let mut unexplained = Vec::new();
    for call in calls {
        match call.command {
            Some(c) => lanes.entry(order_key(&c)).or_default().push_back(c),
            None => unexplained.push(Actual::Command {
                name: "call".into(),
                fields: Value::String(call.raw),
                failed: Some("a platform call no command asked for".into()),
            }),
        }
    }
    let mut out = Vec::new();
    for e in entries {
        let command = &e.command.command;
        let failed = failure(&e.result)?;
        let call = lanes.get_mut(&order_key(command)).and_then(|q| {
            q.front()
                .is_some_and(|c| c.name() == command.name())
                .then(|| q.pop_front())
                .flatten()
        });
        out.push(match (call, failed) {
            (Some(c), failed) => Actual::from_command(&c, failed)?,
            (None, Some(f)) => Actual::from_command(command, Some(f))?,
            (None, None) => Actual::from_command(
                command,
                Some("done, but the platform got no call for it".into()),
            )?,
        });
    }
    for (_, calls) in lanes {
        for c in calls {
            let mut a = Actual::from_command(&c, None)?;
            a.set_failed("a platform call no command asked for".into());
            out.push(a);
        }
    }
    out.extend(unexplained);
    Ok(out)
}

/// The error kind of a failed command.
fn failure(result: &Option<CommandResult>) -> Result<Option<String>> {
    Ok(match result {
        Some(CommandResult::Failed(err)) => Some(
            serde_json::to_value(err.kind)?
                .as_str()
                .unwrap_or("failed")
                .to_string(),
        ),
        _ => None,
    })
}

/// The next time at or after `now` (ms) that is `minute_of_day` (UTC) on `weekday`
/// (0 = Monday; any day when `None`).
pub fn next_time(now: i64, weekday: Option<u32>, minute_of_day: u32) -> i64 {
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
        /// What went wrong, when the send failed.
        failed: Option<String>,
    },
    Command {
        name: String,
        fields: Value,
        /// What went wrong (not on the hub, where only failed sends are shown).
        failed: Option<String>,
    },
}

impl Actual {
    /// An outbox row on the hub: failed sends are shown as failed; other commands as
    /// queued.
    fn from_entry(e: &OutboxEntry) -> Result<Actual> {
        let failed = match &e.command.command {
            Command::Send { .. } => failure(&e.result)?,
            _ => None,
        };
        Actual::from_command(&e.command.command, failed)
    }

    fn from_command(command: &Command, failed: Option<String>) -> Result<Actual> {
        Ok(match command {
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
                    failed,
                }
            }
        })
    }

    fn set_failed(&mut self, why: String) {
        match self {
            Actual::Message { failed, .. } | Actual::Command { failed, .. } => *failed = Some(why),
        }
    }

    /// With the platform's ids as the transcript names them.
    fn named(self, f: impl Fn(Value) -> Value) -> Actual {
        let s = |text: String| match f(Value::String(text)) {
            Value::String(s) => s,
            other => other.to_string(),
        };
        match self {
            Actual::Message { to, text, failed } => Actual::Message {
                to: s(to),
                text: s(text),
                failed,
            },
            Actual::Command {
                name,
                fields,
                failed,
            } => Actual::Command {
                name,
                fields: f(fields),
                failed,
            },
        }
    }

    fn line(&self) -> String {
        let (mut line, failed) = match self {
            Actual::Message { to, text, failed } => {
                (format!("{BOT} -> {to}: {}", parse::escape(text)), failed)
            }
            Actual::Command {
                name,
                fields,
                failed,
            } => (format!("{BOT} does {name} {fields}"), failed),
        };
        if let Some(f) = failed {
            let _ = write!(line, "    (failed: {f})");
        }
        line
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
                failed: None,
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
    use serde_json::json;

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
                failed: None,
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
