//! WAL checkpoints in the background, never inside a commit: with SQLite's autocheckpoint,
//! the commit that crosses its threshold copies the WAL into the database (and fsyncs)
//! while every writer waits behind it. Used by the engine's store and the hub's.

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use std::time::Duration;

/// How often the WAL is copied into the database file.
pub const EVERY: Duration = Duration::from_millis(500);

/// Connection options with autocheckpoint off and the WAL file kept from staying large.
pub fn off_the_commit_path(options: SqliteConnectOptions) -> SqliteConnectOptions {
    options
        .pragma("wal_autocheckpoint", "0")
        .pragma("journal_size_limit", (64 * 1024 * 1024).to_string())
}

/// Copies the WAL into the database on a pool connection every [`EVERY`], without
/// blocking writers (PASSIVE), until the pool is closed.
pub async fn in_background(pool: SqlitePool) {
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
        }
    }
}
