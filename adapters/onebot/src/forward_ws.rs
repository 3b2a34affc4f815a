//! Forward WebSocket: Parley connects to the implementation's server (its `/` endpoint
//! serves both API and events) and reconnects with exponential backoff when it drops.

use crate::session::{self, Session, Shared};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

pub async fn run(shared: Arc<Shared>) {
    let c = &shared.settings.config;
    let (min, max) = (
        Duration::from_millis(c.reconnect_min_ms),
        Duration::from_millis(c.reconnect_max_ms),
    );
    let mut backoff = min;
    let mut stopped = shared.stopped.subscribe();
    loop {
        let Ok(intake) = shared.intake.get() else {
            return;
        };
        match connect(&shared).await {
            Ok(ws) => {
                backoff = min;
                serve(
                    &shared,
                    Session::open(shared.clone(), intake, "Universal"),
                    ws,
                )
                .await;
            }
            Err(e) => {
                tracing::warn!(connection = %shared.connection, url = shared.settings.url(), error = %e,
                retry_in_ms = backoff.as_millis() as u64, "cannot connect to the OneBot implementation")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = session::stopping(&mut stopped) => return,
        }
        backoff = (backoff * 2).min(max);
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(shared: &Shared) -> Result<Ws, String> {
    let mut request = shared
        .settings
        .url()
        .into_client_request()
        .map_err(|e| e.to_string())?;
    if let Some(token) = &shared.settings.access_token {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| "the access token is not a valid header value")?;
        request.headers_mut().insert("authorization", value);
    }
    let max = shared.settings.config.max_frame_bytes;
    let config = WebSocketConfig {
        max_message_size: Some(max),
        max_frame_size: Some(max),
        ..Default::default()
    };
    // Without Nagle's algorithm: an action must not wait for the previous one's ACK.
    let no_delay = true;
    match tokio_tungstenite::connect_async_with_config(request, Some(config), no_delay).await {
        Ok((ws, _)) => Ok(ws),
        Err(WsError::Http(r)) if r.status() == 401 || r.status() == 403 => Err(format!(
            "the implementation refused the access token (HTTP {})",
            r.status().as_u16()
        )),
        Err(e) => Err(e.to_string()),
    }
}

async fn serve(shared: &Arc<Shared>, mut session: Session, ws: Ws) {
    let (mut sink, mut stream) = ws.split();
    let (out, mut outgoing) = mpsc::channel::<String>(256);
    let link = shared.rpc.attach(out);
    let mut stopped = shared.stopped.subscribe();
    let reason = loop {
        tokio::select! {
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => session.on_text(&text).await,
                Some(Ok(Message::Binary(bytes))) => match String::from_utf8(bytes) {
                    Ok(text) => session.on_text(&text).await,
                    Err(_) => session.malformed("a binary frame that is not UTF-8".into()),
                },
                Some(Ok(Message::Close(r))) => break format!("closed by the implementation ({r:?})"),
                Some(Ok(_)) => session.heard(),
                Some(Err(e)) => break format!("connection error: {e}"),
                None => break "the connection closed".to_string(),
            },
            Some(frame) = outgoing.recv() => if let Err(e) = sink.send(Message::Text(frame)).await {
                break format!("write failed: {e}");
            },
            _ = session::until(session.dead_at()) => break "no heartbeat for two intervals".to_string(),
            _ = session::stopping(&mut stopped) => break "Parley is stopping".to_string(),
        }
    };
    shared.rpc.detach(link, &reason);
    let _ = sink.close().await;
    session.close(&reason).await;
}
