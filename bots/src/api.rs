//! What scripts see: the `ctx` object and the event objects handed to handlers.

use parley_engine::model::{Command, Content, ConversationId, Envelope, Event, Message};
use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Most commands one bot may queue while handling one event.
pub(crate) const MAX_COMMANDS_PER_EVENT: usize = 1_000;

/// `ctx`: the handler's view of the event's conversation and its way to act.
///
/// Clones share one inner record (scripts pass `ctx` by value to their helper functions),
/// so commands and state written through any copy are seen by the runtime afterwards.
#[derive(Clone)]
pub(crate) struct Ctx(Arc<CtxShared>);

struct CtxShared {
    bot: ImmutableString,
    connection: ImmutableString,
    conversation: ConversationId,
    conversation_text: ImmutableString,
    inner: Mutex<CtxOutput>,
}

/// What a handler call produced.
#[derive(Default)]
pub(crate) struct CtxOutput {
    pub(crate) state: Map,
    /// Whether `ctx.state` was assigned (directly or by writing one of its properties).
    pub(crate) state_written: bool,
    pub(crate) commands: Vec<Command>,
}

impl Ctx {
    pub(crate) fn new(bot: &str, envelope: &Envelope, state: Map) -> Self {
        let conversation = envelope.route();
        Self(Arc::new(CtxShared {
            bot: bot.into(),
            connection: envelope.connection.as_str().into(),
            conversation_text: conversation.to_string().into(),
            conversation,
            inner: Mutex::new(CtxOutput {
                state,
                ..CtxOutput::default()
            }),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, CtxOutput> {
        self.0.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes what the handler produced, leaving the context empty (which also breaks any
    /// reference cycle a script made by storing `ctx` inside its own state).
    pub(crate) fn take_output(&self) -> CtxOutput {
        std::mem::take(&mut *self.lock())
    }

    fn queue(&self, command: Command) -> Result<(), Box<EvalAltResult>> {
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

    fn send_text(&self, to: ConversationId, text: &str) -> Result<(), Box<EvalAltResult>> {
        self.queue(Command::Send {
            to,
            content: Content::text(text),
            reply_to: None,
            options: Default::default(),
            as_user: None,
        })
    }
}

/// Registers the `Context` type and its properties and methods.
pub(crate) fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<Ctx>("Context")
        .register_get("bot", |ctx: &mut Ctx| ctx.0.bot.clone())
        .register_get("connection", |ctx: &mut Ctx| ctx.0.connection.clone())
        .register_get("conversation", |ctx: &mut Ctx| {
            ctx.0.conversation_text.clone()
        })
        .register_get("state", |ctx: &mut Ctx| ctx.lock().state.clone())
        .register_set("state", |ctx: &mut Ctx, state: Map| {
            let mut output = ctx.lock();
            output.state = state;
            output.state_written = true;
        })
        .register_fn("reply", |ctx: &mut Ctx, text: &str| {
            ctx.send_text(ctx.0.conversation.clone(), text)
        })
        .register_fn("send", |ctx: &mut Ctx, target: &str, text: &str| {
            let to = target.parse::<ConversationId>().map_err(|why| {
                format!(
                    "ctx.send: bad target `{target}`: {why} (expected `kind:id` such as \
                     `group:lobby` or `direct:alice`, or a bare user id)"
                )
            })?;
            ctx.send_text(to, text)
        })
        .register_fn("log", |ctx: &mut Ctx, text: &str| {
            tracing::info!(bot = %ctx.0.bot, "{text}");
        })
        .register_fn("to_string", |ctx: &mut Ctx| {
            format!(
                "Context(bot: {}, conversation: {})",
                ctx.0.bot, ctx.0.conversation_text
            )
        })
        .register_fn("to_debug", |ctx: &mut Ctx| {
            format!(
                "Context(bot: {}, conversation: {})",
                ctx.0.bot, ctx.0.conversation_text
            )
        });
}

/// The object passed as a handler's second argument.
///
/// Messages (`on_message`, `on_message_edited`, `on_before_message`) get the fields listed
/// in `scripts/README.md`. Every other event gets its model form (the JSON the engine
/// stores, with `type` naming the event) as an object map, with `conversation` set to the
/// routed conversation in its `kind:id` form.
pub(crate) fn event_object(envelope: &Envelope) -> Result<Dynamic, Box<EvalAltResult>> {
    match &envelope.event {
        Event::Message(m) | Event::MessageEdited(m) | Event::BeforeSend(m) => Ok(message_object(m)),
        other => {
            let mut object = rhai::serde::to_dynamic(other)?;
            if let Some(mut map) = object.write_lock::<Map>() {
                map.insert("conversation".into(), envelope.route().to_string().into());
            }
            Ok(object)
        }
    }
}

fn message_object(m: &Message) -> Dynamic {
    let mentions: Array = m
        .content
        .mentions()
        .into_iter()
        .map(|u| Dynamic::from(u.0))
        .collect();
    let mut map = Map::new();
    let mut put = |key: &str, value: Dynamic| {
        map.insert(key.into(), value);
    };
    put("id", m.id.id.clone().into());
    put("conversation", m.conversation.to_string().into());
    put("is_group", m.conversation.is_multi_party().into());
    put("sender", m.sender.0.clone().into());
    put("kind", m.content.kind_name().into());
    put("text", m.content.plain_text().into());
    put("mentions", mentions.into());
    put("mention_all", m.content.mentions_all().into());
    put("time_ms", m.time_ms.into());
    put(
        "reply_to",
        m.reply_to
            .as_ref()
            .map_or(Dynamic::UNIT, |r| r.id.clone().into()),
    );
    Dynamic::from_map(map)
}

/// Converts a stored bot state into the map scripts see as `ctx.state`.
pub(crate) fn state_to_map(state: Option<&serde_json::Value>) -> Result<Map, String> {
    match state {
        None | Some(serde_json::Value::Null) => Ok(Map::new()),
        Some(value @ serde_json::Value::Object(_)) => rhai::serde::to_dynamic(value)
            .map_err(|e| e.to_string())?
            .try_cast::<Map>()
            .ok_or_else(|| "stored state is not an object".to_string()),
        Some(other) => Err(format!(
            "stored state is not an object but {}; leaving it untouched",
            json_kind(other)
        )),
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
