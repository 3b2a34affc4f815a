//! Devices and presence: every WebSocket session and bot adapter is a device of its user;
//! a user is online while they have one. Coming online (the first device) and going
//! offline (the last one gone) is pushed live to the user's friends as `presence`; when
//! each user and device was last seen is stored. Under the "single" device policy a new
//! login ends the user's other sessions.

use crate::config::DevicePolicy;
use crate::error::HubError;
use crate::events::Outgoing;
use crate::hub::Hub;
use crate::registry::{DeviceFeed, SessionId, SocketFeed};
use crate::store::friends as friend_db;
use parley_engine::model::{Event, UserId};
use serde::Serialize;
use sqlx::Row;
use std::sync::Arc;

const MAX_DEVICE_LEN: usize = 64;
/// The most users one `presence` request may ask about.
pub(crate) const MAX_PRESENCE_USERS: usize = 100;

/// One user's presence as the `presence` request answers it.
#[derive(Debug, Serialize)]
pub(crate) struct PresenceView {
    pub user: String,
    pub online: bool,
    /// When the user's last session ended, while offline (absent: never seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_ms: Option<i64>,
}

/// One device of the user, as the `devices` request answers it.
#[derive(Debug, Serialize)]
pub(crate) struct DeviceView {
    pub device: String,
    pub online: bool,
    pub last_login_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen_ms: Option<i64>,
}

/// A device name from a client: 1-64 characters, no control characters.
pub(crate) fn check_device(device: &str) -> Result<(), HubError> {
    if device.trim().is_empty() || device.chars().count() > MAX_DEVICE_LEN {
        return Err(HubError::Invalid(format!(
            "device must be 1 to {MAX_DEVICE_LEN} characters"
        )));
    }
    if device.chars().any(char::is_control) {
        return Err(HubError::Invalid(
            "device must not contain control characters".into(),
        ));
    }
    Ok(())
}

impl Hub {
    fn single_device(&self) -> bool {
        self.options().device_policy == DevicePolicy::Single
    }

    /// Connects a WebSocket session of `user` on `device` (generated when None).
    pub(crate) async fn connect_socket(
        &self,
        user: &str,
        device: Option<&str>,
    ) -> Result<SocketFeed, HubError> {
        if let Some(device) = device {
            check_device(device)?;
        }
        let _order = self.order_lock().await;
        let connected = self
            .registry()
            .connect_socket(user, device, self.single_device());
        self.logged_in(user, &connected.feed.device, connected.first)
            .await;
        Ok(connected.feed)
    }

    /// Connects an in-process device (a bot's adapter) of `user`.
    pub(crate) async fn connect_device(&self, user: &str, device: &str) -> DeviceFeed {
        let _order = self.order_lock().await;
        let connected = self
            .registry()
            .connect_device(user, device, self.single_device());
        self.logged_in(user, device, connected.first).await;
        connected.feed
    }

    /// Records a login and, for the user's first device, tells their friends. Called
    /// under the order lock.
    async fn logged_in(&self, user: &str, device: &str, first: bool) {
        let now = self.now_ms();
        let stored = async {
            sqlx::query(
                "INSERT INTO devices (user_id, device, last_login_ms) VALUES (?, ?, ?)
                 ON CONFLICT (user_id, device) DO UPDATE SET last_login_ms = excluded.last_login_ms",
            )
            .bind(user)
            .bind(device)
            .bind(now)
            .execute(&mut *self.store().conn().await?)
            .await?;
            Ok::<_, HubError>(())
        }
        .await;
        if let Err(e) = stored {
            tracing::warn!(user, device, error = %e, "hub: cannot record a login");
        }
        tracing::debug!(user, device, first, "hub device connected");
        if first {
            self.push_presence(user, true, now).await;
        }
    }

    /// Ends a session; the user's last one takes them offline. Does nothing for a session
    /// that was already ended (replaced by another login) or once the hub is closing.
    pub(crate) async fn disconnect(&self, user: &str, id: SessionId) {
        let _order = self.order_lock().await;
        let Some((device, last)) = self.registry().disconnect(user, id) else {
            return;
        };
        if self.is_closing() {
            return;
        }
        let now = self.now_ms();
        let stored = async {
            let mut tx = self.store().begin().await?;
            sqlx::query("UPDATE devices SET last_seen_ms = ? WHERE user_id = ? AND device = ?")
                .bind(now)
                .bind(user)
                .bind(&device)
                .execute(&mut *tx)
                .await?;
            if last {
                sqlx::query("UPDATE users SET last_seen_ms = ? WHERE id = ?")
                    .bind(now)
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, HubError>(())
        };
        if let Err(e) = stored.await {
            tracing::warn!(user, device, error = %e, "hub: cannot record a logout");
        }
        tracing::debug!(user, device, last, "hub device disconnected");
        if last {
            self.push_presence(user, false, now).await;
        }
    }

    /// Pushes `presence` to the user's friends (live only, not stored). Called under the
    /// order lock.
    async fn push_presence(&self, user: &str, online: bool, now: i64) {
        let friends = match self.store().conn().await {
            Ok(mut conn) => friend_db::friends_of(&mut conn, user).await,
            Err(e) => Err(e),
        };
        let friends = match friends {
            Ok(friends) => friends,
            Err(e) => {
                tracing::warn!(user, error = %e, "hub: cannot tell friends about presence");
                return;
            }
        };
        let out = Outgoing::new(now).to(
            friends.iter().map(|f| f.id.as_str()),
            Event::Presence {
                user: UserId::new(user),
                online,
            },
        );
        for event in out.events {
            self.registry().deliver_event(Arc::new(event)).await;
        }
    }

    /// Whether each of `users` is online, and when the offline ones were last seen.
    pub(crate) async fn presence(&self, users: Vec<String>) -> Result<Vec<PresenceView>, HubError> {
        if users.is_empty() || users.len() > MAX_PRESENCE_USERS {
            return Err(HubError::Invalid(format!(
                "name 1 to {MAX_PRESENCE_USERS} users"
            )));
        }
        let mut conn = self.store().conn().await?;
        let mut views = Vec::with_capacity(users.len());
        for user in users {
            let row = sqlx::query("SELECT last_seen_ms FROM users WHERE id = ?")
                .bind(&user)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| HubError::NotFound(format!("no hub user {user:?}")))?;
            let online = !self.registry().devices(&user).is_empty();
            views.push(PresenceView {
                online,
                last_seen_ms: if online {
                    None
                } else {
                    row.get("last_seen_ms")
                },
                user,
            });
        }
        Ok(views)
    }

    /// The devices `user` has logged in on, most recent login first.
    pub(crate) async fn devices(&self, user: &str) -> Result<Vec<DeviceView>, HubError> {
        let online = self.registry().devices(user);
        let rows = sqlx::query(
            "SELECT device, last_login_ms, last_seen_ms FROM devices WHERE user_id = ?
             ORDER BY last_login_ms DESC, device",
        )
        .bind(user)
        .fetch_all(&mut *self.store().conn().await?)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let device: String = r.get("device");
                let online = online.contains(&device);
                DeviceView {
                    online,
                    last_login_ms: r.get("last_login_ms"),
                    last_seen_ms: if online { None } else { r.get("last_seen_ms") },
                    device,
                }
            })
            .collect())
    }
}
