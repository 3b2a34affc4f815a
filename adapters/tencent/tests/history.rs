//! `fetch_history` and `edit` against the local Tencent, whose message log is what the sends,
//! recalls and edits made: pages across `admin_getroammsg` and `group_msg_get_simple`, the
//! edited text read back, and missing messages and groups as typed errors.

mod support;

use parley_engine::adapter::Adapter;
use parley_engine::model::*;
use serde_json::json;
use support::*;

fn history(conversation: ConversationId, before: Option<MessageRef>, limit: u32) -> Command {
    Command::FetchHistory {
        conversation,
        before,
        limit,
    }
}

fn ok(r: CommandResult) -> CommandOutput {
    match r {
        CommandResult::Ok(o) => o,
        other => panic!("{other:?}"),
    }
}

fn messages(r: CommandResult) -> Vec<Message> {
    match ok(r) {
        CommandOutput::History { messages } => messages,
        other => panic!("{other:?}"),
    }
}

fn texts(messages: &[Message]) -> Vec<String> {
    messages.iter().map(|m| m.content.plain_text()).collect()
}

fn sent(r: CommandResult) -> MessageRef {
    match ok(r) {
        CommandOutput::Sent { message } => message,
        other => panic!("{other:?}"),
    }
}

#[actix_rt::test]
async fn direct_history_pages_back_with_last_msg_key() {
    let fake = FakeTencent::start().await;
    let a = adapter(&fake.url);
    let alice = || ConversationId::direct("alice");
    fake.user_sends("alice", "bot", "a1");
    fake.user_sends("alice", "bot", "a2");
    for (i, text) in ["b1", "b2", "b3"].iter().enumerate() {
        sent(a.execute(cmd(&format!("s{i}"), send(alice(), text))).await);
    }
    fake.user_sends("alice", "bot", "a3");
    let a4 = fake.user_sends("alice", "bot", "a4");
    // Another conversation of the bot is not in this one.
    fake.user_sends("carol", "bot", "c1");

    let from = fake.requests().len();
    let all = messages(a.execute(cmd("h1", history(alice(), None, 50))).await);
    assert_eq!(texts(&all), ["a1", "a2", "b1", "b2", "b3", "a3", "a4"]);
    let senders: Vec<&str> = all.iter().map(|m| m.sender.as_str()).collect();
    assert_eq!(
        senders,
        ["alice", "alice", "bot", "bot", "bot", "alice", "alice"]
    );
    let last = all.last().unwrap();
    assert_eq!(last.id.id, a4);
    assert_eq!(last.conversation, alice());
    assert_eq!(
        (last.time_ms, last.id.time_ms),
        (1_700_000_000_000, Some(1_700_000_000_000))
    );

    // Seven messages, three a page in the fake: three pages, each from the oldest message
    // of the one before, read from alice's side (the bot's own sends are not on its side).
    let pages = fake.requests_from(from);
    assert_eq!(pages.len(), 3, "{pages:#?}");
    assert!(pages.iter().all(|p| p.api == "openim/admin_getroammsg"));
    assert_eq!(pages[0].body["Operator_Account"], "alice");
    assert_eq!(pages[0].body["Peer_Account"], "bot");
    assert_eq!(pages[0].body["MinTime"], 0);
    assert!(pages[0].body.get("LastMsgKey").is_none());
    for w in pages.windows(2) {
        let answer = w[0].answer.as_ref().unwrap();
        assert_eq!(answer["Complete"], 0);
        assert_eq!(w[1].body["LastMsgKey"], answer["LastMsgKey"]);
        assert_eq!(w[1].body["MaxTime"], answer["LastMsgTime"]);
    }
    assert_eq!(pages[2].answer.as_ref().unwrap()["Complete"], 1);
    let back = command_of(&pages[0].api, &pages[0].body, "bot").unwrap();
    assert!(
        matches!(&back, Command::FetchHistory { conversation, .. } if *conversation == alice()),
        "{back:?}"
    );

    // Before a message: the `limit` newest before it, oldest first.
    let before = all[5].id.clone();
    let some = messages(
        a.execute(cmd("h2", history(alice(), Some(before), 2)))
            .await,
    );
    assert_eq!(texts(&some), ["b2", "b3"]);
    // A MsgKey alone (no time) is enough: its last part is the time.
    let by_key = MessageRef::new(all[2].id.id.clone());
    let some = messages(
        a.execute(cmd("h3", history(alice(), Some(by_key), 10)))
            .await,
    );
    assert_eq!(texts(&some), ["a1", "a2"]);
    // A limit smaller than a page.
    let some = messages(a.execute(cmd("h4", history(alice(), None, 1))).await);
    assert_eq!(texts(&some), ["a4"]);

    // A recalled message is left out.
    let recall = Command::Recall {
        conversation: alice(),
        message: all[3].id.clone(),
        scope: RecallScope::Everyone,
    };
    assert_eq!(ok(a.execute(cmd("r", recall)).await), CommandOutput::Done);
    let after = messages(a.execute(cmd("h5", history(alice(), None, 50))).await);
    assert_eq!(texts(&after), ["a1", "a2", "b1", "b3", "a3", "a4"]);

    // Nobody said anything yet.
    let none = messages(
        a.execute(cmd("h6", history(ConversationId::direct("dave"), None, 5)))
            .await,
    );
    assert!(none.is_empty());
    fake.stop().await;
}

#[actix_rt::test]
async fn group_history_pages_back_by_msg_seq() {
    let fake = FakeTencent::start().await;
    let a = adapter(&fake.url);
    let g = || ConversationId::group(GROUP);
    for i in 1..=25 {
        if i % 5 == 0 {
            let m = sent(
                a.execute(cmd(&format!("g{i}"), send(g(), &format!("m{i}"))))
                    .await,
            );
            assert_eq!(m.seq, Some(i));
        } else {
            assert_eq!(
                fake.user_sends_to_group(GROUP, "alice", &format!("m{i}")),
                i
            );
        }
    }

    let from = fake.requests().len();
    let got = messages(a.execute(cmd("h1", history(g(), None, 22))).await);
    let want: Vec<String> = (4..=25).map(|i| format!("m{i}")).collect();
    assert_eq!(texts(&got), want);
    let seqs: Vec<Option<u64>> = got.iter().map(|m| m.id.seq).collect();
    assert_eq!(seqs, (4..=25).map(Some).collect::<Vec<_>>());
    assert_eq!(got[1].id.id, "5");
    assert_eq!(got[1].sender.as_str(), "bot");
    assert_eq!(got[0].sender.as_str(), "alice");
    assert_eq!(got[0].conversation, g());

    // Twenty a request at most; the second page asks below the first's smallest MsgSeq.
    let pages = fake.requests_from(from);
    let bodies: Vec<_> = pages.iter().map(|p| (p.api.as_str(), &p.body)).collect();
    assert_eq!(
        bodies,
        [
            (
                "group_open_http_svc/group_msg_get_simple",
                &json!({"GroupId": GROUP, "ReqMsgNumber": 20})
            ),
            (
                "group_open_http_svc/group_msg_get_simple",
                &json!({"GroupId": GROUP, "ReqMsgNumber": 2, "ReqMsgSeq": 5})
            ),
        ]
    );

    // Before a message, down to the group's first message.
    let before = got[0].id.clone();
    let older = messages(a.execute(cmd("h2", history(g(), Some(before), 10))).await);
    assert_eq!(texts(&older), ["m1", "m2", "m3"]);
    let first = MessageRef::new("1");
    assert!(messages(a.execute(cmd("h3", history(g(), Some(first), 10))).await).is_empty());

    // A recalled message is a place holder in Tencent's answer and left out here.
    let recall = Command::Recall {
        conversation: g(),
        message: got[0].id.clone(),
        scope: RecallScope::Everyone,
    };
    assert_eq!(ok(a.execute(cmd("r", recall)).await), CommandOutput::Done);
    let before = MessageRef::new("6");
    let older = messages(a.execute(cmd("h4", history(g(), Some(before), 10))).await);
    assert_eq!(texts(&older), ["m1", "m2", "m3", "m5"]);
    fake.stop().await;
}

#[actix_rt::test]
async fn edits_change_what_history_reads() {
    let fake = FakeTencent::start().await;
    let a = adapter(&fake.url);
    let alice = || ConversationId::direct("alice");
    let g = || ConversationId::group(GROUP);

    // 1:1: by the MsgKey the send answered, as the bot (the sender).
    let m = sent(a.execute(cmd("s1", send(alice(), "helo"))).await);
    fake.user_sends("alice", "bot", "typo?");
    let edit = Command::Edit {
        conversation: alice(),
        message: m.clone(),
        content: Content::text("hello"),
    };
    assert_eq!(ok(a.execute(cmd("e1", edit)).await), CommandOutput::Done);
    let req = fake.last();
    assert_eq!(req.api, "openim/modify_c2c_msg");
    assert_eq!(
        req.body,
        json!({"From_Account": "bot", "To_Account": "alice", "MsgKey": m.id,
               "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "hello"}}]})
    );
    assert!(matches!(
        command_of(&req.api, &req.body, "bot"),
        Some(Command::Edit { .. })
    ));
    let got = messages(a.execute(cmd("h1", history(alice(), None, 10))).await);
    assert_eq!(texts(&got), ["hello", "typo?"]);
    assert_eq!(got[0].id.id, m.id);

    // Group: by MsgSeq, under `openim`.
    let m = sent(a.execute(cmd("s2", send(g(), "frist"))).await);
    fake.user_sends_to_group(GROUP, "alice", "lol");
    let edit = Command::Edit {
        conversation: g(),
        message: m.clone(),
        content: Content::text("first"),
    };
    assert_eq!(ok(a.execute(cmd("e2", edit)).await), CommandOutput::Done);
    let req = fake.last();
    assert_eq!(req.api, "openim/modify_group_msg");
    assert_eq!(req.body["MsgSeq"], json!(m.seq.unwrap()));
    assert_eq!(req.body["GroupId"], GROUP);
    let got = messages(a.execute(cmd("h2", history(g(), None, 10))).await);
    assert_eq!(texts(&got), ["first", "lol"]);
    fake.stop().await;
}

#[actix_rt::test]
async fn missing_messages_and_groups_are_typed_errors() {
    let fake = FakeTencent::start().await;
    let a = adapter(&fake.url);
    let failed = |r: CommandResult| match r {
        CommandResult::Failed(e) => (e.kind, e.platform_code),
        other => panic!("{other:?}"),
    };
    let code = |c: i64| Some(c.to_string());

    // A message the fake does not have, or one the bot did not send.
    let key = fake.user_sends("alice", "bot", "not yours");
    for message in [MessageRef::new("1_2_3"), MessageRef::new(key)] {
        let edit = Command::Edit {
            conversation: ConversationId::direct("alice"),
            message,
            content: Content::text("x"),
        };
        assert_eq!(
            failed(a.execute(cmd("e", edit)).await),
            (ErrorKind::NotFound, code(NO_SUCH_MESSAGE))
        );
    }
    let edit = |group: &str, seq: &str| Command::Edit {
        conversation: ConversationId::group(group),
        message: MessageRef::new(seq),
        content: Content::text("x"),
    };
    sent(
        a.execute(cmd("s", send(ConversationId::group(GROUP), "hi")))
            .await,
    );
    assert_eq!(
        failed(a.execute(cmd("e2", edit(GROUP, "99"))).await),
        (ErrorKind::NotFound, code(NO_SUCH_MESSAGE))
    );
    assert_eq!(
        failed(a.execute(cmd("e3", edit("nope", "1"))).await),
        (ErrorKind::NotFound, code(NO_SUCH_GROUP))
    );
    // A group message is named by its MsgSeq.
    assert_eq!(
        failed(a.execute(cmd("e4", edit(GROUP, "1_2_3"))).await).0,
        ErrorKind::Invalid
    );

    // History of a group that does not exist; a 1:1 ref with no time to page from.
    let h = history(ConversationId::group("nope"), None, 5);
    assert_eq!(
        failed(a.execute(cmd("h1", h)).await),
        (ErrorKind::NotFound, code(NO_SUCH_GROUP))
    );
    let h = history(
        ConversationId::direct("alice"),
        Some(MessageRef::new("opaque")),
        5,
    );
    assert_eq!(failed(a.execute(cmd("h2", h)).await).0, ErrorKind::Invalid);

    // Rate limited: retried by the outbox after the pause Tencent's limits call for.
    fake.fail_next(&[Failure::Code(60007)]);
    let CommandResult::Failed(e) = a
        .execute(cmd("h3", history(ConversationId::direct("alice"), None, 5)))
        .await
    else {
        panic!()
    };
    assert_eq!(
        (e.kind, e.retry_after_ms, e.platform_code.as_deref()),
        (ErrorKind::RateLimited, Some(1000), Some("60007"))
    );
    fake.fail_next(&[Failure::Http(502)]);
    let CommandResult::Failed(e) = a
        .execute(cmd("h4", history(ConversationId::group(GROUP), None, 5)))
        .await
    else {
        panic!()
    };
    assert_eq!(e.kind, ErrorKind::Unavailable);
    // A conversation kind Tencent has no history for.
    let CommandResult::Failed(e) = a
        .execute(cmd(
            "h5",
            history(
                ConversationId {
                    kind: ConversationKind::System,
                    id: "x".into(),
                },
                None,
                5,
            ),
        ))
        .await
    else {
        panic!()
    };
    assert_eq!(e.kind, ErrorKind::Unsupported);
    fake.stop().await;
}
