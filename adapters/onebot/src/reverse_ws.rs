//! Reverse WebSocket: the implementation connects to Parley's `path` as a Universal client,
//! or as separate API and Event clients (`X-Client-Role`), with `X-Self-ID` naming its account.

use crate::auth;
use crate::session::{self, Session, Shared};
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::AggregatedMessage;
use parley_engine::adapter::Intake;
use parley_vendor::webhook::WebhookError;
use std::sync::Arc;
use tokio::sync::mpsc;

pub async fn handler(
    req: HttpRequest,
    body: web::Payload,
    shared: web::Data<Shared>,
) -> Result<HttpResponse, WebhookError> {
    let s = shared.get_ref();
    let refused = |why: String| {
        format!(
            "connection {}: OneBot connection refused: {why}",
            s.connection
        )
    };
    auth::check_token(&req, s.settings.access_token.as_deref())
        .map_err(|why| WebhookError::unauthorized(refused(why)))?;
    auth::check_self_id(&req, s.self_id())
        .map_err(|why| WebhookError::new(actix_web::http::StatusCode::FORBIDDEN, refused(why)))?;
    let role = match req
        .headers()
        .get("x-client-role")
        .map(|v| v.to_str().unwrap_or_default())
    {
        None => "Universal",
        Some(r) if r.eq_ignore_ascii_case("universal") => "Universal",
        Some(r) if r.eq_ignore_ascii_case("api") => "API",
        Some(r) if r.eq_ignore_ascii_case("event") => "Event",
        Some(r) => {
            return Err(WebhookError::bad_request(refused(format!(
                "unknown X-Client-Role {r:?} (Universal, API or Event)"
            ))))
        }
    };
    let intake = s.intake.get()?;
    let (response, ws, stream) = actix_ws::handle(&req, body)
        .map_err(|e| WebhookError::bad_request(refused(format!("not a WebSocket upgrade: {e}"))))?;
    let max = s.settings.config.max_frame_bytes;
    let stream = stream
        .max_frame_size(max)
        .aggregate_continuations()
        .max_continuation_size(max);
    // Attached before the answer, so actions go through as soon as the client is connected.
    let (out, outgoing) = mpsc::channel::<String>(256);
    let link = (role != "Event").then(|| s.rpc.attach(out));
    actix_web::rt::spawn(run(
        shared.into_inner(),
        intake,
        role,
        link,
        outgoing,
        ws,
        stream,
    ));
    Ok(response)
}

async fn run(
    shared: Arc<Shared>,
    intake: Intake,
    role: &'static str,
    link: Option<u64>,
    mut outgoing: mpsc::Receiver<String>,
    mut ws: actix_ws::Session,
    mut stream: actix_ws::AggregatedMessageStream,
) {
    let mut session = Session::open(shared.clone(), intake, role);
    let mut stopped = shared.stopped.subscribe();
    let mut writable = link.is_some();
    let reason = loop {
        tokio::select! {
            frame = stream.recv() => match frame {
                Some(Ok(AggregatedMessage::Text(text))) => session.on_text(&text).await,
                Some(Ok(AggregatedMessage::Binary(bytes))) => match std::str::from_utf8(&bytes) {
                    Ok(text) => session.on_text(text).await,
                    Err(_) => session.malformed("a binary frame that is not UTF-8".into()),
                },
                Some(Ok(AggregatedMessage::Ping(p))) => {
                    session.heard();
                    if ws.pong(&p).await.is_err() {
                        break "the connection closed".to_string();
                    }
                }
                Some(Ok(AggregatedMessage::Pong(_))) => session.heard(),
                Some(Ok(AggregatedMessage::Close(r))) => break format!("closed by the implementation ({r:?})"),
                Some(Err(e)) => break format!("protocol error: {e}"),
                None => break "the connection closed".to_string(),
            },
            frame = outgoing.recv(), if writable => match frame {
                Some(frame) => if ws.text(frame).await.is_err() {
                    break "the connection closed while writing".to_string();
                },
                // Another connection of this account took over the API.
                None => writable = false,
            },
            _ = session::until(session.dead_at()) => break "no heartbeat for two intervals".to_string(),
            _ = session::stopping(&mut stopped) => break "Parley is stopping".to_string(),
        }
    };
    if let Some(link) = link {
        shared.rpc.detach(link, &reason);
    }
    let _ = ws.close(None).await;
    session.close(&reason).await;
}
