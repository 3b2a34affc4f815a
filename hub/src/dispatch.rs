//! Answers one request of a logged-in session: calls the hub and renders the answer frame.

use crate::hub::{Hub, SendRequest};
use crate::protocol::{event_value, Request, ServerFrame};
use crate::registry::SessionId;
use crate::store::UserInfo;
use serde_json::{json, Value};

/// The answer frame for `kind` with `body`, or the error frame.
fn reply<T>(
    req: Option<String>,
    kind: &'static str,
    result: Result<T, crate::error::HubError>,
    body: impl FnOnce(T) -> Value,
) -> ServerFrame {
    match result {
        Ok(value) => ServerFrame::answer(req, kind, body(value)),
        Err(e) => ServerFrame::hub_error(req, &e),
    }
}

fn ok(req: Option<String>, result: Result<(), crate::error::HubError>) -> ServerFrame {
    reply(req, "ok", result, |()| json!({}))
}

pub(crate) async fn answer(
    hub: &Hub,
    user: &UserInfo,
    req: Option<String>,
    request: Request,
    origin: Option<SessionId>,
) -> ServerFrame {
    let me = user.id.as_str();
    match request {
        Request::Login { .. } => ServerFrame::error(
            req,
            "already_logged_in",
            format!("this session is already logged in as {me:?}"),
        ),
        Request::Send {
            to,
            content,
            client_id,
            reply_to,
            extra,
        } => {
            let request = SendRequest {
                to,
                content: *content,
                client_id,
                reply_to,
                extra,
            };
            match hub.send(me, request, origin).await {
                Ok(sent) => ServerFrame::Sent {
                    req,
                    message: sent.message.view_for(me),
                    duplicate: sent.duplicate,
                },
                Err(e) => ServerFrame::hub_error(req, &e),
            }
        }
        Request::History {
            conversation,
            before_seq,
            limit,
        } => match hub.history(me, &conversation, before_seq, limit).await {
            Ok((messages, has_more)) => ServerFrame::History {
                req,
                messages,
                has_more,
            },
            Err(e) => ServerFrame::hub_error(req, &e),
        },
        Request::Conversations {} => match hub.conversations(me).await {
            Ok(conversations) => ServerFrame::Conversations { req, conversations },
            Err(e) => ServerFrame::hub_error(req, &e),
        },
        Request::Groups {} => match hub.groups(me).await {
            Ok(groups) => ServerFrame::Groups { req, groups },
            Err(e) => ServerFrame::hub_error(req, &e),
        },
        Request::Ping {} => ServerFrame::Pong { req },
        Request::Events { after_seq, limit } => reply(
            req,
            "events",
            hub.events(me, after_seq, limit).await,
            |(events, has_more)| {
                let events: Vec<Value> = events.iter().map(event_value).collect();
                json!({"events": events, "has_more": has_more})
            },
        ),
        Request::Settings(patch) => reply(
            req,
            "settings",
            hub.settings(me, patch).await,
            |s| json!({ "settings": s }),
        ),
        Request::AddFriend {
            user,
            greeting,
            answer,
        } => reply(
            req,
            "friend_request",
            hub.add_friend(me, &user, greeting, answer).await,
            |r| json!({ "request": r }),
        ),
        Request::AnswerFriendRequest {
            request,
            accept,
            remark,
        } => reply(
            req,
            "friend_request",
            hub.answer_friend_request(me, &request, accept, remark)
                .await,
            |r| json!({ "request": r }),
        ),
        Request::FriendRequests {} => reply(
            req,
            "friend_requests",
            hub.friend_requests(me).await,
            |r| json!({ "requests": r }),
        ),
        Request::Friends {} => reply(req, "friends", hub.friends(me).await, |f| json!(f)),
        Request::RemoveFriend { user } => ok(req, hub.remove_friend(me, &user).await),
        Request::SetFriendAlias { user, alias } => {
            ok(req, hub.set_friend_alias(me, &user, alias).await)
        }
        Request::Block { user } => ok(req, hub.set_blocked(me, &user, true).await),
        Request::Unblock { user } => ok(req, hub.set_blocked(me, &user, false).await),
    }
}
