//! `config/parley.toml`: what `parley run` starts. Every setting has a default so an empty
//! file runs the embedded hub with the shipped scripts; a bad setting stops start-up with
//! a message naming it.

use anyhow::{bail, Context, Result};
use parley_bots::BotsConfig;
use parley_engine::adapter::RateLimit;
use parley_engine::scheduler::{Schedule, ScheduleSpec};
use parley_hub::HubConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub engine: EngineSettings,
    #[serde(default)]
    pub bots: BotsConfig,
    #[serde(default)]
    pub connections: Vec<ConnectionConfig>,
    #[serde(default)]
    pub hub: HubConfig,
    #[serde(default)]
    pub schedules: Vec<ScheduleSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address of the HTTP server (hub WebSocket, admin API, health check).
    pub bind: String,
    /// Where the SQLite files live, relative to the config file's folder's parent
    /// (the project root) unless absolute.
    pub data_dir: PathBuf,
    /// The environment variable holding the admin token; unset = admin API refused.
    pub admin_token_env: String,
    /// Logs as JSON lines instead of text.
    pub json_logs: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            data_dir: "data".into(),
            admin_token_env: "PARLEY_ADMIN_TOKEN".into(),
            json_logs: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    pub mailbox_capacity: usize,
    pub intake_capacity: usize,
    pub outbox_capacity: usize,
    pub idle_timeout_secs: u64,
    /// 0 = one arbiter per core.
    pub arbiters: usize,
    pub drain_timeout_secs: u64,
    /// Days handled events and finished commands are kept; 0 keeps them forever.
    pub retention_days: u64,
}

impl Default for EngineSettings {
    fn default() -> Self {
        let d = parley_engine::EngineConfig::default();
        Self {
            mailbox_capacity: d.actors.mailbox_capacity,
            intake_capacity: d.intake_capacity,
            outbox_capacity: d.outbox_capacity,
            idle_timeout_secs: d.actors.idle_timeout.as_secs(),
            arbiters: d.arbiters,
            drain_timeout_secs: d.drain_timeout.as_secs(),
            retention_days: d.retention.map_or(0, |r| r.as_secs() / 86_400),
        }
    }
}

impl EngineSettings {
    pub fn to_engine_config(&self) -> parley_engine::EngineConfig {
        let mut c = parley_engine::EngineConfig::default();
        c.actors.mailbox_capacity = self.mailbox_capacity;
        c.actors.idle_timeout = Duration::from_secs(self.idle_timeout_secs);
        c.intake_capacity = self.intake_capacity;
        c.outbox_capacity = self.outbox_capacity;
        c.arbiters = self.arbiters;
        c.drain_timeout = Duration::from_secs(self.drain_timeout_secs);
        c.retention =
            (self.retention_days > 0).then(|| Duration::from_secs(self.retention_days * 86_400));
        c
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConnectionConfig {
    /// The embedded hub, speaking as the hub user `user`.
    Hub {
        id: String,
        user: String,
        /// Send limits; none by default (the hub has no platform limit).
        #[serde(default)]
        rate_limits: Vec<RateLimit>,
    },
    /// Tencent Cloud IM: callbacks in, REST API v4 out (docs/platforms/tencent.md).
    Tencent(parley_tencent::TencentConfig),
    /// QQ through a OneBot v11 implementation (docs/platforms/onebot.md).
    #[serde(rename = "onebot")]
    OneBot(parley_onebot::OneBotConfig),
}

impl ConnectionConfig {
    pub fn id(&self) -> &str {
        match self {
            ConnectionConfig::Hub { id, .. } => id,
            ConnectionConfig::Tencent(c) => &c.id,
            ConnectionConfig::OneBot(c) => &c.id,
        }
    }

    /// Limits set in config, replacing the adapter's defaults; `None` keeps the defaults.
    pub fn rate_limits(&self) -> Option<&[RateLimit]> {
        match self {
            ConnectionConfig::Tencent(_) | ConnectionConfig::OneBot(_) => None,
            ConnectionConfig::Hub { rate_limits, .. } => {
                (!rate_limits.is_empty()).then_some(rate_limits.as_slice())
            }
        }
    }
}

impl Config {
    /// Reads and checks the config. Relative paths are resolved against `base` (the folder
    /// holding `config/`, i.e. the project root for `config/parley.toml`).
    pub fn load(path: &Path) -> Result<(Config, PathBuf)> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let mut config: Config = toml::from_str(&text)
            .with_context(|| format!("invalid config file {}", path.display()))?;
        let base = base_dir(path);
        config.resolve(&base);
        config
            .validate()
            .with_context(|| format!("invalid config file {}", path.display()))?;
        Ok((config, base))
    }

    fn resolve(&mut self, base: &Path) {
        for p in [&mut self.server.data_dir, &mut self.bots.dir] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }

    fn validate(&self) -> Result<()> {
        if self.connections.is_empty() {
            bail!("no [[connections]] configured: add one, e.g. kind = \"hub\"");
        }
        let mut seen = std::collections::HashSet::new();
        let mut callback_paths = std::collections::HashSet::new();
        for c in &self.connections {
            if !seen.insert(c.id()) {
                bail!(
                    "connection id `{}` is used twice in [[connections]]",
                    c.id()
                );
            }
            match c {
                ConnectionConfig::Hub { id, user, .. } => {
                    if !self.hub.users.iter().any(|u| &u.id == user) {
                        bail!("connection `{id}`: hub user `{user}` is not in [[hub.users]]");
                    }
                }
                ConnectionConfig::OneBot(o) => {
                    let path = o
                        .path
                        .clone()
                        .unwrap_or_else(|| format!("/onebot/{}", o.id));
                    if !callback_paths.insert(path.clone()) {
                        bail!(
                            "connection `{}`: path `{path}` is already used by another connection",
                            o.id
                        );
                    }
                }
                ConnectionConfig::Tencent(t) => {
                    // Two connections on one path: only the first would get callbacks.
                    if !callback_paths.insert(t.callback_path.clone()) {
                        bail!("connection `{}`: callback_path `{}` is already used by another connection", t.id, t.callback_path);
                    }
                }
            }
        }
        parley_engine::scheduler::time_zone(&self.bots.options.timezone)
            .map_err(|e| anyhow::anyhow!("bots.timezone: {e}"))?;
        let mut names = std::collections::HashSet::new();
        for s in &self.schedules {
            if !names.insert(&s.name) {
                bail!("schedule name `{}` is used twice in [[schedules]]", s.name);
            }
            Schedule::parse(s.clone()).map_err(anyhow::Error::msg)?;
            if !seen.contains(s.connection.as_str()) {
                bail!(
                    "schedule `{}` names the unknown connection `{}`",
                    s.name,
                    s.connection
                );
            }
        }
        if self.server.bind.parse::<std::net::SocketAddr>().is_err() {
            bail!(
                "server.bind = `{}` is not an address like 127.0.0.1:8080",
                self.server.bind
            );
        }
        if self.engine.mailbox_capacity == 0
            || self.engine.intake_capacity == 0
            || self.engine.outbox_capacity == 0
        {
            bail!("engine capacities must be at least 1");
        }
        Ok(())
    }

    /// The checked schedules (validated at load, so this cannot fail afterwards).
    pub fn schedules(&self) -> Vec<Schedule> {
        self.schedules
            .iter()
            .filter_map(|s| Schedule::parse(s.clone()).ok())
            .collect()
    }

    pub fn engine_db(&self) -> PathBuf {
        self.server.data_dir.join("parley.db")
    }

    pub fn bots_db(&self) -> PathBuf {
        self.server.data_dir.join("bots.db")
    }

    pub fn hub_db(&self) -> PathBuf {
        self.server.data_dir.join("hub.db")
    }
}

/// `config/parley.toml` -> the project root; any other file -> its own folder.
fn base_dir(path: &Path) -> PathBuf {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if dir.file_name().is_some_and(|n| n == "config") {
        dir.parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parley.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(&path).map(|(c, _)| c)
    }

    const HUB: &str = "[[connections]]\nid = \"hub\"\nkind = \"hub\"\nuser = \"bot\"\n[[hub.users]]\nid = \"bot\"\n";

    #[test]
    fn the_shipped_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/parley.toml");
        let (config, base) = Config::load(&path).unwrap();
        assert_eq!(base, Path::new(env!("CARGO_MANIFEST_DIR")));
        assert_eq!(config.server.bind, "127.0.0.1:8080");
        assert!(config.bots.dir.ends_with("scripts"));
    }

    #[test]
    fn a_minimal_config_gets_defaults() {
        let c = parse(HUB).unwrap();
        assert_eq!(c.engine.mailbox_capacity, 64);
        assert_eq!(c.connections[0].id(), "hub");
    }

    #[test]
    fn a_tencent_connection_is_read_and_checked() {
        let tencent = "[[connections]]\nkind = \"tencent\"\nid = \"tim\"\nsdk_app_id = 1400000000\nadmin = \"administrator\"\nbot = \"helper\"\n";
        let c = parse(&format!("{HUB}{tencent}")).unwrap();
        assert_eq!(c.connections[1].id(), "tim");
        let e = format!(
            "{:#}",
            parse(&format!("{HUB}{tencent}sdk_app_idd = 1\n")).unwrap_err()
        );
        assert!(e.contains("sdk_app_idd"), "{e}");
        let twice = tencent.replace("\"tim\"", "\"tim2\"");
        let e = format!(
            "{:#}",
            parse(&format!("{HUB}{tencent}{twice}")).unwrap_err()
        );
        assert!(e.contains("callback_path"), "{e}");
    }

    #[test]
    fn onebot_connections_are_read_and_their_paths_checked() {
        let onebot = "[[connections]]\nkind = \"onebot\"\nid = \"qq\"\nself_id = 10001\n";
        let c = parse(&format!("{HUB}{onebot}")).unwrap();
        assert_eq!(c.connections[1].id(), "qq");
        let clash = "[[connections]]\nkind = \"onebot\"\nid = \"qq2\"\nself_id = 10002\npath = \"/onebot/qq\"\n";
        let e = format!("{:#}", parse(&format!("{HUB}{onebot}{clash}")).unwrap_err());
        assert!(e.contains("path `/onebot/qq` is already used"), "{e}");
    }

    #[test]
    fn bad_settings_are_named() {
        let e = format!(
            "{:#}",
            parse(&format!("{HUB}[engine]\nmailbox_capasity = 3\n")).unwrap_err()
        );
        assert!(e.contains("mailbox_capasity"), "{e}");
        let e = format!(
            "{:#}",
            parse("[[connections]]\nid = \"hub\"\nkind = \"hub\"\nuser = \"ghost\"\n").unwrap_err()
        );
        assert!(e.contains("hub user `ghost`"), "{e}");
        let e = format!(
            "{:#}",
            parse(&format!("{HUB}[server]\nbind = \"nowhere\"\n")).unwrap_err()
        );
        assert!(e.contains("server.bind"), "{e}");
        let e = format!(
            "{:#}",
            parse("[[connections]]\nid = \"x\"\nkind = \"telegram\"\n").unwrap_err()
        );
        assert!(e.contains("telegram"), "{e}");
        let e = format!("{:#}", parse(&format!("{HUB}[[schedules]]\nname = \"digest\"\ncron = \"0 9 * * *\"\ntimezone = \"Mars/Base\"\nconnection = \"hub\"\n")).unwrap_err());
        assert!(
            e.contains("schedule `digest`") && e.contains("Mars/Base"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            parse(&format!("{HUB}[bots]\ntimezone = \"Asia/Shanghia\"\n")).unwrap_err()
        );
        assert!(
            e.contains("bots.timezone") && e.contains("Asia/Shanghia"),
            "{e}"
        );
        let e = format!("{:#}", parse(&format!("{HUB}[[schedules]]\nname = \"digest\"\ncron = \"0 99 * * *\"\nconnection = \"hub\"\n")).unwrap_err());
        assert!(
            e.contains("schedule `digest`") && e.contains("invalid cron"),
            "{e}"
        );
        let e = format!("{:#}", parse("").unwrap_err());
        assert!(e.contains("no [[connections]]"), "{e}");
    }
}
