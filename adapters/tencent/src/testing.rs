//! A local Tencent Cloud IM for tests (feature `testing`): a server that speaks the REST API
//! v4 as published (seed-001 §7.1, §7.3), with Tencent's dedupe of repeated sends and
//! failures a test can script; callback URLs signed as Tencent signs them; and
//! [`command_of`], which reads a REST call back as the model command it carries out.
//!
//! This crate's tests use it, and so does `parley test --platform tencent`, which plays
//! Tencent's side of a transcript with it.

use crate::elements::{self, Elem};
use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse, HttpServer};
use parley_engine::model::{
    Command, Content, ConversationId, GroupId, GroupInfoPatch, MessageRef, ReadMark, RecallScope,
    SendOptions, UserId,
};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

pub const APP: u64 = 1400000001;
pub const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
pub const TOKEN: &str = "callback-token";
/// The app admin the REST calls are made as.
pub const ADMIN: &str = "administrator";
/// The server time in the fake's answers (seconds).
pub const TIME: u64 = 1_700_000_000;

/// What the fake answers next, before it answers normally.
#[derive(Clone, Debug)]
pub enum Failure {
    Http(u16),
    Code(i64),
    /// Takes the request (and its effect) but never answers in time.
    Hang,
}

/// One REST call as the fake received it.
#[derive(Clone, Debug)]
pub struct Request {
    /// `service/command`, e.g. `openim/sendmsg`.
    pub api: String,
    pub query: HashMap<String, String>,
    pub body: Value,
    /// The answer it got, when it got one from [`answer`] (not a scripted failure).
    pub answer: Option<Value>,
}

#[derive(Default)]
pub struct State {
    pub requests: Vec<Request>,
    pub failures: VecDeque<Failure>,
    /// Messages delivered to recipients, once per (sender, MsgRandom) for 1:1 and (group,
    /// Random) for groups as Tencent deduplicates them: (that key, the message's text).
    pub delivered: Vec<(String, String)>,
    seen: HashSet<String>,
    /// The last `MsgSeq` of each group, and the group message each (group, Random) got.
    group_seqs: HashMap<String, u64>,
    group_sends: HashMap<String, u64>,
    /// Each 1:1 conversation's messages (by its two accounts, sorted), oldest first: what
    /// `admin_getroammsg` reads and `modify_c2c_msg` / `admin_msgwithdraw` change.
    c2c_log: HashMap<(String, String), Vec<Logged>>,
    /// Each group's messages, oldest first: what `group_msg_get_simple` reads.
    group_log: HashMap<String, Vec<Logged>>,
}

/// A message as the fake keeps it.
#[derive(Clone, Debug)]
struct Logged {
    from: String,
    to: String,
    /// The 1:1 `MsgSeq` the sender chose, or the group's `MsgSeq`.
    seq: u64,
    random: u64,
    time: u64,
    /// The 1:1 `MsgKey` (empty in groups).
    key: String,
    body: Value,
    cloud: Option<String>,
    /// Whether the sender's own history has it (`SyncOtherMachine` 2 leaves it out).
    sender_sees: bool,
    recalled: bool,
}

fn pair(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.into(), b.into())
    } else {
        (b.into(), a.into())
    }
}

/// The most messages one `admin_getroammsg` answer holds in the fake, standing for Tencent's
/// 13 KB answer limit, so that a longer history takes several pages.
pub const ROAM_PAGE_MAX: usize = 3;
/// The most messages one `group_msg_get_simple` answer holds (Tencent: 20).
pub const GROUP_PAGE_MAX: usize = 20;
/// The code the fake answers for a message it does not have. Tencent documents 20022 for a
/// recall of a missing 1:1 message; the codes of the modify APIs are not documented.
pub const NO_SUCH_MESSAGE: i64 = 20022;
/// The code for a group the fake does not know (Tencent: "group does not exist").
pub const NO_SUCH_GROUP: i64 = 10010;

impl State {
    /// The next `MsgSeq` of `group`: group sequences count every message of the group,
    /// whoever sent it.
    pub fn next_group_seq(&mut self, group: &str) -> u64 {
        let seq = self.group_seqs.entry(group.to_string()).or_insert(0);
        *seq += 1;
        *seq
    }

    fn log_c2c(&mut self, m: Logged) {
        self.c2c_log
            .entry(pair(&m.from, &m.to))
            .or_default()
            .push(m);
    }

    /// A 1:1 message `from` sent to `to` from a client (kept on both sides); its `MsgKey`.
    pub fn user_sends(&mut self, from: &str, to: &str, text: &str) -> String {
        let n = self.c2c_log.values().map(Vec::len).sum::<usize>() as u64 + 1;
        let (seq, random) = (n, 9_000_000 + n);
        let key = format!("{seq}_{random}_{TIME}");
        self.log_c2c(Logged {
            from: from.into(),
            to: to.into(),
            seq,
            random,
            time: TIME,
            key: key.clone(),
            body: text_body(text),
            cloud: None,
            sender_sees: true,
            recalled: false,
        });
        key
    }

    /// A message `from` sent to `group` from a client; its `MsgSeq`.
    pub fn user_sends_to_group(&mut self, group: &str, from: &str, text: &str) -> u64 {
        let seq = self.next_group_seq(group);
        self.group_log
            .entry(group.into())
            .or_default()
            .push(Logged {
                from: from.into(),
                to: group.into(),
                seq,
                random: 8_000_000 + seq,
                time: TIME,
                key: String::new(),
                body: text_body(text),
                cloud: None,
                sender_sees: true,
                recalled: false,
            });
        seq
    }
}

fn text_body(text: &str) -> Value {
    json!([{ "MsgType": "TIMTextElem", "MsgContent": { "Text": text } }])
}

pub struct FakeTencent {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    pub sends: watch::Receiver<usize>,
    handle: ServerHandle,
}

impl FakeTencent {
    /// Listens on a free port of 127.0.0.1.
    pub async fn start() -> FakeTencent {
        let state = Arc::new(Mutex::new(State::default()));
        let (tx, sends) = watch::channel(0usize);
        let data = web::Data::new((state.clone(), tx));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/v4/{service}/{command}", web::post().to(handle))
        })
        .workers(2)
        .disable_signals()
        .bind("127.0.0.1:0")
        .expect("a free port on 127.0.0.1");
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
        self.lock().failures.extend(failures.iter().cloned());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("fake tencent state")
    }

    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// The requests from the `from`th on.
    pub fn requests_from(&self, from: usize) -> Vec<Request> {
        self.lock().requests.iter().skip(from).cloned().collect()
    }

    pub fn last(&self) -> Request {
        self.requests().pop().expect("a request")
    }

    pub fn delivered(&self) -> Vec<(String, String)> {
        self.lock().delivered.clone()
    }

    /// The next `MsgSeq` of a group, for a message a user sends there.
    pub fn next_group_seq(&self, group: &str) -> u64 {
        self.lock().next_group_seq(group)
    }

    /// See [`State::user_sends`].
    pub fn user_sends(&self, from: &str, to: &str, text: &str) -> String {
        self.lock().user_sends(from, to, text)
    }

    /// See [`State::user_sends_to_group`].
    pub fn user_sends_to_group(&self, group: &str, from: &str, text: &str) -> u64 {
        self.lock().user_sends_to_group(group, from, text)
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
            .expect("the fake is running");
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
        ("identifier", ADMIN.into()),
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
        let mut s = state.lock().expect("fake tencent state");
        s.requests.push(Request {
            api: api.clone(),
            query,
            body: body.clone(),
            answer: None,
        });
        s.failures.pop_front()
    };
    match failure {
        Some(Failure::Http(code)) => {
            return HttpResponse::build(
                actix_web::http::StatusCode::from_u16(code).expect("an HTTP status"),
            )
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

/// Tencent's answers, with its dedupe: the same sender and random is one message. The
/// answer is also kept with the request.
fn answer(state: &Mutex<State>, sends: &watch::Sender<usize>, api: &str, body: &Value) -> Value {
    let mut s = state.lock().expect("fake tencent state");
    let mut ok = json!({ "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "" });
    let text = body["MsgBody"][0]["MsgContent"]["Text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let deliver = |key: String, s: &mut State| -> bool {
        let new = s.seen.insert(key.clone());
        if new {
            s.delivered.push((key, text.clone()));
        }
        sends.send_replace(s.seen.len());
        new
    };
    let cloud = body["CloudCustomData"].as_str().map(str::to_string);
    match api {
        "openim/sendmsg" | "openim/batchsendmsg" => {
            let random = body["MsgRandom"].as_u64().unwrap_or_default();
            let from = body["From_Account"].as_str().unwrap_or_default();
            let key = format!("{}_{random}_{TIME}", body["MsgSeq"]);
            if deliver(format!("{from}:{random}"), &mut s) {
                let to: Vec<String> = match &body["To_Account"] {
                    Value::Array(a) => a
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect(),
                    v => v.as_str().map(str::to_string).into_iter().collect(),
                };
                for to in to {
                    s.log_c2c(Logged {
                        from: from.into(),
                        to,
                        seq: body["MsgSeq"].as_u64().unwrap_or_default(),
                        random,
                        time: TIME,
                        key: key.clone(),
                        body: body["MsgBody"].clone(),
                        cloud: cloud.clone(),
                        sender_sees: body["SyncOtherMachine"] != 2,
                        recalled: false,
                    });
                }
            }
            ok["MsgTime"] = json!(TIME);
            ok["MsgKey"] = json!(key);
            if api.ends_with("batchsendmsg") {
                ok["ErrorList"] = json!([]);
            }
        }
        "group_open_http_svc/send_group_msg" => {
            let group = body["GroupId"].as_str().unwrap_or_default().to_string();
            let key = format!("{group}:{}", body["Random"]);
            let seq = match s.group_sends.get(&key) {
                Some(seq) => *seq,
                None => {
                    let seq = s.next_group_seq(&group);
                    s.group_sends.insert(key.clone(), seq);
                    s.group_log.entry(group.clone()).or_default().push(Logged {
                        from: body["From_Account"].as_str().unwrap_or(ADMIN).into(),
                        to: group.clone(),
                        seq,
                        random: body["Random"].as_u64().unwrap_or_default(),
                        time: TIME,
                        key: String::new(),
                        body: body["MsgBody"].clone(),
                        cloud: cloud.clone(),
                        sender_sees: true,
                        recalled: false,
                    });
                    seq
                }
            };
            deliver(key, &mut s);
            ok["MsgTime"] = json!(TIME);
            ok["MsgSeq"] = json!(seq);
        }
        "group_open_http_svc/group_msg_recall" => {
            let seq = body["MsgSeqList"][0]["MsgSeq"].as_u64();
            let group = body["GroupId"].as_str().unwrap_or_default();
            for m in s.group_log.get_mut(group).into_iter().flatten() {
                m.recalled |= Some(m.seq) == seq;
            }
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
                .into_iter()
                .flatten()
                .map(|m| json!({ "Member_Account": m["Member_Account"], "Result": 1 }))
                .collect();
            ok["MemberList"] = json!(members);
        }
        "group_open_http_svc/create_group" => ok["GroupId"] = json!("@TGS#2J4SZEAEL"),
        _ => match history(&mut s, api, body).or_else(|| directory(api, body)) {
            Some(Ok(fields)) => ok
                .as_object_mut()
                .expect("an object")
                .extend(fields.as_object().expect("an object").clone()),
            Some(Err((code, info))) => {
                ok = json!({ "ActionStatus": "FAIL", "ErrorCode": code, "ErrorInfo": info })
            }
            None => {}
        },
    }
    if let Some(r) = s.requests.iter_mut().rev().find(|r| r.answer.is_none()) {
        r.answer = Some(ok.clone());
    }
    ok
}

/// The message APIs that read and change the fake's message log (the fields beside
/// `ActionStatus`, in Tencent's published shapes); `None` for another API.
fn history(s: &mut State, api: &str, body: &Value) -> Option<Result<Value, (i64, &'static str)>> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    Some(match api {
        "openim/admin_msgwithdraw" => {
            let (from, to, key) = (
                text(&body["From_Account"]),
                text(&body["To_Account"]),
                text(&body["MsgKey"]),
            );
            for m in s.c2c_log.get_mut(&pair(&from, &to)).into_iter().flatten() {
                m.recalled |= m.key == key && m.from == from;
            }
            Ok(json!({}))
        }
        "openim/modify_c2c_msg" => {
            let (from, to, key) = (
                text(&body["From_Account"]),
                text(&body["To_Account"]),
                text(&body["MsgKey"]),
            );
            let log = s.c2c_log.get_mut(&pair(&from, &to));
            match log.and_then(|l| {
                l.iter_mut()
                    .find(|m| m.key == key && m.from == from && !m.recalled)
            }) {
                Some(m) => {
                    modify(m, body);
                    Ok(json!({}))
                }
                None => Err((NO_SUCH_MESSAGE, "the message does not exist")),
            }
        }
        "openim/modify_group_msg" => {
            let Some(log) = s.group_log.get_mut(&text(&body["GroupId"])) else {
                return Some(Err((NO_SUCH_GROUP, "the group does not exist")));
            };
            let seq = body["MsgSeq"].as_u64();
            match log.iter_mut().find(|m| Some(m.seq) == seq && !m.recalled) {
                Some(m) => {
                    modify(m, body);
                    Ok(json!({}))
                }
                None => Err((NO_SUCH_MESSAGE, "the message does not exist")),
            }
        }
        // From `Operator_Account`'s side: what it sent with `SyncOtherMachine` 2 is not there.
        // The newest messages of [MinTime, MaxTime] before `LastMsgKey`, at most
        // [`ROAM_PAGE_MAX`] of them, oldest first; `LastMsgKey` names the oldest returned.
        "openim/admin_getroammsg" => {
            let (me, peer) = (text(&body["Operator_Account"]), text(&body["Peer_Account"]));
            let (min, max) = (
                body["MinTime"].as_u64().unwrap_or(0),
                body["MaxTime"].as_u64().unwrap_or(u64::MAX),
            );
            let log = s
                .c2c_log
                .get(&pair(&me, &peer))
                .cloned()
                .unwrap_or_default();
            let mut range: Vec<&Logged> = log
                .iter()
                .filter(|m| m.to == me || m.sender_sees)
                .filter(|m| (min..=max).contains(&m.time))
                .collect();
            if let Some(last) = body["LastMsgKey"].as_str() {
                if let Some(at) = range.iter().position(|m| m.key == last) {
                    range.truncate(at);
                }
            }
            let count = (body["MaxCnt"].as_u64().unwrap_or(0) as usize).min(ROAM_PAGE_MAX);
            let page = &range[range.len().saturating_sub(count)..];
            let list: Vec<Value> = page
                .iter()
                .map(|m| {
                    json!({
                        "From_Account": m.from, "To_Account": m.to, "MsgSeq": m.seq,
                        "MsgRandom": m.random, "MsgTimeStamp": m.time,
                        "MsgFlagBits": if m.recalled { 8 } else { 0 }, "IsPeerRead": 0,
                        "MsgKey": m.key, "MsgBody": m.body,
                        "CloudCustomData": m.cloud.clone().unwrap_or_default(),
                    })
                })
                .collect();
            let mut answer = json!({
                "Complete": u8::from(page.len() == range.len()), "MsgCnt": list.len(), "MsgList": list,
            });
            if let Some(oldest) = page.first() {
                answer["LastMsgTime"] = json!(oldest.time);
                answer["LastMsgKey"] = json!(oldest.key);
            }
            Ok(answer)
        }
        // The newest `ReqMsgNumber` (at most 20) messages with a `MsgSeq` up to `ReqMsgSeq`,
        // newest first; recalled ones as place holders (`IsPlaceMsg` 2, no body).
        "group_open_http_svc/group_msg_get_simple" => {
            let group = text(&body["GroupId"]);
            let log = match s.group_log.get(&group) {
                Some(log) => log.clone(),
                None if group == GROUP => Vec::new(),
                None => return Some(Err((NO_SUCH_GROUP, "the group does not exist"))),
            };
            let upto = body["ReqMsgSeq"].as_u64().unwrap_or(u64::MAX);
            let wanted = body["ReqMsgNumber"].as_u64().unwrap_or(0) as usize;
            let list: Vec<Value> = log
                .iter()
                .rev()
                .filter(|m| m.seq <= upto)
                .take(wanted.min(GROUP_PAGE_MAX))
                .map(|m| {
                    let mut v = json!({
                        "From_Account": m.from, "IsPlaceMsg": if m.recalled { 2 } else { 0 },
                        "MsgPriority": 2, "MsgRandom": m.random, "MsgSeq": m.seq,
                        "MsgTimeStamp": m.time, "MsgBody": if m.recalled { json!([]) } else { m.body.clone() },
                    });
                    if let Some(c) = &m.cloud {
                        v["CloudCustomData"] = json!(c);
                    }
                    v
                })
                .collect();
            Ok(
                json!({ "GroupId": group, "IsFinished": u8::from(wanted <= GROUP_PAGE_MAX), "RspMsgList": list }),
            )
        }
        _ => return None,
    })
}

/// `MsgBody` and `CloudCustomData` replace the message's where the request has them.
fn modify(m: &mut Logged, body: &Value) {
    if body["MsgBody"].is_array() {
        m.body = body["MsgBody"].clone();
    }
    if let Some(c) = body["CloudCustomData"].as_str() {
        m.cloud = Some(c.into());
    }
}

/// The friends of the bot's account in the fake, in `sns/friend_get` order, with remarks.
pub const FRIENDS: &[(&str, &str)] = &[("alice", "Alice from sales"), ("bob", ""), ("carol", "")];
/// How many friends one `sns/friend_get` page holds in the fake (Tencent: 100), so that
/// [`FRIENDS`] takes two pages.
pub const FRIEND_PAGE: usize = 2;
/// The group the fake knows; any other group does not exist (10010).
pub const GROUP: &str = "g1";
/// Until when (seconds) `bob` is muted in [`GROUP`]: 2100-01-01, after any test run.
pub const BOB_MUTED_UNTIL: i64 = 4_102_444_800;
/// An account the fake has no profile for (40003).
pub const GHOST: &str = "ghost";

fn group_base() -> Value {
    json!({
        "GroupId": GROUP, "Type": "Public", "Name": "Lobby", "Introduction": "all of us",
        "Notification": "be kind", "FaceUrl": "https://example.com/g1.png",
        "Owner_Account": "alice", "CreateTime": 1_600_000_000, "MemberNum": 3,
        "MaxMemberNum": 2000, "ApplyJoinOption": "FreeAccess", "ShutUpAllMember": "Off",
    })
}

/// The answers of the query APIs (the fields beside `ActionStatus`), in Tencent's published
/// shapes, from the fake's small world: [`FRIENDS`], [`GROUP`] with alice (owner), bot
/// (admin) and bob (member, muted), and profiles for everyone but [`GHOST`]. `Err` is a
/// whole-call failure (code, info); `None` for an API that is not a query.
pub fn directory(api: &str, body: &Value) -> Option<Result<Value, (i64, &'static str)>> {
    let group_known = body["GroupId"] == GROUP;
    Some(Ok(match api {
        "sns/friend_get" => {
            let start = body["StartIndex"].as_u64().unwrap_or(0) as usize;
            let page: Vec<Value> = FRIENDS
                .iter()
                .skip(start)
                .take(FRIEND_PAGE)
                .map(|(user, remark)| {
                    let mut tags = vec![
                        json!({ "Tag": "Tag_SNS_IM_AddSource", "Value": "AddSource_Type_Android" }),
                        json!({ "Tag": "Tag_SNS_IM_AddTime", "Value": 1_650_000_000 }),
                    ];
                    if !remark.is_empty() {
                        tags.push(json!({ "Tag": "Tag_SNS_IM_Remark", "Value": remark }));
                    }
                    json!({ "To_Account": user, "ValueItem": tags })
                })
                .collect();
            let next = start + page.len();
            let complete = next >= FRIENDS.len();
            json!({
                "UserDataItem": page, "StandardSequence": 7, "CustomSequence": 0,
                "FriendNum": FRIENDS.len(), "CompleteFlag": u8::from(complete),
                "NextStartIndex": if complete { 0 } else { next },
            })
        }
        "group_open_http_svc/get_joined_group_list" => {
            let mut ops = json!({ "GroupId": "@TGS#ops", "Type": "Work", "Name": "Ops",
                                  "MemberNum": 2, "MaxMemberNum": 200, "Owner_Account": "bot" });
            if body["ResponseFilter"]["GroupBaseInfoFilter"]
                .as_array()
                .is_none_or(|f| f.is_empty())
            {
                // Without a filter Tencent answers ids only.
                ops = json!({ "GroupId": "@TGS#ops" });
            }
            json!({ "TotalCount": 2, "GroupIdList": [group_base(), ops] })
        }
        "group_open_http_svc/get_group_info" => {
            let id = body["GroupIdList"][0].clone();
            if id == GROUP {
                let mut g = group_base();
                g["ErrorCode"] = json!(0);
                g["ErrorInfo"] = json!("");
                json!({ "GroupInfo": [g] })
            } else {
                json!({ "GroupInfo": [{ "GroupId": id, "ErrorCode": 10010,
                                       "ErrorInfo": "this group does not exist" }] })
            }
        }
        "group_open_http_svc/get_group_member_info" if group_known => json!({
            "MemberNum": 3,
            "MemberList": [
                { "Member_Account": "alice", "Role": "Owner", "JoinTime": 1_600_000_000,
                  "MsgSeq": 10, "MsgFlag": "AcceptAndNotify", "LastSendMsgTime": 1_700_000_000,
                  "ShutUpUntil": 0, "NameCard": "" },
                { "Member_Account": "bot", "Role": "Admin", "JoinTime": 1_650_000_000,
                  "ShutUpUntil": 0, "NameCard": "Support bot" },
                { "Member_Account": "bob", "Role": "Member", "JoinTime": 1_690_000_000,
                  "ShutUpUntil": BOB_MUTED_UNTIL, "NameCard": "Bob (QA)" },
            ],
        }),
        "group_open_http_svc/get_group_member_info" => {
            return Some(Err((10010, "this group does not exist")))
        }
        "profile/portrait_get" => {
            let user = body["To_Account"][0].as_str().unwrap_or_default();
            if user == GHOST {
                return Some(Err((40003, "the account does not exist")));
            }
            json!({
                "UserProfileItem": [{
                    "To_Account": user, "ResultCode": 0, "ResultInfo": "",
                    "ProfileItem": [
                        { "Tag": "Tag_Profile_IM_Nick", "Value": format!("{user} nick") },
                        { "Tag": "Tag_Profile_IM_Image", "Value": format!("https://example.com/{user}.png") },
                        { "Tag": "Tag_Profile_IM_SelfSignature", "Value": "hello there" },
                        { "Tag": "Tag_Profile_IM_Gender", "Value": "Gender_Type_Female" },
                        { "Tag": "Tag_Profile_IM_Level", "Value": 7 },
                    ],
                }],
                "FailAccount": [],
            })
        }
        _ => return None,
    }))
}

/// A connection's settings pointing at a fake at `rest_url`, with the secrets of
/// [`env`], as `[[connections]]` would give them.
pub fn config(rest_url: &str) -> crate::TencentConfig {
    serde_json::from_value(json!({
        "id": "tc", "sdk_app_id": APP, "admin": ADMIN, "bot": "bot",
        "rest_url": rest_url, "secret_key_env": "TC_KEY", "callback_token_env": "TC_TOKEN",
        "request_timeout_ms": 1000,
    }))
    .expect("a valid tencent config")
}

/// The environment [`config`] reads its secrets from.
pub fn env(var: &str) -> Option<String> {
    match var {
        "TC_KEY" => Some(KEY.into()),
        "TC_TOKEN" => Some(TOKEN.into()),
        _ => None,
    }
}

/// The callback URL's query as Tencent builds it, signed with [`TOKEN`] at `time`.
pub fn callback_query(command: &str, time: i64) -> String {
    let sign = parley_vendor::sign::sha256_hex(&[TOKEN.as_bytes(), time.to_string().as_bytes()]);
    format!(
        "SdkAppid={APP}&CallbackCommand={command}&contenttype=json&ClientIP=127.0.0.1&OptPlatform=RESTAPI&Sign={sign}&RequestTime={time}"
    )
}

/// Now, in seconds since the Unix epoch (a callback's `RequestTime`).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The model command a REST call carries out, read back from the call (`bot` is the bot's
/// account: a send from another account is a send `as_user`); `None` for a call that
/// carries out no command this crate makes.
pub fn command_of(api: &str, body: &Value, bot: &str) -> Option<Command> {
    let s = |v: &Value| v.as_str().map(str::to_string);
    let user = |v: &Value| s(v).map(UserId);
    let group = || s(&body["GroupId"]).map(GroupId);
    let content = || -> Option<Content> {
        let elems: Vec<Elem> = serde_json::from_value(body["MsgBody"].clone()).ok()?;
        let mut content = elements::to_content(&elems).ok()?;
        if let Content::Text(t) = &mut content {
            for at in body["GroupAtInfo"].as_array().into_iter().flatten() {
                if at["GroupAtAllFlag"] == 1 {
                    t.mention_all = true;
                } else if let Some(u) = user(&at["GroupAt_Account"]) {
                    t.mentions.push(u);
                }
            }
        }
        Some(content)
    };
    let as_user = || user(&body["From_Account"]).filter(|u| u.as_str() != bot);
    let users = |v: &Value| -> Vec<UserId> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| user(m).or_else(|| user(&m["Member_Account"])))
            .collect()
    };
    Some(match api {
        "openim/sendmsg" => Command::Send {
            to: ConversationId::direct(s(&body["To_Account"])?),
            content: content()?,
            reply_to: None,
            options: SendOptions::default(),
            as_user: as_user(),
        },
        "openim/batchsendmsg" => Command::BatchSend {
            to: users(&body["To_Account"])
                .into_iter()
                .map(|u| ConversationId::direct(u.0))
                .collect(),
            content: content()?,
        },
        "group_open_http_svc/send_group_msg" => Command::Send {
            to: ConversationId::group(group()?.0),
            content: content()?,
            reply_to: None,
            options: SendOptions::default(),
            as_user: as_user(),
        },
        "openim/modify_c2c_msg" => Command::Edit {
            conversation: ConversationId::direct(s(&body["To_Account"])?),
            message: MessageRef::new(s(&body["MsgKey"])?),
            content: content()?,
        },
        "openim/modify_group_msg" => Command::Edit {
            conversation: ConversationId::group(group()?.0),
            message: seq_ref(body["MsgSeq"].as_u64()?),
            content: content()?,
        },
        // Every page of a history reads back as the command.
        "openim/admin_getroammsg" => Command::FetchHistory {
            // Read from the peer's side (`history.rs`).
            conversation: ConversationId::direct(s(&body["Operator_Account"])?),
            before: s(&body["LastMsgKey"]).map(MessageRef::new),
            limit: body["MaxCnt"].as_u64()? as u32,
        },
        "group_open_http_svc/group_msg_get_simple" => Command::FetchHistory {
            conversation: ConversationId::group(group()?.0),
            before: body["ReqMsgSeq"].as_u64().map(|s| seq_ref(s + 1)),
            limit: body["ReqMsgNumber"].as_u64()? as u32,
        },
        "openim/admin_msgwithdraw" => Command::Recall {
            conversation: ConversationId::direct(s(&body["To_Account"])?),
            message: MessageRef::new(s(&body["MsgKey"])?),
            scope: RecallScope::Everyone,
        },
        "group_open_http_svc/group_msg_recall" => Command::Recall {
            conversation: ConversationId::group(group()?.0),
            message: seq_ref(body["MsgSeqList"][0]["MsgSeq"].as_u64()?),
            scope: RecallScope::Everyone,
        },
        "openim/admin_set_msg_read" => Command::MarkRead {
            conversation: ConversationId::direct(s(&body["Peer_Account"])?),
            read: ReadMark::Messages {
                messages: Vec::new(),
            },
        },
        "sns/friend_add" => {
            let item = &body["AddFriendItem"][0];
            Command::AddFriend {
                user: user(&item["To_Account"])?,
                greeting: s(&item["AddWording"]),
                answer: None,
            }
        }
        "sns/friend_delete" => Command::RemoveFriend {
            user: users(&body["To_Account"]).pop()?,
        },
        "sns/black_list_add" => Command::Block {
            user: users(&body["To_Account"]).pop()?,
        },
        "sns/black_list_delete" => Command::Unblock {
            user: users(&body["To_Account"]).pop()?,
        },
        "group_open_http_svc/add_group_member" => {
            let members = users(&body["MemberList"]);
            if members.len() == 1 && members[0].as_str() == bot {
                Command::JoinGroup {
                    group: group()?,
                    message: None,
                }
            } else {
                Command::Invite {
                    group: group()?,
                    users: members,
                }
            }
        }
        "group_open_http_svc/delete_group_member" => {
            let members = users(&body["MemberToDel_Account"]);
            if members.len() == 1 && members[0].as_str() == bot {
                Command::LeaveGroup { group: group()? }
            } else {
                Command::Kick {
                    group: group()?,
                    users: members,
                    ban_seconds: None,
                }
            }
        }
        "group_open_http_svc/forbid_send_msg" => {
            let (group, user) = (group()?, users(&body["Members_Account"]).pop()?);
            match body["MuteTime"].as_u64()? {
                0 => Command::Unmute { group, user },
                seconds => Command::Mute {
                    group,
                    user,
                    seconds,
                },
            }
        }
        "group_open_http_svc/modify_group_base_info" => {
            if let Some(text) = s(&body["Notification"]) {
                Command::SetAnnouncement {
                    group: group()?,
                    text,
                }
            } else if let Some(flag) = body["ShutUpAllMember"].as_str() {
                match flag {
                    "On" => Command::MuteAll { group: group()? },
                    _ => Command::UnmuteAll { group: group()? },
                }
            } else {
                let ext = body["AppDefinedData"].as_array().map(|items| {
                    items
                        .iter()
                        .filter_map(|i| Some((s(&i["Key"])?, i["Value"].clone())))
                        .collect::<serde_json::Map<_, _>>()
                        .into()
                });
                Command::SetGroupInfo {
                    group: group()?,
                    patch: GroupInfoPatch {
                        name: s(&body["Name"]),
                        avatar_url: s(&body["FaceUrl"]),
                        description: s(&body["Introduction"]),
                        ext,
                    },
                }
            }
        }
        "group_open_http_svc/modify_group_member_info" => Command::SetAdmin {
            group: group()?,
            user: user(&body["Member_Account"])?,
            admin: body["Role"] == "Admin",
        },
        "group_open_http_svc/change_group_owner" => Command::TransferOwner {
            group: group()?,
            user: user(&body["NewOwner_Account"])?,
        },
        "group_open_http_svc/destroy_group" => Command::Dismiss { group: group()? },
        // The friend list is read page by page; its first page is the command.
        "sns/friend_get" if body["StartIndex"].as_u64() == Some(0) => Command::ListFriends,
        "group_open_http_svc/get_joined_group_list" => Command::ListGroups,
        "group_open_http_svc/get_group_info" => Command::GetGroupInfo {
            group: GroupId(s(&body["GroupIdList"][0])?),
        },
        "group_open_http_svc/get_group_member_info" => Command::ListMembers { group: group()? },
        "profile/portrait_get" => Command::GetProfile {
            user: users(&body["To_Account"]).pop()?,
        },
        _ => return None,
    })
}

fn seq_ref(seq: u64) -> MessageRef {
    MessageRef {
        seq: Some(seq),
        ..MessageRef::new(seq.to_string())
    }
}
