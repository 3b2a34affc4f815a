//! `[[connections]] kind = "onebot"`: one QQ account (`self_id`) reached through a OneBot v11
//! implementation, in one of the protocol's connection modes. Secrets are read from
//! environment variables named here, never from the file.

use serde::Deserialize;
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneBotConfig {
    /// The connection's id, as for every connection.
    pub id: String,
    /// The bot's QQ number. Connections and events of any other account are refused.
    pub self_id: u64,
    #[serde(default)]
    pub mode: Mode,
    /// `reverse_ws` and `http`: the path on Parley's HTTP server the implementation connects
    /// (or posts events) to; default `/onebot/{id}`.
    #[serde(default)]
    pub path: Option<String>,
    /// `forward_ws`: the implementation's WebSocket server (`ws://127.0.0.1:3001`);
    /// `http`: its HTTP API (`http://127.0.0.1:3000`).
    #[serde(default)]
    pub url: Option<String>,
    /// The environment variable holding the access token; unset = no token either way.
    #[serde(default)]
    pub access_token_env: Option<String>,
    /// `http`: the environment variable holding the HMAC secret of `X-Signature`.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// How long an action may wait for its answer before its outcome is unknown.
    #[serde(default = "default_action_timeout")]
    pub action_timeout_ms: u64,
    /// `forward_ws`: the first and the longest wait between reconnection attempts.
    #[serde(default = "default_reconnect_min")]
    pub reconnect_min_ms: u64,
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max_ms: u64,
    /// The largest frame or event body accepted.
    #[serde(default = "default_max_frame")]
    pub max_frame_bytes: usize,
    /// `http`: how long an event post waits for room in the inbox before it is answered 429.
    #[serde(default = "default_intake_wait")]
    pub intake_wait_ms: u64,
}

/// Who connects to whom (OneBot v11 "communication").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The implementation connects to Parley (Universal, or separate API and Event clients).
    #[default]
    ReverseWs,
    /// Parley connects to the implementation's WebSocket server, reconnecting with backoff.
    ForwardWs,
    /// The implementation posts events to Parley; Parley calls its HTTP API.
    Http,
}

fn default_action_timeout() -> u64 {
    10_000
}
fn default_reconnect_min() -> u64 {
    1_000
}
fn default_reconnect_max() -> u64 {
    30_000
}
fn default_max_frame() -> usize {
    4 << 20
}
fn default_intake_wait() -> u64 {
    1_000
}

/// The checked settings with the secrets read.
#[derive(Clone, Debug)]
pub struct Settings {
    pub config: OneBotConfig,
    pub path: String,
    pub access_token: Option<String>,
    pub secret: Option<String>,
}

impl Settings {
    pub fn action_timeout(&self) -> Duration {
        Duration::from_millis(self.config.action_timeout_ms)
    }
    /// The implementation's URL without a trailing slash (forward WS and HTTP modes).
    pub fn url(&self) -> &str {
        self.config
            .url
            .as_deref()
            .unwrap_or_default()
            .trim_end_matches('/')
    }
}

/// Checks `config` and reads its secrets through `env`; the error names the setting.
pub fn check(
    config: OneBotConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Settings, String> {
    let at = |field: &str| format!("connection `{}` (onebot): `{field}`", config.id);
    if config.id.is_empty() {
        return Err("a onebot connection needs an `id`".into());
    }
    if config.self_id == 0 {
        return Err(format!("{} must be the bot's QQ number", at("self_id")));
    }
    let path = config
        .path
        .clone()
        .unwrap_or_else(|| format!("/onebot/{}", config.id));
    if !path.starts_with('/') {
        return Err(format!("{} must start with `/`, not {path:?}", at("path")));
    }
    let schemes: &[&str] = match config.mode {
        Mode::ReverseWs => &[],
        Mode::ForwardWs => &["ws://", "wss://"],
        Mode::Http => &["http://", "https://"],
    };
    match (&config.url, schemes.is_empty()) {
        (Some(_), true) => {
            return Err(format!(
                "{} is for `forward_ws` and `http`; in `reverse_ws` the implementation connects to `path`",
                at("url")
            ))
        }
        (None, false) => {
            return Err(format!(
                "{} is needed in this mode ({} URL of the implementation)",
                at("url"),
                schemes.join(" or ")
            ))
        }
        (Some(url), false) if !schemes.iter().any(|s| url.starts_with(s)) => {
            return Err(format!(
                "{} must start with {}, not {url:?}",
                at("url"),
                schemes.join(" or ")
            ))
        }
        _ => {}
    }
    if config.secret_env.is_some() && config.mode != Mode::Http {
        return Err(format!(
            "{} signs HTTP POST events; it is only for mode `http`",
            at("secret_env")
        ));
    }
    if config.action_timeout_ms == 0 || config.intake_wait_ms == 0 {
        return Err(format!(
            "{} and `intake_wait_ms` must be positive",
            at("action_timeout_ms")
        ));
    }
    if config.reconnect_min_ms == 0 || config.reconnect_max_ms < config.reconnect_min_ms {
        return Err(format!(
            "{} must be positive and at most `reconnect_max_ms`",
            at("reconnect_min_ms")
        ));
    }
    if config.max_frame_bytes < 1024 {
        return Err(format!(
            "{} must be at least 1024 bytes",
            at("max_frame_bytes")
        ));
    }
    let read = |field: &str, var: &Option<String>| -> Result<Option<String>, String> {
        match var {
            None => Ok(None),
            Some(var) => env(var)
                .filter(|v| !v.is_empty())
                .map(Some)
                .ok_or_else(|| format!("{}: the environment variable {var} is not set", at(field))),
        }
    };
    let access_token = read("access_token_env", &config.access_token_env)?;
    let secret = read("secret_env", &config.secret_env)?;
    Ok(Settings {
        config,
        path,
        access_token,
        secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<OneBotConfig, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    fn env(k: &str) -> Option<String> {
        (k == "QQ_TOKEN").then(|| "t".to_string())
    }

    #[test]
    fn defaults() {
        let s = check(parse(json!({"id": "qq", "self_id": 10001})).unwrap(), env).unwrap();
        assert_eq!(s.config.mode, Mode::ReverseWs);
        assert_eq!(s.path, "/onebot/qq");
        assert_eq!(s.access_token, None);
        assert_eq!(s.action_timeout(), Duration::from_secs(10));
    }

    #[test]
    fn errors_name_the_setting() {
        let e = parse(json!({"id": "qq", "self_id": 1, "port": 1})).unwrap_err();
        assert!(e.contains("unknown field `port`"), "{e}");
        let cases = [
            (
                json!({"self_id": 0}),
                "`self_id` must be the bot's QQ number",
            ),
            (json!({"path": "ws"}), "`path` must start with `/`"),
            (
                json!({"url": "ws://x"}),
                "`url` is for `forward_ws` and `http`",
            ),
            (
                json!({"mode": "forward_ws"}),
                "`url` is needed in this mode",
            ),
            (
                json!({"mode": "http", "url": "ws://x"}),
                "`url` must start with http://",
            ),
            (json!({"secret_env": "S"}), "only for mode `http`"),
            (
                json!({"access_token_env": "NOPE"}),
                "the environment variable NOPE is not set",
            ),
            (
                json!({"reconnect_max_ms": 10}),
                "`reconnect_min_ms` must be positive",
            ),
        ];
        for (extra, expected) in cases {
            let mut v = json!({"id": "qq", "self_id": 10001});
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let e = check(parse(v).unwrap(), env).unwrap_err();
            assert!(e.contains(expected), "{extra}: {e}");
        }
    }

    #[test]
    fn token_and_url() {
        let c = parse(json!({"id": "qq", "self_id": 1, "mode": "forward_ws",
                             "url": "ws://127.0.0.1:3001/", "access_token_env": "QQ_TOKEN"}))
        .unwrap();
        let s = check(c, env).unwrap();
        assert_eq!(s.url(), "ws://127.0.0.1:3001");
        assert_eq!(s.access_token.as_deref(), Some("t"));
    }
}
