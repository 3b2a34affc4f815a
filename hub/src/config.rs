//! The `[hub]` section of `parley.toml`: users and groups the hub creates at start, the
//! device policy and how long friend requests wait.

use crate::ids::{check_id, MAX_TOKEN_LEN};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};

#[derive(Clone, Debug, Default, Deserialize)]
pub struct HubConfig {
    /// `[[hub.users]]`
    #[serde(default)]
    pub users: Vec<HubUserConfig>,
    /// `[[hub.groups]]`
    #[serde(default)]
    pub groups: Vec<HubGroupConfig>,
    /// `device_policy = "multiple" | "single"`: whether a user may be logged in on several
    /// devices at once (the default), or a new login kicks the older sessions.
    #[serde(default)]
    pub device_policy: DevicePolicy,
    /// `friend_request_ttl_secs`: how long a friend request waits for an answer before it
    /// expires. Default 7 days.
    #[serde(default)]
    pub friend_request_ttl_secs: Option<u64>,
}

/// How many devices (WebSocket sessions, bot adapters) a user may be logged in on at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DevicePolicy {
    /// Any number; each gets the user's messages and events.
    #[default]
    Multiple,
    /// One: a new login ends every other session of the user ("kicked by another device").
    Single,
}

#[derive(Clone, Debug, Deserialize)]
pub struct HubUserConfig {
    pub id: String,
    /// Display name; the id when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// Login token. When absent the hub generates one, stores it and keeps it across
    /// restarts; when present it replaces whatever was stored.
    #[serde(default)]
    pub token: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct HubGroupConfig {
    pub id: String,
    /// Display name; the id when absent.
    #[serde(default)]
    pub name: Option<String>,
    pub owner: String,
    /// Members besides the owner (listing the owner again is allowed).
    #[serde(default)]
    pub members: Vec<String>,
}

impl HubConfig {
    /// Checks what can be checked without the database: id syntax, duplicate ids, tokens.
    /// Whether group owners and members are users is checked against the database when
    /// the hub opens (a user may also have been created through the admin API).
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.friend_request_ttl_secs == Some(0) {
            return Err(
                "friend_request_ttl_secs must be at least 1 (or left out for 7 days)".into(),
            );
        }
        let mut users = HashSet::new();
        let mut tokens: HashMap<&str, &str> = HashMap::new();
        for user in &self.users {
            check_id(&user.id).map_err(|e| format!("[[hub.users]] id {:?}: {e}", user.id))?;
            if !users.insert(user.id.as_str()) {
                return Err(format!(
                    "duplicate hub user id {:?} in [[hub.users]]",
                    user.id
                ));
            }
            if let Some(token) = &user.token {
                if token.trim().is_empty() || token.len() > MAX_TOKEN_LEN {
                    return Err(format!(
                        "hub user {:?}: token must be 1 to {MAX_TOKEN_LEN} characters (or left out to generate one)",
                        user.id
                    ));
                }
                if let Some(other) = tokens.insert(token, &user.id) {
                    return Err(format!(
                        "hub users {other:?} and {:?} have the same token; tokens must be unique",
                        user.id
                    ));
                }
            }
        }
        let mut groups = HashSet::new();
        for group in &self.groups {
            check_id(&group.id).map_err(|e| format!("[[hub.groups]] id {:?}: {e}", group.id))?;
            if !groups.insert(group.id.as_str()) {
                return Err(format!(
                    "duplicate hub group id {:?} in [[hub.groups]]",
                    group.id
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, token: Option<&str>) -> HubUserConfig {
        HubUserConfig {
            id: id.into(),
            name: None,
            token: token.map(Into::into),
        }
    }

    fn group(id: &str) -> HubGroupConfig {
        HubGroupConfig {
            id: id.into(),
            name: None,
            owner: "alice".into(),
            members: vec![],
        }
    }

    #[test]
    fn parses_the_toml_form() {
        let config: HubConfig = serde_json::from_value(serde_json::json!({
            "users": [{"id": "alice", "name": "Alice", "token": "t-a"}, {"id": "bot"}],
            "groups": [{"id": "lobby", "owner": "alice", "members": ["bot"]}]
        }))
        .unwrap();
        assert_eq!(config.users[1].token, None);
        assert_eq!(config.groups[0].members, vec!["bot".to_string()]);
        assert!(config.validate().is_ok());
        assert_eq!(config.device_policy, DevicePolicy::Multiple);
        let single: HubConfig = serde_json::from_value(serde_json::json!({
            "device_policy": "single", "friend_request_ttl_secs": 60
        }))
        .unwrap();
        assert_eq!(
            (single.device_policy, single.friend_request_ttl_secs),
            (DevicePolicy::Single, Some(60))
        );
        let zero = HubConfig {
            friend_request_ttl_secs: Some(0),
            ..HubConfig::default()
        };
        assert!(zero.validate().unwrap_err().contains("at least 1"));
    }

    #[test]
    fn rejects_duplicate_user_ids() {
        let config = HubConfig {
            users: vec![user("alice", None), user("alice", None)],
            groups: vec![],
            ..HubConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert!(err.contains("duplicate hub user id \"alice\""), "{err}");
    }

    #[test]
    fn rejects_duplicate_group_ids() {
        let config = HubConfig {
            users: vec![user("alice", None)],
            groups: vec![group("g"), group("g")],
            ..HubConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert!(err.contains("duplicate hub group id \"g\""), "{err}");
    }

    #[test]
    fn rejects_bad_ids_and_shared_or_empty_tokens() {
        let bad_id = HubConfig {
            users: vec![user("al ice", None)],
            groups: vec![],
            ..HubConfig::default()
        };
        assert!(bad_id.validate().unwrap_err().contains("\"al ice\""));

        let shared = HubConfig {
            users: vec![user("a", Some("t")), user("b", Some("t"))],
            groups: vec![],
            ..HubConfig::default()
        };
        assert!(shared.validate().unwrap_err().contains("same token"));

        let empty = HubConfig {
            users: vec![user("a", Some(" "))],
            groups: vec![],
            ..HubConfig::default()
        };
        assert!(empty.validate().unwrap_err().contains("token must be"));
    }
}
