//! The local OneBot v11 implementation (`parley_onebot::testing`, shared with `parley
//! test --platform onebot`), Parley's side of a connection, and the QQ account's world as
//! the query actions see it.

#![allow(dead_code)]

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer};
pub use parley_onebot::testing::*;
use parley_onebot::{OneBotAdapter, OneBotConfig};
use serde_json::{json, Value};
use std::sync::Arc;

pub fn adapter(extra: Value) -> Arc<OneBotAdapter> {
    let mut v = json!({"id": "qq", "self_id": SELF_ID, "access_token_env": "QQ_TOKEN"});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let config: OneBotConfig = serde_json::from_value(v).unwrap();
    Arc::new(
        OneBotAdapter::with_env(config, |k| (k == "QQ_TOKEN").then(|| TOKEN.to_string())).unwrap(),
    )
}

/// Parley's HTTP server with the adapter's routes, on a free port.
pub struct Server {
    pub addr: std::net::SocketAddr,
    handle: ServerHandle,
}

impl Server {
    pub async fn start(adapter: &OneBotAdapter) -> Server {
        let routes = adapter.routes();
        let server = HttpServer::new(move || App::new().configure(routes.clone()))
            .workers(1)
            .disable_signals()
            .bind("127.0.0.1:0")
            .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Server { addr, handle }
    }
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

pub fn failed(retcode: i64, msg: &str, wording: &str) -> Value {
    json!({"status": "failed", "retcode": retcode, "data": null, "msg": msg, "wording": wording})
}

/// A mute that ends long after any test run (2100-01-01), in seconds as OneBot sends it.
pub const MUTED_UNTIL: i64 = 4_102_444_800;

/// The QQ account's world as the implementation reports it to the query actions, in the
/// shapes NapCat and go-cqhttp answer with (numbers where v11 has numbers, a string id
/// where some implementations send one, their extension fields). Group 500 is known;
/// any other group is answered `GROUP_NOT_FOUND`, and group 700's member list comes back
/// malformed. `None` for an action that is not a query.
pub fn directory_answer(action: &str, params: &Value) -> Option<Value> {
    let group_500 = json!({"group_id": 500, "group_name": "Lobby", "member_count": 3,
                           "max_member_count": 200, "group_all_shut": 0, "group_remark": ""});
    let group = params["group_id"].as_i64();
    Some(match (action, group) {
        ("get_friend_list", _) => ok(json!([
            {"user_id": 42, "nickname": "alice", "remark": "Alice from support"},
            {"user_id": "43", "nickname": "bob", "remark": ""},
        ])),
        ("get_group_list", _) => ok(json!([
            group_500,
            {"group_id": 600, "group_name": "Ops", "member_count": 2, "max_member_count": 500,
             "group_all_shut": -1},
        ])),
        ("get_group_info", Some(500)) => ok(group_500),
        ("get_group_member_list", Some(500)) => ok(json!([
            {"group_id": 500, "user_id": 1, "nickname": "boss", "card": "", "role": "owner",
             "join_time": 1600000000, "last_sent_time": 1700000000, "shut_up_timestamp": 0,
             "level": "100", "title": ""},
            {"group_id": 500, "user_id": 42, "nickname": "alice", "card": "Alice (ops)",
             "role": "admin", "join_time": 1650000000, "shut_up_timestamp": 0},
            {"group_id": 500, "user_id": SELF_ID, "nickname": "parley", "card": "",
             "role": "member", "join_time": 1690000000, "shut_up_timestamp": MUTED_UNTIL},
        ])),
        ("get_group_member_list", Some(700)) => ok(json!({"members": "soon"})),
        ("get_group_info" | "get_group_member_list", _) => {
            failed(100, "GROUP_NOT_FOUND", "群不存在")
        }
        ("get_stranger_info", _) => ok(json!({
            "user_id": params["user_id"], "nickname": "alice", "sex": "female", "age": 20,
            "qid": "", "level": 12, "login_days": 300, "long_nick": "here to help"})),
        _ => return None,
    })
}
