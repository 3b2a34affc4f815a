use super::*;
use crate::model::{Command, Content, Event, EventId, Message, MessageRef, SendOptions};
use serde_json::json;

fn envelope(id: &str, text: &str) -> Envelope {
    Envelope {
        id: EventId::from(id),
        connection: "hub".into(),
        time_ms: 1,
        backlog: false,
        from_self: false,
        event: Event::Message(Message {
            id: MessageRef::new(id),
            conversation: ConversationId::direct("alice"),
            sender: "alice".into(),
            content: Content::text(text),
            reply_to: None,
            time_ms: 1,
            extra: Value::Null,
        }),
        raw: Value::Null,
    }
}

fn send(key: &str) -> OutboundCommand {
    OutboundCommand {
        connection: "hub".into(),
        idempotency_key: key.into(),
        command: Command::Send {
            to: ConversationId::direct("alice"),
            content: Content::text("hi"),
            reply_to: None,
            options: SendOptions::default(),
            as_user: None,
        },
    }
}

use serde_json::Value;

async fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data/parley.db"))
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test]
async fn a_repeated_event_id_is_accepted_once() {
    let (_dir, store) = open().await;
    let conn = ConnectionId::from("hub");
    let first = store
        .accept_inbound(
            &conn,
            &[envelope("e1", "a"), envelope("e2", "b")],
            Some("2".into()),
        )
        .await
        .unwrap();
    assert!(first.iter().all(Option::is_some));
    let again = store
        .accept_inbound(&conn, &[envelope("e2", "b"), envelope("e3", "c")], None)
        .await
        .unwrap();
    assert_eq!(again[0], None, "e2 is a duplicate");
    assert!(again[1].is_some());
    assert_eq!(store.cursor(&conn).await.unwrap().as_deref(), Some("2"));
    // The same id on another connection is a different event.
    let other = store
        .accept_inbound(&"tencent".into(), &[envelope("e1", "a")], None)
        .await
        .unwrap();
    assert!(other[0].is_some());
}

#[tokio::test]
async fn completing_an_event_records_state_and_commands_atomically() {
    let (_dir, store) = open().await;
    let conn = ConnectionId::from("hub");
    let seqs = store
        .accept_inbound(&conn, &[envelope("e1", "a"), envelope("e2", "b")], None)
        .await
        .unwrap();
    assert_eq!(store.unhandled(&conn).await.unwrap().len(), 2);

    let conv = ConversationId::direct("alice");
    store
        .complete(Completion {
            connection: conn.clone(),
            conversation: Some(conv.clone()),
            inbox_seq: seqs[0],
            state: vec![("echo".into(), Some(json!({"count": 1})))],
            commands: vec![send("e1#0").into()],
            jobs: vec![],
            schedules: vec![],
        })
        .await
        .unwrap();
    let left = store.unhandled(&conn).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].envelope.id.as_str(), "e2");
    assert_eq!(
        store.load_state(&conn, &conv).await.unwrap()["echo"],
        json!({"count": 1})
    );
    let pending = store.pending_commands(&conn, 0, 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].command, send("e1#0"));

    // A replay of the same event's commands does not add them twice.
    store.enqueue(vec![send("e1#0")]).await.unwrap();
    assert_eq!(store.pending_count(&conn).await.unwrap(), 1);
}

#[tokio::test]
async fn finished_commands_leave_the_pending_list_and_keep_their_result() {
    let (_dir, store) = open().await;
    let conn = ConnectionId::from("hub");
    store.enqueue(vec![send("a"), send("b")]).await.unwrap();
    let pending = store.pending_commands(&conn, 0, 10).await.unwrap();
    let failed = CommandResult::Failed(crate::model::CommandError::new(
        crate::model::ErrorKind::Unavailable,
        "down",
    ));
    store.count_attempt(pending[0].id, &failed).await.unwrap();
    store
        .finish_command(
            pending[1].id,
            &CommandResult::Ok(crate::model::CommandOutput::Done),
        )
        .await
        .unwrap();
    let pending_now = store.pending_commands(&conn, 0, 10).await.unwrap();
    assert_eq!(pending_now.len(), 1);
    assert_eq!(pending_now[0].attempts, 1);
    let all = store.outbox(&conn).await.unwrap();
    assert_eq!(all[1].status, "done");
    assert_eq!(
        all[1].result,
        Some(CommandResult::Ok(crate::model::CommandOutput::Done))
    );
}

#[tokio::test]
async fn the_store_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("parley.db");
    let conn = ConnectionId::from("hub");
    {
        let store = Store::open(&path).await.unwrap();
        store
            .accept_inbound(&conn, &[envelope("e1", "a")], Some("9".into()))
            .await
            .unwrap();
        store.enqueue(vec![send("k")]).await.unwrap();
        store.close().await;
    }
    let store = Store::open(&path).await.unwrap();
    assert_eq!(store.unhandled(&conn).await.unwrap().len(), 1);
    assert_eq!(store.pending_count(&conn).await.unwrap(), 1);
    assert_eq!(store.cursor(&conn).await.unwrap().as_deref(), Some("9"));
    let dup = store
        .accept_inbound(&conn, &[envelope("e1", "a")], None)
        .await
        .unwrap();
    assert_eq!(dup, vec![None]);
}

#[tokio::test]
async fn concurrent_writers_share_commits_and_all_land() {
    let (_dir, store) = open().await;
    let conn = ConnectionId::from("hub");
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = store.clone();
        let conn = conn.clone();
        tasks.push(tokio::spawn(async move {
            store
                .accept_inbound(&conn, &[envelope(&format!("e{i}"), "x")], None)
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap()[0].is_some());
    }
    assert_eq!(store.unhandled(&conn).await.unwrap().len(), 200);
}

#[tokio::test]
async fn pruning_forgets_only_what_is_done_and_old_enough() {
    let (_dir, store) = open().await;
    let conn = ConnectionId::from("hub");
    let seqs = store
        .accept_inbound(&conn, &[envelope("e1", "a"), envelope("e2", "b")], None)
        .await
        .unwrap();
    store
        .complete(Completion {
            connection: conn.clone(),
            conversation: Some(ConversationId::direct("alice")),
            inbox_seq: seqs[0],
            state: vec![],
            commands: vec![send("e1#0").into(), send("e1#1").into()],
            jobs: vec![],
            schedules: vec![],
        })
        .await
        .unwrap();
    let pending = store.pending_commands(&conn, 0, 10).await.unwrap();
    store
        .finish_command(
            pending[0].id,
            &CommandResult::Ok(crate::model::CommandOutput::Done),
        )
        .await
        .unwrap();

    // Nothing finished before the cut-off: nothing goes.
    assert_eq!(store.prune(0).await.unwrap(), Pruned::default());

    let later = now_ms() + 1;
    let pruned = store.prune(later).await.unwrap();
    assert_eq!(
        (pruned.inbox, pruned.outbox),
        (1, 1),
        "e1 and its sent command"
    );
    let unhandled = store.unhandled(&conn).await.unwrap();
    assert_eq!(unhandled.len(), 1, "the unhandled event stays");
    assert_eq!(unhandled[0].envelope.id.as_str(), "e2");
    let left = store.outbox(&conn).await.unwrap();
    assert_eq!(left.len(), 1, "the pending command stays");
    assert_eq!(left[0].command, send("e1#1"));
    // e2 is still deduplicated; e1, forgotten, would be taken as new.
    let again = store
        .accept_inbound(&conn, &[envelope("e2", "b"), envelope("e1", "a")], None)
        .await
        .unwrap();
    assert_eq!(again[0], None);
    assert!(again[1].is_some());
}

#[tokio::test]
async fn a_failing_write_fails_alone_and_the_rest_of_its_batch_is_kept() {
    let (_dir, store) = open().await;
    // A write the database refuses: this state value.
    sqlx::query(
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON bot_state WHEN NEW.value = '\"boom\"' \
         BEGIN SELECT RAISE(ABORT, 'boom refused'); END",
    )
    .execute(&store.pool)
    .await
    .unwrap();
    let conn = ConnectionId::from("hub");
    let completion = |i: usize, value: Value| Completion {
        connection: conn.clone(),
        conversation: Some(ConversationId::direct(format!("u{i}"))),
        inbox_seq: None,
        state: vec![("bot".into(), Some(value))],
        commands: vec![send(&format!("k{i}")).into()],
        jobs: vec![],
        schedules: vec![],
    };
    // Queued together, so that they share batches with the bad one.
    let writes = (0..200).map(|i| {
        let value = if i == 100 { json!("boom") } else { json!(i) };
        store.complete(completion(i, value))
    });
    let results = futures_util::future::join_all(writes).await;
    for (i, r) in results.iter().enumerate() {
        match i {
            100 => assert!(
                r.as_ref()
                    .is_err_and(|e| e.to_string().contains("boom refused")),
                "{r:?}"
            ),
            _ => assert!(r.is_ok(), "write {i}: {r:?}"),
        }
    }
    for i in [0, 99, 101, 199] {
        let state = store
            .load_state(&conn, &ConversationId::direct(format!("u{i}")))
            .await
            .unwrap();
        assert_eq!(state["bot"], json!(i));
    }
    let bad = store
        .load_state(&conn, &ConversationId::direct("u100"))
        .await
        .unwrap();
    assert!(bad.is_empty(), "nothing of the failed write is kept");
    assert_eq!(
        store.pending_count(&conn).await.unwrap(),
        199,
        "nor its command"
    );
}

#[tokio::test]
async fn writes_queued_together_are_each_recorded_as_if_alone() {
    let (_dir, store) = open().await;
    let conn = ConnectionId::from("hub");
    // One write with an id twice: the second is a duplicate, as in separate writes.
    let envelopes: Vec<Envelope> = (0..50)
        .map(|i| envelope(&format!("e{i}"), "x"))
        .chain([envelope("e7", "again")])
        .collect();
    let seqs = store.accept_inbound(&conn, &envelopes, None).await.unwrap();
    assert!(seqs[..50].iter().all(Option::is_some));
    assert_eq!(seqs[50], None);
    for i in 0..10 {
        store
            .complete(Completion {
                connection: conn.clone(),
                conversation: Some(ConversationId::direct(format!("u{i}"))),
                inbox_seq: None,
                state: vec![("gone".into(), Some(json!(0)))],
                commands: vec![],
                jobs: vec![],
                schedules: vec![],
            })
            .await
            .unwrap();
    }
    // 50 completions queued at once: they share batches and their statements.
    let completions = (0..50).map(|i| {
        store.complete(Completion {
            connection: conn.clone(),
            conversation: Some(ConversationId::direct(format!("u{i}"))),
            inbox_seq: seqs[i],
            state: vec![("bot".into(), Some(json!({"n": i}))), ("gone".into(), None)],
            commands: vec![
                send(&format!("k{i}a")).into(),
                send(&format!("k{i}b")).into(),
            ],
            jobs: vec![],
            schedules: vec![],
        })
    });
    for r in futures_util::future::join_all(completions).await {
        r.unwrap();
    }
    assert!(store.unhandled(&conn).await.unwrap().is_empty());
    for i in [0, 9, 49] {
        let state = store
            .load_state(&conn, &ConversationId::direct(format!("u{i}")))
            .await
            .unwrap();
        assert_eq!(state.len(), 1, "the deleted state is gone: {state:?}");
        assert_eq!(state["bot"], json!({"n": i}));
    }
    let outbox = store.outbox(&conn).await.unwrap();
    assert_eq!(outbox.len(), 100);
    // Each completion's commands in their order, next to each other.
    for pair in outbox.chunks(2) {
        let (a, b) = (
            &pair[0].command.idempotency_key,
            &pair[1].command.idempotency_key,
        );
        assert_eq!(a.trim_end_matches('a'), b.trim_end_matches('b'));
    }
    let answers = outbox.iter().enumerate().map(|(i, entry)| {
        let result = if i % 2 == 0 {
            CommandResult::Ok(crate::model::CommandOutput::Done)
        } else {
            CommandResult::Failed(crate::model::CommandError::new(
                crate::model::ErrorKind::NotPermitted,
                format!("no {i}"),
            ))
        };
        let store = store.clone();
        async move { store.finish_command(entry.id, &result).await }
    });
    for r in futures_util::future::join_all(answers).await {
        r.unwrap();
    }
    let outbox = store.outbox(&conn).await.unwrap();
    for (i, entry) in outbox.iter().enumerate() {
        let (status, ok) = if i % 2 == 0 {
            ("done", true)
        } else {
            ("failed", false)
        };
        assert_eq!(entry.status, status);
        assert_eq!(entry.attempts, 1);
        assert_eq!(matches!(entry.result, Some(CommandResult::Ok(_))), ok);
    }
    assert_eq!(store.pending_count(&conn).await.unwrap(), 0);
}

#[tokio::test]
async fn a_write_failing_after_the_bulk_statements_fails_alone_too() {
    let (_dir, store) = open().await;
    let conn = ConnectionId::from("hub");
    store.enqueue(vec![send("retry-me")]).await.unwrap();
    let id = store.outbox(&conn).await.unwrap()[0].id;
    sqlx::query(
        "CREATE TRIGGER refuse_boom BEFORE UPDATE ON outbox WHEN NEW.result LIKE '%boom%' \
         BEGIN SELECT RAISE(ABORT, 'boom refused'); END",
    )
    .execute(&store.pool)
    .await
    .unwrap();
    let completions = (0..100).map(|i| {
        store.complete(Completion {
            connection: conn.clone(),
            conversation: Some(ConversationId::direct(format!("u{i}"))),
            inbox_seq: None,
            state: vec![("bot".into(), Some(json!(i)))],
            commands: vec![],
            jobs: vec![],
            schedules: vec![],
        })
    });
    // Counting an attempt is applied after the bulk statements, in the same transaction.
    let boom = CommandResult::Failed(crate::model::CommandError::new(
        crate::model::ErrorKind::Unavailable,
        "boom",
    ));
    let (attempt, completed) = tokio::join!(
        store.count_attempt(id, &boom),
        futures_util::future::join_all(completions)
    );
    assert!(
        attempt.is_err_and(|e| e.to_string().contains("boom refused")),
        "the bad write reports its error"
    );
    assert!(completed.iter().all(Result::is_ok), "{completed:?}");
    for i in [0, 50, 99] {
        let state = store
            .load_state(&conn, &ConversationId::direct(format!("u{i}")))
            .await
            .unwrap();
        assert_eq!(state["bot"], json!(i));
    }
    assert_eq!(store.outbox(&conn).await.unwrap()[0].attempts, 0);
    // The writer is not left inside a transaction: later writes still commit.
    store
        .finish_command(id, &CommandResult::Ok(crate::model::CommandOutput::Done))
        .await
        .unwrap();
    assert_eq!(store.pending_count(&conn).await.unwrap(), 0);
}

#[tokio::test]
async fn the_wal_is_checkpointed_in_the_background() {
    let (dir, store) = open().await;
    let db = dir.path().join("data/parley.db");
    let before = std::fs::metadata(&db).unwrap().len();
    let conn = ConnectionId::from("hub");
    let events: Vec<_> = (0..500)
        .map(|i| envelope(&format!("e{i}"), &"x".repeat(1000)))
        .collect();
    store.accept_inbound(&conn, &events, None).await.unwrap();
    // Commits no longer checkpoint (the writer never waits for one), so the database
    // file grows only when the background task copies the WAL into it.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&db).unwrap().len() <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint within 30 s"
        );
        tokio::time::sleep(checkpoint::EVERY / 5).await;
    }
}
