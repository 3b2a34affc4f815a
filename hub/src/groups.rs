//! Group administration: create, info and settings, announcement, roles, mutes, dismiss;
//! and who may speak in a group. Every change runs in one transaction under the order
//! lock and reports itself as a group notice to the members.

use crate::error::HubError;
use crate::events::Outgoing;
use crate::hub::Hub;
use crate::ids::{check_id, random_id};
use crate::store::group_requests::{self as requests, GroupRequestRow};
use crate::store::groups::{self as db, MemberRow};
use crate::store::{GroupInfo, GroupKind, InfoPolicy, JoinPolicy, Role};
use parley_engine::model::{
    Event, GroupId, GroupInfoPatch, GroupNotice, GroupNoticeKind, RequestId, UserId,
};
use serde::Deserialize;
use serde_json::Value;
use sqlx::SqliteConnection;

pub(crate) const DEFAULT_CAPACITY: u32 = 500;
pub(crate) const MAX_CAPACITY: u32 = 10_000;
const MAX_NAME: usize = 128;
const MAX_TEXT: usize = 4096;
/// The longest mute: a year.
const MAX_MUTE_SECONDS: u64 = 365 * 24 * 3600;

/// A group to create (the `create_group` request; the creator becomes its owner).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewGroup {
    /// Generated (`g…`) when absent.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default = "private")]
    pub kind: GroupKind,
    pub name: String,
    /// Besides the owner; those whose `invite_confirm` is set are invited instead.
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub join_policy: Option<JoinPolicy>,
    #[serde(default)]
    pub info_policy: Option<InfoPolicy>,
    #[serde(default)]
    pub capacity: Option<u32>,
    #[serde(default)]
    pub avatar_url: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub ext: Value,
}

fn private() -> GroupKind {
    GroupKind::Private
}

/// The settings the owner changes with `set_group_settings`; absent fields stay.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupSettingsPatch {
    pub group: String,
    #[serde(default)]
    pub join_policy: Option<JoinPolicy>,
    #[serde(default)]
    pub info_policy: Option<InfoPolicy>,
    #[serde(default)]
    pub capacity: Option<u32>,
}

/// Trims a text field; blank is None; longer than `max` characters is invalid.
pub(crate) fn text_field(
    field: &str,
    text: Option<String>,
    max: usize,
) -> Result<Option<String>, HubError> {
    let text = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    match text {
        Some(t) if t.chars().count() > max => Err(HubError::Invalid(format!(
            "{field} must be at most {max} characters"
        ))),
        other => Ok(other),
    }
}

fn check_capacity(capacity: u32) -> Result<u32, HubError> {
    if capacity == 0 || capacity > MAX_CAPACITY {
        return Err(HubError::Invalid(format!(
            "capacity must be 1 to {MAX_CAPACITY}"
        )));
    }
    Ok(capacity)
}

/// The notice event of one group change.
pub(crate) fn notice(
    group: &str,
    kind: GroupNoticeKind,
    operator: &str,
    targets: &[&str],
    now: i64,
) -> Event {
    notice_by(group, kind, Some(operator), targets, now)
}

/// [`notice`], with no operator for changes made through the admin API.
pub(crate) fn notice_by(
    group: &str,
    kind: GroupNoticeKind,
    operator: Option<&str>,
    targets: &[&str],
    now: i64,
) -> Event {
    Event::GroupNotice(GroupNotice {
        group: GroupId::new(group),
        kind,
        operator: operator.map(UserId::new),
        targets: targets.iter().map(|t| UserId::new(*t)).collect(),
        time_ms: now,
    })
}

/// The group, or `not_found`.
pub(crate) async fn existing(
    conn: &mut SqliteConnection,
    group: &str,
) -> Result<GroupInfo, HubError> {
    db::group(conn, group).await?.ok_or_else(|| no_group(group))
}

/// The refusal of an act on a group that does not exist.
fn no_group(group: &str) -> HubError {
    HubError::NotFound(format!("no hub group {group:?}"))
}

/// The refusal of an act only members may do.
fn not_a_member(group: &str, user: &str) -> HubError {
    HubError::NotPermitted(format!("{user:?} is not a member of group {group:?}"))
}

/// The group and `user`'s membership in it: `not_found` without the group,
/// `not_permitted` when `user` is not a member.
pub(crate) async fn as_member(
    conn: &mut SqliteConnection,
    group: &str,
    user: &str,
) -> Result<(GroupInfo, MemberRow), HubError> {
    let info = existing(conn, group).await?;
    let member = db::member(conn, group, user)
        .await?
        .ok_or_else(|| not_a_member(group, user))?;
    Ok((info, member))
}

/// [`as_member`], and the member must be the owner or an admin.
pub(crate) async fn as_manager(
    conn: &mut SqliteConnection,
    group: &str,
    user: &str,
    what: &str,
) -> Result<(GroupInfo, MemberRow), HubError> {
    let (info, member) = as_member(conn, group, user).await?;
    if !member.role.manages() {
        return Err(HubError::NotPermitted(format!(
            "only the owner and admins of group {group:?} may {what}"
        )));
    }
    Ok((info, member))
}

async fn as_owner(
    conn: &mut SqliteConnection,
    group: &str,
    user: &str,
    what: &str,
) -> Result<GroupInfo, HubError> {
    let (info, member) = as_member(conn, group, user).await?;
    if member.role != Role::Owner {
        return Err(HubError::NotPermitted(format!(
            "only the owner of group {group:?} may {what}"
        )));
    }
    Ok(info)
}

/// `target`'s membership, or `not_found` when it is not a member.
pub(crate) async fn target_member(
    conn: &mut SqliteConnection,
    group: &str,
    target: &str,
) -> Result<MemberRow, HubError> {
    db::member(conn, group, target)
        .await?
        .ok_or_else(|| HubError::NotFound(format!("{target:?} is not a member of group {group:?}")))
}

/// Whether `sender` may send to `group` now: the group exists (`all_muted`, its mute-all,
/// is None when it does not), `sender` is a member (`member`), not muted (a mute ends by
/// itself when the hub's clock passes it), and not silenced by mute-all unless owner or
/// admin. The refusals are those of [`as_member`] and `muted`; the send path reads what
/// this needs for a whole batch of sends with one query.
pub(crate) fn speak_verdict(
    group: &str,
    sender: &str,
    all_muted: Option<bool>,
    member: Option<MemberRow>,
    now: i64,
) -> Result<(), HubError> {
    let all_muted = all_muted.ok_or_else(|| no_group(group))?;
    let member = member.ok_or_else(|| not_a_member(group, sender))?;
    if let Some(until) = member.muted_until_ms.filter(|until| *until > now) {
        return Err(HubError::Muted(format!(
            "{sender:?} is muted in group {group:?} for {} more seconds",
            (until - now + 999) / 1000
        )));
    }
    if all_muted && !member.role.manages() {
        return Err(HubError::Muted(format!(
            "group {group:?} is muted: only the owner and admins may speak"
        )));
    }
    Ok(())
}

/// The seq the next message will get, at least: where a new chat-room member's history starts.
pub(crate) async fn history_start(
    conn: &mut SqliteConnection,
    kind: GroupKind,
) -> Result<u64, HubError> {
    if kind != GroupKind::ChatRoom {
        return Ok(0);
    }
    let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM messages")
        .fetch_one(conn)
        .await?;
    Ok(seq.unwrap_or(0) as u64)
}

/// The group as `viewer` may see it: members listed except in chat rooms.
pub(crate) async fn view(conn: &mut SqliteConnection, group: &str) -> Result<GroupInfo, HubError> {
    let mut info = existing(conn, group).await?;
    if info.kind != GroupKind::ChatRoom {
        info.members = Some(db::members(conn, group).await?);
    }
    Ok(info)
}

impl Hub {
    /// Commits `tx` with the events of `out` and pushes them. Callers hold the order lock.
    pub(crate) async fn commit_with(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Sqlite>,
        out: Vec<crate::events::StoredEvent>,
    ) -> Result<(), HubError> {
        let events = crate::store::insert_events(&mut tx, out).await?;
        tx.commit().await?;
        self.push_events(events).await;
        Ok(())
    }

    /// Creates a group owned by `owner`. Members whose `invite_confirm` is set are invited
    /// (they join when they accept); the others are members at once.
    pub(crate) async fn create_group(
        &self,
        owner: &str,
        new: NewGroup,
    ) -> Result<GroupInfo, HubError> {
        self.create_group_by(owner, new, Some(owner)).await
    }

    /// [`Hub::create_group`] by `operator`: the owner, or None for the admin API, which
    /// adds every member at once (no invitations).
    pub(crate) async fn create_group_by(
        &self,
        owner: &str,
        new: NewGroup,
        operator: Option<&str>,
    ) -> Result<GroupInfo, HubError> {
        let id = match new.id {
            Some(id) => {
                check_id(&id).map_err(|e| HubError::Invalid(format!("group id {id:?}: {e}")))?;
                id
            }
            None => random_id("g"),
        };
        let name = text_field("name", Some(new.name), MAX_NAME)?
            .ok_or_else(|| HubError::Invalid("a group needs a name".into()))?;
        let capacity = check_capacity(new.capacity.unwrap_or(DEFAULT_CAPACITY))?;
        let mut members: Vec<String> = new.members.into_iter().filter(|m| m != owner).collect();
        members.sort();
        members.dedup();
        let info = GroupInfo {
            id: id.clone(),
            name,
            kind: new.kind,
            owner: owner.to_string(),
            join_policy: new.join_policy.unwrap_or(match new.kind {
                GroupKind::ChatRoom => JoinPolicy::Anyone,
                _ => JoinPolicy::Approval,
            }),
            info_policy: new.info_policy.unwrap_or(InfoPolicy::Admins),
            avatar_url: text_field("avatar_url", new.avatar_url, MAX_TEXT)?,
            description: text_field("description", new.description, MAX_TEXT)?,
            ext: new.ext,
            announcement: None,
            capacity,
            all_muted: false,
            member_count: 0,
            members: None,
        };
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        crate::friends::require_user(&mut tx, owner).await?;
        db::insert_group(&mut tx, &info, now).await?;
        let start = history_start(&mut tx, info.kind).await?;
        db::add_member(&mut tx, &id, owner, Role::Owner, now, start).await?;
        let (added, invited) =
            crate::group_members::add_or_invite(&mut tx, &info, operator, &members, now).await?;
        let added: Vec<&str> = added.iter().map(String::as_str).collect();
        let recipients = db::member_ids_in(&mut tx, &id, false).await?;
        let mut out = Outgoing::new(now).to(
            recipients.iter().map(String::as_str),
            notice_by(&id, GroupNoticeKind::Created, operator, &added, now),
        );
        for request in &invited {
            out = invitation(out.then(), request);
        }
        self.commit_with(tx, out.events).await?;
        tracing::info!(group = id, owner, "hub group created");
        self.group_info(owner, &id).await
    }

    /// A group's info and members. Private groups are visible to their members only.
    pub(crate) async fn group_info(
        &self,
        viewer: &str,
        group: &str,
    ) -> Result<GroupInfo, HubError> {
        let mut conn = self.store().conn().await?;
        let info = view(&mut conn, group).await?;
        if info.kind == GroupKind::Private && db::member(&mut conn, group, viewer).await?.is_none()
        {
            return Err(HubError::NotPermitted(format!(
                "group {group:?} is private: only its members see it"
            )));
        }
        Ok(info)
    }

    /// Changes name, avatar, description or ext, as the group's `info_policy` allows.
    pub(crate) async fn set_group_info(
        &self,
        user: &str,
        group: &str,
        patch: GroupInfoPatch,
    ) -> Result<(), HubError> {
        let patch = GroupInfoPatch {
            name: match patch.name {
                Some(name) => {
                    Some(text_field("name", Some(name), MAX_NAME)?.ok_or_else(|| {
                        HubError::Invalid("a group's name cannot be blank".into())
                    })?)
                }
                None => None,
            },
            avatar_url: text_field("avatar_url", patch.avatar_url, MAX_TEXT)?,
            description: text_field("description", patch.description, MAX_TEXT)?,
            ext: patch.ext,
        };
        if patch == GroupInfoPatch::default() {
            return Err(HubError::Invalid(
                "give at least one of name, avatar_url, description, ext".into(),
            ));
        }
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        let (info, member) = as_member(&mut tx, group, user).await?;
        if info.info_policy == InfoPolicy::Admins && !member.role.manages() {
            return Err(HubError::NotPermitted(format!(
                "only the owner and admins of group {group:?} may change its info"
            )));
        }
        db::update_info(&mut tx, group, &patch).await?;
        let kind = GroupNoticeKind::InfoChanged { changes: patch };
        self.notify_members(tx, group, notice(group, kind, user, &[], now), &[])
            .await
    }

    /// The owner changes the join policy, the info policy or the capacity. Not announced
    /// (the model's notices have no kind for it); `group_info` shows the new settings.
    pub(crate) async fn set_group_settings(
        &self,
        user: &str,
        patch: GroupSettingsPatch,
    ) -> Result<GroupInfo, HubError> {
        let group = patch.group.as_str();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        let mut info = as_owner(&mut tx, group, user, "change its settings").await?;
        if let Some(capacity) = patch.capacity {
            let capacity = check_capacity(capacity)?;
            if capacity < info.member_count {
                return Err(HubError::Invalid(format!(
                    "group {group:?} has {} members: capacity cannot be {capacity}",
                    info.member_count
                )));
            }
            info.capacity = capacity;
        }
        info.join_policy = patch.join_policy.unwrap_or(info.join_policy);
        info.info_policy = patch.info_policy.unwrap_or(info.info_policy);
        db::save_settings(&mut tx, &info).await?;
        tx.commit().await?;
        drop(_order);
        self.group_info(user, group).await
    }

    /// The owner or an admin sets (blank: clears) the announcement.
    pub(crate) async fn set_announcement(
        &self,
        user: &str,
        group: &str,
        text: String,
    ) -> Result<(), HubError> {
        let text = text_field("text", Some(text), MAX_TEXT)?;
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        let (mut info, _) = as_manager(&mut tx, group, user, "set its announcement").await?;
        info.announcement = text.clone();
        db::save_settings(&mut tx, &info).await?;
        let kind = GroupNoticeKind::AnnouncementChanged {
            text: text.unwrap_or_default(),
        };
        self.notify_members(tx, group, notice(group, kind, user, &[], now), &[])
            .await
    }

    /// The owner ends the group: members are told, then it is gone with its history.
    pub(crate) async fn dismiss(&self, user: &str, group: &str) -> Result<(), HubError> {
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        as_owner(&mut tx, group, user, "dismiss it").await?;
        let members = db::member_ids_in(&mut tx, group, false).await?;
        db::delete_group(&mut tx, group).await?;
        let event = notice(group, GroupNoticeKind::Dismissed, user, &[], now);
        let out = Outgoing::new(now).to(members.iter().map(String::as_str), event);
        self.commit_with(tx, out.events).await?;
        tracing::info!(group, by = user, "hub group dismissed");
        Ok(())
    }

    /// The owner hands the group to another member and becomes a plain member.
    pub(crate) async fn transfer_owner(
        &self,
        user: &str,
        group: &str,
        to: &str,
    ) -> Result<(), HubError> {
        if user == to {
            return Err(HubError::Invalid("you already own the group".into()));
        }
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        let mut info = as_owner(&mut tx, group, user, "transfer it").await?;
        target_member(&mut tx, group, to).await?;
        db::set_role(&mut tx, group, user, Role::Member).await?;
        db::set_role(&mut tx, group, to, Role::Owner).await?;
        db::set_muted_until(&mut tx, group, to, None).await?;
        info.owner = to.to_string();
        db::save_settings(&mut tx, &info).await?;
        let event = notice(group, GroupNoticeKind::OwnerTransferred, user, &[to], now);
        self.notify_members(tx, group, event, &[]).await
    }

    /// The owner makes a member an admin or an admin a member again. Asking for the role
    /// the member already has changes nothing and reports nothing.
    pub(crate) async fn set_admin(
        &self,
        user: &str,
        group: &str,
        target: &str,
        admin: bool,
    ) -> Result<(), HubError> {
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        as_owner(&mut tx, group, user, "appoint admins").await?;
        let member = target_member(&mut tx, group, target).await?;
        if member.role == Role::Owner {
            return Err(HubError::Invalid(format!(
                "{target:?} owns group {group:?}; the owner's role does not change this way"
            )));
        }
        let role = if admin { Role::Admin } else { Role::Member };
        if member.role == role {
            return Ok(());
        }
        db::set_role(&mut tx, group, target, role).await?;
        let kind = if admin {
            GroupNoticeKind::AdminAdded
        } else {
            GroupNoticeKind::AdminRemoved
        };
        self.notify_members(tx, group, notice(group, kind, user, &[target], now), &[])
            .await
    }

    /// The owner or an admin silences a member of lower rank for `seconds`; the mute ends
    /// by itself. `seconds` 0 unmutes.
    pub(crate) async fn mute(
        &self,
        user: &str,
        group: &str,
        target: &str,
        seconds: u64,
    ) -> Result<(), HubError> {
        if seconds > MAX_MUTE_SECONDS {
            return Err(HubError::Invalid(format!(
                "a mute lasts at most {MAX_MUTE_SECONDS} seconds"
            )));
        }
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        let (_, me) = as_manager(&mut tx, group, user, "mute members").await?;
        let member = target_member(&mut tx, group, target).await?;
        if !me.role.outranks(member.role) {
            return Err(HubError::NotPermitted(format!(
                "a group {} cannot mute its {}",
                me.role.as_str(),
                member.role.as_str()
            )));
        }
        let kind = if seconds == 0 {
            if member.muted_until_ms.is_none_or(|until| until <= now) {
                return Ok(());
            }
            db::set_muted_until(&mut tx, group, target, None).await?;
            GroupNoticeKind::MemberUnmuted
        } else {
            let until_ms = now + (seconds as i64) * 1000;
            db::set_muted_until(&mut tx, group, target, Some(until_ms)).await?;
            GroupNoticeKind::MemberMuted { until_ms }
        };
        self.notify_members(tx, group, notice(group, kind, user, &[target], now), &[])
            .await
    }

    /// The owner or an admin mutes (or unmutes) everyone but the owner and admins.
    pub(crate) async fn mute_all(
        &self,
        user: &str,
        group: &str,
        muted: bool,
    ) -> Result<(), HubError> {
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        let (mut info, _) = as_manager(&mut tx, group, user, "mute everyone").await?;
        if info.all_muted == muted {
            return Ok(());
        }
        info.all_muted = muted;
        db::save_settings(&mut tx, &info).await?;
        let kind = if muted {
            GroupNoticeKind::AllMuted
        } else {
            GroupNoticeKind::AllUnmuted
        };
        self.notify_members(tx, group, notice(group, kind, user, &[], now), &[])
            .await
    }

    /// Sends `event` to the group's members (after the change) and to `also` (members the
    /// change removed), commits and pushes.
    pub(crate) async fn notify_members(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Sqlite>,
        group: &str,
        event: Event,
        also: &[&str],
    ) -> Result<(), HubError> {
        let members = db::member_ids_in(&mut tx, group, false).await?;
        let Event::GroupNotice(n) = &event else {
            unreachable!("group changes report group notices")
        };
        let out = Outgoing::new(n.time_ms).to(
            members
                .iter()
                .map(String::as_str)
                .chain(also.iter().copied()),
            event,
        );
        self.commit_with(tx, out.events).await
    }

    /// The pending join requests and invitations `user` may answer or waits on.
    pub(crate) async fn group_requests(
        &self,
        user: &str,
    ) -> Result<Vec<GroupRequestRow>, HubError> {
        requests::pending_for(&mut *self.store().conn().await?, user).await
    }
}

/// Adds the `group_invitation` event of a pending invitation (to the invitee and the inviter).
pub(crate) fn invitation(out: Outgoing, request: &GroupRequestRow) -> Outgoing {
    let inviter = request.inviter.as_deref().unwrap_or_default();
    out.to(
        [request.user.as_str(), inviter],
        Event::GroupInvitation {
            request: RequestId::new(&request.id),
            group: GroupId::new(&request.group),
            inviter: UserId::new(inviter),
            invitee: UserId::new(&request.user),
        },
    )
}
