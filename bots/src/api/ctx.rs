//! `ctx`: the handler's view of the event's conversation, and sending messages.

use super::content::{content_from, send_options_from};
use super::matching::Cooldowns;
use crate::kv::{BotStore, StoreOp};
use parley_engine::model::{
    Command, ConnectionId, ConversationId, ConversationKind, Envelope, EventId, GroupId,
    MessageRef, ReadMark, RecallScope, UserId,
};
use parley_engine::scheduler::ScheduleChange;
use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, Map};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Most commands one bot may queue while handling one event.
pub(crate) const MAX_COMMANDS_PER_EVENT: usize = 1_000;

pub(crate) type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// `ctx`. Clones share one inner record (scripts pass `ctx` by value to their helper
/// functions), so commands and state written through any copy are seen by the runtime.
#[derive(Clone)]
pub(crate) struct Ctx(Arc<CtxShared>);

/// What the runtime hands a handler call besides the event.
pub(crate) struct CtxInput<'a> {
    pub(crate) bot: &'a str,
    pub(crate) envelope: &'a Envelope,
    /// The connection's own user id, when the binary told the runtime.
    pub(crate) me: Option<&'a str>,
    pub(crate) state: Map,
    pub(crate) store: Arc<BotStore>,
    pub(crate) cooldowns: Arc<Cooldowns>,
    /// The bot's handlers (functions taking `ctx` and an event), for `schedule(...)`.
    pub(crate) handlers: Arc<[String]>,
    /// The time zone of cron schedules that name none.
    pub(crate) timezone: &'a str,
}

pub(crate) struct CtxShared {
    pub(crate) bot: ImmutableString,
    pub(crate) connection: ConnectionId,
    pub(crate) conversation: ConversationId,
    conversation_text: ImmutableString,
    pub(crate) me: Option<ImmutableString>,
    pub(crate) time_ms: i64,
    pub(crate) store: Arc<BotStore>,
    pub(crate) cooldowns: Arc<Cooldowns>,
    pub(crate) event_id: EventId,
    pub(crate) handlers: Arc<[String]>,
    pub(crate) timezone: ImmutableString,
    inner: Mutex<CtxOutput>,
}

/// What a handler call produced.
#[derive(Default)]
pub(crate) struct CtxOutput {
    pub(crate) state: Map,
    /// Whether `ctx.state` was assigned (directly or by writing one of its properties).
    pub(crate) state_written: bool,
    pub(crate) commands: Vec<Command>,
    /// Schedules created or cancelled, in call order.
    pub(crate) schedules: Vec<ScheduleChange>,
    /// How many schedules this call created: numbers their ids.
    pub(crate) scheduled: usize,
    /// `ctx.stop()` was called: the bots after this one are not called for this event.
    pub(crate) stop: bool,
    /// `ctx.store` changes, applied when the handler succeeds.
    pub(crate) store_ops: Vec<StoreOp>,
}

impl Ctx {
    pub(crate) fn new(input: CtxInput<'_>) -> Self {
        let conversation = input.envelope.route();
        Self(Arc::new(CtxShared {
            bot: input.bot.into(),
            connection: input.envelope.connection.clone(),
            conversation_text: conversation.to_string().into(),
            conversation,
            me: input.me.map(Into::into),
            time_ms: input.envelope.time_ms,
            store: input.store,
            cooldowns: input.cooldowns,
            event_id: input.envelope.id.clone(),
            handlers: input.handlers,
            timezone: input.timezone.into(),
            inner: Mutex::new(CtxOutput {
                state: input.state,
                ..CtxOutput::default()
            }),
        }))
    }

    pub(crate) fn shared(&self) -> &CtxShared {
        &self.0
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, CtxOutput> {
        self.0.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes what the handler produced, leaving the context empty (which also breaks any
    /// reference cycle a script made by storing `ctx` inside its own state).
    pub(crate) fn take_output(&self) -> CtxOutput {
        std::mem::take(&mut *self.lock())
    }

    pub(crate) fn queue(&self, command: Command) -> RhaiResult<()> {
        let mut output = self.lock();
        if output.commands.len() >= MAX_COMMANDS_PER_EVENT {
            return Err(format!(
                "too many commands: a handler may queue at most {MAX_COMMANDS_PER_EVENT} per event"
            )
            .into());
        }
        output.commands.push(command);
        Ok(())
    }

    /// The group a moderation command without an explicit group acts on.
    pub(crate) fn own_group(&self, what: &str) -> RhaiResult<GroupId> {
        match self.0.conversation.kind {
            ConversationKind::Group | ConversationKind::ChatRoom | ConversationKind::Discussion => {
                Ok(GroupId::new(self.0.conversation.id.clone()))
            }
            _ => Err(format!(
                "ctx.{what}: this event is not in a group ({}); name the group: ctx.{what}(\"lobby\", ...)",
                self.0.conversation_text
            )
            .into()),
        }
    }

    fn send(&self, to: ConversationId, content: Dynamic, options: Option<Map>) -> RhaiResult<()> {
        let content = content_from(content, "ctx.send")?;
        let (reply_to, options, as_user) = match options {
            Some(options) => send_options_from(options)?,
            None => (None, Default::default(), None),
        };
        self.queue(Command::Send {
            to,
            content,
            reply_to,
            options,
            as_user,
        })
    }
}

/// Parses a script's target: `group:lobby`, `direct:alice`, or a bare user id.
pub(crate) fn target(what: &str, target: &str) -> RhaiResult<ConversationId> {
    target.parse::<ConversationId>().map_err(|why| {
        format!(
            "{what}: bad target `{target}`: {why} (expected `kind:id` such as \
             `group:lobby` or `direct:alice`, or a bare user id)"
        )
        .into()
    })
}

/// A message named by a script: a message object (`msg`) or a message id string.
pub(crate) fn message_ref(what: &str, message: &Dynamic) -> RhaiResult<MessageRef> {
    if let Some(id) = message.clone().try_cast::<ImmutableString>() {
        return Ok(MessageRef::new(id.as_str()));
    }
    if let Some(map) = message.read_lock::<Map>() {
        if let Some(id) = map
            .get("id")
            .and_then(|id| id.clone().try_cast::<ImmutableString>())
        {
            let mut message = MessageRef::new(id.as_str());
            message.time_ms = map.get("time_ms").and_then(|t| t.as_int().ok());
            return Ok(message);
        }
    }
    Err(format!(
        "{what}: expected a message (`msg`) or a message id, not {}",
        message.type_name()
    )
    .into())
}

fn conversation_of(ctx: &Ctx, message: &Dynamic) -> RhaiResult<ConversationId> {
    match message.read_lock::<Map>() {
        Some(map) => match map.get("conversation").map(|c| c.to_string()) {
            Some(c) => target("ctx.recall", &c),
            None => Ok(ctx.0.conversation.clone()),
        },
        None => Ok(ctx.0.conversation.clone()),
    }
}

fn peer(ctx: &Ctx, what: &str) -> RhaiResult<UserId> {
    match ctx.0.conversation.kind {
        ConversationKind::Direct => Ok(UserId::new(ctx.0.conversation.id.clone())),
        _ => Err(
            format!("ctx.{what}: this event is not in a direct conversation; name the user").into(),
        ),
    }
}

pub(crate) fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<Ctx>("Context")
        .register_get("bot", |ctx: &mut Ctx| ctx.0.bot.clone())
        .register_get("connection", |ctx: &mut Ctx| ctx.0.connection.to_string())
        .register_get("conversation", |ctx: &mut Ctx| {
            ctx.0.conversation_text.clone()
        })
        .register_get("is_group", |ctx: &mut Ctx| {
            ctx.0.conversation.is_multi_party()
        })
        .register_get("me", |ctx: &mut Ctx| {
            ctx.0.me.clone().map_or(Dynamic::UNIT, Dynamic::from)
        })
        .register_fn("now", |ctx: &mut Ctx| ctx.0.time_ms)
        .register_get("state", |ctx: &mut Ctx| ctx.lock().state.clone())
        .register_set("state", |ctx: &mut Ctx, state: Map| {
            let mut output = ctx.lock();
            output.state = state;
            output.state_written = true;
        })
        .register_fn("stop", |ctx: &mut Ctx| ctx.lock().stop = true)
        .register_fn("reply", |ctx: &mut Ctx, content: Dynamic| {
            ctx.send(ctx.0.conversation.clone(), content, None)
        })
        .register_fn("reply", |ctx: &mut Ctx, content: Dynamic, options: Map| {
            ctx.send(ctx.0.conversation.clone(), content, Some(options))
        })
        .register_fn("send", |ctx: &mut Ctx, to: &str, content: Dynamic| {
            ctx.send(target("ctx.send", to)?, content, None)
        })
        .register_fn(
            "send",
            |ctx: &mut Ctx, to: &str, content: Dynamic, options: Map| {
                ctx.send(target("ctx.send", to)?, content, Some(options))
            },
        )
        .register_fn(
            "broadcast",
            |ctx: &mut Ctx, to: rhai::Array, content: Dynamic| {
                // A broadcast job: stored, paced by the send limits, resumable, reported by
                // `parley jobs`; each recipient is a user id or `group:ID`.
                let to = to
                    .into_iter()
                    .map(|t| target("ctx.broadcast", &t.to_string()))
                    .collect::<RhaiResult<Vec<_>>>()?;
                if to.is_empty() {
                    return Err("ctx.broadcast: no recipients".into());
                }
                let content = crate::api::content::content_from(content, "ctx.broadcast")?;
                ctx.queue(Command::BatchSend { to, content })
            },
        )
        .register_fn(
            "send_group",
            |ctx: &mut Ctx, group: &str, content: Dynamic| {
                let group = group.strip_prefix("group:").unwrap_or(group);
                ctx.send(ConversationId::group(group), content, None)
            },
        )
        .register_fn("recall", |ctx: &mut Ctx, message: Dynamic| {
            let conversation = conversation_of(ctx, &message)?;
            let message = message_ref("ctx.recall", &message)?;
            ctx.queue(Command::Recall {
                conversation,
                message,
                scope: RecallScope::Everyone,
            })
        })
        .register_fn("mark_read", |ctx: &mut Ctx| {
            let read = ReadMark::UpTo {
                time_ms: ctx.0.time_ms,
            };
            ctx.queue(Command::MarkRead {
                conversation: ctx.0.conversation.clone(),
                read,
            })
        })
        .register_fn("mark_read", |ctx: &mut Ctx, message: Dynamic| {
            let conversation = conversation_of(ctx, &message)?;
            let read = ReadMark::Messages {
                messages: vec![message_ref("ctx.mark_read", &message)?],
            };
            ctx.queue(Command::MarkRead { conversation, read })
        })
        .register_fn("typing", |ctx: &mut Ctx, typing: bool| {
            let to = peer(ctx, "typing")?;
            ctx.queue(Command::Typing { to, typing })
        })
        .register_fn("typing", |ctx: &mut Ctx, user: &str, typing: bool| {
            ctx.queue(Command::Typing {
                to: UserId::new(user),
                typing,
            })
        })
        .register_fn("log", |ctx: &mut Ctx, text: &str| {
            tracing::info!(bot = %ctx.0.bot, "{text}");
        })
        .register_fn("to_string", describe)
        .register_fn("to_debug", describe);
}

fn describe(ctx: &mut Ctx) -> String {
    format!(
        "Context(bot: {}, conversation: {})",
        ctx.0.bot, ctx.0.conversation_text
    )
}
