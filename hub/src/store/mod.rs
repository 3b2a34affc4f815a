//! The hub's SQLite database: its own file, its own migrations, runtime-checked queries.

mod events;
pub(crate) mod friends;
pub(crate) mod group_requests;
pub(crate) mod groups;
pub(crate) mod messages;
pub(crate) mod profiles;
pub(crate) mod recall;
pub(crate) mod receipts;
mod seed;
mod users;

pub(crate) use events::insert_events;

pub use groups::{GroupInfo, GroupKind, InfoPolicy, JoinPolicy, MemberInfo, Role};
pub(crate) use users::user_in;
pub use users::UserInfo;

use crate::error::HubError;
use parley_engine::store::checkpoint;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::Connection;
use std::path::Path;
use std::time::Duration;

#[derive(Clone, Debug)]
pub(crate) struct Store {
    pool: SqlitePool,
    /// The pool's options, for [`Store::dedicated`].
    options: SqliteConnectOptions,
}

impl Store {
    /// Opens (creating it and its directory) the database file and runs the migrations.
    pub async fn open(path: &Path) -> Result<Store, HubError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| HubError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL loses at most the last commits on power loss, never consistency.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let options = checkpoint::off_the_commit_path(options);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        tokio::spawn(checkpoint::in_background(pool.clone()));
        Ok(Store { pool, options })
    }

    /// Opens an existing database for reading only (no migrations, nothing created), as a
    /// second process may while the hub runs.
    pub async fn open_read_only(path: &Path) -> Result<Store, HubError> {
        if !path.is_file() {
            return Err(HubError::NotFound(format!(
                "no hub database at {} (start `parley run` once to create it)",
                path.display()
            )));
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        Ok(Store { pool, options })
    }

    /// A transaction; operations that change several tables run in one, so that a refused
    /// step leaves nothing behind.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, HubError> {
        Ok(self.pool.begin().await?)
    }

    /// A connection for reads that need several queries.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Sqlite>, HubError> {
        Ok(self.pool.acquire().await?)
    }

    /// A connection of its own, outside the pool, for a task that writes all the time (the
    /// send path). SQLite empties a connection's page cache whenever another connection
    /// wrote since its last transaction, and the pool hands out its connections in turn,
    /// so a pooled writer would read every index page anew in each transaction.
    pub async fn dedicated(&self) -> Result<SqliteConnection, HubError> {
        Ok(SqliteConnection::connect_with(&self.options).await?)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Whether a query failed on a UNIQUE or PRIMARY KEY constraint.
fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::config::{HubConfig, HubGroupConfig, HubUserConfig};

    /// A store in a fresh temporary directory, seeded with alice, bob, carol and bot, and
    /// the group `lobby` (owner alice; members bob and bot).
    pub async fn seeded() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("hub.db")).await.unwrap();
        store.apply_config(&sample_config()).await.unwrap();
        (store, dir)
    }

    pub fn sample_config() -> HubConfig {
        let user = |id: &str| HubUserConfig {
            id: id.into(),
            name: None,
            token: None,
        };
        HubConfig {
            users: vec![user("alice"), user("bob"), user("carol"), user("bot")],
            groups: vec![HubGroupConfig {
                id: "lobby".into(),
                name: Some("Lobby".into()),
                owner: "alice".into(),
                members: vec!["bob".into(), "bot".into()],
            }],
            ..HubConfig::default()
        }
    }
}
