//! Answers one request of a logged-in session: calls the hub and renders the answer frame.

use crate::error::HubError;
use crate::hub::{Hub, SendRequest};
use crate::protocol::{event_value, Request, ServerFrame};
use crate::receipts::ReadUpTo;
use crate::registry::SessionId;
use crate::store::UserInfo;
use parley_engine::model::{ConversationId, ConversationKind};
use serde_json::{json, Value};

/// The answer frame for `kind` with `body`, or the error frame.
pub(crate) fn reply<T>(
    req: Option<String>,
    kind: &'static str,
    result: Result<T, HubError>,
    body: impl FnOnce(T) -> Value,
) -> ServerFrame {
    match result {
        Ok(value) => ServerFrame::answer(req, kind, body(value)),
        Err(e) => ServerFrame::hub_error(req, &e),
    }
}

pub(crate) fn ok(req: Option<String>, result: Result<(), HubError>) -> ServerFrame {
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
        Request::Recall { message } => ok(req, hub.recall(me, &message).await),
        Request::DeleteMessage { message } => ok(req, hub.delete_for_self(me, &message).await),
        Request::MarkRead {
            conversation,
            up_to_seq,
        } => ok(
            req,
            hub.mark_read(me, &conversation, ReadUpTo::Seq(up_to_seq))
                .await,
        ),
        Request::ReadBy { message } => {
            reply(req, "read_by", hub.read_by(me, &message).await, |r| {
                json!(r)
            })
        }
        Request::Delivered {
            conversation,
            messages,
        } => ok(req, delivered(hub, me, &conversation, messages).await),
        Request::Typing { to, typing } => ok(req, hub.typing(me, &to, typing).await),
        Request::SetConversation {
            conversation,
            pinned,
            muted,
        } => ok(
            req,
            hub.set_conversation(me, &conversation, pinned, muted).await,
        ),
        Request::Profile { user } => reply(
            req,
            "profile",
            hub.profile(user.as_deref().unwrap_or(me)).await,
            |p| json!({ "profile": p }),
        ),
        Request::SetProfile(patch) => reply(
            req,
            "profile",
            hub.set_profile(me, patch).await,
            |p| json!({ "profile": p }),
        ),
        Request::Presence { users } => reply(
            req,
            "presence",
            hub.presence(users).await,
            |p| json!({ "presence": p }),
        ),
        Request::Devices {} => reply(
            req,
            "devices",
            hub.devices(me).await,
            |d| json!({ "devices": d }),
        ),
        request => crate::dispatch_groups::answer(hub, me, req, request).await,
    }
}

/// Delivery receipts are for direct conversations.
async fn delivered(
    hub: &Hub,
    me: &str,
    conversation: &ConversationId,
    messages: Vec<String>,
) -> Result<(), HubError> {
    if conversation.kind != ConversationKind::Direct {
        return Err(HubError::Invalid(
            "delivery receipts are for direct conversations".into(),
        ));
    }
    hub.delivered(me, &conversation.id, messages).await
}
