//! The object passed as a handler's second argument.
//!
//! Messages (`on_message`, `on_message_edited`, `on_before_message`) get a map with the
//! fields documented in `docs/bots.md` (`text`, `sender`, `mentions_me`, `command`, ...).
//! Every other event gets its model form (the JSON the engine stores, with `type` naming
//! the event) as a map, with `conversation` in its `kind:id` form and `raw` the platform's
//! payload. Friend requests, join requests and invitations are a `Request`: the same
//! fields, plus `accept`/`decline`.

use super::ctx::{Ctx, RhaiResult};
use super::matching::parse_command;
use parley_engine::model::{
    Command, CommandOutput, CommandResult, Envelope, Event, Message, RequestId,
};
use rhai::{Array, Dynamic, Engine, Map};

pub(crate) fn event_object(envelope: &Envelope, me: Option<&str>) -> RhaiResult<Dynamic> {
    let raw = rhai::serde::to_dynamic(&envelope.raw)?;
    let mut map = match &envelope.event {
        Event::Message(m) | Event::MessageEdited(m) | Event::BeforeSend(m) => {
            message_object(m, me)?
        }
        other => {
            let mut map = rhai::serde::to_dynamic(other)?
                .try_cast::<Map>()
                .ok_or("an event is not an object")?;
            if let Event::CommandResult { result, .. } = other {
                result_fields(&mut map, result)?;
            }
            if let Event::GroupNotice(notice) = other {
                // `n.user`: the member the notice is about (or who acted, if nobody else).
                let user = notice.targets.first().or(notice.operator.as_ref());
                map.insert(
                    "user".into(),
                    user.map_or(Dynamic::UNIT, |u| u.0.clone().into()),
                );
            }
            map
        }
    };
    map.insert("conversation".into(), envelope.route().to_string().into());
    map.insert("raw".into(), raw);
    Ok(Dynamic::from_map(map))
}

/// `r.ok`, `r.error` (the error kind: `rate_limited`, `not_permitted`, ...), `r.reason`,
/// `r.message_id` (of a sent message) and `r.output` (what the command returned).
fn result_fields(map: &mut Map, result: &CommandResult) -> RhaiResult<()> {
    let (ok, error, reason, output) = match result {
        CommandResult::Ok(output) => (
            true,
            Dynamic::UNIT,
            Dynamic::UNIT,
            rhai::serde::to_dynamic(output)?,
        ),
        CommandResult::Failed(e) => (
            false,
            rhai::serde::to_dynamic(e.kind)?,
            e.message.clone().into(),
            Dynamic::UNIT,
        ),
    };
    let message_id = match result {
        CommandResult::Ok(CommandOutput::Sent { message }) => message.id.clone().into(),
        _ => Dynamic::UNIT,
    };
    map.insert("ok".into(), ok.into());
    map.insert("error".into(), error);
    map.insert("reason".into(), reason);
    map.insert("message_id".into(), message_id);
    map.insert("output".into(), output);
    Ok(())
}

fn message_object(m: &Message, me: Option<&str>) -> RhaiResult<Map> {
    let mentions: Array = m
        .content
        .mentions()
        .into_iter()
        .map(|u| Dynamic::from(u.0))
        .collect();
    let mentions_me = me.is_some_and(|me| m.content.mentions().iter().any(|u| u.0 == me))
        || (m.content.mentions_all() && me.is_some());
    let text = m.content.plain_text();
    let (command, args, arg_text) = match parse_command(&text) {
        Some((name, args, rest)) => (name.into(), args, rest.into()),
        None => (Dynamic::UNIT, Array::new(), Dynamic::UNIT),
    };
    let mut map = Map::new();
    let mut put = |key: &str, value: Dynamic| {
        map.insert(key.into(), value);
    };
    put("type", "message".into());
    put("id", m.id.id.clone().into());
    put("is_group", m.conversation.is_multi_party().into());
    put("sender", m.sender.0.clone().into());
    put("kind", m.content.kind_name().into());
    put("text", text.into());
    put("content", rhai::serde::to_dynamic(&m.content)?);
    put("mentions", mentions.into());
    put("mention_all", m.content.mentions_all().into());
    put("mentions_me", mentions_me.into());
    put("command", command);
    put("args", args.into());
    put("arg_text", arg_text);
    put("time_ms", m.time_ms.into());
    put(
        "reply_to",
        m.reply_to
            .as_ref()
            .map_or(Dynamic::UNIT, |r| r.id.clone().into()),
    );
    put("extra", rhai::serde::to_dynamic(&m.extra)?);
    Ok(map)
}

/// A friend request, group join request or invitation, answerable by the script.
#[derive(Clone)]
pub(crate) struct Request {
    fields: Map,
    kind: RequestKind,
    ctx: Ctx,
}

#[derive(Clone, Copy)]
enum RequestKind {
    Friend,
    Join,
    Invitation,
}

/// The event object a bot gets: requests are bound to the bot's `ctx` so that
/// `req.accept(..)` queues its answer with the bot's other commands.
pub(crate) fn for_bot(event: &Dynamic, ctx: &Ctx) -> Dynamic {
    let kind = event.read_lock::<Map>().and_then(|map| {
        let kind = map.get("type")?.read_lock::<rhai::ImmutableString>()?;
        match kind.as_str() {
            "friend_request" => Some(RequestKind::Friend),
            "group_join_request" => Some(RequestKind::Join),
            "group_invitation" => Some(RequestKind::Invitation),
            _ => None,
        }
    });
    match (kind, event.clone().try_cast::<Map>()) {
        (Some(kind), Some(fields)) => Dynamic::from(Request {
            fields,
            kind,
            ctx: ctx.clone(),
        }),
        _ => event.clone(),
    }
}

impl Request {
    fn id(&self) -> RequestId {
        RequestId::new(
            self.fields
                .get("request")
                .map(|r| r.to_string())
                .unwrap_or_default(),
        )
    }

    fn answer(&self, accept: bool, text: Option<&str>) -> RhaiResult<()> {
        let request = self.id();
        let text = text.map(str::to_string);
        self.ctx.queue(match self.kind {
            RequestKind::Friend => Command::AnswerFriendRequest {
                request,
                accept,
                remark: text,
                add_back: accept,
            },
            RequestKind::Join => Command::AnswerJoinRequest {
                request,
                accept,
                reason: text,
            },
            RequestKind::Invitation => Command::AnswerInvitation { request, accept },
        })
    }

    fn get(&self, field: &str) -> Dynamic {
        self.fields.get(field).cloned().unwrap_or(Dynamic::UNIT)
    }
}

const REQUEST_FIELDS: &[&str] = &[
    "type",
    "conversation",
    "raw",
    "request",
    "from",
    "to",
    "greeting",
    "question",
    "answer",
    "group",
    "user",
    "reason",
    "inviter",
    "invitee",
];

pub(crate) fn register(engine: &mut Engine) {
    engine.register_type_with_name::<Request>("Request");
    for &field in REQUEST_FIELDS {
        engine.register_get(field, move |r: &mut Request| r.get(field));
    }
    engine
        .register_indexer_get(|r: &mut Request, field: &str| r.get(field))
        .register_fn("accept", |r: &mut Request| r.answer(true, None))
        .register_fn("accept", |r: &mut Request, remark: &str| {
            r.answer(true, Some(remark))
        })
        .register_fn("decline", |r: &mut Request| r.answer(false, None))
        .register_fn("decline", |r: &mut Request, reason: &str| {
            r.answer(false, Some(reason))
        })
        .register_fn("to_string", describe)
        .register_fn("to_debug", describe);
}

fn describe(r: &mut Request) -> String {
    format!("Request{:?}", r.fields)
}
