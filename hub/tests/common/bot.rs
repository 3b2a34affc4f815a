//! A bot for the engine tests: the real engine with a `HubAdapter` and a Rust handler that
//! records every envelope and answers with the commands a closure returns.

use super::{TestHub, PATIENCE};
use futures_util::future::BoxFuture;
use parley_engine::handler::{BotStates, EventHandler, Handled};
use parley_engine::model::{Command, Envelope};
use parley_engine::store::Store;
use parley_engine::{Engine, EngineConfig};
use parley_hub::HubAdapter;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

type React = dyn Fn(&Envelope) -> Vec<Command> + Send + Sync;

struct Recorder {
    seen: Arc<Mutex<Vec<Envelope>>>,
    count: watch::Sender<usize>,
    react: Box<React>,
}

impl EventHandler for Recorder {
    fn handle(&self, envelope: Arc<Envelope>, state: BotStates) -> BoxFuture<'static, Handled> {
        let commands = (self.react)(&envelope);
        self.seen.lock().unwrap().push((*envelope).clone());
        self.count.send_modify(|c| *c += 1);
        Box::pin(async move { Handled::new(state, commands) })
    }
}

pub struct Bot {
    engine: Engine,
    seen: Arc<Mutex<Vec<Envelope>>>,
    count: watch::Receiver<usize>,
    _dir: tempfile::TempDir,
}

impl Bot {
    /// Starts an engine whose connection `hub` speaks as hub user `user`.
    pub async fn start(
        t: &TestHub,
        user: &str,
        react: impl Fn(&Envelope) -> Vec<Command> + Send + Sync + 'static,
    ) -> Bot {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("engine.db")).await.unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (count, count_rx) = watch::channel(0);
        let handler = Recorder {
            seen: seen.clone(),
            count,
            react: Box::new(react),
        };
        let adapter = HubAdapter::new(t.hub.clone(), "hub".into(), user.into());
        let config = EngineConfig {
            arbiters: 1,
            ..EngineConfig::default()
        };
        let engine = Engine::start(
            config,
            store,
            Arc::new(handler),
            vec![("hub".into(), Arc::new(adapter))],
        )
        .await
        .unwrap();
        Bot {
            engine,
            seen,
            count: count_rx,
            _dir: dir,
        }
    }

    /// The first envelope the bot handled that `wanted` accepts, waiting for it.
    pub async fn handled(&mut self, wanted: impl Fn(&Envelope) -> bool) -> Envelope {
        let found = tokio::time::timeout(PATIENCE, async {
            loop {
                if let Some(e) = self.seen.lock().unwrap().iter().find(|e| wanted(e)) {
                    return e.clone();
                }
                self.count.changed().await.unwrap();
            }
        })
        .await;
        found.unwrap_or_else(|_| {
            panic!(
                "the bot did not handle the expected event; it handled {:#?}",
                self.seen.lock().unwrap()
            )
        })
    }

    pub async fn stop(self) {
        self.engine.shutdown().await;
    }
}
