//! A local server that speaks Tencent's REST API v4 as published (seed-001 §7.1, §7.3),
//! with Tencent's dedupe of repeated sends, and failures a test can script; and helpers to
//! build an adapter pointing at it.

#![allow(dead_code)]

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse, HttpServer};
use parley_tencent::{TencentAdapter, TencentConfig};
use parley_vendor::Clock;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

pub const APP: u64 = 1400000001;
pub const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "callback-token";

/// What the fake answers next, before it answers normally.
#[derive(Clone, Debug)]
pub enum Failure {
    Http(u16),
    Code(i64),
    /// Takes the request (and its effect) but never answers in time.
    Hang,
}

#[derive(Clone, Debug)]
pub struct Request {
    pub api: String,
    pub query: HashMap<String, String>,
    pub body: Value,
}

#[derive(Default)]
pub struct State {
    pub requests: Vec<Request>,
    pub failures: VecDeque<Failure>,
    /// Messages delivered to recipients, once per (sender, MsgRandom) for 1:1 and (group,
    /// Random) for groups as Tencent deduplicates them: (that key, the message's text).
    pub delivered: Vec<(String, String)>,
    seen: HashSet<String>,
    next_seq: u64,
}

pub struct FakeTencent {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    pub sends: watch::Receiver<usize>,
    handle: ServerHandle,
}

impl FakeTencent {
    pub async fn start() -> FakeTencent {
        let state = Arc::new(Mutex::new(State::default()));
        let (tx, sends) = watch::channel(0usize);
        let data = web::Data::new((state.clone(), tx));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/v4/{service}/{command}", web::post().to(handle))
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
        let url = format!("http://{}", server.addrs()[0]);
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        FakeTencent {
            url,
            state,
            sends,
            handle,
        }
    }

    pub fn fail_next(&self, failures: &[Failure]) {
        self.state
            .lock()
            .unwrap()
            .failures
            .extend(failures.iter().cloned());
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn last(&self) -> Request {
        self.requests().pop().expect("a request")
    }

    pub fn delivered(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().delivered.clone()
    }

    /// Waits until `n` distinct messages were delivered.
    pub async fn wait_sends(&self, n: usize) {
        let mut rx = self.sends.clone();
        tokio::time::timeout(std::time::Duration::from_secs(20), rx.wait_for(|c| *c >= n))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{n} messages were not delivered in time: {:?}",
                    self.delivered()
                )
            })
            .unwrap();
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

type Shared = (Arc<Mutex<State>>, watch::Sender<usize>);

async fn handle(
    data: web::Data<Shared>,
    path: web::Path<(String, String)>,
    query: web::Query<HashMap<String, String>>,
    body: web::Json<Value>,
) -> HttpResponse {
    let (service, command) = path.into_inner();
    let api = format!("{service}/{command}");
    let body = body.into_inner();
    let query = query.into_inner();
    for (k, v) in [
        ("sdkappid", APP.to_string()),
        ("identifier", "administrator".into()),
        ("contenttype", "json".into()),
    ] {
        if query.get(k) != Some(&v) {
            return fail(60002, &format!("bad query parameter {k}"));
        }
    }
    if query.get("usersig").is_none_or(|s| s.is_empty())
        || query
            .get("random")
            .and_then(|r| r.parse::<u32>().ok())
            .is_none()
    {
        return fail(70003, "usersig or random missing");
    }
    let (state, sends) = data.get_ref();
    let failure = {
        let mut s = state.lock().unwrap();
        s.requests.push(Request {
            api: api.clone(),
            query,
            body: body.clone(),
        });
        s.failures.pop_front()
    };
    match failure {
        Some(Failure::Http(code)) => {
            return HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap())
                .body("upstream failed")
        }
        Some(Failure::Code(code)) => return fail(code, "scripted failure"),
        Some(Failure::Hang) => {
            // The effect happens, the answer never comes in time.
            answer(state, sends, &api, &body);
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            return HttpResponse::Ok().finish();
        }
        None => {}
    }
    HttpResponse::Ok().json(answer(state, sends, &api, &body))
}

fn fail(code: i64, info: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "ActionStatus": "FAIL", "ErrorCode": code, "ErrorInfo": info }))
}

/// Tencent's answers, with its dedupe: the same sender and random is one message.
fn answer(state: &Mutex<State>, sends: &watch::Sender<usize>, api: &str, body: &Value) -> Value {
    let mut s = state.lock().unwrap();
    let mut ok = json!({ "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "" });
    let time = 1_700_000_000u64;
    let text = body["MsgBody"][0]["MsgContent"]["Text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let deliver = |key: String, s: &mut State| {
        if s.seen.insert(key.clone()) {
            s.delivered.push((key, text.clone()));
        }
        sends.send_replace(s.seen.len());
    };
    match api {
        "openim/sendmsg" | "openim/batchsendmsg" => {
            let random = body["MsgRandom"].as_u64().unwrap();
            deliver(
                format!("{}:{random}", body["From_Account"].as_str().unwrap()),
                &mut s,
            );
            ok["MsgTime"] = json!(time);
            ok["MsgKey"] = json!(format!("{}_{random}_{time}", body["MsgSeq"]));
            if api.ends_with("batchsendmsg") {
                ok["ErrorList"] = json!([]);
            }
        }
        "group_open_http_svc/send_group_msg" => {
            let key = format!("{}:{}", body["GroupId"].as_str().unwrap(), body["Random"]);
            let seq = match s.seen.contains(&key) {
                true => s.next_seq,
                false => {
                    s.next_seq += 1;
                    s.next_seq
                }
            };
            deliver(key, &mut s);
            ok["MsgTime"] = json!(time);
            ok["MsgSeq"] = json!(seq);
        }
        "group_open_http_svc/group_msg_recall" => {
            ok["RecallRetList"] =
                json!([{ "MsgSeq": body["MsgSeqList"][0]["MsgSeq"], "RetCode": 0 }]);
        }
        "sns/friend_add" => {
            ok["ResultItem"] = json!([{ "To_Account": body["AddFriendItem"][0]["To_Account"], "ResultCode": 0, "ResultInfo": "" }]);
        }
        "sns/friend_delete" | "sns/black_list_add" | "sns/black_list_delete" => {
            ok["ResultItem"] =
                json!([{ "To_Account": body["To_Account"][0], "ResultCode": 0, "ResultInfo": "" }]);
        }
        "group_open_http_svc/add_group_member" => {
            let members: Vec<Value> = body["MemberList"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| json!({ "Member_Account": m["Member_Account"], "Result": 1 }))
                .collect();
            ok["MemberList"] = json!(members);
        }
        "group_open_http_svc/create_group" => ok["GroupId"] = json!("@TGS#2J4SZEAEL"),
        _ => {}
    }
    ok
}

pub fn config(rest_url: &str) -> TencentConfig {
    serde_json::from_value(json!({
        "id": "tc", "sdk_app_id": APP, "admin": "administrator", "bot": "bot",
        "rest_url": rest_url, "secret_key_env": "TC_KEY", "callback_token_env": "TC_TOKEN",
        "request_timeout_ms": 1000,
    }))
    .unwrap()
}

pub fn env(var: &str) -> Option<String> {
    match var {
        "TC_KEY" => Some(KEY.into()),
        "TC_TOKEN" => Some(TOKEN.into()),
        _ => None,
    }
}

pub fn adapter_with(config: TencentConfig, clock: Clock) -> Arc<TencentAdapter> {
    Arc::new(TencentAdapter::with_env(config, env, clock).unwrap())
}

pub fn adapter(rest_url: &str) -> Arc<TencentAdapter> {
    adapter_with(config(rest_url), Clock::system())
}

/// The callback URL's query as Tencent builds it, signed at `time`.
pub fn callback_query(command: &str, time: i64) -> String {
    let sign = parley_vendor::sign::sha256_hex(&[TOKEN.as_bytes(), time.to_string().as_bytes()]);
    format!(
        "SdkAppid={APP}&CallbackCommand={command}&contenttype=json&ClientIP=127.0.0.1&OptPlatform=RESTAPI&Sign={sign}&RequestTime={time}"
    )
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
