//! Every callback kind through the HTTP endpoint: signature checks, answers in Tencent's
//! envelope, the events delivered, and refusals that lose nothing.

mod support;

use actix_web::{test, App};
use parley_engine::adapter::{Adapter, Intake};
use parley_engine::model::*;
use serde_json::{json, Value};
use support::*;

struct Harness<S> {
    app: S,
    events: tokio::sync::mpsc::Receiver<(Envelope, Option<String>)>,
}

async fn harness() -> Harness<
    impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
    >,
> {
    let adapter = adapter("http://127.0.0.1:9");
    let (intake, events) = Intake::collecting(ConnectionId::from("tc"), 64);
    adapter.start(intake, None).await.unwrap();
    let app = test::init_service(App::new().configure(adapter.routes())).await;
    Harness { app, events }
}

async fn post<S>(app: &S, query: &str, body: &str) -> (u16, Value)
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
    >,
{
    let req = test::TestRequest::post()
        .uri(&format!("/webhooks/tencent?{query}"))
        .insert_header(("content-type", "application/json"))
        .set_payload(body.to_string())
        .to_request();
    let resp = test::call_service(app, req).await;
    let status = resp.status().as_u16();
    let bytes = test::read_body(resp).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

impl<S> Harness<S>
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
    >,
{
    /// Posts a signed callback and returns the answer and the events it delivered.
    async fn callback(&mut self, body: Value) -> (Value, Vec<Envelope>) {
        let command = body["CallbackCommand"].as_str().unwrap().to_string();
        let (status, answer) = post(
            &self.app,
            &callback_query(&command, now()),
            &body.to_string(),
        )
        .await;
        assert_eq!(status, 200, "{command}: {answer}");
        let mut events = Vec::new();
        while let Ok((e, _)) = self.events.try_recv() {
            events.push(e);
        }
        (answer, events)
    }

    async fn one(&mut self, body: Value) -> Envelope {
        let (answer, mut events) = self.callback(body).await;
        assert_eq!(
            answer,
            json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
        );
        assert_eq!(events.len(), 1, "{events:?}");
        events.remove(0)
    }
}

fn text(t: &str) -> Value {
    json!([{ "MsgType": "TIMTextElem", "MsgContent": { "Text": t } }])
}

#[actix_rt::test]
async fn messages_one_to_one_and_group() {
    let mut h = harness().await;
    let e = h
        .one(json!({
            "CallbackCommand": "C2C.CallbackAfterSendMsg", "From_Account": "alice", "To_Account": "bot",
            "MsgSeq": 48374, "MsgRandom": 2837546, "MsgTime": 1557481126, "MsgKey": "48374_2837546_1557481126",
            "MsgId": "144115233406643804-1727580296-4026038328", "OnlineOnlyFlag": 0, "MsgBody": text("hi"),
            "CloudCustomData": "{\"order\":7}", "SendMsgResult": 0, "ErrorInfo": "send msg succeed",
            "UnreadMsgNum": 1, "EventTime": "1670574414123"
        }))
        .await;
    assert_eq!(e.id, EventId::from("c2c:48374_2837546_1557481126"));
    assert_eq!(e.time_ms, 1670574414123);
    assert!(!e.from_self);
    let Event::Message(m) = &e.event else {
        panic!("{e:?}")
    };
    assert_eq!(m.conversation, ConversationId::direct("alice"));
    assert_eq!(m.content, Content::text("hi"));
    assert_eq!(m.id.time_ms, Some(1557481126000));
    assert_eq!(m.extra, json!({"order": 7}));

    // The bot's own send, echoed: marked, so bots do not answer it.
    let e = h
        .one(json!({
            "CallbackCommand": "C2C.CallbackAfterSendMsg", "From_Account": "bot", "To_Account": "alice",
            "MsgRandom": 1, "MsgTime": 1557481127, "MsgKey": "1_1_1557481127", "MsgBody": text("echo"),
            "SendMsgResult": 0, "EventTime": 1670574414124u64
        }))
        .await;
    assert!(e.from_self);
    assert_eq!(e.route(), ConversationId::direct("alice"));

    // Traffic between two other users of the app is not this bot's.
    let (answer, events) = h
        .callback(json!({
            "CallbackCommand": "C2C.CallbackAfterSendMsg", "From_Account": "alice", "To_Account": "carol",
            "MsgKey": "2_2_2", "MsgBody": text("x"), "SendMsgResult": 0
        }))
        .await;
    assert_eq!(answer["ErrorCode"], 0);
    assert!(events.is_empty());

    let e = h
        .one(json!({
            "CallbackCommand": "Group.CallbackAfterSendMsg", "GroupId": "@TGS#2J4SZEAEL", "Type": "Public",
            "From_Account": "jared", "Operator_Account": "", "Random": 2784275388u64, "MsgSeq": 123, "MsgTime": 1490686222,
            "OnlineOnlyFlag": 0, "MsgBody": text("hello @bot @all"), "EventTime": 1670574414125u64,
            "GroupAtInfo": [{"GroupAtAllFlag": 1}, {"GroupAtAllFlag": 0, "GroupAt_Account": "bot"}]
        }))
        .await;
    assert_eq!(e.id, EventId::from("group:@TGS#2J4SZEAEL:123"));
    let Event::Message(m) = &e.event else {
        panic!()
    };
    assert_eq!(m.id.seq, Some(123));
    assert_eq!(m.conversation, ConversationId::group("@TGS#2J4SZEAEL"));
    assert!(m.content.mentions_all());
    assert_eq!(m.content.mentions(), vec![UserId::from("bot")]);
}

#[actix_rt::test]
async fn recalls_reads_friends_and_group_notices() {
    let mut h = harness().await;
    let e = h
        .one(json!({"CallbackCommand": "C2C.CallbackAfterMsgWithDraw", "From_Account": "alice", "To_Account": "bot",
                    "MsgKey": "48374_2837546_1557481126", "UnreadMsgNum": 0, "EventTime": 1}))
        .await;
    assert!(
        matches!(&e.event, Event::Recalled { message, by, .. } if message.id == "48374_2837546_1557481126" && by.as_str() == "alice")
    );

    let (_, events) = h
        .callback(json!({"CallbackCommand": "Group.CallbackAfterRecallMsg", "Operator_Account": "jared", "Type": "Public",
                         "GroupId": "g1", "MsgSeqList": [{"MsgSeq": 5, "MsgId": "a"}, {"MsgSeq": 6}], "EventTime": 2}))
        .await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].id, EventId::from("group-recall:g1:6"));

    let e = h
        .one(json!({"CallbackCommand": "C2C.CallbackAfterMsgReport", "Report_Account": "alice", "Peer_Account": "bot",
                    "LastReadTime": 1557481126, "UnreadMsgNum": 0, "EventTime": 3}))
        .await;
    assert_eq!(
        e.event,
        Event::ReadReceipt {
            conversation: ConversationId::direct("alice"),
            reader: "alice".into(),
            read: ReadMark::UpTo {
                time_ms: 1557481126000
            },
        }
    );

    let (_, events) = h
        .callback(json!({"CallbackCommand": "Group.CallbackAfterReadReceipt", "GroupId": "g1", "Type": "Work",
                         "GroupMsgReceiptList": [
                             {"MsgSeq": 5, "ReadNum": 2, "UnreadNum": 0, "ReadReceiptMembers": [{"Member_Account": "a"}, {"Member_Account": "b"}]},
                             {"MsgSeq": 6, "ReadNum": 1, "UnreadNum": 1, "ReadReceiptMembers": [{"Member_Account": "a"}]}],
                         "EventTime": 4}))
        .await;
    assert_eq!(events.len(), 2);
    let Event::ReadReceipt {
        reader,
        read: ReadMark::Messages { messages },
        ..
    } = &events[0].event
    else {
        panic!()
    };
    assert_eq!((reader.as_str(), messages.len()), ("a", 2));

    // A friend request is reported and allowed, with one result per target.
    let (answer, events) = h
        .callback(json!({"CallbackCommand": "Sns.CallbackPrevFriendAdd", "Requester_Account": "alice", "From_Account": "alice",
                         "FriendItem": [{"To_Account": "bot", "Remark": "", "GroupName": "", "AddSource": "AddSource_Type_Android", "AddWording": "hi bot"}],
                         "AddType": "Add_Type_Both", "ForceAddFlags": 0, "EventTime": 5}))
        .await;
    assert_eq!(
        answer["ResultItem"],
        json!([{"To_Account": "bot", "ResultCode": 0, "ResultInfo": ""}])
    );
    let Event::FriendRequest(r) = &events[0].event else {
        panic!()
    };
    assert_eq!(
        (r.from.as_str(), r.greeting.as_deref()),
        ("alice", Some("hi bot"))
    );

    let e = h
        .one(json!({"CallbackCommand": "Sns.CallbackFriendAdd", "ClientCmd": "friend_add", "Admin_Account": "",
                    "ForceFlag": 0, "PairList": [{"From_Account": "alice", "To_Account": "bot", "Initiator_Account": "alice"},
                                                  {"From_Account": "bot", "To_Account": "alice", "Initiator_Account": "alice"}],
                    "EventTime": 6}))
        .await;
    assert_eq!(
        e.event,
        Event::FriendAdded {
            user: "alice".into()
        }
    );
    let e = h
        .one(json!({"CallbackCommand": "Sns.CallbackFriendDelete", "PairList": [{"From_Account": "bot", "To_Account": "alice"}], "EventTime": 7}))
        .await;
    assert_eq!(
        e.event,
        Event::FriendRemoved {
            user: "alice".into()
        }
    );

    let notice = |e: &Envelope| match &e.event {
        Event::GroupNotice(n) => n.clone(),
        other => panic!("{other:?}"),
    };
    let e = h
        .one(json!({"CallbackCommand": "Group.CallbackAfterNewMemberJoin", "GroupId": "g1", "Type": "Public", "JoinType": "Apply",
                    "Operator_Account": "leckie", "NewMemberList": [{"Member_Account": "jared"}, {"Member_Account": "tommy"}], "EventTime": 8}))
        .await;
    let n = notice(&e);
    assert_eq!((n.kind.name(), n.targets.len()), ("member_joined", 2));
    let e = h
        .one(json!({"CallbackCommand": "Group.CallbackAfterMemberExit", "GroupId": "g1", "Type": "Public", "ExitType": "Kicked",
                    "Operator_Account": "bot", "ExitMemberList": [{"Member_Account": "jared"}], "EventTime": 9}))
        .await;
    assert_eq!(notice(&e).kind, GroupNoticeKind::MemberKicked);
    assert!(e.from_self, "the bot's own kick");
    let e = h
        .one(json!({"CallbackCommand": "Group.CallbackAfterMemberExit", "GroupId": "g1", "ExitType": "Quit",
                    "Operator_Account": "jared", "ExitMemberList": [{"Member_Account": "jared"}], "EventTime": 10}))
        .await;
    assert_eq!(notice(&e).kind, GroupNoticeKind::MemberLeft);

    let (_, events) = h
        .callback(json!({"CallbackCommand": "Group.CallbackAfterGroupInfoChanged", "GroupId": "g1", "Type": "Public",
                         "Operator_Account": "leckie", "Name": "New name", "Notification": "NewNotification", "EventTime": 11}))
        .await;
    assert_eq!(events.len(), 2);
    assert!(
        matches!(notice(&events[0]).kind, GroupNoticeKind::InfoChanged { changes } if changes.name.as_deref() == Some("New name"))
    );
    assert_eq!(
        notice(&events[1]).kind,
        GroupNoticeKind::AnnouncementChanged {
            text: "NewNotification".into()
        }
    );

    let e = h
        .one(json!({"CallbackCommand": "Group.CallbackAfterGroupDestroyed", "GroupId": "g1", "Type": "Public",
                    "Owner_Account": "leckie", "Name": "MyGroup", "MemberList": [{"Member_Account": "leckie"}], "EventTime": 12}))
        .await;
    assert_eq!(notice(&e).kind, GroupNoticeKind::Dismissed);

    // A callback Parley does not map is acknowledged and dropped.
    let (answer, events) = h
        .callback(json!({"CallbackCommand": "State.StateChange", "Info": {}}))
        .await;
    assert_eq!(answer["ErrorCode"], 0);
    assert!(events.is_empty());
}

#[actix_rt::test]
async fn repeated_callbacks_keep_their_id() {
    let mut h = harness().await;
    let body = json!({"CallbackCommand": "Group.CallbackAfterNewMemberJoin", "GroupId": "g1", "JoinType": "Invited",
                      "Operator_Account": "a", "NewMemberList": [{"Member_Account": "b"}], "EventTime": 8});
    let first = h.one(body.clone()).await;
    let again = h.one(body).await;
    // Same id: the engine's inbox handles it once.
    assert_eq!(first.id, again.id);
}

#[actix_rt::test]
async fn before_send_without_bots_gets_the_default() {
    let mut h = harness().await;
    let (answer, events) = h
        .callback(json!({"CallbackCommand": "C2C.CallbackBeforeSendMsg", "From_Account": "alice", "To_Account": "bot",
                         "MsgSeq": 1, "MsgRandom": 2, "MsgTime": 3, "MsgKey": "1_2_3", "MsgBody": text("hi")}))
        .await;
    assert_eq!(
        answer,
        json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})
    );
    assert!(events.is_empty(), "a pre-delivery check is not stored");
}

#[actix_rt::test]
async fn bad_signatures_are_refused() {
    let mut h = harness().await;
    let body = json!({"CallbackCommand": "C2C.CallbackAfterMsgWithDraw", "From_Account": "alice", "To_Account": "bot", "MsgKey": "k"}).to_string();
    let base =
        format!("SdkAppid={APP}&CallbackCommand=C2C.CallbackAfterMsgWithDraw&contenttype=json");
    let t = now();
    let cases = [
        (
            format!("{base}&Sign=00{}&RequestTime={t}", "ab".repeat(31)),
            "does not match",
        ),
        (
            callback_query("C2C.CallbackAfterMsgWithDraw", t - 61),
            "stale",
        ),
        (base.clone(), "no Sign"),
        (
            callback_query("C2C.CallbackAfterMsgWithDraw", t)
                .replace(&APP.to_string(), "1400000002"),
            "SdkAppid",
        ),
    ];
    for (query, why) in cases {
        let (status, answer) = post(&h.app, &query, &body).await;
        assert_eq!(status, 401, "{query}");
        assert!(answer["error"].as_str().unwrap().contains(why), "{answer}");
    }
    assert!(h.events.try_recv().is_err(), "nothing delivered");
}

#[actix_rt::test]
async fn malformed_bodies_get_a_clear_400_and_nothing_is_lost() {
    let mut h = harness().await;
    let q = callback_query("C2C.CallbackAfterSendMsg", now());
    let (status, answer) = post(&h.app, &q, "{\"From_Account\": ").await;
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("not valid JSON"),
        "{answer}"
    );
    let (status, answer) = post(&h.app, &q, &json!({"CallbackCommand": "C2C.CallbackAfterSendMsg", "From_Account": "alice", "To_Account": "bot", "MsgKey": "k"}).to_string()).await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("missing field `MsgBody`"),
        "{answer}"
    );
    let (status, answer) = post(&h.app, &q, &json!({"CallbackCommand": "C2C.CallbackAfterSendMsg", "From_Account": "alice", "To_Account": "bot",
        "MsgKey": "k", "MsgBody": [{"MsgType": "TIMLocationElem", "MsgContent": {"Desc": "x"}}]}).to_string()).await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("MsgBody[0] (TIMLocationElem): missing field `Latitude`"),
        "{answer}"
    );
    assert!(h.events.try_recv().is_err());
    // Tencent's next attempt with a good body goes through.
    h.one(json!({"CallbackCommand": "C2C.CallbackAfterSendMsg", "From_Account": "alice", "To_Account": "bot",
                 "MsgKey": "k", "MsgBody": text("ok")})).await;
}

#[actix_rt::test]
async fn not_running_answers_503() {
    let adapter = adapter("http://127.0.0.1:9");
    let app = test::init_service(App::new().configure(adapter.routes())).await;
    let body = json!({"CallbackCommand": "C2C.CallbackAfterMsgWithDraw", "From_Account": "alice", "To_Account": "bot", "MsgKey": "k"});
    let (status, _) = post(
        &app,
        &callback_query("C2C.CallbackAfterMsgWithDraw", now()),
        &body.to_string(),
    )
    .await;
    assert_eq!(status, 503);
}

#[actix_rt::test]
async fn oversized_bodies_get_413() {
    let h = harness().await;
    let big = format!("{{\"x\": \"{}\"}}", "a".repeat(2 << 20));
    let req = test::TestRequest::post()
        .uri(&format!(
            "/webhooks/tencent?{}",
            callback_query("C2C.CallbackAfterSendMsg", now())
        ))
        .set_payload(big)
        .to_request();
    let resp = test::call_service(&h.app, req).await;
    assert_eq!(resp.status().as_u16(), 413);
}
