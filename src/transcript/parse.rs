//! Reading transcript files (the format is described in `docs/bots.md`, "Transcripts").
//!
//! A transcript is a header (which bots, users and groups) followed by steps: one action
//! by a hub user (a message, a friend request, any hub request, or moving the hub's clock)
//! and the lines that say what must follow from it: the bot's messages and other commands,
//! in order, and the bots' state afterwards.

use serde_json::Value;
use std::fmt;

/// The bot's hub user; every transcript has it.
pub const BOT: &str = "bot";

#[derive(Clone, Debug, PartialEq)]
pub struct Transcript {
    /// The bots to load (file stems); `None` = every bot in the scripts folder.
    pub bots: Option<Vec<String>>,
    /// Hub users besides the bot.
    pub users: Vec<String>,
    pub groups: Vec<Group>,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub id: String,
    /// The first member is the owner.
    pub members: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// 1-based line of the action in the file.
    pub line: usize,
    pub action: Action,
    /// What the bots must have done because of the action, in order.
    pub outputs: Vec<Expected>,
    pub states: Vec<StateCheck>,
    /// The hub refused the action with this error code.
    pub refused: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// `alice -> bot: hello`, `alice -> group:lobby: hi`.
    Say {
        user: String,
        to: String,
        text: String,
    },
    /// `alice adds bot: greeting` (a friend request).
    AddFriend {
        user: String,
        friend: String,
        greeting: Option<String>,
    },
    /// `alice removes bot` (ends a friendship).
    RemoveFriend { user: String, friend: String },
    /// `alice: {"type": "block", "user": "bot"}`: any hub request as that user.
    Request { user: String, request: Value },
    /// `clock: mon 10:00`: the hub's clock moves forward to the next such time (UTC).
    Clock {
        /// 0 = Monday; `None` = any day.
        weekday: Option<u32>,
        minute_of_day: u32,
    },
    /// `wait 11s`: the hub's clock moves forward (nobody actually waits).
    Wait { ms: u64 },
    /// `tick: daily_digest {"n": 1}`: the schedule of that name fires (`on_tick`), with
    /// an optional JSON payload.
    Tick { schedule: String, payload: Value },
}

/// One line of expected output.
#[derive(Clone, Debug, PartialEq)]
pub enum Expected {
    /// `bot -> alice: text`: a message to a user or (`group:lobby`) a group; `\n` is a
    /// line break.
    Message { to: String, text: String },
    /// `bot does mute {"user": "bob"}`: any other command; the JSON names some of its
    /// fields (all must match), and may be left out.
    Command { name: String, fields: Value },
}

/// `state moderation group:lobby: {"strikes": {"bob": 1}}`.
#[derive(Clone, Debug, PartialEq)]
pub struct StateCheck {
    pub line: usize,
    pub bot: String,
    pub conversation: String,
    pub expected: Value,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Message { to, text } => write!(f, "{BOT} -> {to}: {}", escape(text)),
            Expected::Command { name, fields } if fields.is_null() => {
                write!(f, "{BOT} does {name}")
            }
            Expected::Command { name, fields } => write!(f, "{BOT} does {name} {fields}"),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Say { user, to, text } => write!(f, "{user} -> {to}: {}", escape(text)),
            Action::AddFriend {
                user,
                friend,
                greeting,
            } => match greeting {
                Some(g) => write!(f, "{user} adds {friend}: {g}"),
                None => write!(f, "{user} adds {friend}"),
            },
            Action::RemoveFriend { user, friend } => write!(f, "{user} removes {friend}"),
            Action::Request { user, request } => write!(f, "{user}: {request}"),
            Action::Clock {
                weekday,
                minute_of_day,
            } => {
                write!(f, "clock: ")?;
                if let Some(d) = weekday {
                    write!(f, "{} ", WEEKDAYS[*d as usize])?;
                }
                write!(f, "{:02}:{:02}", minute_of_day / 60, minute_of_day % 60)
            }
            Action::Wait { ms } => write!(f, "wait {ms}ms"),
            Action::Tick { schedule, payload } if payload.is_null() => {
                write!(f, "tick: {schedule}")
            }
            Action::Tick { schedule, payload } => write!(f, "tick: {schedule} {payload}"),
        }
    }
}

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Line breaks and backslashes as written in transcripts.
pub fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A parse error: the 1-based line and what is wrong.
#[derive(Debug, PartialEq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

const DEFAULT_USERS: [&str; 3] = ["alice", "bob", "carol"];

pub fn parse(text: &str) -> Result<Transcript, ParseError> {
    let mut t = Transcript {
        bots: None,
        users: Vec::new(),
        groups: Vec::new(),
        steps: Vec::new(),
    };
    let mut users_given = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |message: String| ParseError { line, message };
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        // Header lines are only allowed before the first step.
        let header = t.steps.is_empty();
        if let Some(rest) = l.strip_prefix("bots:") {
            if !header {
                return Err(err("`bots:` belongs before the first step".into()));
            }
            t.bots = Some(list(rest));
            continue;
        }
        if let Some(rest) = l.strip_prefix("users:") {
            if !header {
                return Err(err("`users:` belongs before the first step".into()));
            }
            users_given = true;
            t.users.extend(list(rest).into_iter().filter(|u| u != BOT));
            continue;
        }
        if let Some(rest) = l.strip_prefix("group ") {
            if !header {
                return Err(err("`group` belongs before the first step".into()));
            }
            let (id, members) = rest
                .split_once(':')
                .ok_or_else(|| err("expected `group ID: owner, member, ...`".into()))?;
            let members = list(members);
            if members.is_empty() {
                return Err(err(format!("group {} has no members", id.trim())));
            }
            t.groups.push(Group {
                id: id.trim().to_string(),
                members,
            });
            continue;
        }
        if let Some(rest) = l.strip_prefix("state ") {
            let step = t
                .steps
                .last_mut()
                .ok_or_else(|| err("`state` must follow a step".into()))?;
            let mut check = parse_state(rest).map_err(err)?;
            check.line = line;
            step.states.push(check);
            continue;
        }
        if let Some(rest) = l.strip_prefix("refused:") {
            let step = t
                .steps
                .last_mut()
                .ok_or_else(|| err("`refused:` must follow a step".into()))?;
            step.refused = Some(rest.trim().to_string());
            continue;
        }
        if let Some(rest) = l.strip_prefix(&format!("{BOT} -> ")) {
            let step = t
                .steps
                .last_mut()
                .ok_or_else(|| err("the bot's replies must follow a step".into()))?;
            let (to, text) = rest
                .split_once(':')
                .and_then(|(to, text)| {
                    // `group:lobby: text`: the target may contain one colon.
                    if to == "group" || to == "direct" {
                        let (id, text) = text.split_once(':')?;
                        Some((format!("{to}:{id}"), text))
                    } else {
                        Some((to.to_string(), text))
                    }
                })
                .ok_or_else(|| {
                    err("expected `bot -> USER: text` or `bot -> group:ID: text`".into())
                })?;
            step.outputs.push(Expected::Message {
                to: normalize_target(to.trim()),
                text: unescape(text.strip_prefix(' ').unwrap_or(text)),
            });
            continue;
        }
        if let Some(rest) = l.strip_prefix(&format!("{BOT} does ")) {
            let step = t
                .steps
                .last_mut()
                .ok_or_else(|| err("the bot's commands must follow a step".into()))?;
            let rest = rest.trim();
            let (name, fields) = match rest.split_once(char::is_whitespace) {
                Some((name, json)) => (
                    name,
                    serde_json::from_str(json.trim())
                        .map_err(|e| err(format!("the command's fields are not JSON: {e}")))?,
                ),
                None => (rest, Value::Null),
            };
            if !(fields.is_null() || fields.is_object()) {
                return Err(err("the command's fields must be a JSON object".into()));
            }
            step.outputs.push(Expected::Command {
                name: name.to_string(),
                fields,
            });
            continue;
        }
        let action = parse_action(l).map_err(err)?;
        t.steps.push(Step {
            line,
            action,
            outputs: Vec::new(),
            states: Vec::new(),
            refused: None,
        });
    }
    if !users_given {
        t.users = DEFAULT_USERS.iter().map(|u| u.to_string()).collect();
        if t.groups.is_empty() {
            let mut members = t.users.clone();
            members.push(BOT.into());
            t.groups.push(Group {
                id: "lobby".into(),
                members,
            });
        }
    }
    check_cast(&t)?;
    Ok(t)
}

/// Every user who acts or is named in a group must be in the cast.
fn check_cast(t: &Transcript) -> Result<(), ParseError> {
    let known = |u: &str| u == BOT || t.users.iter().any(|x| x == u);
    for g in &t.groups {
        if let Some(u) = g.members.iter().find(|u| !known(u)) {
            return Err(ParseError {
                line: 0,
                message: format!("group {}: `{u}` is not in `users:`", g.id),
            });
        }
    }
    for s in &t.steps {
        let user = match &s.action {
            Action::Say { user, .. }
            | Action::AddFriend { user, .. }
            | Action::RemoveFriend { user, .. }
            | Action::Request { user, .. } => user,
            _ => continue,
        };
        if !known(user) {
            return Err(ParseError {
                line: s.line,
                message: format!("`{user}` is not in `users:` ({})", t.users.join(", ")),
            });
        }
    }
    Ok(())
}

fn list(s: &str) -> Vec<String> {
    s.split([',', ' '])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// `direct:alice` and `alice` are the same target; written as `alice`.
fn normalize_target(to: &str) -> String {
    to.strip_prefix("direct:").unwrap_or(to).to_string()
}

fn parse_state(rest: &str) -> Result<StateCheck, String> {
    let usage =
        "expected `state BOT CONVERSATION: JSON`, e.g. `state echo direct:alice: {\"count\": 1}`";
    let (bot, rest) = rest.trim().split_once(' ').ok_or(usage)?;
    let rest = rest.trim();
    // The conversation is `kind:id` or a user id, followed by `: JSON`.
    let (conversation, json) = rest.split_once(": ").ok_or(usage)?;
    let expected = serde_json::from_str(json.trim())
        .map_err(|e| format!("the expected state is not JSON: {e}"))?;
    let conversation = if conversation.contains(':') {
        conversation.to_string()
    } else {
        format!("direct:{conversation}")
    };
    Ok(StateCheck {
        line: 0,
        bot: bot.to_string(),
        conversation,
        expected,
    })
}

fn parse_action(l: &str) -> Result<Action, String> {
    if let Some(rest) = l.strip_prefix("clock:") {
        return parse_clock(rest.trim());
    }
    if let Some(rest) = l.strip_prefix("wait ") {
        return parse_duration(rest.trim()).map(|ms| Action::Wait { ms });
    }
    if let Some(rest) = l.strip_prefix("tick:") {
        let rest = rest.trim();
        let (schedule, payload) = rest.split_once(' ').unwrap_or((rest, ""));
        if schedule.is_empty() {
            return Err("`tick:` names the schedule: `tick: daily_digest`".into());
        }
        let payload = match payload.trim() {
            "" => Value::Null,
            json => serde_json::from_str(json)
                .map_err(|e| format!("the payload of `tick: {schedule}` is not JSON: {e}"))?,
        };
        return Ok(Action::Tick {
            schedule: schedule.to_string(),
            payload,
        });
    }
    let Some((user, rest)) = l
        .split_once(' ')
        .or_else(|| l.split_once(':').map(|(u, _)| (u, "")))
    else {
        return Err(format!("cannot read `{l}`: {USAGE}"));
    };
    if let Some(user) = user.strip_suffix(':') {
        let request: Value = serde_json::from_str(rest.trim())
            .map_err(|e| format!("`{user}:` must be followed by a hub request in JSON: {e}"))?;
        if !request.is_object() || !request["type"].is_string() {
            return Err("a hub request is a JSON object with a \"type\"".into());
        }
        return Ok(Action::Request {
            user: user.to_string(),
            request,
        });
    }
    let user = user.to_string();
    if let Some(rest) = rest.strip_prefix("-> ") {
        let (to, text) = split_target(rest).ok_or_else(|| format!("cannot read `{l}`: {USAGE}"))?;
        return Ok(Action::Say {
            user,
            to: normalize_target(&to),
            text: unescape(text),
        });
    }
    if let Some(rest) = rest.strip_prefix("adds ") {
        let (friend, greeting) = match rest.split_once(':') {
            Some((f, g)) => (f.trim(), Some(unescape(g.trim()))),
            None => (rest.trim(), None),
        };
        return Ok(Action::AddFriend {
            user,
            friend: friend.to_string(),
            greeting,
        });
    }
    if let Some(rest) = rest.strip_prefix("removes ") {
        return Ok(Action::RemoveFriend {
            user,
            friend: rest.trim().to_string(),
        });
    }
    Err(format!("cannot read `{l}`: {USAGE}"))
}

const USAGE: &str = "a step is `USER -> USER: text`, `USER -> group:ID: text`, `USER adds USER[: greeting]`, `USER removes USER`, `USER: {hub request}`, `clock: [mon] HH:MM`, `wait 10s` or `tick: SCHEDULE [payload]`; expectations are `bot -> ...`, `bot does ...`, `state ...` and `refused: CODE`";

/// `bob: text` or `group:lobby: text` -> (target, text).
fn split_target(rest: &str) -> Option<(String, &str)> {
    let (to, text) = rest.split_once(':')?;
    let (to, text) = if to == "group" || to == "direct" {
        let (id, text) = text.split_once(':')?;
        (format!("{to}:{id}"), text)
    } else {
        (to.to_string(), text)
    };
    Some((
        to.trim().to_string(),
        text.strip_prefix(' ').unwrap_or(text),
    ))
}

fn parse_clock(s: &str) -> Result<Action, String> {
    let usage = || format!("`clock: {s}`: expected `clock: HH:MM` or `clock: mon HH:MM` (UTC)");
    let (weekday, time) = match s.split_once(' ') {
        Some((day, time)) => {
            let day = day.to_ascii_lowercase();
            let d = WEEKDAYS
                .iter()
                .position(|w| day.starts_with(w))
                .ok_or_else(usage)?;
            (Some(d as u32), time.trim())
        }
        None => (None, s),
    };
    let (h, m) = time.split_once(':').ok_or_else(usage)?;
    let (h, m): (u32, u32) = (
        h.parse().map_err(|_| usage())?,
        m.parse().map_err(|_| usage())?,
    );
    if h > 23 || m > 59 {
        return Err(usage());
    }
    Ok(Action::Clock {
        weekday,
        minute_of_day: h * 60 + m,
    })
}

fn parse_duration(s: &str) -> Result<u64, String> {
    let usage = || format!("`wait {s}`: expected a duration like 500ms, 11s, 5m, 2h or 1d");
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(usage)?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| usage())?;
    let unit_ms = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(usage()),
    };
    Ok(n * unit_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_transcript_reads_into_steps() {
        let t = parse(
            r#"
# The echo bot counts per conversation.
bots: echo
alice -> bot: hello
bot -> alice: echo #1: hello
state echo direct:alice: {"count": 1}

bob -> group:lobby: hi: there
bot -> group:lobby: echo #1: hi: there
"#,
        )
        .unwrap();
        assert_eq!(t.bots, Some(vec!["echo".to_string()]));
        assert_eq!(t.users, vec!["alice", "bob", "carol"]);
        assert_eq!(t.groups[0].id, "lobby");
        assert_eq!(t.groups[0].members, vec!["alice", "bob", "carol", "bot"]);
        assert_eq!(t.steps.len(), 2);
        assert_eq!(t.steps[0].line, 4);
        assert_eq!(
            t.steps[0].action,
            Action::Say {
                user: "alice".into(),
                to: "bot".into(),
                text: "hello".into()
            }
        );
        assert_eq!(
            t.steps[0].outputs,
            vec![Expected::Message {
                to: "alice".into(),
                text: "echo #1: hello".into()
            }]
        );
        assert_eq!(t.steps[0].states[0].conversation, "direct:alice");
        assert_eq!(t.steps[0].states[0].expected, json!({"count": 1}));
        assert_eq!(
            t.steps[1].action,
            Action::Say {
                user: "bob".into(),
                to: "group:lobby".into(),
                text: "hi: there".into()
            }
        );
        assert_eq!(
            t.steps[1].outputs[0].to_string(),
            "bot -> group:lobby: echo #1: hi: there"
        );
    }

    #[test]
    fn casts_friends_requests_commands_and_clock() {
        let t = parse(
            r#"
users: alice, agent
group staff: agent, alice, bot
clock: Mon 10:30
alice adds bot: hi there
bot does answer_friend_request {"accept": true}
bot does recall
bot -> alice: line one\nline two
bot: {"type": "settings", "friend_auth": "approval"}
alice removes bot
wait 11s
alice -> group:staff: x
refused: not_permitted
"#,
        )
        .unwrap();
        assert_eq!(t.users, vec!["alice", "agent"]);
        assert_eq!(t.groups[0].members, vec!["agent", "alice", "bot"]);
        let actions: Vec<String> = t.steps.iter().map(|s| s.action.to_string()).collect();
        assert_eq!(
            actions,
            vec![
                "clock: mon 10:30",
                "alice adds bot: hi there",
                r#"bot: {"friend_auth":"approval","type":"settings"}"#,
                "alice removes bot",
                "wait 11000ms",
                "alice -> group:staff: x",
            ]
        );
        assert_eq!(
            t.steps[1].outputs,
            vec![
                Expected::Command {
                    name: "answer_friend_request".into(),
                    fields: json!({"accept": true})
                },
                Expected::Command {
                    name: "recall".into(),
                    fields: Value::Null
                },
                Expected::Message {
                    to: "alice".into(),
                    text: "line one\nline two".into()
                },
            ]
        );
        assert_eq!(
            t.steps[1].outputs[2].to_string(),
            r"bot -> alice: line one\nline two"
        );
        assert_eq!(t.steps[5].refused.as_deref(), Some("not_permitted"));
    }

    #[test]
    fn mistakes_are_reported_with_their_line() {
        let e = parse("alice -> bot: hi\nalice shouts bot\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("cannot read `alice shouts bot`"), "{e}");

        let e = parse("bot -> alice: too early\n").unwrap_err();
        assert_eq!(e.line, 1);

        let e = parse("alice -> bot: hi\nstate echo direct:alice: {count: 1}\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("not JSON"), "{e}");

        let e = parse("alice -> bot: hi\nbots: echo\n").unwrap_err();
        assert!(e.message.contains("before the first step"), "{e}");

        let e = parse("users: alice\nmallory -> bot: hi\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("`mallory` is not in `users:`"), "{e}");

        let e = parse("clock: 25:00\n").unwrap_err();
        assert!(e.message.contains("HH:MM"), "{e}");
        let e = parse("wait soon\n").unwrap_err();
        assert!(e.message.contains("duration"), "{e}");
    }
}
