//! Message content: the union of the content kinds of the vendor SDKs (reference README §4).

use crate::model::ids::{MessageRef, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a message carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Content {
    Text(Text),
    Image(Media),
    Audio(Media),
    Video(Media),
    File(Media),
    Location(Location),
    /// A platform face/emoji by index (Tencent `TIMFaceElem`).
    Face {
        index: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data: Option<String>,
    },
    /// An application-defined type with a JSON body.
    Custom {
        #[serde(rename = "type")]
        custom_type: String,
        data: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    /// A transparent command: delivered to clients, not shown or counted as unread.
    Command {
        name: String,
        #[serde(default)]
        data: Value,
    },
    /// An image-and-text card (RongCloud `RC:ImgTextMsg`).
    Card(Card),
    /// A forwarded bundle of earlier messages (Tencent merger, RongCloud combine).
    Forward(Forward),
    /// Several segments in order (Tencent's element chain, OneBot segments).
    Mixed {
        segments: Vec<Content>,
    },
}

impl Content {
    pub fn text(text: impl Into<String>) -> Self {
        Content::Text(Text {
            text: text.into(),
            mentions: Vec::new(),
            mention_all: false,
        })
    }

    /// The kind name used in scripts and in the hub protocol (`text`, `image`, ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Content::Text(_) => "text",
            Content::Image(_) => "image",
            Content::Audio(_) => "audio",
            Content::Video(_) => "video",
            Content::File(_) => "file",
            Content::Location(_) => "location",
            Content::Face { .. } => "face",
            Content::Custom { .. } => "custom",
            Content::Command { .. } => "command",
            Content::Card(_) => "card",
            Content::Forward(_) => "forward",
            Content::Mixed { .. } => "mixed",
        }
    }

    /// The readable text of the message: the text itself, or the text segments of a mixed
    /// message joined; empty for media.
    pub fn plain_text(&self) -> String {
        match self {
            Content::Text(t) => t.text.clone(),
            Content::Mixed { segments } => segments.iter().map(Content::plain_text).collect(),
            _ => String::new(),
        }
    }

    /// Users mentioned anywhere in the content.
    pub fn mentions(&self) -> Vec<UserId> {
        match self {
            Content::Text(t) => t.mentions.clone(),
            Content::Mixed { segments } => segments.iter().flat_map(Content::mentions).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether the content mentions everyone (@all).
    pub fn mentions_all(&self) -> bool {
        match self {
            Content::Text(t) => t.mention_all,
            Content::Mixed { segments } => segments.iter().any(Content::mentions_all),
            _ => false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<UserId>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mention_all: bool,
}

/// Image, audio, video or file. Durations are in milliseconds whatever the vendor uses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forward {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub messages: Vec<ForwardedMessage>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForwardedMessage {
    pub sender: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<MessageRef>,
    pub time_ms: i64,
    pub content: Content,
}
