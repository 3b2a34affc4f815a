//! `http_get(url)` and `http_post_json(url, body)`: HTTP from scripts, only to the hosts
//! allowed in `[bots] http_allowed_hosts`, with a timeout.
//!
//! A script runs on a blocking thread of its own (see the runtime), so waiting for an
//! answer here holds only this conversation: its later events wait (order holds), the
//! other conversations go on.

use rhai::{Dynamic, Engine, EvalAltResult, Map};
use std::sync::Arc;
use std::time::Duration;

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// Where and how long scripts may call out.
#[derive(Clone, Debug)]
pub(crate) struct HttpPolicy {
    /// Exact host names, or `*.example.com` for its subdomains.
    pub allowed_hosts: Vec<String>,
    pub timeout: Duration,
    pub max_response_bytes: usize,
}

impl HttpPolicy {
    fn allows(&self, host: &str) -> bool {
        self.allowed_hosts
            .iter()
            .any(|allowed| match allowed.strip_prefix("*.") {
                Some(domain) => host.ends_with(&format!(".{domain}")),
                None => allowed.eq_ignore_ascii_case(host),
            })
    }
}

struct Caller {
    policy: HttpPolicy,
    client: reqwest::Client,
}

impl Caller {
    fn check(&self, what: &str, url: &str) -> RhaiResult<reqwest::Url> {
        let parsed =
            reqwest::Url::parse(url).map_err(|e| format!("{what}: `{url}` is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "{what}: only http and https URLs, not `{}`",
                parsed.scheme()
            )
            .into());
        }
        let host = parsed.host_str().unwrap_or_default();
        if !self.policy.allows(host) {
            return Err(
                format!("{what}: host `{host}` is not in [bots] http_allowed_hosts").into(),
            );
        }
        Ok(parsed)
    }

    fn call(&self, what: &str, request: reqwest::RequestBuilder) -> RhaiResult<Map> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| format!("{what}: no runtime to call from"))?;
        let (timeout, limit) = (self.policy.timeout, self.policy.max_response_bytes);
        let answer = handle.block_on(async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        });
        let (status, body) = answer.map_err(|e| {
            if e.is_timeout() {
                format!("{what}: no answer within {} ms", timeout.as_millis())
            } else {
                format!("{what}: {e}")
            }
        })?;
        if body.len() > limit {
            return Err(format!(
                "{what}: the answer has {} bytes, more than the limit of {limit}",
                body.len()
            )
            .into());
        }
        let text = String::from_utf8_lossy(&body).into_owned();
        let mut map = Map::new();
        map.insert("status".into(), (status as i64).into());
        let json = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| rhai::serde::to_dynamic(v).ok());
        map.insert("json".into(), json.unwrap_or(Dynamic::UNIT));
        map.insert("body".into(), text.into());
        Ok(map)
    }
}

pub(crate) fn register(engine: &mut Engine, policy: HttpPolicy) {
    let client = reqwest::Client::builder()
        .timeout(policy.timeout)
        .build()
        .unwrap_or_default();
    let caller = Arc::new(Caller { policy, client });
    let get = caller.clone();
    engine.register_fn("http_get", move |url: &str| -> RhaiResult<Map> {
        let url = get.check("http_get", url)?;
        get.call("http_get", get.client.get(url))
    });
    engine.register_fn(
        "http_post_json",
        move |url: &str, body: Dynamic| -> RhaiResult<Map> {
            let url = caller.check("http_post_json", url)?;
            let body: serde_json::Value = rhai::serde::from_dynamic(&body)
                .map_err(|e| format!("http_post_json: the body is not JSON: {e}"))?;
            caller.call("http_post_json", caller.client.post(url).json(&body))
        },
    );
}
