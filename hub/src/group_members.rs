//! Who is in a group: invitations (confirmed by invitees who ask for it), applications
//! under the group's join policy and their answers, kicks and leaving.

use crate::error::HubError;
use crate::events::Outgoing;
use crate::groups::{
    as_manager, as_member, existing, history_start, invitation, notice, text_field,
};
use crate::hub::Hub;
use crate::ids::random_id;
use crate::store::friends as friend_db;
use crate::store::group_requests::{self as requests, GroupRequestRow};
use crate::store::groups as db;
use crate::store::{GroupInfo, GroupKind, JoinPolicy, Role};
use parley_engine::model::{Event, GroupId, GroupNoticeKind, RequestId, UserId};
use serde::Serialize;
use sqlx::SqliteConnection;

const MAX_REASON: usize = 512;

/// What an `invite` did: who is a member now, and who was sent an invitation to confirm.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Invited {
    pub added: Vec<String>,
    pub invited: Vec<GroupRequestRow>,
}

/// What a `join_group` did: `joined` at once, or a `pending` request for the admins.
#[derive(Debug, Serialize)]
pub(crate) struct Joined {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<GroupRequestRow>,
}

/// Refuses adding `count` members beyond the group's capacity.
async fn check_room(
    conn: &mut SqliteConnection,
    info: &GroupInfo,
    count: usize,
) -> Result<(), HubError> {
    let members = db::member_ids_in(conn, &info.id, false).await?.len();
    if members + count > info.capacity as usize {
        return Err(HubError::Full(format!(
            "group {:?} is full: {members} of {} members",
            info.id, info.capacity
        )));
    }
    Ok(())
}

/// Adds `users` to the group, or invites those whose `invite_confirm` is set (when
/// `inviter` is a user; the admin API, `None`, adds everyone). Every user must exist and
/// not be a member or already invited; all or nothing.
pub(crate) async fn add_or_invite(
    conn: &mut SqliteConnection,
    info: &GroupInfo,
    inviter: Option<&str>,
    users: &[String],
    now: i64,
) -> Result<(Vec<String>, Vec<GroupRequestRow>), HubError> {
    let group = info.id.as_str();
    let (mut added, mut invited) = (Vec::new(), Vec::new());
    for user in users {
        let settings = friend_db::settings(conn, user)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("no hub user {user:?}")))?;
        if db::member(conn, group, user).await?.is_some() {
            return Err(HubError::Conflict(format!(
                "{user:?} is already a member of group {group:?}"
            )));
        }
        if requests::is_pending(conn, "invite", group, user).await? {
            return Err(HubError::Conflict(format!(
                "{user:?} is already invited to group {group:?}"
            )));
        }
        if let Some(inviter) = inviter.filter(|_| settings.invite_confirm) {
            let request = GroupRequestRow {
                id: random_id("gr"),
                kind: "invite",
                group: group.to_string(),
                user: user.clone(),
                inviter: Some(inviter.to_string()),
                reason: None,
                status: "pending".into(),
                created_ms: now,
            };
            requests::insert(conn, &request).await?;
            invited.push(request);
        } else {
            added.push(user.clone());
        }
    }
    check_room(conn, info, added.len()).await?;
    let start = history_start(conn, info.kind).await?;
    for user in &added {
        db::add_member(conn, group, user, Role::Member, now, start).await?;
    }
    Ok((added, invited))
}

/// The `group_request_answered` event, to the request's user and `others`.
fn answered(
    out: Outgoing,
    request: &GroupRequestRow,
    by: &str,
    accepted: bool,
    others: &[String],
) -> Outgoing {
    out.to(
        std::iter::once(request.user.as_str()).chain(others.iter().map(String::as_str)),
        Event::GroupRequestAnswered {
            request: RequestId::new(&request.id),
            group: GroupId::new(&request.group),
            by: UserId::new(by),
            accepted,
        },
    )
}

impl Hub {
    /// Invites users: members of private groups may invite, in public groups and chat
    /// rooms only the owner and admins.
    pub(crate) async fn invite(
        &self,
        user: &str,
        group: &str,
        users: Vec<String>,
    ) -> Result<Invited, HubError> {
        let mut users = users;
        users.sort();
        users.dedup();
        if users.is_empty() {
            return Err(HubError::Invalid("name at least one user to invite".into()));
        }
        if users.iter().any(|u| u == user) {
            return Err(HubError::Invalid("you cannot invite yourself".into()));
        }
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        let (info, me) = as_member(&mut tx, group, user).await?;
        if info.kind != GroupKind::Private && !me.role.manages() {
            return Err(HubError::NotPermitted(format!(
                "only the owner and admins of group {group:?} may invite"
            )));
        }
        let (added, invited) = add_or_invite(&mut tx, &info, Some(user), &users, now).await?;
        let mut out = Outgoing::new(now);
        if !added.is_empty() {
            let targets: Vec<&str> = added.iter().map(String::as_str).collect();
            let members = db::member_ids_in(&mut tx, group, false).await?;
            out = out.to(
                members.iter().map(String::as_str),
                notice(group, GroupNoticeKind::MemberJoined, user, &targets, now),
            );
        }
        for request in &invited {
            out = invitation(out.then(), request);
        }
        self.commit_with(tx, out.events).await?;
        Ok(Invited { added, invited })
    }

    /// Applies to join a public group or chat room under its join policy.
    pub(crate) async fn join_group(
        &self,
        user: &str,
        group: &str,
        message: Option<String>,
    ) -> Result<Joined, HubError> {
        let reason = text_field("message", message, MAX_REASON)?;
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        crate::friends::require_user(&mut tx, user).await?;
        let info = existing(&mut tx, group).await?;
        if db::member(&mut tx, group, user).await?.is_some() {
            return Err(HubError::Conflict(format!(
                "{user:?} is already a member of group {group:?}"
            )));
        }
        if info.kind == GroupKind::Private {
            return Err(HubError::NotPermitted(format!(
                "group {group:?} is private: members join by invitation"
            )));
        }
        match info.join_policy {
            JoinPolicy::Nobody => Err(HubError::NotPermitted(format!(
                "group {group:?} accepts no applications"
            ))),
            JoinPolicy::Anyone => {
                check_room(&mut tx, &info, 1).await?;
                let start = history_start(&mut tx, info.kind).await?;
                db::add_member(&mut tx, group, user, Role::Member, now, start).await?;
                let event = notice(group, GroupNoticeKind::MemberJoined, user, &[user], now);
                self.notify_members(tx, group, event, &[]).await?;
                Ok(Joined {
                    status: "joined",
                    request: None,
                })
            }
            JoinPolicy::Approval => {
                if requests::is_pending(&mut tx, "join", group, user).await? {
                    return Err(HubError::Conflict(format!(
                        "{user:?} already applied to group {group:?}"
                    )));
                }
                let request = GroupRequestRow {
                    id: random_id("gr"),
                    kind: "join",
                    group: group.to_string(),
                    user: user.to_string(),
                    inviter: None,
                    reason: reason.clone(),
                    status: "pending".into(),
                    created_ms: now,
                };
                requests::insert(&mut tx, &request).await?;
                let managers = db::member_ids_in(&mut tx, group, true).await?;
                let out = Outgoing::new(now).to(
                    std::iter::once(user).chain(managers.iter().map(String::as_str)),
                    Event::GroupJoinRequest {
                        request: RequestId::new(&request.id),
                        group: GroupId::new(group),
                        user: UserId::new(user),
                        reason,
                    },
                );
                self.commit_with(tx, out.events).await?;
                Ok(Joined {
                    status: "pending",
                    request: Some(request),
                })
            }
        }
    }

    /// The owner or an admin accepts or declines an application.
    pub(crate) async fn answer_join_request(
        &self,
        user: &str,
        request: &str,
        accept: bool,
    ) -> Result<(), HubError> {
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        let row = requests::get(&mut tx, request)
            .await?
            .filter(|r| r.kind == "join")
            .ok_or_else(|| HubError::NotFound(format!("no join request {request:?}")))?;
        let (info, _) = as_manager(&mut tx, &row.group, user, "answer join requests").await?;
        self.settle(tx, &info, &row, user, accept, now).await
    }

    /// The invitee accepts or declines an invitation.
    pub(crate) async fn answer_invitation(
        &self,
        user: &str,
        request: &str,
        accept: bool,
    ) -> Result<(), HubError> {
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        let row = requests::get(&mut tx, request)
            .await?
            .filter(|r| {
                r.kind == "invite" && (r.user == user || r.inviter.as_deref() == Some(user))
            })
            .ok_or_else(|| HubError::NotFound(format!("no invitation {request:?}")))?;
        if row.user != user {
            return Err(HubError::NotPermitted(format!(
                "only {:?} may answer invitation {request:?}",
                row.user
            )));
        }
        let info = existing(&mut tx, &row.group).await?;
        self.settle(tx, &info, &row, user, accept, now).await
    }

    /// Answers a pending request: on accept the user joins (operator: the inviter for an
    /// invitation, the answering admin for an application).
    async fn settle(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Sqlite>,
        info: &GroupInfo,
        row: &GroupRequestRow,
        by: &str,
        accept: bool,
        now: i64,
    ) -> Result<(), HubError> {
        let group = info.id.as_str();
        if row.status != "pending" {
            return Err(HubError::Conflict(format!(
                "request {:?} was already {}",
                row.id, row.status
            )));
        }
        requests::answer(&mut tx, &row.id, accept, now).await?;
        let mut out = Outgoing::new(now);
        if accept {
            if db::member(&mut tx, group, &row.user).await?.is_some() {
                return Err(HubError::Conflict(format!(
                    "{:?} is already a member of group {group:?}",
                    row.user
                )));
            }
            check_room(&mut tx, info, 1).await?;
            let start = history_start(&mut tx, info.kind).await?;
            db::add_member(&mut tx, group, &row.user, Role::Member, now, start).await?;
            let operator = row.inviter.as_deref().unwrap_or(by);
            let members = db::member_ids_in(&mut tx, group, false).await?;
            out = out
                .to(
                    members.iter().map(String::as_str),
                    notice(
                        group,
                        GroupNoticeKind::MemberJoined,
                        operator,
                        &[&row.user],
                        now,
                    ),
                )
                .then();
        }
        let others = match &row.inviter {
            Some(inviter) => vec![inviter.clone()],
            None => db::member_ids_in(&mut tx, group, true).await?,
        };
        out = answered(out, row, by, accept, &others);
        self.commit_with(tx, out.events).await
    }

    /// The owner or an admin removes members of lower rank; all or none.
    pub(crate) async fn kick(
        &self,
        user: &str,
        group: &str,
        users: Vec<String>,
    ) -> Result<(), HubError> {
        let mut users = users;
        users.sort();
        users.dedup();
        if users.is_empty() {
            return Err(HubError::Invalid("name at least one member to kick".into()));
        }
        if users.iter().any(|u| u == user) {
            return Err(HubError::Invalid(
                "you cannot kick yourself; leave instead".into(),
            ));
        }
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        let (_, me) = as_manager(&mut tx, group, user, "kick members").await?;
        for target in &users {
            let member = crate::groups::target_member(&mut tx, group, target).await?;
            if !me.role.outranks(member.role) {
                return Err(HubError::NotPermitted(format!(
                    "a group {} cannot kick its {} {target:?}",
                    me.role.as_str(),
                    member.role.as_str()
                )));
            }
            db::remove_member(&mut tx, group, target).await?;
        }
        let targets: Vec<&str> = users.iter().map(String::as_str).collect();
        let event = notice(group, GroupNoticeKind::MemberKicked, user, &targets, now);
        self.notify_members(tx, group, event, &targets).await
    }

    /// A member leaves; the owner must transfer the group or dismiss it instead.
    pub(crate) async fn leave_group(&self, user: &str, group: &str) -> Result<(), HubError> {
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        let (_, me) = as_member(&mut tx, group, user).await?;
        if me.role == Role::Owner {
            return Err(HubError::NotPermitted(format!(
                "the owner cannot leave group {group:?}: transfer it or dismiss it"
            )));
        }
        db::remove_member(&mut tx, group, user).await?;
        let event = notice(group, GroupNoticeKind::MemberLeft, user, &[user], now);
        self.notify_members(tx, group, event, &[user]).await
    }
}
