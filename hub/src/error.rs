//! What can go wrong in the hub, in kinds the protocol and the adapter map to their codes.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// `[hub]` configuration that cannot be applied; the message names the culprit.
    #[error("hub config: {0}")]
    Config(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    NotPermitted(String),
    #[error("{0}")]
    Invalid(String),
    /// Something with that id already exists.
    #[error("{0}")]
    Conflict(String),
    /// The recipient blocked the sender.
    #[error("{0}")]
    Blocked(String),
    /// The sender is muted in the group (or the whole group is muted).
    #[error("{0}")]
    Muted(String),
    /// The group has no room for more members.
    #[error("{0}")]
    Full(String),
    /// A recall after the recall window.
    #[error("{0}")]
    RecallWindowExceeded(String),
    /// A request (friend, join, invitation) past its expiry.
    #[error("{0}")]
    Expired(String),
    #[error("cannot create the directory of the hub database {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("hub database: {0}")]
    Store(#[from] sqlx::Error),
    #[error("hub database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl HubError {
    /// The error's code in the WebSocket protocol and the admin API.
    pub fn code(&self) -> &'static str {
        match self {
            HubError::NotFound(_) => "not_found",
            HubError::NotPermitted(_) => "not_permitted",
            HubError::Invalid(_) => "invalid",
            HubError::Conflict(_) => "conflict",
            HubError::Blocked(_) => "blocked",
            HubError::Muted(_) => "muted",
            HubError::Full(_) => "group_full",
            HubError::RecallWindowExceeded(_) => "recall_window_exceeded",
            HubError::Expired(_) => "expired",
            HubError::Config(_)
            | HubError::Io { .. }
            | HubError::Store(_)
            | HubError::Migrate(_) => "internal",
        }
    }

    /// Whether this is the hub's own failure rather than a problem with the request.
    pub fn is_internal(&self) -> bool {
        self.code() == "internal"
    }
}
