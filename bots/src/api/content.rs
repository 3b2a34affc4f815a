//! Content builders (`text`, `image`, `card`, ...) and reading a script's content and send
//! options. Builders return the content's model form as a map (`#{kind: "image", url: ..}`),
//! so scripts may also write or adjust such maps themselves.

use super::ctx::{message_ref, RhaiResult};
use parley_engine::model::{Content, MessageRef, SendOptions, UserId};
use rhai::{Array, Dynamic, Engine, Map, FLOAT, INT};

/// A script's content: a string is plain text, a map is a content in model form.
pub(crate) fn content_from(content: Dynamic, what: &str) -> RhaiResult<Content> {
    if content.is_string() {
        return Ok(Content::text(content.to_string()));
    }
    if !content.is_map() {
        return Err(format!(
            "{what}: expected text or a content (text(..), image(..), ...), not {}",
            content.type_name()
        )
        .into());
    }
    rhai::serde::from_dynamic(&content).map_err(|e| format!("{what}: bad content: {e}").into())
}

const OPTION_KEYS: &[&str] = &[
    "reply_to",
    "as_user",
    "online_only",
    "no_unread",
    "push_title",
    "push_text",
    "high_priority",
    "receipt_requested",
    "only_to",
    "extra",
];

/// `#{reply_to: msg, as_user: "agent", only_to: ["bob"], online_only: true, ...}`.
pub(crate) fn send_options_from(
    mut options: Map,
) -> RhaiResult<(Option<MessageRef>, SendOptions, Option<UserId>)> {
    if let Some(unknown) = options.keys().find(|k| !OPTION_KEYS.contains(&k.as_str())) {
        return Err(format!(
            "send options: unknown option `{unknown}` (known: {})",
            OPTION_KEYS.join(", ")
        )
        .into());
    }
    let reply_to = match options.remove("reply_to") {
        Some(message) if !message.is_unit() => Some(message_ref("reply_to", &message)?),
        _ => None,
    };
    let as_user = options
        .remove("as_user")
        .filter(|u| !u.is_unit())
        .map(|u| UserId::new(u.to_string()));
    let options = rhai::serde::from_dynamic(&Dynamic::from_map(options))
        .map_err(|e| format!("send options: {e}"))?;
    Ok((reply_to, options, as_user))
}

fn map(kind: &str, fields: &[(&str, Dynamic)]) -> Map {
    let mut map = Map::new();
    map.insert("kind".into(), kind.into());
    for (key, value) in fields {
        map.insert((*key).into(), value.clone());
    }
    map
}

fn with(mut base: Map, extra: Map) -> Map {
    base.extend(extra);
    base
}

/// Forwarded messages: message objects (`msg`) keep their sender, time and content.
fn forwarded(messages: Array) -> RhaiResult<Array> {
    messages
        .into_iter()
        .map(|m| {
            let Some(msg) = m.read_lock::<Map>().map(|m| m.clone()) else {
                return Err("forward: expected message objects".into());
            };
            let get = |k: &str| msg.get(k).cloned().unwrap_or(Dynamic::UNIT);
            Ok(Dynamic::from_map(
                [
                    ("sender".into(), get("sender")),
                    ("time_ms".into(), get("time_ms")),
                    ("content".into(), get("content")),
                ]
                .into_iter()
                .collect(),
            ))
        })
        .collect()
}

pub(crate) fn register(engine: &mut Engine) {
    engine
        .register_fn("text", |t: &str| map("text", &[("text", t.into())]))
        .register_fn("text", |t: &str, mentions: Array| {
            map("text", &[("text", t.into()), ("mentions", mentions.into())])
        })
        .register_fn("text_all", |t: &str| {
            map("text", &[("text", t.into()), ("mention_all", true.into())])
        });
    for kind in ["image", "audio", "video", "file"] {
        engine
            .register_fn(kind, move |url: &str| map(kind, &[("url", url.into())]))
            .register_fn(kind, move |url: &str, extra: Map| {
                with(map(kind, &[("url", url.into())]), extra)
            });
    }
    engine
        .register_fn("file", |url: &str, name: &str| {
            map("file", &[("url", url.into()), ("name", name.into())])
        })
        .register_fn("location", |lat: FLOAT, lon: FLOAT| {
            map(
                "location",
                &[("latitude", lat.into()), ("longitude", lon.into())],
            )
        })
        .register_fn("location", |lat: FLOAT, lon: FLOAT, title: &str| {
            map(
                "location",
                &[
                    ("latitude", lat.into()),
                    ("longitude", lon.into()),
                    ("title", title.into()),
                ],
            )
        })
        .register_fn("face", |index: INT| map("face", &[("index", index.into())]))
        .register_fn("custom", |kind: &str, data: Dynamic| {
            map("custom", &[("type", kind.into()), ("data", data)])
        })
        .register_fn("command", |name: &str, data: Dynamic| {
            map("command", &[("name", name.into()), ("data", data)])
        })
        .register_fn("card", |title: &str| {
            map("card", &[("title", title.into())])
        })
        .register_fn("card", |title: &str, text: &str| {
            map("card", &[("title", title.into()), ("text", text.into())])
        })
        .register_fn("card", |title: &str, text: &str, link: &str| {
            map(
                "card",
                &[
                    ("title", title.into()),
                    ("text", text.into()),
                    ("link", link.into()),
                ],
            )
        })
        .register_fn("forward", |messages: Array| -> RhaiResult<Map> {
            Ok(map("forward", &[("messages", forwarded(messages)?.into())]))
        })
        .register_fn(
            "forward",
            |title: &str, messages: Array| -> RhaiResult<Map> {
                Ok(map(
                    "forward",
                    &[
                        ("title", title.into()),
                        ("messages", forwarded(messages)?.into()),
                    ],
                ))
            },
        )
        .register_fn("mixed", |segments: Array| {
            let segments: Array = segments
                .into_iter()
                .map(|s| match s.is_string() {
                    true => Dynamic::from_map(map("text", &[("text", s)])),
                    false => s,
                })
                .collect();
            map("mixed", &[("segments", segments.into())])
        });
}
