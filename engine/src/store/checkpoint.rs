//! WAL checkpoints in the background, never inside a commit: with SQLite's autocheckpoint,
//! the commit that crosses its threshold copies the WAL into the database (and fsyncs)
//! while every writer waits behind it. Used by the engine's store and the hub's.
//!
//! A checkpoint starts by syncing the WAL to disk. With half a second of commits to write
//! out at once, that sync took 35-50 ms on a VM's disk (`strace -T`), and the hub's
//! writer stalled behind it. So the WAL is also flushed every [`FLUSH_EVERY`] in between
//! (`fdatasync` on a descriptor of our own, on a blocking thread), leaving each
//! checkpoint little to sync. Paired runs of the hub bench at 4,000 messages/s: p99 13-16 ms
//! against 15-22 ms without (3 of 3 pairs, max 26-36 against 32-55 ms); the OneBot bench
//! through the engine's store: no difference beyond its noise. It adds durability and no
//! writes to speak of: each WAL frame is written out once either way.

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often the WAL is copied into the database file.
pub const EVERY: Duration = Duration::from_millis(500);
/// How often the WAL's written pages are flushed to disk between checkpoints.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Connection options with autocheckpoint off and the WAL file kept from staying large.
pub fn off_the_commit_path(options: SqliteConnectOptions) -> SqliteConnectOptions {
    options
        .pragma("wal_autocheckpoint", "0")
        .pragma("journal_size_limit", (64 * 1024 * 1024).to_string())
}

/// The WAL file of the database at `db`.
fn wal_path(db: &Path) -> PathBuf {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

/// Flushes the WAL every [`FLUSH_EVERY`] and copies it into the database on a pool
/// connection every [`EVERY`], without blocking writers (PASSIVE), until the pool is
/// closed.
pub async fn in_background(pool: SqlitePool) {
    let wal = wal_path(pool.connect_options().get_filename());
    let flushes_per_checkpoint = (EVERY.as_millis() / FLUSH_EVERY.as_millis()).max(1);
    let mut every = tokio::time::interval(FLUSH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for tick in 1u128.. {
        every.tick().await;
        if pool.is_closed() {
            return;
        }
        if tick % flushes_per_checkpoint != 0 {
            flush(&wal).await;
            continue;
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

/// `fdatasync` of the WAL on a blocking thread. A WAL that is not there (nothing written
/// yet, or an in-memory database) has nothing to flush.
async fn flush(wal: &Path) {
    let wal = wal.to_path_buf();
    let flushed = tokio::task::spawn_blocking(move || match std::fs::File::open(&wal) {
        Ok(file) => file.sync_data(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    })
    .await;
    if let Ok(Err(e)) = flushed {
        tracing::debug!(error = %e, "WAL flush failed; the next checkpoint syncs it");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wal_is_beside_the_database() {
        assert_eq!(
            wal_path(Path::new("data/parley.db")),
            PathBuf::from("data/parley.db-wal")
        );
    }
}
