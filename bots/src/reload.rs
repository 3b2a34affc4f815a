//! Hot reload: the scripts directory is watched, and any change (edit, new or removed
//! script, a change in an imported file) reloads the bots shortly after.

use crate::BotRuntime;
use notify::{EventKind, RecursiveMode, Watcher as _};
use std::sync::mpsc;
use std::time::Duration;

/// How long to wait for more changes before reloading (editors write in several steps).
const SETTLE: Duration = Duration::from_millis(100);

/// Keeps the scripts directory watched; dropping it stops watching.
pub struct Watcher {
    _watcher: notify::RecommendedWatcher,
}

impl BotRuntime {
    /// Watches the scripts directory and reloads the bots on changes (see
    /// [`reload`](Self::reload)), until the returned [`Watcher`] is dropped.
    pub fn watch(&self) -> notify::Result<Watcher> {
        let (tx, rx) = mpsc::channel();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if let Ok(event) = event {
                    if matches!(
                        event.kind,
                        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
                    ) {
                        let _ = tx.send(());
                    }
                }
            })?;
        watcher.watch(&self.inner.dir, RecursiveMode::Recursive)?;
        let runtime = self.clone();
        std::thread::Builder::new()
            .name("parley-bots-reload".into())
            .spawn(move || {
                // Ends when the watcher (and with it the sender) is dropped.
                while rx.recv().is_ok() {
                    while rx.recv_timeout(SETTLE).is_ok() {}
                    let errors = runtime.reload();
                    tracing::info!(errors = errors.len(), "scripts reloaded");
                }
            })?;
        Ok(Watcher { _watcher: watcher })
    }
}
