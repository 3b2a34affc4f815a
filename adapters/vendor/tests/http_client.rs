//! The client's failure classification against a plain local listener.

use parley_engine::model::ErrorKind;
use parley_vendor::http::{HttpClient, Timeouts};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves one connection with `response` (raw HTTP), or holds it open when `None`.
async fn serve_once(response: Option<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let _ = socket.read(&mut buf).await;
        match response {
            Some(r) => socket.write_all(r.as_bytes()).await.unwrap(),
            None => tokio::time::sleep(Duration::from_secs(30)).await,
        }
    });
    url
}

fn client() -> HttpClient {
    let t = Timeouts {
        connect: Duration::from_millis(500),
        request: Duration::from_millis(500),
    };
    HttpClient::new("Test", &t).unwrap()
}

#[tokio::test]
async fn classifies_answers_and_transport_failures() {
    let ok = serve_once(Some("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")).await;
    assert_eq!(client().post_json(&ok, &()).await.unwrap(), b"{}");

    let limited = serve_once(Some(
        "HTTP/1.1 429 Too Many Requests\r\nretry-after: 3\r\ncontent-length: 0\r\n\r\n",
    ))
    .await;
    let e = client().post_json(&limited, &()).await.unwrap_err();
    assert_eq!(
        (e.kind, e.retry_after_ms),
        (ErrorKind::RateLimited, Some(3000))
    );

    let down = serve_once(Some(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n",
    ))
    .await;
    let e = client().post_json(&down, &()).await.unwrap_err();
    assert_eq!(
        (e.kind, e.platform_code.as_deref()),
        (ErrorKind::Unavailable, Some("http:503"))
    );

    let bad = serve_once(Some(
        "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
    ))
    .await;
    assert_eq!(
        client().post_json(&bad, &()).await.unwrap_err().kind,
        ErrorKind::Invalid
    );

    let silent = serve_once(None).await;
    let e = client().post_json(&silent, &()).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownOutcome, "{e:?}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api", closed.local_addr().unwrap());
    drop(closed);
    let e = client().post_json(&url, &()).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable, "{e:?}");
}
