//! Who a broadcast goes to: named conversations, or every friend or group of the
//! connection's account (`all:friends`, `all:groups`), looked up on the platform when the
//! job starts so that the job's recipients can all be stored before the first send.

use crate::adapter::Adapter;
use crate::model::{
    Command, CommandError, CommandOutput, CommandResult, ConnectionId, ConversationId, ErrorKind,
    OutboundCommand,
};
use std::collections::HashSet;
use std::str::FromStr;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    One(ConversationId),
    AllFriends,
    AllGroups,
}

impl FromStr for Recipient {
    type Err = String;

    /// `all:friends`, `all:groups`, or a conversation (`alice`, `group:lobby`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all:friends" => Ok(Recipient::AllFriends),
            "all:groups" => Ok(Recipient::AllGroups),
            _ if s.starts_with("all:") => Err(format!(
                "`{s}`: the audiences are `all:friends` and `all:groups`"
            )),
            _ => s.parse().map(Recipient::One),
        }
    }
}

/// Why an audience could not be looked up.
#[derive(Debug, thiserror::Error)]
#[error("cannot list the {what} of connection `{connection}`: {error}")]
pub struct LookupError {
    pub connection: ConnectionId,
    pub what: &'static str,
    pub error: CommandError,
}

/// The conversations `recipients` stand for, each once, in the order first named.
pub async fn resolve(
    adapter: &dyn Adapter,
    connection: &ConnectionId,
    recipients: Vec<Recipient>,
) -> Result<Vec<ConversationId>, LookupError> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for recipient in recipients {
        let found = match recipient {
            Recipient::One(c) => vec![c],
            Recipient::AllFriends => lookup(adapter, connection, Command::ListFriends, "friends")
                .await?
                .into_iter()
                .collect(),
            Recipient::AllGroups => lookup(adapter, connection, Command::ListGroups, "groups")
                .await?
                .into_iter()
                .collect(),
        };
        for c in found {
            if seen.insert(c.clone()) {
                out.push(c);
            }
        }
    }
    Ok(out)
}

async fn lookup(
    adapter: &dyn Adapter,
    connection: &ConnectionId,
    command: Command,
    what: &'static str,
) -> Result<Vec<ConversationId>, LookupError> {
    let failed = |error| LookupError {
        connection: connection.clone(),
        what,
        error,
    };
    let result = adapter
        .execute(OutboundCommand {
            connection: connection.clone(),
            idempotency_key: format!("audience:{what}:{}", crate::store::now_ms()),
            command,
        })
        .await;
    match result {
        CommandResult::Ok(CommandOutput::Friends { friends }) => Ok(friends
            .into_iter()
            .map(|f| ConversationId::direct(f.user.as_str()))
            .collect()),
        CommandResult::Ok(CommandOutput::Groups { groups }) => Ok(groups
            .into_iter()
            .map(|g| ConversationId::group(g.group.as_str()))
            .collect()),
        CommandResult::Ok(other) => Err(failed(CommandError::new(
            ErrorKind::Invalid,
            format!("the platform answered with {other:?}"),
        ))),
        CommandResult::Failed(e) => Err(failed(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences_and_conversations_parse() {
        assert_eq!("all:friends".parse(), Ok(Recipient::AllFriends));
        assert_eq!("all:groups".parse(), Ok(Recipient::AllGroups));
        assert_eq!(
            "group:lobby".parse(),
            Ok(Recipient::One(ConversationId::group("lobby")))
        );
        assert_eq!(
            "alice".parse(),
            Ok(Recipient::One(ConversationId::direct("alice")))
        );
        let e = "all:members".parse::<Recipient>().unwrap_err();
        assert!(e.contains("all:friends"), "{e}");
    }
}
