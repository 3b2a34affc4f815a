//! Pre-delivery checks: a platform asks whether a message may be delivered (Tencent's
//! before-send callbacks, NetEase's 第三方回调, the hub's interceptor) and must be answered
//! within its deadline.
//!
//! The check does not queue behind the conversation's actor (a deadline of 2 s cannot wait
//! for a busy conversation); it runs the handler's interceptor on a snapshot of the
//! conversation's saved state. When no verdict comes in time, the platform's configured
//! default applies and the miss is logged.

use crate::handler::EventHandler;
use crate::model::{Envelope, Verdict};
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct Interceptor {
    store: Store,
    handler: Arc<dyn EventHandler>,
}

impl Interceptor {
    pub(crate) fn new(store: Store, handler: Arc<dyn EventHandler>) -> Self {
        Self { store, handler }
    }

    /// The verdict on `envelope` (a [`BeforeSend`](crate::model::Event::BeforeSend)
    /// event), or `default` if the handler has none or does not answer within `deadline`.
    pub async fn verdict(
        &self,
        envelope: Envelope,
        deadline: Duration,
        default: Verdict,
    ) -> Verdict {
        let event_id = envelope.id.clone();
        let work = async {
            let state = match self
                .store
                .load_state(&envelope.connection, &envelope.route())
                .await
            {
                Ok(state) => state,
                Err(e) => {
                    tracing::warn!(event = %event_id, error = %e, "cannot load bot state for a pre-delivery check; checking with empty state");
                    Default::default()
                }
            };
            self.handler.verdict(Arc::new(envelope), state).await
        };
        match tokio::time::timeout(deadline, work).await {
            Ok(Some(verdict)) => verdict,
            Ok(None) => default,
            Err(_) => {
                tracing::warn!(event = %event_id, deadline_ms = deadline.as_millis() as u64, ?default, "no verdict in time; the default applies");
                default
            }
        }
    }
}
