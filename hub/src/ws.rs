//! One WebSocket session (`GET /hub/ws`): a local task that logs the client in, answers
//! its requests in order, pushes its user's messages and keeps the connection alive.

use crate::hub::Hub;
use crate::protocol::{self, PublicUser, Request, ServerFrame};
use crate::registry::{EndReason, Ending, SocketFeed};
use crate::store::UserInfo;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError, Session};
use std::future::pending;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{interval_at, timeout, Instant};

/// The largest request accepted, continuation frames included.
const MAX_FRAME: usize = 1 << 20;
/// How often the server pings.
const HEARTBEAT: Duration = Duration::from_secs(20);
/// A client silent (no frame, not even a pong) this long is gone.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// A client must log in within this long of connecting.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(30);
/// A client that does not take a frame within this long is not reading; the session ends.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Close code after a refused login.
pub(crate) const CLOSE_UNAUTHORIZED: u16 = 4001;
/// Close code when the client is too slow to read what it is sent.
pub(crate) const CLOSE_TOO_SLOW: u16 = 4008;
/// Close code when another login replaced the session (after a `kicked` frame).
pub(crate) const CLOSE_KICKED: u16 = 4009;

pub(crate) async fn handler(
    req: HttpRequest,
    body: web::Payload,
    hub: web::Data<Hub>,
) -> actix_web::Result<HttpResponse> {
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    let stream = stream
        .max_frame_size(MAX_FRAME)
        .aggregate_continuations()
        .max_continuation_size(MAX_FRAME);
    actix_web::rt::spawn(run(hub.get_ref().clone(), session, stream));
    Ok(response)
}

/// What the session loop does next.
enum Flow {
    Continue,
    /// Send a close frame and end.
    Close(CloseReason),
    /// The client is gone; just end.
    Gone,
}

fn close(code: u16, description: impl Into<String>) -> Flow {
    Flow::Close(CloseReason {
        code: CloseCode::Other(code),
        description: Some(description.into()),
    })
}

struct Connection {
    hub: Hub,
    session: Session,
    user: Option<UserInfo>,
    feed: Option<SocketFeed>,
}

async fn run(hub: Hub, session: Session, mut stream: actix_ws::AggregatedMessageStream) {
    let mut conn = Connection {
        hub,
        session,
        user: None,
        feed: None,
    };
    let started = Instant::now();
    let mut last_heard = Instant::now();
    let mut heartbeat = interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
    let closing = conn.hub.closing();
    tokio::pin!(closing);
    let flow = loop {
        let ending = conn.feed.as_ref().map(|f| f.ending.clone());
        let flow = tokio::select! {
            incoming = stream.recv() => {
                last_heard = Instant::now();
                conn.incoming(incoming).await
            }
            pushed = next_frame(&mut conn.feed) => match pushed {
                Some(frame) => conn.write(&frame).await,
                // A replaced session's feed ends with its sink: say why it ended.
                None => match conn.feed.as_ref().and_then(|f| f.ending.reason()) {
                    Some(reason) => conn.ended(reason).await,
                    None => Flow::Close(CloseReason { code: CloseCode::Away, description: Some("the hub is shutting down".into()) }),
                },
            },
            _ = &mut closing => Flow::Close(CloseReason { code: CloseCode::Away, description: Some("the hub is shutting down".into()) }),
            reason = ended(ending) => conn.ended(reason).await,
            _ = heartbeat.tick() => {
                if conn.user.is_none() && started.elapsed() > LOGIN_TIMEOUT {
                    close(CLOSE_UNAUTHORIZED, "no login within 30 seconds")
                } else if last_heard.elapsed() > CLIENT_TIMEOUT {
                    let description = "no frame from the client for 60 seconds".to_string();
                    Flow::Close(CloseReason { code: CloseCode::Away, description: Some(description) })
                } else if conn.session.ping(b"").await.is_err() {
                    Flow::Gone
                } else {
                    Flow::Continue
                }
            }
        };
        if !matches!(flow, Flow::Continue) {
            break flow;
        }
    };
    if let (Some(user), Some(feed)) = (&conn.user, &conn.feed) {
        conn.hub.disconnect(&user.id, feed.id).await;
        tracing::debug!(user = %user.id, device = feed.device, "hub session ended");
    }
    if let Flow::Close(reason) = flow {
        let _ = timeout(WRITE_TIMEOUT, conn.session.close(Some(reason))).await;
    }
}

async fn next_frame(feed: &mut Option<SocketFeed>) -> Option<Arc<str>> {
    match feed {
        Some(feed) => feed.frames.recv().await,
        None => pending().await,
    }
}

async fn ended(ending: Option<Arc<Ending>>) -> EndReason {
    match ending {
        Some(ending) => ending.wait().await,
        None => pending().await,
    }
}

impl Connection {
    async fn write(&mut self, text: &str) -> Flow {
        match timeout(WRITE_TIMEOUT, self.session.text(text)).await {
            Ok(Ok(())) => Flow::Continue,
            _ => Flow::Gone,
        }
    }

    /// The hub ended the session: too slow, or replaced by another login.
    async fn ended(&mut self, reason: EndReason) -> Flow {
        match reason {
            EndReason::TooSlow => close(
                CLOSE_TOO_SLOW,
                "too slow: the client did not read its messages fast enough",
            ),
            EndReason::Replaced { by, same_device } => {
                let reason = if same_device {
                    "kicked: this device logged in again"
                } else {
                    "kicked by another device"
                };
                let frame = ServerFrame::Kicked {
                    reason: reason.into(),
                    by,
                };
                match self.reply(frame).await {
                    Flow::Continue => close(CLOSE_KICKED, reason),
                    other => other,
                }
            }
        }
    }

    async fn reply(&mut self, frame: ServerFrame) -> Flow {
        self.write(&frame.to_text()).await
    }

    async fn incoming(
        &mut self,
        incoming: Option<Result<AggregatedMessage, ProtocolError>>,
    ) -> Flow {
        match incoming {
            None => Flow::Gone,
            Some(Err(e)) => {
                let code = if matches!(e, ProtocolError::Overflow) {
                    CloseCode::Size
                } else {
                    CloseCode::Protocol
                };
                Flow::Close(CloseReason {
                    code,
                    description: Some(e.to_string()),
                })
            }
            Some(Ok(AggregatedMessage::Text(text))) => self.request(&text).await,
            Some(Ok(AggregatedMessage::Binary(_))) => {
                let message = "binary frames are not supported; send JSON text frames";
                self.reply(ServerFrame::error(None, "binary_not_supported", message))
                    .await
            }
            Some(Ok(AggregatedMessage::Ping(bytes))) => match self.session.pong(&bytes).await {
                Ok(()) => Flow::Continue,
                Err(_) => Flow::Gone,
            },
            Some(Ok(AggregatedMessage::Pong(_))) => Flow::Continue,
            Some(Ok(AggregatedMessage::Close(_))) => Flow::Close(CloseCode::Normal.into()),
        }
    }

    async fn request(&mut self, text: &str) -> Flow {
        let (req, parsed) = protocol::parse(text);
        let request = match parsed {
            Ok(request) => request,
            Err(e) => return self.reply(ServerFrame::error(req, e.code, e.message)).await,
        };
        let Some(user) = self.user.clone() else {
            return match request {
                Request::Login { token, device } => self.login(req, &token, device).await,
                _ => {
                    let message = r#"log in first: {"type":"login","token":"..."}"#;
                    self.reply(ServerFrame::error(req, "not_logged_in", message))
                        .await
                }
            };
        };
        let origin = self.feed.as_ref().map(|f| f.id);
        let frame = crate::dispatch::answer(&self.hub, &user, req, request, origin).await;
        self.reply(frame).await
    }

    async fn login(&mut self, req: Option<String>, token: &str, device: Option<String>) -> Flow {
        match self.hub.authenticate(token).await {
            Ok(Some(user)) => {
                let feed = match self.hub.connect_socket(&user.id, device.as_deref()).await {
                    Ok(feed) => feed,
                    Err(e) => return self.reply(ServerFrame::hub_error(req, &e)).await,
                };
                tracing::debug!(user = %user.id, device = feed.device, "hub session logged in");
                let frame = ServerFrame::LoginOk {
                    req,
                    user: PublicUser::from(&user),
                    device: feed.device.clone(),
                };
                self.feed = Some(feed);
                self.user = Some(user);
                self.reply(frame).await
            }
            Ok(None) => {
                let frame = ServerFrame::error(req, "unauthorized", "unknown or invalid token");
                match self.reply(frame).await {
                    Flow::Continue => close(CLOSE_UNAUTHORIZED, "unauthorized"),
                    other => other,
                }
            }
            Err(e) => self.reply(ServerFrame::hub_error(req, &e)).await,
        }
    }
}
