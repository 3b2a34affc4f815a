//! Groups and memberships made through the admin API (no user acting): a deployment is
//! seeded without the WebSocket. Members are added at once (no invitations), and the
//! notices carry no operator.

use crate::error::HubError;
use crate::events::Outgoing;
use crate::group_members::add_or_invite;
use crate::groups::{existing, notice_by, view, NewGroup};
use crate::hub::Hub;
use crate::store::groups as db;
use crate::store::{GroupInfo, Role};
use parley_engine::model::GroupNoticeKind;

impl Hub {
    /// Creates a group owned by `owner` with `new.members` added at once.
    pub(crate) async fn admin_create_group(
        &self,
        owner: &str,
        new: NewGroup,
    ) -> Result<GroupInfo, HubError> {
        self.create_group_by(owner, new, None).await
    }

    /// Adds `users` to `group` with `role` (member or admin); all or none. Returns the
    /// group and who was added.
    pub(crate) async fn admin_add_members(
        &self,
        group: &str,
        users: Vec<String>,
        role: Role,
    ) -> Result<(GroupInfo, Vec<String>), HubError> {
        if role == Role::Owner {
            return Err(HubError::Invalid(
                "a group has one owner: add the user, then transfer the ownership".into(),
            ));
        }
        let mut users = users;
        users.sort();
        users.dedup();
        if users.is_empty() {
            return Err(HubError::Invalid("name at least one user to add".into()));
        }
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        let info = existing(&mut tx, group).await?;
        let (added, _) = add_or_invite(&mut tx, &info, None, &users, now).await?;
        let targets: Vec<&str> = added.iter().map(String::as_str).collect();
        if role == Role::Admin {
            for user in &added {
                db::set_role(&mut tx, group, user, Role::Admin).await?;
            }
        }
        let members = db::member_ids_in(&mut tx, group, false).await?;
        let members = members.iter().map(String::as_str);
        let mut out = Outgoing::new(now).to(
            members.clone(),
            notice_by(group, GroupNoticeKind::MemberJoined, None, &targets, now),
        );
        if role == Role::Admin {
            out = out.then().to(
                members,
                notice_by(group, GroupNoticeKind::AdminAdded, None, &targets, now),
            );
        }
        self.commit_with(tx, out.events).await?;
        tracing::info!(group, users = ?added, role = role.as_str(), "hub admin added group members");
        let info = view(&mut *self.store().conn().await?, group).await?;
        Ok((info, added))
    }
}
