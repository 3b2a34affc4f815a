//! Answers a logged-in session's group requests.

use crate::dispatch::{ok, reply};
use crate::hub::Hub;
use crate::protocol::{Request, ServerFrame};
use parley_engine::model::GroupInfoPatch;
use serde_json::json;

pub(crate) async fn answer(
    hub: &Hub,
    me: &str,
    req: Option<String>,
    request: Request,
) -> ServerFrame {
    let group = |g| json!({ "group": g });
    match request {
        Request::CreateGroup(new) => reply(req, "group", hub.create_group(me, new).await, group),
        Request::GroupInfo { group: id } => {
            reply(req, "group", hub.group_info(me, &id).await, group)
        }
        Request::SetGroupInfo {
            group,
            name,
            avatar_url,
            description,
            ext,
        } => {
            let patch = GroupInfoPatch {
                name,
                avatar_url,
                description,
                ext,
            };
            ok(req, hub.set_group_info(me, &group, patch).await)
        }
        Request::SetGroupSettings(patch) => {
            reply(req, "group", hub.set_group_settings(me, patch).await, group)
        }
        Request::SetAnnouncement { group, text } => {
            ok(req, hub.set_announcement(me, &group, text).await)
        }
        Request::Invite { group, users } => {
            reply(req, "invited", hub.invite(me, &group, users).await, |i| {
                json!(i)
            })
        }
        Request::JoinGroup { group, message } => reply(
            req,
            "joined",
            hub.join_group(me, &group, message).await,
            |j| json!(j),
        ),
        Request::AnswerJoinRequest { request, accept } => {
            ok(req, hub.answer_join_request(me, &request, accept).await)
        }
        Request::AnswerInvitation { request, accept } => {
            ok(req, hub.answer_invitation(me, &request, accept).await)
        }
        Request::GroupRequests {} => reply(
            req,
            "group_requests",
            hub.group_requests(me).await,
            |r| json!({ "requests": r }),
        ),
        Request::Kick { group, users } => ok(req, hub.kick(me, &group, users).await),
        Request::LeaveGroup { group } => ok(req, hub.leave_group(me, &group).await),
        Request::Dismiss { group } => ok(req, hub.dismiss(me, &group).await),
        Request::TransferOwner { group, user } => {
            ok(req, hub.transfer_owner(me, &group, &user).await)
        }
        Request::SetAdmin { group, user, admin } => {
            ok(req, hub.set_admin(me, &group, &user, admin).await)
        }
        Request::Mute {
            group,
            user,
            seconds,
        } => ok(req, hub.mute(me, &group, &user, seconds).await),
        Request::Unmute { group, user } => ok(req, hub.mute(me, &group, &user, 0).await),
        Request::MuteAll { group, muted } => ok(req, hub.mute_all(me, &group, muted).await),
        other => unreachable!("{other:?} is answered by dispatch::answer"),
    }
}
