//! `ctx.store`: a key-value store per bot, shared by all its conversations, kept in memory
//! and persisted to its own SQLite file when the runtime has one
//! ([`BotRuntime::open_store`](crate::BotRuntime::open_store)).
//!
//! A handler's changes are recorded as operations and applied when it succeeds (a failed
//! handler changes nothing). `incr` and `push` are applied to the value current at that
//! moment, so counters and lists kept by many conversations at once lose no update. Limits
//! (value size, key count, total size) are checked when the script writes, against what it
//! sees then.

use crate::BotOptions;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Longest key, in bytes.
pub(crate) const MAX_KEY_BYTES: usize = 256;

#[derive(Debug, thiserror::Error)]
#[error("bot store {path}: {source}")]
pub struct KvError {
    path: String,
    #[source]
    source: sqlx::Error,
}

/// One change a handler made to its bot's store.
#[derive(Clone, Debug)]
pub(crate) enum StoreOp {
    Set(String, Value),
    Remove(String),
    /// Add to a number (a missing key counts as 0).
    Incr(String, i64),
    /// Append to a list (a missing key is an empty list), keeping at most the last n.
    Push(String, Value, usize),
}

impl StoreOp {
    fn key(&self) -> &str {
        match self {
            StoreOp::Set(k, _)
            | StoreOp::Remove(k)
            | StoreOp::Incr(k, _)
            | StoreOp::Push(k, ..) => k,
        }
    }

    fn apply(&self, current: Option<Value>) -> Option<Value> {
        match self {
            StoreOp::Set(_, v) => Some(v.clone()),
            StoreOp::Remove(_) => None,
            StoreOp::Incr(_, by) => {
                let n = current.and_then(|v| v.as_i64()).unwrap_or(0);
                Some(Value::from(n.saturating_add(*by)))
            }
            StoreOp::Push(_, v, keep) => {
                let mut list = match current {
                    Some(Value::Array(list)) => list,
                    _ => Vec::new(),
                };
                list.push(v.clone());
                if list.len() > *keep {
                    list.drain(..list.len() - keep);
                }
                Some(Value::Array(list))
            }
        }
    }
}

fn entry_size(key: &str, value: &Value) -> usize {
    key.len() + value.to_string().len()
}

#[derive(Default)]
struct Data {
    values: HashMap<String, Value>,
    bytes: usize,
}

/// One bot's store.
pub(crate) struct BotStore {
    bot: String,
    data: Mutex<Data>,
    max_value_bytes: usize,
    max_keys: usize,
    max_bytes: usize,
}

impl BotStore {
    fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value of `key` as the handler sees it: committed, then its own changes.
    pub(crate) fn get(&self, pending: &[StoreOp], key: &str) -> Option<Value> {
        let committed = self.data().values.get(key).cloned();
        pending
            .iter()
            .filter(|op| op.key() == key)
            .fold(committed, |v, op| op.apply(v))
    }

    /// The keys the handler sees, sorted.
    pub(crate) fn keys(&self, pending: &[StoreOp]) -> Vec<String> {
        let mut keys: HashSet<String> = self.data().values.keys().cloned().collect();
        for op in pending {
            keys.insert(op.key().to_string());
        }
        let mut keys: Vec<String> = keys
            .into_iter()
            .filter(|k| self.get(pending, k).is_some())
            .collect();
        keys.sort();
        keys
    }

    /// Whether `op` may be added to `pending` within the limits; the message says which
    /// limit it would break.
    pub(crate) fn check(&self, pending: &[StoreOp], op: &StoreOp) -> Result<(), String> {
        let key = op.key();
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(format!(
                "ctx.store: keys must be 1 to {MAX_KEY_BYTES} bytes, `{}` is {}",
                key.chars().take(40).collect::<String>(),
                key.len()
            ));
        }
        let new = op.apply(self.get(pending, key));
        if let Some(new) = &new {
            let size = new.to_string().len();
            if size > self.max_value_bytes {
                return Err(format!(
                    "ctx.store: the value of `{key}` would be {size} bytes as JSON, over the limit of {} bytes",
                    self.max_value_bytes
                ));
            }
        }
        let mut touched: HashSet<&str> = pending.iter().map(StoreOp::key).collect();
        touched.insert(key);
        let (mut keys, mut bytes) = {
            let data = self.data();
            let mut keys = data.values.len() as i64;
            let mut bytes = data.bytes as i64;
            for k in &touched {
                if let Some(old) = data.values.get(*k) {
                    keys -= 1;
                    bytes -= entry_size(k, old) as i64;
                }
            }
            (keys, bytes)
        };
        let mut with_op = pending.to_vec();
        with_op.push(op.clone());
        for k in touched {
            if let Some(v) = self.get(&with_op, k) {
                keys += 1;
                bytes += entry_size(k, &v) as i64;
            }
        }
        if keys > self.max_keys as i64 {
            return Err(format!(
                "ctx.store: bot `{}` would have {keys} keys, over the limit of {}",
                self.bot, self.max_keys
            ));
        }
        if bytes > self.max_bytes as i64 {
            return Err(format!(
                "ctx.store: bot `{}` would keep {bytes} bytes, over the limit of {}",
                self.bot, self.max_bytes
            ));
        }
        Ok(())
    }

    /// Applies a successful handler's changes; returns the new value of each touched key.
    fn commit(&self, ops: &[StoreOp]) -> Vec<(String, Option<Value>)> {
        let mut data = self.data();
        let mut changed: Vec<(String, Option<Value>)> = Vec::new();
        for op in ops {
            let key = op.key().to_string();
            let old = data.values.remove(&key);
            if let Some(old) = &old {
                data.bytes -= entry_size(&key, old);
            }
            let new = op.apply(old);
            if let Some(new) = &new {
                data.bytes += entry_size(&key, new);
                data.values.insert(key.clone(), new.clone());
            }
            changed.retain(|(k, _)| *k != key);
            changed.push((key, new));
        }
        changed
    }
}

/// Every bot's store, and the SQLite file they are kept in.
#[derive(Default)]
pub(crate) struct KvStore {
    bots: Mutex<HashMap<String, Arc<BotStore>>>,
    db: tokio::sync::OnceCell<SqlitePool>,
    /// Orders commits so that the file ends with the values memory has.
    write: tokio::sync::Mutex<()>,
}

impl KvStore {
    /// The store of `bot`, created empty on first use.
    pub(crate) fn bot(&self, bot: &str, options: &BotOptions) -> Arc<BotStore> {
        let mut bots = self.bots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(store) = bots.get(bot) {
            return store.clone();
        }
        bots.entry(bot.to_string())
            .or_insert_with(|| {
                Arc::new(BotStore {
                    bot: bot.to_string(),
                    data: Mutex::default(),
                    max_value_bytes: options.max_store_value_bytes,
                    max_keys: options.max_store_keys,
                    max_bytes: options.max_store_bytes,
                })
            })
            .clone()
    }

    /// Opens (or creates) the file and loads every bot's values from it.
    pub(crate) async fn open(&self, path: &Path, options: &BotOptions) -> Result<(), KvError> {
        let error = |source| KvError {
            path: path.display().to_string(),
            source,
        };
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect)
            .await
            .map_err(error)?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS bot_store (bot TEXT NOT NULL, key TEXT NOT NULL, \
             value TEXT NOT NULL, PRIMARY KEY (bot, key))",
        )
        .execute(&pool)
        .await
        .map_err(error)?;
        let rows = sqlx::query("SELECT bot, key, value FROM bot_store")
            .fetch_all(&pool)
            .await
            .map_err(error)?;
        for row in rows {
            let (bot, key, value): (String, String, String) = (row.get(0), row.get(1), row.get(2));
            let Ok(value) = serde_json::from_str::<Value>(&value) else {
                tracing::warn!(bot, key, "ctx.store: unreadable value in the file, skipped");
                continue;
            };
            self.bot(&bot, options).commit(&[StoreOp::Set(key, value)]);
        }
        let _ = self.db.set(pool);
        Ok(())
    }

    /// Closes the file once the writes under way are done (SQLite then folds its WAL into
    /// it). Called at shutdown, when no handler runs any more.
    pub(crate) async fn close(&self) {
        let _order = self.write.lock().await;
        if let Some(db) = self.db.get() {
            db.close().await;
        }
    }

    /// Applies a handler's changes to memory and the file.
    pub(crate) async fn commit(&self, store: &BotStore, ops: Vec<StoreOp>) {
        if ops.is_empty() {
            return;
        }
        let _order = self.write.lock().await;
        let changed = store.commit(&ops);
        let Some(db) = self.db.get() else { return };
        if let Err(e) = persist(db, &store.bot, changed).await {
            tracing::error!(bot = %store.bot, "ctx.store: cannot write the file: {e}");
        }
    }
}

async fn persist(
    db: &SqlitePool,
    bot: &str,
    changed: Vec<(String, Option<Value>)>,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    for (key, value) in changed {
        match value {
            Some(value) => {
                sqlx::query("INSERT OR REPLACE INTO bot_store (bot, key, value) VALUES (?, ?, ?)")
                    .bind(bot)
                    .bind(&key)
                    .bind(value.to_string())
                    .execute(&mut *tx)
                    .await?
            }
            None => {
                sqlx::query("DELETE FROM bot_store WHERE bot = ? AND key = ?")
                    .bind(bot)
                    .bind(&key)
                    .execute(&mut *tx)
                    .await?
            }
        };
    }
    tx.commit().await
}
