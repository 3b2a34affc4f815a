//! `[[connections]] kind = "tencent"`: the settings of one Tencent Cloud IM connection, and
//! their checks. Secrets are read from environment variables named here, never from the file.

use parley_engine::model::Verdict;
use serde::Deserialize;
use std::time::Duration;

/// Tencent's REST domains by region, with their backups (RESTful API overview, 1047/34620).
pub const DOMAINS: &[&str] = &[
    "console.tim.qq.com",
    "adminapi.my-imcloud.com",
    "adminapisgp.im.qcloud.com",
    "adminapisgp.my-imcloud.com",
    "adminapikr.im.qcloud.com",
    "adminapikr.my-imcloud.com",
    "adminapijpn.im.qcloud.com",
    "adminapijpn.my-imcloud.com",
    "adminapiger.im.qcloud.com",
    "adminapiger.my-imcloud.com",
    "adminapiind.im.qcloud.com",
    "adminapiind.my-imcloud.com",
    "adminapiusa.im.qcloud.com",
    "adminapiusa.my-imcloud.com",
    "adminapiidn.im.qcloud.com",
    "adminapiidn.my-imcloud.com",
];

/// Tencent gives a before-send callback 2 s; the answer must leave well before that.
const MAX_BEFORE_SEND_DEADLINE_MS: u64 = 1900;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TencentConfig {
    /// The connection's id, as for every connection.
    pub id: String,
    /// The app's SDKAppID (console: Application info).
    pub sdk_app_id: u64,
    /// An app admin account (console: Account management); REST calls are made as it.
    pub admin: String,
    /// The bot's own account: messages to it are the bot's, messages from it are its echoes.
    pub bot: String,
    /// Where Tencent posts callbacks; set the console's callback URL to this path on Parley.
    #[serde(default = "default_callback_path")]
    pub callback_path: String,
    /// The REST domain of the app's region (one of [`DOMAINS`]).
    #[serde(default = "default_domain")]
    pub domain: String,
    /// Replaces `https://{domain}` (a proxy, or a local server in tests).
    #[serde(default)]
    pub rest_url: Option<String>,
    /// The environment variable holding the app's secret key (signs the UserSig).
    #[serde(default = "default_secret_key_env")]
    pub secret_key_env: String,
    /// The environment variable holding the callback auth token; unset = callbacks are not
    /// signed (the console's callback authentication is off).
    #[serde(default)]
    pub callback_token_env: Option<String>,
    /// Lifetime of the admin UserSig the adapter generates; renewed before it ends.
    #[serde(default = "default_usersig_ttl")]
    pub usersig_ttl_secs: u64,
    /// How long the bots may take over a before-send callback (below Tencent's 2 s).
    #[serde(default = "default_before_send_deadline")]
    pub before_send_deadline_ms: u64,
    /// The answer when no bot gives a verdict in time.
    #[serde(default)]
    pub before_send_default: DefaultVerdict,
    /// The largest callback body accepted.
    #[serde(default = "default_max_callback_bytes")]
    pub max_callback_bytes: usize,
    /// How long a callback waits for room in the inbox before it is answered 429.
    #[serde(default = "default_intake_wait")]
    pub intake_wait_ms: u64,
    /// Timeout of one REST call.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultVerdict {
    #[default]
    Allow,
    Reject,
}

impl DefaultVerdict {
    pub fn verdict(self) -> Verdict {
        match self {
            DefaultVerdict::Allow => Verdict::Allow,
            DefaultVerdict::Reject => Verdict::Reject {
                reason: "no verdict in time".into(),
            },
        }
    }
}

fn default_callback_path() -> String {
    "/webhooks/tencent".into()
}
fn default_domain() -> String {
    DOMAINS[0].into()
}
fn default_secret_key_env() -> String {
    "TENCENT_IM_SECRET_KEY".into()
}
fn default_usersig_ttl() -> u64 {
    86_400
}
fn default_before_send_deadline() -> u64 {
    1500
}
fn default_max_callback_bytes() -> usize {
    1 << 20
}
fn default_intake_wait() -> u64 {
    1000
}
fn default_request_timeout() -> u64 {
    10_000
}

/// The checked settings with the secrets read.
#[derive(Clone, Debug)]
pub struct Settings {
    pub config: TencentConfig,
    pub secret_key: String,
    pub callback_token: Option<String>,
    /// `https://{domain}` or `rest_url`, without a trailing slash.
    pub base_url: String,
}

impl Settings {
    pub fn before_send_deadline(&self) -> Duration {
        Duration::from_millis(self.config.before_send_deadline_ms)
    }
}

/// Checks `config` and reads its secrets through `env`; the error names the setting.
pub fn check(
    config: TencentConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Settings, String> {
    let at = |field: &str| format!("connection `{}` (tencent): `{field}`", config.id);
    let account = |field: &str, value: &str| -> Result<(), String> {
        // Tencent UserIDs: printable ASCII, at most 32 bytes.
        if value.is_empty()
            || value.len() > 32
            || !value.bytes().all(|b| (0x20..=0x7e).contains(&b))
        {
            return Err(format!(
                "{} must be a Tencent UserID (1 to 32 printable ASCII characters), not {value:?}",
                at(field)
            ));
        }
        Ok(())
    };
    if config.id.is_empty() {
        return Err("a tencent connection needs an `id`".into());
    }
    if config.sdk_app_id == 0 {
        return Err(format!("{} must be the app's SDKAppID", at("sdk_app_id")));
    }
    account("admin", &config.admin)?;
    account("bot", &config.bot)?;
    if !config.callback_path.starts_with('/') {
        return Err(format!(
            "{} must start with `/`, not {:?}",
            at("callback_path"),
            config.callback_path
        ));
    }
    if !DOMAINS.contains(&config.domain.as_str()) {
        return Err(format!(
            "{} must be one of Tencent's REST domains ({}), not {:?}",
            at("domain"),
            DOMAINS.join(", "),
            config.domain
        ));
    }
    if let Some(url) = &config.rest_url {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(format!(
                "{} must be an http(s) URL, not {url:?}",
                at("rest_url")
            ));
        }
    }
    if config.usersig_ttl_secs < 600 {
        return Err(format!(
            "{} must be at least 600 seconds",
            at("usersig_ttl_secs")
        ));
    }
    if config.before_send_deadline_ms == 0
        || config.before_send_deadline_ms > MAX_BEFORE_SEND_DEADLINE_MS
    {
        return Err(format!(
            "{} must be between 1 and {MAX_BEFORE_SEND_DEADLINE_MS} ms (Tencent waits 2 s at most)",
            at("before_send_deadline_ms")
        ));
    }
    if config.max_callback_bytes < 1024 {
        return Err(format!(
            "{} must be at least 1024 bytes",
            at("max_callback_bytes")
        ));
    }
    if config.intake_wait_ms == 0 || config.request_timeout_ms == 0 {
        return Err(format!(
            "{} and `request_timeout_ms` must be positive",
            at("intake_wait_ms")
        ));
    }
    let secret_key = env(&config.secret_key_env)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            format!(
                "{}: the environment variable {} holding the app's secret key is not set",
                at("secret_key_env"),
                config.secret_key_env
            )
        })?;
    let callback_token = match &config.callback_token_env {
        None => None,
        Some(var) => Some(env(var).filter(|t| !t.is_empty()).ok_or_else(|| {
            format!(
                "{}: the environment variable {var} holding the callback token is not set",
                at("callback_token_env")
            )
        })?),
    };
    let base_url = config
        .rest_url
        .clone()
        .unwrap_or_else(|| format!("https://{}", config.domain))
        .trim_end_matches('/')
        .to_string();
    Ok(Settings {
        config,
        secret_key,
        callback_token,
        base_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<TencentConfig, String> {
        serde_json::from_value(toml_like(toml_text)).map_err(|e| e.to_string())
    }

    /// `key = value` lines to JSON, enough for these tests without a TOML dependency.
    fn toml_like(text: &str) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (k, v) = line.split_once('=').unwrap();
            map.insert(k.trim().into(), serde_json::from_str(v.trim()).unwrap());
        }
        map.into()
    }

    const MINIMAL: &str =
        "id = \"tc\"\nsdk_app_id = 1400000000\nadmin = \"administrator\"\nbot = \"bot\"";

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_and_secrets() {
        let s = check(
            parse(MINIMAL).unwrap(),
            env(&[("TENCENT_IM_SECRET_KEY", "k")]),
        )
        .unwrap();
        assert_eq!(s.base_url, "https://console.tim.qq.com");
        assert_eq!(s.config.callback_path, "/webhooks/tencent");
        assert_eq!(s.callback_token, None);
        assert_eq!(s.secret_key, "k");
    }

    #[test]
    fn errors_name_the_setting() {
        let e = parse(&format!("{MINIMAL}\nregion = \"sg\"")).unwrap_err();
        assert!(e.contains("unknown field `region`"), "{e}");
        let e = parse("id = \"tc\"\nadmin = \"a\"\nbot = \"b\"").unwrap_err();
        assert!(e.contains("missing field `sdk_app_id`"), "{e}");

        let cases: &[(&str, &str)] = &[
            ("domain = \"tim.example.com\"", "`domain` must be one of"),
            (
                "callback_path = \"hooks\"",
                "`callback_path` must start with `/`",
            ),
            (
                "before_send_deadline_ms = 2500",
                "`before_send_deadline_ms` must be between",
            ),
            ("bot = \"\"", "`bot` must be a Tencent UserID"),
            (
                "callback_token_env = \"TC_TOKEN\"",
                "`callback_token_env`: the environment variable TC_TOKEN",
            ),
        ];
        for (extra, expected) in cases {
            let mut v = toml_like(MINIMAL);
            let extra = toml_like(extra);
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let config: TencentConfig = serde_json::from_value(v).unwrap();
            let e = check(config, env(&[("TENCENT_IM_SECRET_KEY", "k")])).unwrap_err();
            assert!(e.contains(expected), "{extra}: {e}");
            assert!(e.contains("connection `tc`"), "{e}");
        }
        let e = check(parse(MINIMAL).unwrap(), env(&[])).unwrap_err();
        assert!(
            e.contains("`secret_key_env`: the environment variable TENCENT_IM_SECRET_KEY"),
            "{e}"
        );
    }

    #[test]
    fn regional_domain_and_token() {
        let mut c = parse(MINIMAL).unwrap();
        c.domain = "adminapisgp.im.qcloud.com".into();
        c.callback_token_env = Some("TC_TOKEN".into());
        let s = check(c, env(&[("TENCENT_IM_SECRET_KEY", "k"), ("TC_TOKEN", "t")])).unwrap();
        assert_eq!(s.base_url, "https://adminapisgp.im.qcloud.com");
        assert_eq!(s.callback_token.as_deref(), Some("t"));
    }
}
