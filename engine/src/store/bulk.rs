//! The common writes of a batch (accepted events, cursors, completions, finished commands)
//! as rows for a fixed set of set-wide statements, sent to SQLite in one call.
//!
//! Each sqlx call is a round trip to the connection's worker thread, and on a busy machine
//! that hop costs more than the SQL it carries. sqlx runs every statement of a query string
//! in one call, binding the `?`s in order, so a whole batch (with its BEGIN and COMMIT)
//! costs one round trip however many writes it holds. Each statement takes its rows as one
//! JSON array, so the SQL text, and the prepared statements, never change.

use super::writer::{Completion, Outgoing, Write};
use super::StoreError;
use serde::Serialize;
use sqlx::sqlite::SqliteConnection;
use std::collections::HashMap;

macro_rules! statements {
    () => {
        concat!(
            "INSERT INTO inbox (connection, event_id, envelope, received_ms) \
             SELECT value->>0, value->>1, value->>2, value->>3 FROM json_each(?) WHERE true \
             ON CONFLICT (connection, event_id) DO NOTHING RETURNING connection, event_id, seq;",
            "INSERT INTO cursors (connection, cursor) \
             SELECT value->>0, value->>1 FROM json_each(?) WHERE true \
             ON CONFLICT (connection) DO UPDATE SET cursor = excluded.cursor;",
            "UPDATE inbox SET handled_ms = ? WHERE seq IN (SELECT value FROM json_each(?));",
            "INSERT INTO bot_state (connection, conversation, bot, value, updated_ms) \
             SELECT value->>0, value->>1, value->>2, value->>3, ? FROM json_each(?) WHERE true \
             ON CONFLICT (connection, conversation, bot) \
             DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms;",
            "DELETE FROM bot_state WHERE (connection, conversation, bot) IN \
             (SELECT value->>0, value->>1, value->>2 FROM json_each(?));",
            "INSERT INTO outbox (connection, idempotency_key, command, created_ms, origin, origin_bot) \
             SELECT value->>0, value->>1, value->>2, ?, value->>3, value->>4 FROM json_each(?) WHERE true \
             ON CONFLICT (connection, idempotency_key) DO NOTHING;",
            "UPDATE outbox SET status = f.value->>1, result = f.value->>2, \
             attempts = attempts + 1, finished_ms = ? \
             FROM json_each(?) AS f WHERE outbox.id = f.value->>0;",
        )
    };
}

/// How the statements are wrapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Wrap {
    /// Inside a transaction (or savepoint) the caller holds.
    Bare,
    /// Opens a transaction and leaves it open: the caller has more to write, then commits.
    Begin,
    /// A whole transaction.
    BeginCommit,
}

impl Wrap {
    fn sql(self) -> &'static str {
        match self {
            Wrap::Bare => statements!(),
            Wrap::Begin => concat!("BEGIN IMMEDIATE;", statements!()),
            Wrap::BeginCommit => concat!("BEGIN IMMEDIATE;", statements!(), "COMMIT;"),
        }
    }
}

/// The inbox rows a batch stored, by connection and event id.
pub(super) type Stored = HashMap<(String, String), i64>;

/// An outbox row: connection, idempotency key, command JSON, origin conversation, bot.
type CommandRow<'a> = (&'a str, &'a str, String, Option<String>, Option<&'a str>);

/// The rows of each statement, borrowed from the writes.
#[derive(Default)]
pub(super) struct Rows<'a> {
    accepted: Vec<(&'a str, &'a str, &'a str, i64)>,
    cursors: Vec<(&'a str, &'a str)>,
    handled: Vec<i64>,
    saved: Vec<(&'a str, String, &'a str, String)>,
    deleted: Vec<(&'a str, String, &'a str)>,
    commands: Vec<CommandRow<'a>>,
    finished: Vec<(i64, &'static str, &'a str)>,
}

impl<'a> Rows<'a> {
    /// Takes the parts of a write that these statements cover. What they do not (a
    /// completion's schedules and jobs, the job writes) is the writer's to apply.
    pub(super) fn add(&mut self, write: &'a Write) -> Result<(), StoreError> {
        match write {
            Write::Accept {
                connection,
                items,
                cursor,
                received,
                ..
            } => {
                self.accepted.extend(items.iter().map(|(id, envelope)| {
                    (
                        connection.as_str(),
                        id.as_str(),
                        envelope.as_str(),
                        *received,
                    )
                }));
                if let Some(cursor) = cursor {
                    self.cursors.push((connection, cursor));
                }
            }
            Write::Complete { completion, .. } => self.complete(completion)?,
            Write::Finish {
                id, status, result, ..
            } => self.finished.push((*id, status, result)),
            _ => {}
        }
        Ok(())
    }

    fn complete(&mut self, c: &'a Completion) -> Result<(), StoreError> {
        self.handled.extend(c.inbox_seq);
        if let Some(conversation) = &c.conversation {
            let conversation = conversation.to_string();
            for (bot, value) in &c.state {
                let (connection, bot) = (c.connection.as_str(), bot.as_str());
                match value {
                    Some(v) => self.saved.push((
                        connection,
                        conversation.clone(),
                        bot,
                        serde_json::to_string(v)?,
                    )),
                    None => self.deleted.push((connection, conversation.clone(), bot)),
                }
            }
        }
        // Commands land in the order given: the outbox sends in id order.
        let origin = c
            .inbox_seq
            .and(c.conversation.as_ref())
            .map(ToString::to_string);
        for Outgoing { command, bot } in &c.commands {
            self.commands.push((
                command.connection.as_str(),
                &command.idempotency_key,
                serde_json::to_string(command)?,
                origin.clone(),
                origin.as_ref().and(bot.as_deref()),
            ));
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.accepted.is_empty()
            && self.cursors.is_empty()
            && self.handled.is_empty()
            && self.saved.is_empty()
            && self.deleted.is_empty()
            && self.commands.is_empty()
            && self.finished.is_empty()
    }

    /// Runs the statements in one call. On an error the statements after the failing one
    /// did not run and, with `Begin` or `BeginCommit`, the transaction is still open: the
    /// caller rolls it back.
    pub(super) async fn write(
        &self,
        conn: &mut SqliteConnection,
        wrap: Wrap,
        now: i64,
    ) -> Result<Stored, StoreError> {
        if wrap == Wrap::Bare && self.is_empty() {
            return Ok(Stored::new());
        }
        let rows: Vec<(String, String, i64)> = sqlx::query_as(wrap.sql())
            .bind(json(&self.accepted)?)
            .bind(json(&self.cursors)?)
            .bind(now)
            .bind(json(&self.handled)?)
            .bind(now)
            .bind(json(&self.saved)?)
            .bind(json(&self.deleted)?)
            .bind(now)
            .bind(json(&self.commands)?)
            .bind(now)
            .bind(json(&self.finished)?)
            .fetch_all(conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(connection, event, seq)| ((connection, event), seq))
            .collect())
    }
}

fn json<T: Serialize>(rows: &[T]) -> Result<String, StoreError> {
    Ok(serde_json::to_string(rows)?)
}
