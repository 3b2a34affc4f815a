//! Tencent's message body (`MsgBody`, a list of `TIMxxxElem` elements; seed-001 §7.3) to
//! model content and back.
//!
//! Conventions where the model and Tencent differ:
//! - several elements make a `Mixed` content, one element its own kind;
//! - `TIMCustomElem`: `Ext` carries the custom type, `Data` the JSON body (a string when it
//!   is not JSON), `Desc` the description. Parley's transparent commands and cards travel as
//!   custom elements of type `parley.command` / `parley.card`;
//! - media sent by Parley get a `UUID` derived from their URL (Tencent requires one);
//! - mentions are not in the elements but in the group message's `GroupAtInfo`.

use parley_engine::model::{
    Card, Content, Forward, ForwardedMessage, Location, Media, MessageRef, Text, UserId,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One element as it travels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Elem {
    #[serde(rename = "MsgType")]
    pub msg_type: String,
    #[serde(rename = "MsgContent", default)]
    pub msg_content: Value,
}

const COMMAND_TYPE: &str = "parley.command";
const CARD_TYPE: &str = "parley.card";

/// The content of a message body; an error names the element that cannot be read.
pub fn to_content(body: &[Elem]) -> Result<Content, String> {
    let mut segments = body
        .iter()
        .enumerate()
        .map(|(i, e)| element(e).map_err(|err| format!("MsgBody[{i}] ({}): {err}", e.msg_type)))
        .collect::<Result<Vec<_>, _>>()?;
    match segments.len() {
        0 => Err("MsgBody is empty".into()),
        1 => Ok(segments.remove(0)),
        _ => Ok(Content::Mixed { segments }),
    }
}

/// The message body of a content.
pub fn from_content(content: &Content) -> Vec<Elem> {
    let mut out = Vec::new();
    push(content, &mut out);
    out
}

fn elem(msg_type: &str, msg_content: Value) -> Elem {
    Elem {
        msg_type: msg_type.into(),
        msg_content,
    }
}

fn get<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, String> {
    T::deserialize(v).map_err(|e| e.to_string())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TextElem {
    text: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImageElem {
    #[serde(default)]
    image_format: Option<u32>,
    image_info_array: Vec<ImageInfo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImageInfo {
    #[serde(rename = "Type")]
    kind: u32,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
    #[serde(rename = "URL")]
    url: String,
}

#[derive(Deserialize)]
struct SoundElem {
    #[serde(rename = "Url", default)]
    url: String,
    #[serde(rename = "Size", default)]
    size: Option<u64>,
    #[serde(rename = "Second", default)]
    second: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VideoElem {
    #[serde(default)]
    video_url: String,
    #[serde(default)]
    video_size: Option<u64>,
    #[serde(default)]
    video_second: Option<u64>,
    #[serde(default)]
    video_format: Option<String>,
    #[serde(default)]
    thumb_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FileElem {
    #[serde(default)]
    url: String,
    #[serde(default)]
    file_size: Option<u64>,
    #[serde(default)]
    file_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LocationElem {
    #[serde(default)]
    desc: Option<String>,
    latitude: f64,
    longitude: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FaceElem {
    index: i64,
    #[serde(default)]
    data: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CustomElem {
    #[serde(default)]
    data: String,
    #[serde(default)]
    desc: Option<String>,
    #[serde(default)]
    ext: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RelayElem {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    msg_list: Vec<RelayedMessage>,
}

#[derive(Deserialize)]
struct RelayedMessage {
    #[serde(rename = "From_Account", default)]
    from: String,
    #[serde(rename = "MsgSeq", default)]
    seq: Option<u64>,
    #[serde(rename = "MsgRandom", default)]
    random: Option<u64>,
    #[serde(rename = "MsgTimeStamp", default)]
    time: i64,
    #[serde(rename = "MsgBody", default)]
    body: Vec<Elem>,
}

fn element(e: &Elem) -> Result<Content, String> {
    let c = &e.msg_content;
    Ok(match e.msg_type.as_str() {
        "TIMTextElem" => Content::text(get::<TextElem>(c)?.text),
        "TIMImageElem" => {
            let img: ImageElem = get(c)?;
            let pick = |kind: u32| img.image_info_array.iter().find(|i| i.kind == kind);
            let original = pick(1)
                .or_else(|| img.image_info_array.first())
                .ok_or("ImageInfoArray is empty")?;
            let thumb = pick(3)
                .map(|t| t.url.clone())
                .filter(|u| u != &original.url);
            Content::Image(Media {
                url: original.url.clone(),
                mime: img.image_format.and_then(image_mime).map(str::to_string),
                size: original.size,
                width: original.width.filter(|w| *w > 0),
                height: original.height.filter(|h| *h > 0),
                thumbnail_url: thumb,
                ..Media::default()
            })
        }
        "TIMSoundElem" => {
            let s: SoundElem = get(c)?;
            Content::Audio(Media {
                url: s.url,
                size: s.size,
                duration_ms: s.second.map(|s| s * 1000),
                ..Media::default()
            })
        }
        "TIMVideoFileElem" => {
            let v: VideoElem = get(c)?;
            Content::Video(Media {
                url: v.video_url,
                size: v.video_size,
                duration_ms: v.video_second.map(|s| s * 1000),
                mime: v
                    .video_format
                    .filter(|f| !f.is_empty())
                    .map(|f| format!("video/{}", f.to_ascii_lowercase())),
                thumbnail_url: v.thumb_url.filter(|u| !u.is_empty()),
                ..Media::default()
            })
        }
        "TIMFileElem" => {
            let f: FileElem = get(c)?;
            Content::File(Media {
                url: f.url,
                name: f.file_name,
                size: f.file_size,
                ..Media::default()
            })
        }
        "TIMLocationElem" => {
            let l: LocationElem = get(c)?;
            Content::Location(Location {
                latitude: l.latitude,
                longitude: l.longitude,
                title: None,
                address: l.desc.filter(|d| !d.is_empty()),
            })
        }
        "TIMFaceElem" => {
            let f: FaceElem = get(c)?;
            Content::Face {
                index: f.index,
                data: f.data.filter(|d| !d.is_empty()),
            }
        }
        "TIMCustomElem" => custom(get(c)?),
        "TIMRelayElem" => {
            let r: RelayElem = get(c)?;
            let messages = r
                .msg_list
                .iter()
                .map(|m| {
                    Ok(ForwardedMessage {
                        sender: UserId::new(m.from.as_str()),
                        original: m.seq.map(|seq| MessageRef {
                            seq: Some(seq),
                            client_id: m.random.map(|r| r.to_string()),
                            time_ms: Some(m.time * 1000),
                            ..MessageRef::new(seq.to_string())
                        }),
                        time_ms: m.time * 1000,
                        content: to_content(&m.body)?,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            Content::Forward(Forward {
                title: r.title.filter(|t| !t.is_empty()),
                messages,
            })
        }
        // Group tips, system notices and future kinds: kept whole, nothing lost.
        other => Content::Custom {
            custom_type: other.to_string(),
            data: c.clone(),
            description: None,
        },
    })
}

fn custom(c: CustomElem) -> Content {
    let data = serde_json::from_str::<Value>(&c.data).unwrap_or(Value::String(c.data));
    match c.ext.as_deref() {
        Some(COMMAND_TYPE) => Content::Command {
            name: c.desc.unwrap_or_default(),
            data,
        },
        Some(CARD_TYPE) => match serde_json::from_value::<Card>(data.clone()) {
            Ok(card) => Content::Card(card),
            Err(_) => Content::Custom {
                custom_type: CARD_TYPE.into(),
                data,
                description: c.desc,
            },
        },
        _ => Content::Custom {
            custom_type: c.ext.unwrap_or_default(),
            data,
            description: c.desc.filter(|d| !d.is_empty()),
        },
    }
}

fn image_mime(format: u32) -> Option<&'static str> {
    Some(match format {
        1 => "image/jpeg",
        2 => "image/gif",
        3 => "image/png",
        4 => "image/bmp",
        _ => return None,
    })
}

fn image_format(mime: Option<&str>) -> u32 {
    match mime {
        Some("image/jpeg" | "image/jpg") => 1,
        Some("image/gif") => 2,
        Some("image/png") => 3,
        Some("image/bmp") => 4,
        _ => 255,
    }
}

/// Tencent wants a unique id per media file; the URL's hash names it stably.
fn uuid_for(url: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(url.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn custom_data(data: &Value) -> String {
    match data {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn push(content: &Content, out: &mut Vec<Elem>) {
    match content {
        Content::Text(Text { text, .. }) => out.push(elem("TIMTextElem", json!({ "Text": text }))),
        Content::Image(m) => {
            let info = |kind: u32, url: &str| {
                json!({ "Type": kind, "Size": m.size.unwrap_or(0), "Width": m.width.unwrap_or(0),
                        "Height": m.height.unwrap_or(0), "URL": url })
            };
            let thumb = m.thumbnail_url.as_deref().unwrap_or(&m.url);
            out.push(elem(
                "TIMImageElem",
                json!({
                    "UUID": uuid_for(&m.url),
                    "ImageFormat": image_format(m.mime.as_deref()),
                    "ImageInfoArray": [info(1, &m.url), info(2, &m.url), info(3, thumb)],
                }),
            ))
        }
        Content::Audio(m) => out.push(elem(
            "TIMSoundElem",
            json!({ "Url": m.url, "UUID": uuid_for(&m.url), "Size": m.size.unwrap_or(0),
                    "Second": m.duration_ms.unwrap_or(0) / 1000, "Download_Flag": 2 }),
        )),
        Content::Video(m) => {
            let format = m
                .mime
                .as_deref()
                .and_then(|t| t.strip_prefix("video/"))
                .unwrap_or("mp4");
            let thumb = m.thumbnail_url.as_deref().unwrap_or_default();
            out.push(elem(
                "TIMVideoFileElem",
                json!({
                    "VideoUrl": m.url, "VideoUUID": uuid_for(&m.url), "VideoSize": m.size.unwrap_or(0),
                    "VideoSecond": m.duration_ms.unwrap_or(0) / 1000, "VideoFormat": format,
                    "VideoDownloadFlag": 2, "ThumbUrl": thumb, "ThumbUUID": uuid_for(thumb),
                    "ThumbSize": 0, "ThumbWidth": m.width.unwrap_or(0), "ThumbHeight": m.height.unwrap_or(0),
                    "ThumbFormat": "JPG", "ThumbDownloadFlag": 2,
                }),
            ))
        }
        Content::File(m) => out.push(elem(
            "TIMFileElem",
            json!({ "Url": m.url, "UUID": uuid_for(&m.url), "FileSize": m.size.unwrap_or(0),
                    "FileName": m.name.clone().unwrap_or_default(), "Download_Flag": 2 }),
        )),
        Content::Location(l) => out.push(elem(
            "TIMLocationElem",
            json!({ "Desc": l.address.as_ref().or(l.title.as_ref()).cloned().unwrap_or_default(),
                    "Latitude": l.latitude, "Longitude": l.longitude }),
        )),
        Content::Face { index, data } => out.push(elem(
            "TIMFaceElem",
            json!({ "Index": index, "Data": data.clone().unwrap_or_default() }),
        )),
        Content::Custom {
            custom_type,
            data,
            description,
        } => out.push(elem(
            "TIMCustomElem",
            json!({ "Data": custom_data(data), "Desc": description.clone().unwrap_or_default(), "Ext": custom_type }),
        )),
        Content::Command { name, data } => out.push(elem(
            "TIMCustomElem",
            json!({ "Data": custom_data(data), "Desc": name, "Ext": COMMAND_TYPE }),
        )),
        Content::Card(card) => out.push(elem(
            "TIMCustomElem",
            json!({ "Data": serde_json::to_string(card).expect("a card serializes"),
                    "Desc": card.title, "Ext": CARD_TYPE }),
        )),
        Content::Forward(f) => {
            let list: Vec<Value> = f
                .messages
                .iter()
                .map(|m| {
                    let seq = m.original.as_ref().and_then(|o| o.seq).unwrap_or(0);
                    let random = m
                        .original
                        .as_ref()
                        .and_then(|o| o.client_id.as_deref())
                        .and_then(|r| r.parse::<u64>().ok())
                        .unwrap_or(0);
                    json!({ "From_Account": m.sender, "MsgSeq": seq, "MsgRandom": random,
                            "MsgTimeStamp": m.time_ms / 1000, "MsgBody": from_content(&m.content) })
                })
                .collect();
            let abstracts: Vec<String> = f
                .messages
                .iter()
                .map(|m| format!("{}: {}", m.sender, m.content.plain_text()))
                .collect();
            out.push(elem(
                "TIMRelayElem",
                json!({ "Title": f.title.clone().unwrap_or_default(), "MsgNum": f.messages.len(),
                        "CompatibleText": "[Chat History]", "AbstractList": abstracts, "MsgList": list }),
            ))
        }
        Content::Mixed { segments } => segments.iter().for_each(|s| push(s, out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(c: Content) {
        let body = from_content(&c);
        let wire: Vec<Elem> = serde_json::from_str(&serde_json::to_string(&body).unwrap()).unwrap();
        assert_eq!(to_content(&wire).unwrap(), c, "body was {body:?}");
    }

    fn media(url: &str) -> Media {
        Media {
            url: url.into(),
            ..Media::default()
        }
    }

    #[test]
    fn every_kind_round_trips() {
        roundtrip(Content::text("hello"));
        roundtrip(Content::Image(Media {
            mime: Some("image/png".into()),
            size: Some(1024),
            width: Some(640),
            height: Some(480),
            thumbnail_url: Some("https://x/t.png".into()),
            ..media("https://x/i.png")
        }));
        roundtrip(Content::Audio(Media {
            size: Some(99),
            duration_ms: Some(3000),
            ..media("https://x/a.amr")
        }));
        roundtrip(Content::Video(Media {
            size: Some(5),
            duration_ms: Some(7000),
            mime: Some("video/mp4".into()),
            thumbnail_url: Some("https://x/v.jpg".into()),
            ..media("https://x/v.mp4")
        }));
        roundtrip(Content::File(Media {
            name: Some("report.pdf".into()),
            size: Some(12),
            ..media("https://x/r.pdf")
        }));
        roundtrip(Content::Location(Location {
            latitude: 29.34,
            longitude: 116.77,
            title: None,
            address: Some("somewhere".into()),
        }));
        roundtrip(Content::Face {
            index: 3,
            data: Some("smile".into()),
        });
        roundtrip(Content::Custom {
            custom_type: "order".into(),
            data: json!({"id": 7}),
            description: Some("an order".into()),
        });
        roundtrip(Content::Custom {
            custom_type: String::new(),
            data: json!("plain words"),
            description: None,
        });
        roundtrip(Content::Command {
            name: "refresh".into(),
            data: json!({"a": 1}),
        });
        roundtrip(Content::Card(Card {
            title: "Sale".into(),
            text: Some("50% off".into()),
            image_url: None,
            link: Some("https://x".into()),
        }));
        roundtrip(Content::Forward(Forward {
            title: Some("Group chat history".into()),
            messages: vec![ForwardedMessage {
                sender: "A".into(),
                original: Some(MessageRef {
                    seq: Some(85),
                    client_id: Some("3998651049".into()),
                    time_ms: Some(1664437702000),
                    ..MessageRef::new("85")
                }),
                time_ms: 1664437702000,
                content: Content::text("What do you think?"),
            }],
        }));
        roundtrip(Content::Mixed {
            segments: vec![
                Content::text("hi "),
                Content::Face {
                    index: 1,
                    data: None,
                },
            ],
        });
    }

    #[test]
    fn reads_tencents_published_examples() {
        let body: Vec<Elem> = serde_json::from_value(json!([
            {"MsgType": "TIMImageElem", "MsgContent": {"UUID": "1853095_D61040894AC3DE44CDFFFB3EC7EB720F", "ImageFormat": 1,
              "ImageInfoArray": [
                {"Type": 1, "Size": 1853095, "Width": 2448, "Height": 3264, "URL": "http://xxx/orig"},
                {"Type": 2, "Size": 484334, "Width": 0, "Height": 0, "URL": "http://xxx/720"},
                {"Type": 3, "Size": 12535, "Width": 0, "Height": 0, "URL": "http://xxx/198"}]}},
            {"MsgType": "TIMSoundElem", "MsgContent": {"Url": "https://x/s", "UUID": "u", "Size": 62351, "Second": 1, "Download_Flag": 2}},
            {"MsgType": "TIMVideoFileElem", "MsgContent": {"VideoUrl": "https://x/v", "VideoUUID": "v", "VideoSize": 1194603,
              "VideoSecond": 5, "VideoFormat": "mp4", "VideoDownloadFlag": 2, "ThumbUrl": "https://x/t", "ThumbUUID": "t",
              "ThumbSize": 13907, "ThumbWidth": 720, "ThumbHeight": 1280, "ThumbFormat": "JPG", "ThumbDownloadFlag": 2}},
            {"MsgType": "TIMFileElem", "MsgContent": {"Url": "https://x/f", "UUID": "f", "FileSize": 1773552, "FileName": "a.mov", "Download_Flag": 2}},
            {"MsgType": "TIMGroupTipElem", "MsgContent": {"OpType": 1}}
        ]))
        .unwrap();
        let Content::Mixed { segments } = to_content(&body).unwrap() else {
            panic!()
        };
        assert_eq!(
            segments[0],
            Content::Image(Media {
                mime: Some("image/jpeg".into()),
                size: Some(1853095),
                width: Some(2448),
                height: Some(3264),
                thumbnail_url: Some("http://xxx/198".into()),
                ..media("http://xxx/orig")
            })
        );
        assert!(matches!(&segments[1], Content::Audio(m) if m.duration_ms == Some(1000)));
        assert!(
            matches!(&segments[2], Content::Video(m) if m.mime.as_deref() == Some("video/mp4"))
        );
        assert!(matches!(&segments[3], Content::File(m) if m.name.as_deref() == Some("a.mov")));
        assert!(
            matches!(&segments[4], Content::Custom { custom_type, .. } if custom_type == "TIMGroupTipElem")
        );
    }

    #[test]
    fn unreadable_elements_are_named() {
        let body = vec![
            elem("TIMTextElem", json!({"Text": "a"})),
            elem("TIMLocationElem", json!({"Desc": "x"})),
        ];
        let e = to_content(&body).unwrap_err();
        assert!(
            e.starts_with("MsgBody[1] (TIMLocationElem): missing field `Latitude`"),
            "{e}"
        );
        assert_eq!(to_content(&[]).unwrap_err(), "MsgBody is empty");
    }
}
