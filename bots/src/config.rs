//! The `[bots]` section of `parley.toml`: where the scripts are, their sandbox limits, the
//! order bots run in, which conversations each bot serves, and the interceptor's deadline.

use parley_engine::model::{ConversationKind, Envelope, Verdict};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// `[bots]` as the binary deserializes it.
///
/// ```toml
/// [bots]
/// dir = "scripts"
/// hot_reload = true
/// max_operations = 1000000
/// order = ["moderation", "customer_service"]   # these first, the rest by file name
///
/// [[bots.bind]]                                # moderation serves only the lobby group
/// bot = "moderation"
/// groups = ["lobby"]
///
/// [bots.before_message]
/// timeout_ms = 200
/// default = "allow"                            # or "reject"
/// ```
///
/// Unknown keys are refused, naming the key.
#[derive(Clone, Debug)]
pub struct BotsConfig {
    /// Every `.rhai` file directly in here is a bot.
    pub dir: PathBuf,
    /// Reload scripts when their files change ([`BotRuntime::watch`](crate::BotRuntime::watch)).
    pub hot_reload: bool,
    /// Every other key of the section.
    pub options: BotOptions,
}

impl<'de> Deserialize<'de> for BotsConfig {
    /// `dir` and `hot_reload`, then the rest as [`BotOptions`] (serde's `flatten` would
    /// let misspelt keys through).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut map = serde_json::Map::deserialize(d)?;
        let mut config = BotsConfig::default();
        if let Some(dir) = map.remove("dir") {
            config.dir = serde_json::from_value(dir).map_err(D::Error::custom)?;
        }
        if let Some(hot) = map.remove("hot_reload") {
            config.hot_reload = serde_json::from_value(hot).map_err(D::Error::custom)?;
        }
        config.options =
            serde_json::from_value(serde_json::Value::Object(map)).map_err(D::Error::custom)?;
        Ok(config)
    }
}

impl Default for BotsConfig {
    fn default() -> Self {
        Self {
            dir: "scripts".into(),
            hot_reload: true,
            options: BotOptions::default(),
        }
    }
}

/// Sandbox limits and composition rules applied to every bot script.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BotOptions {
    /// Rhai operations one handler call may perform (stops runaway loops).
    pub max_operations: u64,
    /// Nesting depth of function calls (stops runaway recursion).
    pub max_call_levels: usize,
    /// Longest string a script may build, in bytes.
    pub max_string_size: usize,
    /// Most elements in one array.
    pub max_array_size: usize,
    /// Most properties in one object map.
    pub max_map_size: usize,
    /// Largest `ctx.state` of one bot in one conversation, as serialized JSON bytes.
    pub max_state_bytes: usize,
    /// Largest value of one `ctx.store` key, as JSON bytes.
    pub max_store_value_bytes: usize,
    /// Most keys in one bot's `ctx.store`.
    pub max_store_keys: usize,
    /// Largest `ctx.store` of one bot, keys and JSON values, in bytes.
    pub max_store_bytes: usize,
    /// Bots named here run first, in this order; the others follow in file-name order.
    pub order: Vec<String>,
    /// Where bots run: a bot with at least one binding runs only where one matches.
    pub bind: Vec<Binding>,
    /// `on_before_message` interceptors.
    pub before_message: Interceptor,
    /// Hosts scripts may call with `http_get` / `http_post_json` (`api.example.com`, or
    /// `*.example.com` for its subdomains); none by default.
    pub http_allowed_hosts: Vec<String>,
    /// How long one HTTP call may take.
    pub http_timeout_ms: u64,
    /// The largest answer a script may receive.
    pub http_max_response_bytes: usize,
    /// The IANA time zone of `schedule(...)` calls that name none.
    pub timezone: String,
}

impl Default for BotOptions {
    fn default() -> Self {
        Self {
            max_operations: 1_000_000,
            max_call_levels: 64,
            max_string_size: 64 * 1024,
            max_array_size: 10_000,
            max_map_size: 10_000,
            max_state_bytes: 64 * 1024,
            max_store_value_bytes: 64 * 1024,
            max_store_keys: 10_000,
            max_store_bytes: 1024 * 1024,
            order: Vec::new(),
            bind: Vec::new(),
            before_message: Interceptor::default(),
            http_allowed_hosts: Vec::new(),
            http_timeout_ms: 5_000,
            timezone: "UTC".into(),
            http_max_response_bytes: 1024 * 1024,
        }
    }
}

/// Binds a bot to connections, groups or users. Within one binding every non-empty list
/// must match; `groups` and `users` together mean "these groups or direct chats with these
/// users". Events of no conversation (connection state, ticks without a target) match any
/// binding whose `connections` allow them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Binding {
    pub bot: String,
    pub connections: Vec<String>,
    pub groups: Vec<String>,
    pub users: Vec<String>,
}

impl Binding {
    pub(crate) fn matches(&self, envelope: &Envelope) -> bool {
        if !self.connections.is_empty()
            && !self
                .connections
                .iter()
                .any(|c| c == envelope.connection.as_str())
        {
            return false;
        }
        if self.groups.is_empty() && self.users.is_empty() {
            return true;
        }
        let conversation = envelope.route();
        match conversation.kind {
            ConversationKind::System => true,
            ConversationKind::Direct => self.users.contains(&conversation.id),
            _ => self.groups.contains(&conversation.id),
        }
    }
}

/// How `on_before_message` handlers are run.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Interceptor {
    /// How long all interceptors together may take before `default` applies.
    pub timeout_ms: u64,
    /// The verdict when they do not answer in time or fail.
    pub default: DefaultVerdict,
}

impl Default for Interceptor {
    fn default() -> Self {
        Self {
            timeout_ms: 200,
            default: DefaultVerdict::Allow,
        }
    }
}

impl Interceptor {
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultVerdict {
    Allow,
    Reject,
}

impl DefaultVerdict {
    pub(crate) fn verdict(self, why: &str) -> Verdict {
        match self {
            DefaultVerdict::Allow => Verdict::Allow,
            DefaultVerdict::Reject => Verdict::Reject {
                reason: why.to_string(),
            },
        }
    }
}
