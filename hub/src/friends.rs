//! Friends: settings (the friend gate), requests with greeting and answer, accept or
//! decline with a remark, expiry, removal, aliases and blocks; and the rule for who may
//! send a direct message to whom.

use crate::error::HubError;
use crate::events::Outgoing;
use crate::hub::Hub;
use crate::ids::random_id;
use crate::store::friends::{self as db, FriendAuth, FriendInfo, FriendRequestRow, UserSettings};
use crate::store::insert_events;
use parley_engine::model::{Event, FriendRequest, RequestId, UserId};
use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;

const MAX_TEXT: usize = 512;

/// The settings a `settings` request changes; absent fields stay as they are.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsPatch {
    #[serde(default)]
    pub friend_auth: Option<FriendAuth>,
    #[serde(default)]
    pub friend_question: Option<String>,
    #[serde(default)]
    pub friend_answer: Option<String>,
    #[serde(default)]
    pub invite_confirm: Option<bool>,
}

/// A friend request as the protocol shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct FriendRequestView {
    pub id: String,
    pub from: String,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// `pending`, `accepted`, `declined` or `expired`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    pub created_ms: i64,
    pub expires_ms: i64,
}

impl FriendRequestView {
    fn new(row: FriendRequestRow, now: i64) -> Self {
        let status = if row.status == "pending" && row.expires_ms <= now {
            "expired".to_string()
        } else {
            row.status
        };
        FriendRequestView {
            id: row.id,
            from: row.from,
            to: row.to,
            greeting: row.greeting,
            question: row.question,
            answer: row.answer,
            status,
            remark: row.remark,
            created_ms: row.created_ms,
            expires_ms: row.expires_ms,
        }
    }
}

/// The `friends` answer: the user's friends with aliases, and whom it blocks.
#[derive(Debug, Serialize)]
pub(crate) struct FriendList {
    pub friends: Vec<FriendInfo>,
    pub blocked: Vec<String>,
}

fn check_text(field: &str, text: Option<String>) -> Result<Option<String>, HubError> {
    let text = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    match text {
        Some(t) if t.chars().count() > MAX_TEXT => Err(HubError::Invalid(format!(
            "{field} must be at most {MAX_TEXT} characters"
        ))),
        other => Ok(other),
    }
}

pub(crate) async fn require_user(conn: &mut SqliteConnection, user: &str) -> Result<(), HubError> {
    match crate::store::user_in(conn, user).await? {
        Some(_) => Ok(()),
        None => Err(HubError::NotFound(format!("no hub user {user:?}"))),
    }
}

fn not_self(user: &str, other: &str, what: &str) -> Result<(), HubError> {
    if user == other {
        return Err(HubError::Invalid(format!("you cannot {what} yourself")));
    }
    Ok(())
}

/// Whether `sender` may send a direct message to `recipient`: never when the recipient
/// blocks the sender; otherwise when they are friends, or the recipient's friend gate is
/// `anyone` (strangers welcome).
pub(crate) async fn check_direct(
    conn: &mut SqliteConnection,
    sender: &str,
    recipient: &str,
) -> Result<(), HubError> {
    if sender == recipient {
        return Ok(());
    }
    let blocked = db::is_blocked(conn, recipient, sender).await?;
    let friends = !blocked && db::are_friends(conn, sender, recipient).await?;
    let gate = if blocked || friends {
        FriendAuth::Anyone
    } else {
        db::settings(conn, recipient)
            .await?
            .map(|s| s.friend_auth)
            .unwrap_or(FriendAuth::Anyone)
    };
    direct_verdict(sender, recipient, blocked, friends, gate)
}

/// Whether `sender` may message `recipient`, from whether the recipient blocks the sender,
/// whether they are friends, and the recipient's friend gate (the send path reads all
/// three with one query).
pub(crate) fn direct_verdict(
    sender: &str,
    recipient: &str,
    blocked: bool,
    friends: bool,
    gate: FriendAuth,
) -> Result<(), HubError> {
    if sender == recipient {
        return Ok(());
    }
    if blocked {
        return Err(HubError::Blocked(format!(
            "{recipient:?} has blocked {sender:?}: the message was not delivered"
        )));
    }
    if friends || gate == FriendAuth::Anyone {
        return Ok(());
    }
    Err(HubError::NotPermitted(format!(
        "{recipient:?} accepts direct messages from friends only; send a friend request first"
    )))
}

impl Hub {
    /// Changes the given settings of `user` and returns all of them.
    pub(crate) async fn settings(
        &self,
        user: &str,
        patch: SettingsPatch,
    ) -> Result<UserSettings, HubError> {
        let mut tx = self.store().begin().await?;
        let mut settings = db::settings(&mut tx, user)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("no hub user {user:?}")))?;
        if let Some(auth) = patch.friend_auth {
            settings.friend_auth = auth;
        }
        if let Some(q) = patch.friend_question {
            settings.friend_question = check_text("friend_question", Some(q))?;
        }
        if let Some(a) = patch.friend_answer {
            settings.friend_answer = check_text("friend_answer", Some(a))?;
        }
        if let Some(c) = patch.invite_confirm {
            settings.invite_confirm = c;
        }
        if settings.friend_auth == FriendAuth::Question && settings.friend_question.is_none() {
            return Err(HubError::Invalid(
                "friend_auth \"question\" needs a friend_question".into(),
            ));
        }
        db::save_settings(&mut tx, user, &settings).await?;
        tx.commit().await?;
        Ok(settings)
    }

    /// Asks `to` to be `from`'s friend. Depending on `to`'s gate the request is accepted at
    /// once (`anyone`, or `question` answered as expected), waits for an answer
    /// (`approval`, or `question` without an expected answer), or is refused (`nobody`, a
    /// wrong answer, a block).
    pub(crate) async fn add_friend(
        &self,
        from: &str,
        to: &str,
        greeting: Option<String>,
        answer: Option<String>,
    ) -> Result<FriendRequestView, HubError> {
        not_self(from, to, "befriend")?;
        let greeting = check_text("greeting", greeting)?;
        let answer = check_text("answer", answer)?;
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        require_user(&mut tx, from).await?;
        let settings = db::settings(&mut tx, to)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("no hub user {to:?}")))?;
        if db::is_blocked(&mut tx, to, from).await? {
            return Err(HubError::Blocked(format!("{to:?} has blocked {from:?}")));
        }
        if db::are_friends(&mut tx, from, to).await? {
            return Err(HubError::Conflict(format!(
                "{from:?} and {to:?} are already friends"
            )));
        }
        if db::pending_request(&mut tx, from, to, now).await?.is_some() {
            return Err(HubError::Conflict(format!(
                "a friend request from {from:?} to {to:?} is already waiting for an answer"
            )));
        }
        let accepted = match settings.friend_auth {
            FriendAuth::Nobody => {
                return Err(HubError::NotPermitted(format!(
                    "{to:?} does not accept friend requests"
                )))
            }
            FriendAuth::Anyone => true,
            FriendAuth::Approval => false,
            FriendAuth::Question => match (&answer, &settings.friend_answer) {
                (None, _) => {
                    return Err(HubError::Invalid(format!(
                        "{to:?} asks {:?}: give your answer in `answer`",
                        settings.friend_question.unwrap_or_default()
                    )))
                }
                (Some(given), Some(expected)) if given.eq_ignore_ascii_case(expected) => true,
                (Some(_), Some(_)) => {
                    return Err(HubError::NotPermitted(format!(
                        "wrong answer to {to:?}'s question"
                    )))
                }
                // No expected answer: the target reads the answer and decides.
                (Some(_), None) => false,
            },
        };
        let row = FriendRequestRow {
            id: random_id("fr"),
            from: from.into(),
            to: to.into(),
            greeting,
            question: (settings.friend_auth == FriendAuth::Question)
                .then_some(settings.friend_question)
                .flatten(),
            answer,
            status: if accepted { "accepted" } else { "pending" }.into(),
            remark: None,
            created_ms: now,
            expires_ms: now.saturating_add(self.options().friend_request_ttl.as_millis() as i64),
        };
        db::insert_request(&mut tx, &row).await?;
        let out = if accepted {
            db::add_friendship(&mut tx, from, to, now).await?;
            friend_added(now, from, to)
        } else {
            Outgoing::new(now).to(
                [from, to],
                Event::FriendRequest(FriendRequest {
                    request: RequestId::new(&row.id),
                    from: UserId::new(from),
                    to: UserId::new(to),
                    greeting: row.greeting.clone(),
                    question: row.question.clone(),
                    answer: row.answer.clone(),
                }),
            )
        };
        let events = insert_events(&mut tx, out.events).await?;
        tx.commit().await?;
        self.push_events(events).await;
        Ok(FriendRequestView::new(row, now))
    }

    /// The target of a pending request accepts or declines it, with an optional remark
    /// for the requester.
    pub(crate) async fn answer_friend_request(
        &self,
        user: &str,
        request: &str,
        accept: bool,
        remark: Option<String>,
    ) -> Result<FriendRequestView, HubError> {
        let remark = check_text("remark", remark)?;
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        let mut row = db::request(&mut tx, request)
            .await?
            .filter(|r| r.to == user || r.from == user)
            .ok_or_else(|| HubError::NotFound(format!("no friend request {request:?}")))?;
        if row.to != user {
            return Err(HubError::NotPermitted(format!(
                "only {:?} may answer friend request {request:?}",
                row.to
            )));
        }
        if row.status != "pending" {
            return Err(HubError::Conflict(format!(
                "friend request {request:?} was already {}",
                row.status
            )));
        }
        if row.expires_ms <= now {
            return Err(HubError::Expired(format!(
                "friend request {request:?} has expired"
            )));
        }
        db::answer_request(&mut tx, request, accept, remark.as_deref(), now).await?;
        let answered = Event::FriendRequestAnswered {
            request: RequestId::new(request),
            user: UserId::new(user),
            accepted: accept,
            remark: remark.clone(),
        };
        let mut out = Outgoing::new(now).to([row.from.as_str(), user], answered);
        if accept {
            db::add_friendship(&mut tx, &row.from, user, now).await?;
            let added = friend_added(now, &row.from, user);
            out.events.extend(added.events);
        }
        let events = insert_events(&mut tx, out.events).await?;
        tx.commit().await?;
        self.push_events(events).await;
        row.status = if accept { "accepted" } else { "declined" }.into();
        row.remark = remark;
        Ok(FriendRequestView::new(row, now))
    }

    /// Ends a friendship, both ways.
    pub(crate) async fn remove_friend(&self, user: &str, other: &str) -> Result<(), HubError> {
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        require_user(&mut tx, other).await?;
        if !db::remove_friendship(&mut tx, user, other).await? {
            return Err(HubError::NotFound(format!(
                "{other:?} is not a friend of {user:?}"
            )));
        }
        let out = Outgoing::new(now)
            .to(
                [user],
                Event::FriendRemoved {
                    user: UserId::new(other),
                },
            )
            .to(
                [other],
                Event::FriendRemoved {
                    user: UserId::new(user),
                },
            );
        let events = insert_events(&mut tx, out.events).await?;
        tx.commit().await?;
        self.push_events(events).await;
        Ok(())
    }

    /// Blocks or unblocks `other`; the blocker's sessions get `block_changed`. Blocking
    /// twice (or unblocking someone not blocked) changes nothing and reports nothing.
    pub(crate) async fn set_blocked(
        &self,
        user: &str,
        other: &str,
        blocked: bool,
    ) -> Result<(), HubError> {
        not_self(user, other, "block")?;
        let now = self.now_ms();
        let _order = self.order_lock().await;
        let mut tx = self.store().begin().await?;
        require_user(&mut tx, other).await?;
        if !db::set_blocked(&mut tx, user, other, blocked, now).await? {
            return Ok(());
        }
        let changed = Event::BlockChanged {
            by: UserId::new(user),
            user: UserId::new(other),
            blocked,
        };
        let events = insert_events(&mut tx, Outgoing::new(now).to([user], changed).events).await?;
        tx.commit().await?;
        self.push_events(events).await;
        Ok(())
    }

    pub(crate) async fn set_friend_alias(
        &self,
        user: &str,
        friend: &str,
        alias: Option<String>,
    ) -> Result<(), HubError> {
        let alias = check_text("alias", alias)?;
        let mut conn = self.store().conn().await?;
        if !db::set_alias(&mut conn, user, friend, alias.as_deref()).await? {
            return Err(HubError::NotFound(format!(
                "{friend:?} is not a friend of {user:?}"
            )));
        }
        Ok(())
    }

    pub(crate) async fn friends(&self, user: &str) -> Result<FriendList, HubError> {
        let mut conn = self.store().conn().await?;
        Ok(FriendList {
            friends: db::friends_of(&mut conn, user).await?,
            blocked: db::blocked_by(&mut conn, user).await?,
        })
    }

    /// The pending requests `user` sent or received, newest first.
    pub(crate) async fn friend_requests(
        &self,
        user: &str,
    ) -> Result<Vec<FriendRequestView>, HubError> {
        let now = self.now_ms();
        let mut conn = self.store().conn().await?;
        let rows = db::pending_requests_of(&mut conn, user, now).await?;
        Ok(rows
            .into_iter()
            .map(|r| FriendRequestView::new(r, now))
            .collect())
    }
}

/// `friend_added` to both sides, each naming the other.
fn friend_added(now: i64, a: &str, b: &str) -> Outgoing {
    Outgoing::new(now)
        .then()
        .to(
            [a],
            Event::FriendAdded {
                user: UserId::new(b),
            },
        )
        .to(
            [b],
            Event::FriendAdded {
                user: UserId::new(a),
            },
        )
}
