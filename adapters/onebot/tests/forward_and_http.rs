//! Forward WebSocket (Parley dials, and redials after a drop) and HTTP mode (events posted
//! to Parley, actions to the implementation's HTTP API).

mod support;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use futures_util::{SinkExt, StreamExt};
use parley_engine::adapter::{Adapter, Intake};
use parley_engine::model::*;
use serde_json::{json, Value};
use support::*;

type ServerWs = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Accepts Parley's connection, checking it carries the access token.
#[allow(clippy::result_large_err)] // the callback's type is tungstenite's
async fn accept(listener: &tokio::net::TcpListener) -> ServerWs {
    let (tcp, _) = listener.accept().await.unwrap();
    let check = |req: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
        assert_eq!(req.headers()["authorization"], format!("Bearer {TOKEN}"));
        Ok(resp)
    };
    tokio_tungstenite::accept_hdr_async(tcp, check)
        .await
        .unwrap()
}

#[actix_rt::test]
async fn forward_ws_reconnects_after_a_drop() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let adapter = adapter(
        json!({"mode": "forward_ws", "url": format!("ws://{addr}"), "reconnect_min_ms": 10}),
    );
    let (intake, mut rx) = Intake::collecting("qq".into(), 16);
    adapter.start(intake, None).await.unwrap();
    let mut ws = accept(&listener).await;
    ws.send(lifecycle_connect().to_string().into())
        .await
        .unwrap();
    ws.send(group_message(1, 500, 42, json!("one")).to_string().into())
        .await
        .unwrap();
    assert!(matches!(
        rx.recv().await.unwrap().0.event,
        Event::Connection(ConnectionState::Connected)
    ));
    assert_eq!(rx.recv().await.unwrap().0.id.as_str(), "msg:1:1700000000");
    drop(ws);
    assert!(matches!(
        rx.recv().await.unwrap().0.event,
        Event::Connection(ConnectionState::Lost { .. })
    ));
    let mut ws = accept(&listener).await;
    // Parley serves actions on a connection once it reads from it.
    ws.send(lifecycle_connect().to_string().into())
        .await
        .unwrap();
    assert!(matches!(
        rx.recv().await.unwrap().0.event,
        Event::Connection(ConnectionState::Connected)
    ));
    let call = tokio::spawn(adapter.execute(OutboundCommand {
        connection: "qq".into(),
        idempotency_key: "k".into(),
        command: Command::MuteAll {
            group: "500".into(),
        },
    }));
    let action: Value = loop {
        match ws.next().await.unwrap().unwrap() {
            tokio_tungstenite::tungstenite::Message::Text(t) => {
                break serde_json::from_str(&t).unwrap()
            }
            _ => continue,
        }
    };
    assert_eq!(action["action"], "set_group_whole_ban");
    let answer = json!({"status": "ok", "retcode": 0, "data": null, "echo": action["echo"]});
    ws.send(answer.to_string().into()).await.unwrap();
    assert_eq!(call.await.unwrap(), CommandResult::Ok(CommandOutput::Done));
    adapter.stop().await;
}

async fn api(req: HttpRequest, body: web::Json<Value>) -> HttpResponse {
    assert_eq!(req.query_string(), format!("access_token={TOKEN}"));
    if let Some(answer) = directory_answer(&req.path()[1..], &body) {
        return HttpResponse::Ok().json(answer);
    }
    match req.path() {
        "/send_group_msg" => {
            assert_eq!(body["group_id"], 500);
            HttpResponse::Ok().json(ok(json!({"message_id": 77})))
        }
        "/set_group_ban" => HttpResponse::Ok()
            .json(json!({"status": "failed", "retcode": 100, "msg": "NO_PERMISSION"})),
        _ => HttpResponse::NotFound().finish(),
    }
}

#[actix_rt::test]
async fn http_post_events_and_http_api_actions() {
    let server = HttpServer::new(|| App::new().default_service(web::post().to(api)))
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
    let api_addr = server.addrs()[0];
    let server = server.run();
    let api_handle = server.handle();
    tokio::spawn(server);

    let adapter = adapter(json!({"mode": "http", "url": format!("http://{api_addr}")}));
    let (intake, mut rx) = Intake::collecting("qq".into(), 16);
    adapter.start(intake, None).await.unwrap();
    let parley = Server::start(&adapter).await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/onebot/qq", parley.addr);
    let post = |body: Value, token: Option<&str>| {
        let mut r = client
            .post(&url)
            .header("X-Self-ID", SELF_ID.to_string())
            .json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let event = group_message(3, 500, 42, json!("hi"));
    assert_eq!(
        post(event.clone(), Some("nope")).await.unwrap().status(),
        401
    );
    assert_eq!(
        post(json!({"post_type": "message"}), Some(TOKEN))
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(post(event, Some(TOKEN)).await.unwrap().status(), 204);
    assert_eq!(rx.recv().await.unwrap().0.id.as_str(), "msg:3:1700000000");

    let exec = |command| {
        adapter.execute(OutboundCommand {
            connection: "qq".into(),
            idempotency_key: "k".into(),
            command,
        })
    };
    let sent = exec(Command::Send {
        to: ConversationId::group("500"),
        content: Content::text("yo"),
        reply_to: None,
        options: SendOptions::default(),
        as_user: None,
    })
    .await;
    assert_eq!(
        sent,
        CommandResult::Ok(CommandOutput::Sent {
            message: MessageRef::new("77")
        })
    );
    let CommandResult::Failed(e) = exec(Command::Mute {
        group: "500".into(),
        user: "1".into(),
        seconds: 5,
    })
    .await
    else {
        panic!()
    };
    assert_eq!(e.kind, ErrorKind::NotPermitted);
    let CommandResult::Failed(e) = exec(Command::MuteAll {
        group: "500".into(),
    })
    .await
    else {
        panic!()
    };
    assert_eq!(e.kind, ErrorKind::Unsupported);
    // Queries over the HTTP API.
    let CommandResult::Ok(CommandOutput::Members { members }) = exec(Command::ListMembers {
        group: "500".into(),
    })
    .await
    else {
        panic!()
    };
    assert_eq!(members.len(), 3);
    assert_eq!(members[1].role, MemberRole::Admin);
    let CommandResult::Failed(e) = exec(Command::ListMembers {
        group: "600".into(),
    })
    .await
    else {
        panic!()
    };
    assert_eq!(e.kind, ErrorKind::NotFound);
    adapter.stop().await;
    parley.stop().await;
    api_handle.stop(false).await;
}
