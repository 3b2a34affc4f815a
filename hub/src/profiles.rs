//! Profiles: every user's nickname, avatar url, signature and ext, read by anyone and
//! changed by their owner; a change is reported to the user's friends and own sessions.

use crate::error::HubError;
use crate::events::Outgoing;
use crate::groups::text_field;
use crate::hub::Hub;
use crate::store::friends as friend_db;
use crate::store::profiles as db;
use parley_engine::model::{Event, Profile, UserId};
use serde::Deserialize;
use serde_json::Value;

const MAX_NICKNAME: usize = 128;
const MAX_URL: usize = 2048;
const MAX_SIGNATURE: usize = 512;
/// The largest ext object, serialized.
const MAX_EXT_BYTES: usize = 16 * 1024;

/// The `set_profile` request: the fields to change; absent ones stay.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProfilePatch {
    #[serde(default)]
    pub nickname: Option<String>,
    /// `""` clears it.
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// `""` clears it.
    #[serde(default)]
    pub signature: Option<String>,
    /// A JSON object replacing the stored one; `{}` clears it.
    #[serde(default)]
    pub ext: Option<Value>,
}

impl Hub {
    /// The profile of `user`; any user may read anyone's.
    pub(crate) async fn profile(&self, user: &str) -> Result<Profile, HubError> {
        let mut conn = self.store().conn().await?;
        db::profile(&mut conn, user)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("no hub user {user:?}")))
    }

    /// Changes `user`'s own profile and returns it. When something changed, the user's
    /// friends and the user's own sessions get `profile_changed`.
    pub(crate) async fn set_profile(
        &self,
        user: &str,
        patch: ProfilePatch,
    ) -> Result<Profile, HubError> {
        if patch.nickname.is_none()
            && patch.avatar_url.is_none()
            && patch.signature.is_none()
            && patch.ext.is_none()
        {
            return Err(HubError::Invalid(
                "set at least one of nickname, avatar_url, signature, ext".into(),
            ));
        }
        let nickname = match patch.nickname {
            Some(n) => Some(
                text_field("nickname", Some(n), MAX_NICKNAME)?
                    .ok_or_else(|| HubError::Invalid("nickname cannot be blank".into()))?,
            ),
            None => None,
        };
        let avatar_url = patch
            .avatar_url
            .map(|u| text_field("avatar_url", Some(u), MAX_URL))
            .transpose()?;
        let signature = patch
            .signature
            .map(|s| text_field("signature", Some(s), MAX_SIGNATURE))
            .transpose()?;
        let ext = match patch.ext {
            Some(Value::Object(fields)) if fields.is_empty() => Some(Value::Null),
            Some(ext @ Value::Object(_)) if ext.to_string().len() > MAX_EXT_BYTES => {
                return Err(HubError::Invalid(format!(
                    "ext must be at most {MAX_EXT_BYTES} bytes of JSON"
                )))
            }
            Some(ext @ Value::Object(_)) => Some(ext),
            Some(other) => {
                return Err(HubError::Invalid(format!(
                    "ext must be a JSON object, not {other}"
                )))
            }
            None => None,
        };
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        let before = db::profile(&mut tx, user)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("no hub user {user:?}")))?;
        let mut after = before.clone();
        if let Some(nickname) = nickname {
            after.nickname = Some(nickname);
        }
        if let Some(avatar_url) = avatar_url {
            after.avatar_url = avatar_url;
        }
        if let Some(signature) = signature {
            after.signature = signature;
        }
        if let Some(ext) = ext {
            after.ext = ext;
        }
        if after == before {
            return Ok(after);
        }
        db::save_profile(&mut tx, &after).await?;
        let friends = friend_db::friends_of(&mut tx, user).await?;
        let out = Outgoing::new(now).to(
            std::iter::once(user).chain(friends.iter().map(|f| f.id.as_str())),
            Event::ProfileChanged {
                user: UserId::new(user),
            },
        );
        self.commit_with(tx, out.events).await?;
        tracing::debug!(user, "hub profile changed");
        Ok(after)
    }
}
