//! Action calls over WebSocket: each call carries an `echo`, and the answer with the same
//! `echo` completes it. Calls go over the connection currently serving the API (Universal
//! or API role); a call not yet written when that connection ends is `unavailable` (safe to
//! retry), one written but unanswered is `unknown_outcome`.

use parley_engine::model::{CommandError, ErrorKind};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Frames waiting to be written to one connection.
pub type Outgoing = mpsc::Sender<String>;

struct Pending {
    link: u64,
    answer: oneshot::Sender<Result<Value, CommandError>>,
}

#[derive(Default)]
struct State {
    link: Option<(u64, Outgoing)>,
    pending: HashMap<String, Pending>,
}

#[derive(Default)]
pub struct Rpc {
    state: Mutex<State>,
    next: AtomicU64,
}

impl Rpc {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("rpc lock")
    }

    /// Makes `out` the connection actions go over; returns its link id.
    pub fn attach(&self, out: Outgoing) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().link = Some((id, out));
        id
    }

    /// The connection `link` ended: calls waiting for its answers end as unknown outcomes.
    pub fn detach(&self, link: u64, reason: &str) {
        let mut state = self.lock();
        if state.link.as_ref().is_some_and(|(id, _)| *id == link) {
            state.link = None;
        }
        let lost: Vec<String> = state
            .pending
            .iter()
            .filter(|(_, p)| p.link == link)
            .map(|(echo, _)| echo.clone())
            .collect();
        for echo in lost {
            if let Some(p) = state.pending.remove(&echo) {
                let _ = p.answer.send(Err(CommandError::new(
                    ErrorKind::UnknownOutcome,
                    format!("the OneBot connection ended before the answer came ({reason}); the action may have taken effect"),
                )));
            }
        }
    }

    /// Completes the call an answer frame belongs to; false if no call waits for its echo.
    pub fn answer(&self, frame: &Value) -> bool {
        let Some(echo) = frame["echo"].as_str() else {
            return false;
        };
        match self.lock().pending.remove(echo) {
            Some(p) => {
                let _ = p.answer.send(Ok(frame.clone()));
                true
            }
            None => false,
        }
    }

    /// Calls `action` and returns the whole answer frame.
    pub async fn call(
        &self,
        action: &str,
        params: &Value,
        timeout: Duration,
    ) -> Result<Value, CommandError> {
        let echo = format!("parley:{}", self.next.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        let (link, out) = {
            let mut state = self.lock();
            let Some((link, out)) = state.link.clone() else {
                return Err(CommandError::new(
                    ErrorKind::Unavailable,
                    "no OneBot connection serves actions right now",
                ));
            };
            state
                .pending
                .insert(echo.clone(), Pending { link, answer: tx });
            (link, out)
        };
        let frame = json!({"action": action, "params": params, "echo": echo}).to_string();
        let answer = tokio::time::timeout(timeout, async {
            if out.send(frame).await.is_err() {
                return Err(CommandError::new(
                    ErrorKind::Unavailable,
                    "the OneBot connection closed before the action was sent",
                ));
            }
            rx.await.unwrap_or_else(|_| {
                Err(CommandError::new(
                    ErrorKind::UnknownOutcome,
                    "the OneBot connection ended",
                ))
            })
        })
        .await;
        match answer {
            Ok(result) => {
                self.lock().pending.remove(&echo);
                result
            }
            Err(_) => {
                self.lock().pending.remove(&echo);
                tracing::warn!(action, link, "OneBot action timed out");
                Err(CommandError::new(
                    ErrorKind::UnknownOutcome,
                    format!(
                        "no answer to {action} within {} ms; it may have taken effect",
                        timeout.as_millis()
                    ),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn echo_matching_timeouts_and_lost_links() {
        let rpc = std::sync::Arc::new(Rpc::default());
        let t = Duration::from_secs(5);
        let e = rpc.call("get_status", &json!({}), t).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);

        let (tx, mut rx) = mpsc::channel(8);
        let link = rpc.attach(tx);
        let r = rpc.clone();
        let call = tokio::spawn(async move { r.call("send_msg", &json!({"x": 1}), t).await });
        let frame: Value = serde_json::from_str(&rx.recv().await.unwrap()).unwrap();
        assert_eq!(frame["action"], "send_msg");
        assert!(!rpc.answer(&json!({"echo": "other"})));
        assert!(rpc.answer(&json!({"status": "ok", "retcode": 0, "echo": frame["echo"]})));
        assert_eq!(call.await.unwrap().unwrap()["status"], "ok");

        let e = rpc
            .call("slow", &json!({}), Duration::from_millis(20))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnknownOutcome);
        rx.recv().await.unwrap();

        let r = rpc.clone();
        let call = tokio::spawn(async move { r.call("send_msg", &json!({}), t).await });
        rx.recv().await.unwrap();
        rpc.detach(link, "closed");
        assert_eq!(
            call.await.unwrap().unwrap_err().kind,
            ErrorKind::UnknownOutcome
        );
        assert_eq!(
            rpc.call("x", &json!({}), t).await.unwrap_err().kind,
            ErrorKind::Unavailable
        );
    }
}
