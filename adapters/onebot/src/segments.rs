//! OneBot v11 messages: the string form (CQ codes) and the array-of-segments form, to the
//! model's content and back. Parley always sends the array form.

use parley_engine::model::{Content, Location, Media, MessageRef, Text, UserId};
use serde_json::{json, Map, Value};

/// One message segment: `{"type": ..., "data": {...}}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub kind: String,
    pub data: Map<String, Value>,
}

/// Reads a message in either form (a lone segment object is taken as a one-segment array).
pub fn parse(message: &Value) -> Result<Vec<Segment>, String> {
    match message {
        Value::String(s) => Ok(parse_cq(s)),
        Value::Array(items) => items.iter().map(segment).collect(),
        Value::Object(_) => Ok(vec![segment(message)?]),
        other => Err(format!(
            "`message` is neither a string nor an array: {other}"
        )),
    }
}

fn segment(v: &Value) -> Result<Segment, String> {
    let kind = v["type"]
        .as_str()
        .ok_or_else(|| format!("a message segment has no `type`: {v}"))?;
    let data = match &v["data"] {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        other => {
            return Err(format!(
                "the `{kind}` segment's `data` is not an object: {other}"
            ))
        }
    };
    Ok(Segment {
        kind: kind.to_string(),
        data,
    })
}

/// Splits a CQ-code string into segments. The function name runs from `[CQ:` to the first
/// `,` or `]`; each parameter's name ends at its first `=`. Text and values are unescaped.
pub fn parse_cq(s: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let Some(start) = rest.find("[CQ:") else {
            push_text(&mut out, rest);
            break;
        };
        let Some(len) = rest[start..].find(']') else {
            // An unterminated code is text, as implementations treat it.
            push_text(&mut out, rest);
            break;
        };
        push_text(&mut out, &rest[..start]);
        let code = &rest[start + 4..start + len];
        let mut parts = code.split(',');
        let kind = parts.next().unwrap_or_default().to_string();
        let mut data = Map::new();
        for p in parts {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            data.insert(k.to_string(), Value::String(unescape(v)));
        }
        out.push(Segment { kind, data });
        rest = &rest[start + len + 1..];
    }
    out
}

fn push_text(out: &mut Vec<Segment>, text: &str) {
    if !text.is_empty() {
        let mut data = Map::new();
        data.insert("text".into(), Value::String(unescape(text)));
        out.push(Segment {
            kind: "text".into(),
            data,
        });
    }
}

/// Undoes CQ escaping (`&amp;` last, so `&amp;#91;` stays `&#91;`).
pub fn unescape(s: &str) -> String {
    s.replace("&#91;", "[")
        .replace("&#93;", "]")
        .replace("&#44;", ",")
        .replace("&amp;", "&")
}

fn str_of(data: &Map<String, Value>, key: &str) -> Option<String> {
    match data.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn num_of(data: &Map<String, Value>, key: &str) -> Option<f64> {
    match data.get(key)? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn media(data: &Map<String, Value>) -> Media {
    let file = str_of(data, "file");
    Media {
        // Received media carry a download `url`; `file` is the implementation's name for it.
        url: str_of(data, "url")
            .or_else(|| file.clone())
            .unwrap_or_default(),
        name: str_of(data, "name").or(file),
        size: num_of(data, "file_size")
            .or_else(|| num_of(data, "size"))
            .map(|n| n as u64),
        ..Media::default()
    }
}

/// Segments to content, and the message a `reply` segment quotes. Runs of text and @
/// segments become one text with its mentions; unknown segments are kept as
/// `custom` content of type `onebot:<type>` with their data.
pub fn to_content(segments: &[Segment]) -> (Content, Option<MessageRef>) {
    let mut parts: Vec<Content> = Vec::new();
    let mut reply_to = None;
    for s in segments {
        let d = &s.data;
        let part = match s.kind.as_str() {
            "text" | "at" => {
                if !matches!(parts.last(), Some(Content::Text(_))) {
                    parts.push(Content::text(""));
                }
                let Some(Content::Text(t)) = parts.last_mut() else {
                    unreachable!("a text part was just pushed")
                };
                match (s.kind.as_str(), str_of(d, "qq")) {
                    ("at", Some(qq)) if qq == "all" => t.mention_all = true,
                    ("at", Some(qq)) => t.mentions.push(UserId::new(qq)),
                    _ => t.text.push_str(&str_of(d, "text").unwrap_or_default()),
                }
                continue;
            }
            "reply" => {
                reply_to = str_of(d, "id").map(MessageRef::new);
                continue;
            }
            "face" => Content::Face {
                index: num_of(d, "id").unwrap_or_default() as i64,
                data: None,
            },
            "image" => Content::Image(media(d)),
            "record" => Content::Audio(media(d)),
            "video" => Content::Video(media(d)),
            "file" => Content::File(media(d)),
            "location" => Content::Location(Location {
                latitude: num_of(d, "lat").unwrap_or_default(),
                longitude: num_of(d, "lon").unwrap_or_default(),
                title: str_of(d, "title"),
                address: str_of(d, "content"),
            }),
            "json" => {
                let text = str_of(d, "data").unwrap_or_default();
                Content::Custom {
                    custom_type: "json".into(),
                    data: serde_json::from_str(&text).unwrap_or(Value::String(text)),
                    description: None,
                }
            }
            other => Content::Custom {
                custom_type: format!("onebot:{other}"),
                data: Value::Object(d.clone()),
                description: None,
            },
        };
        parts.push(part);
    }
    let content = match parts.len() {
        0 => Content::text(""),
        1 => parts.pop().expect("one part"),
        _ => Content::Mixed { segments: parts },
    };
    (content, reply_to)
}

/// Content to segments for sending, with a `reply` segment first when quoting.
pub fn from_content(
    content: &Content,
    reply_to: Option<&MessageRef>,
) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    if let Some(r) = reply_to {
        out.push(json!({"type": "reply", "data": {"id": r.id}}));
    }
    push_content(&mut out, content)?;
    Ok(out)
}

fn push_content(out: &mut Vec<Value>, content: &Content) -> Result<(), String> {
    let media = |kind: &str, m: &Media| json!({"type": kind, "data": {"file": m.url}});
    match content {
        Content::Text(Text {
            text,
            mentions,
            mention_all,
        }) => {
            if *mention_all {
                out.push(json!({"type": "at", "data": {"qq": "all"}}));
            }
            for m in mentions {
                out.push(json!({"type": "at", "data": {"qq": m.as_str()}}));
            }
            if !text.is_empty() {
                out.push(json!({"type": "text", "data": {"text": text}}));
            }
        }
        Content::Image(m) => out.push(media("image", m)),
        Content::Audio(m) => out.push(media("record", m)),
        Content::Video(m) => out.push(media("video", m)),
        Content::File(m) => {
            let mut v = media("file", m);
            if let Some(name) = &m.name {
                v["data"]["name"] = json!(name);
            }
            out.push(v);
        }
        Content::Face { index, .. } => {
            out.push(json!({"type": "face", "data": {"id": index.to_string()}}))
        }
        Content::Location(l) => {
            let mut data = json!({"lat": l.latitude.to_string(), "lon": l.longitude.to_string()});
            if let Some(t) = &l.title {
                data["title"] = json!(t);
            }
            if let Some(a) = &l.address {
                data["content"] = json!(a);
            }
            out.push(json!({"type": "location", "data": data}));
        }
        Content::Card(c) => {
            let mut data = json!({"url": c.link.clone().unwrap_or_default(), "title": c.title});
            if let Some(t) = &c.text {
                data["content"] = json!(t);
            }
            if let Some(i) = &c.image_url {
                data["image"] = json!(i);
            }
            out.push(json!({"type": "share", "data": data}));
        }
        Content::Custom {
            custom_type, data, ..
        } => match custom_type.strip_prefix("onebot:") {
            Some(kind) => out.push(json!({"type": kind, "data": data})),
            None if custom_type == "json" => {
                let text = match data {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.push(json!({"type": "json", "data": {"data": text}}))
            }
            None => {
                return Err(format!(
                    "custom content `{custom_type}` has no OneBot segment (use `json` or `onebot:<segment type>`)"
                ))
            }
        },
        Content::Mixed { segments } => {
            for s in segments {
                push_content(out, s)?;
            }
        }
        Content::Command { .. } | Content::Forward(_) => {
            return Err(format!(
                "OneBot v11 has no message segment for {} content",
                content.kind_name()
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cq_codes_and_escapes() {
        let s = parse_cq("&#91;x&#93; [CQ:face,id=178]看[CQ:share,title=震惊&#44;小伙=1,url=http://a/?a=1&amp;b=2][CQ:shake]&amp;#91;");
        let kinds: Vec<_> = s.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(kinds, ["text", "face", "text", "share", "shake", "text"]);
        assert_eq!(s[0].data["text"], "[x] ");
        assert_eq!(s[1].data["id"], "178");
        assert_eq!(s[3].data["title"], "震惊,小伙=1");
        assert_eq!(s[3].data["url"], "http://a/?a=1&b=2");
        assert_eq!(s[5].data["text"], "&#91;");
        // Unterminated: text.
        assert_eq!(
            parse_cq("a [CQ:face,id=1")[0].data["text"],
            "a [CQ:face,id=1"
        );
    }

    #[test]
    fn both_forms_give_the_same_content() {
        let string = json!("[CQ:reply,id=55][CQ:at,qq=10001] hi [CQ:at,qq=all][CQ:image,file=a.jpg,url=http://i/a.jpg]");
        let array = json!([
            {"type": "reply", "data": {"id": "55"}},
            {"type": "at", "data": {"qq": "10001"}},
            {"type": "text", "data": {"text": " hi "}},
            {"type": "at", "data": {"qq": "all"}},
            {"type": "image", "data": {"file": "a.jpg", "url": "http://i/a.jpg"}}
        ]);
        let a = to_content(&parse(&string).unwrap());
        let b = to_content(&parse(&array).unwrap());
        assert_eq!(a, b);
        let (content, reply) = a;
        assert_eq!(reply, Some(MessageRef::new("55")));
        assert_eq!(content.plain_text(), " hi ");
        assert_eq!(content.mentions(), vec![UserId::new("10001")]);
        assert!(content.mentions_all());
        let Content::Mixed { segments } = &content else {
            panic!("{content:?}")
        };
        assert_eq!(
            segments[1],
            Content::Image(Media {
                url: "http://i/a.jpg".into(),
                name: Some("a.jpg".into()),
                ..Media::default()
            })
        );
    }

    #[test]
    fn every_kind_maps() {
        let msg = json!([
            {"type": "face", "data": {"id": "14"}},
            {"type": "record", "data": {"file": "v.amr", "url": "http://v"}},
            {"type": "video", "data": {"file": "http://m.mp4"}},
            {"type": "forward", "data": {"id": "fw1"}},
            {"type": "json", "data": {"data": "{\"app\":\"x\"}"}},
            {"type": "location", "data": {"lat": "39.5", "lon": "116.25", "title": "T", "content": "C"}},
            {"type": "dice", "data": {"result": "3"}}
        ]);
        let (content, _) = to_content(&parse(&msg).unwrap());
        let Content::Mixed { segments } = content else {
            panic!()
        };
        assert_eq!(
            segments[0],
            Content::Face {
                index: 14,
                data: None
            }
        );
        assert!(matches!(&segments[1], Content::Audio(m) if m.url == "http://v"));
        assert!(matches!(&segments[2], Content::Video(m) if m.url == "http://m.mp4"));
        assert_eq!(
            segments[3],
            Content::Custom {
                custom_type: "onebot:forward".into(),
                data: json!({"id": "fw1"}),
                description: None
            }
        );
        assert_eq!(
            segments[4],
            Content::Custom {
                custom_type: "json".into(),
                data: json!({"app": "x"}),
                description: None
            }
        );
        assert_eq!(
            segments[5],
            Content::Location(Location {
                latitude: 39.5,
                longitude: 116.25,
                title: Some("T".into()),
                address: Some("C".into())
            })
        );
        assert_eq!(
            segments[6],
            Content::Custom {
                custom_type: "onebot:dice".into(),
                data: json!({"result": "3"}),
                description: None
            }
        );
        // And back: what was received can be sent again.
        let back = from_content(&Content::Mixed { segments }, None).unwrap();
        assert_eq!(back[0], json!({"type": "face", "data": {"id": "14"}}));
        assert_eq!(back[3], json!({"type": "forward", "data": {"id": "fw1"}}));
        assert_eq!(
            back[4],
            json!({"type": "json", "data": {"data": "{\"app\":\"x\"}"}})
        );
        assert_eq!(back[5]["data"]["lat"], "39.5");
        assert_eq!(back[6], json!({"type": "dice", "data": {"result": "3"}}));
    }

    #[test]
    fn sending() {
        let content = Content::Text(Text {
            text: "hello [x]".into(),
            mentions: vec!["42".into()],
            mention_all: false,
        });
        assert_eq!(
            from_content(&content, Some(&MessageRef::new("9"))).unwrap(),
            vec![
                json!({"type": "reply", "data": {"id": "9"}}),
                json!({"type": "at", "data": {"qq": "42"}}),
                json!({"type": "text", "data": {"text": "hello [x]"}}),
            ]
        );
        let e = from_content(
            &Content::Command {
                name: "x".into(),
                data: Value::Null,
            },
            None,
        )
        .unwrap_err();
        assert!(e.contains("no message segment for command"), "{e}");
        assert!(parse(&json!(5)).is_err());
        assert!(parse(&json!([{"data": {}}]))
            .unwrap_err()
            .contains("no `type`"));
    }
}
