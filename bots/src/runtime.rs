//! Loading the bots and running their handlers for each event, in the configured order.

use crate::api::{self, Cooldowns, CtxInput};
use crate::bot::Bot;
use crate::kv::{BotStore, KvError, KvStore, StoreOp};
use crate::{BotInfo, BotOptions, ScriptError};
use futures_util::future::BoxFuture;
use parley_engine::handler::{BotStates, EventHandler, Handled, Queued};
use parley_engine::model::{ConnectionState, Envelope, Event};
use rhai::packages::{Package, StandardPackage};
use rhai::{Dynamic, Map, Module, Shared};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

/// The loaded bots, ready to handle events. Cheap to clone: clones share the bots.
#[derive(Clone)]
pub struct BotRuntime {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) dir: PathBuf,
    pub(crate) options: BotOptions,
    standard: Shared<Module>,
    /// In run order; replaced as a whole on reload.
    bots: RwLock<Arc<Vec<Arc<Bot>>>>,
    kv: KvStore,
    /// Each connection's own user id (for `msg.mentions_me` and `ctx.me`).
    selves: RwLock<HashMap<String, String>>,
    /// By bot name, kept across reloads.
    cooldowns: Mutex<HashMap<String, Arc<Cooldowns>>>,
}

/// A handler call's `ctx.store` changes, to apply once the scripts are done.
pub(crate) type StoreChanges = Vec<(Arc<BotStore>, Vec<StoreOp>)>;

/// What running the bots for one event produced.
pub(crate) struct Ran {
    pub(crate) handled: Handled,
    pub(crate) store: StoreChanges,
    /// The handlers' return values, in bot order (verdicts of interceptors).
    pub(crate) returned: Vec<(String, Dynamic)>,
    /// Bots whose handler failed.
    pub(crate) failed: Vec<String>,
}

impl BotRuntime {
    /// Compiles every `*.rhai` file directly in `dir`; the bot's name is the file stem. Bots
    /// run in the order of `options.order`, then in file-name order. A script that does not
    /// compile is reported in the returned errors (`file:line:col`) and skipped; the others
    /// load. An unreadable directory is reported too, and gives a runtime without bots.
    /// `ctx.store` is kept in memory until [`open_store`](Self::open_store) is called.
    pub fn load(dir: &Path, options: BotOptions) -> (BotRuntime, Vec<ScriptError>) {
        let runtime = BotRuntime {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                options,
                standard: StandardPackage::new().as_shared_module(),
                bots: RwLock::default(),
                kv: KvStore::default(),
                selves: RwLock::default(),
                cooldowns: Mutex::default(),
            }),
        };
        let errors = runtime.reload();
        (runtime, errors)
    }

    /// Compiles the scripts again and swaps in the result, keeping every bot's state and
    /// store (they are kept by bot name). A script that no longer compiles keeps its last
    /// good version running; its error is logged and returned. Removed scripts stop.
    pub fn reload(&self) -> Vec<ScriptError> {
        let (files, mut errors) = list_scripts(&self.inner.dir);
        let old = self.snapshot();
        let mut bots = Vec::new();
        for file in files {
            match Bot::load(
                &self.inner.dir,
                &file,
                &self.inner.options,
                &self.inner.standard,
            ) {
                Ok(bot) => {
                    tracing::info!(bot = %bot.name, file = %file.display(), handlers = ?bot.handlers, "bot loaded");
                    bots.push(Arc::new(bot));
                }
                Err(error) => {
                    match old.iter().find(|bot| bot.file == file) {
                        Some(previous) => {
                            tracing::error!(
                                "{error} (the last good version of `{}` keeps running)",
                                previous.name
                            );
                            bots.push(previous.clone());
                        }
                        None => tracing::error!("{error}"),
                    }
                    errors.push(error);
                }
            }
        }
        let order = &self.inner.options.order;
        bots.sort_by_key(|bot| {
            let rank = order.iter().position(|name| *name == bot.name);
            (
                rank.unwrap_or(usize::MAX),
                bot.file.file_name().map(ToOwned::to_owned),
            )
        });
        *self
            .inner
            .bots
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(bots);
        errors
    }

    /// Opens (or creates) the SQLite file `ctx.store` is kept in, and loads it.
    pub async fn open_store(&self, path: &Path) -> Result<(), KvError> {
        self.inner.kv.open(path, &self.inner.options).await
    }

    /// Closes the `ctx.store` file opened by [`BotRuntime::open_store`] (at shutdown, once
    /// the engine has stopped calling handlers).
    pub async fn close_store(&self) {
        self.inner.kv.close().await;
    }

    /// Tells the runtime which user a connection speaks as (for `msg.mentions_me`, `ctx.me`).
    pub fn set_self_user(&self, connection: &str, user: &str) {
        self.inner
            .selves
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(connection.to_string(), user.to_string());
    }

    /// The loaded bots, in the order they handle events.
    pub fn bots(&self) -> Vec<BotInfo> {
        self.snapshot()
            .iter()
            .map(|bot| BotInfo {
                name: bot.name.clone(),
                file: bot.file.clone(),
                handlers: bot.handlers.clone(),
            })
            .collect()
    }

    /// How many times the bot's handlers failed since it was (re)loaded (0 for an unknown bot).
    pub fn error_count(&self, bot: &str) -> u64 {
        self.find(bot).map_or(0, |bot| bot.errors().count)
    }

    /// The bot's most recent run-time error.
    pub fn last_error(&self, bot: &str) -> Option<ScriptError> {
        self.find(bot).and_then(|bot| bot.errors().last.clone())
    }

    fn find(&self, name: &str) -> Option<Arc<Bot>> {
        self.snapshot().iter().find(|bot| bot.name == name).cloned()
    }

    pub(crate) fn snapshot(&self) -> Arc<Vec<Arc<Bot>>> {
        self.inner
            .bots
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn cooldowns(&self, bot: &str) -> Arc<Cooldowns> {
        let mut all = self
            .inner
            .cooldowns
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(cooldowns) = all.get(bot) {
            return cooldowns.clone();
        }
        all.entry(bot.to_string()).or_default().clone()
    }

    /// Whether the configured bindings let `bot` handle this envelope.
    fn bound(&self, bot: &Bot, envelope: &Envelope) -> bool {
        let mut bindings = self
            .inner
            .options
            .bind
            .iter()
            .filter(|b| b.bot == bot.name)
            .peekable();
        bindings.peek().is_none() || bindings.any(|b| b.matches(envelope))
    }

    /// Whether any bot would be called for this envelope.
    pub(crate) fn wants(&self, envelope: &Envelope, handler: &str) -> bool {
        let starting = matches!(
            envelope.event,
            Event::Connection(ConnectionState::Connected)
        );
        if named_function(envelope).is_some() {
            // Run even if the bot is gone or lost the function, to report it.
            return true;
        }
        self.snapshot().iter().any(|bot| {
            (bot.handles(handler) && only_bot(envelope).is_none_or(|b| b == bot.name))
                || (starting && bot.handles("on_start"))
        })
    }

    /// Runs every bound bot that handles the envelope's event, in order, until one calls
    /// `ctx.stop()`. Blocking: scripts run here.
    pub(crate) fn run(&self, envelope: &Envelope, handler: &str, mut state: BotStates) -> Ran {
        let me = self
            .inner
            .selves
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(envelope.connection.as_str())
            .cloned();
        let starting = matches!(
            envelope.event,
            Event::Connection(ConnectionState::Connected)
        );
        let mut ran = Ran {
            handled: Handled::default(),
            store: Vec::new(),
            returned: Vec::new(),
            failed: Vec::new(),
        };
        let mut event = None;
        let only = only_bot(envelope);
        let named = named_function(envelope);
        let bots = self.snapshot();
        if let (Some(only), Some(function)) = (only, named) {
            if !bots
                .iter()
                .any(|bot| bot.name == only && bot.has_function(function))
            {
                tracing::error!(event = %envelope.id, bot = only, "the schedule calls `{function}(ctx, tick)`, which the bot does not define (any more); cancel the schedule or define the function");
                if let Some(bot) = bots.iter().find(|bot| bot.name == only) {
                    let why = format!(
                        "a schedule calls `{function}(ctx, tick)`, which this bot does not define"
                    );
                    self.failed(
                        bot,
                        function,
                        envelope,
                        ScriptError::whole_file(&bot.file, why),
                    );
                }
            }
        }
        for bot in bots.iter() {
            if only.is_some_and(|only| only != bot.name) {
                continue;
            }
            // A schedule that names its bot overrides the bindings: whoever set it up
            // chose the bot (a script's schedule ticks where the bot ran when it made it).
            if only.is_none() && !self.bound(bot, envelope) {
                continue;
            }
            if starting && bot.handles("on_start") && bot.first_start(&envelope.connection) {
                let info = start_info(envelope, me.as_deref());
                self.call(
                    bot,
                    "on_start",
                    envelope,
                    &info,
                    me.as_deref(),
                    &mut state,
                    &mut ran,
                );
            }
            let calls = match named {
                Some(function) => bot.has_function(function),
                None => bot.handles(handler),
            };
            if !calls {
                continue;
            }
            let event = match &mut event {
                Some(event) => event,
                None => match api::event_object(envelope, me.as_deref()) {
                    Ok(object) => event.insert(object),
                    Err(e) => {
                        tracing::error!(event = %envelope.id, handler, "cannot convert the event for scripts: {e}");
                        break;
                    }
                },
            };
            if self.call(
                bot,
                handler,
                envelope,
                event,
                me.as_deref(),
                &mut state,
                &mut ran,
            ) {
                break;
            }
        }
        ran.handled.state = state;
        ran
    }

    /// Calls one handler of one bot, adding what it produced to `ran`; true if it stopped
    /// the bots after it.
    #[allow(clippy::too_many_arguments)]
    fn call(
        &self,
        bot: &Bot,
        handler: &str,
        envelope: &Envelope,
        event: &Dynamic,
        me: Option<&str>,
        state: &mut BotStates,
        ran: &mut Ran,
    ) -> bool {
        let map = match api::state_to_map(state.get(&bot.name)) {
            Ok(map) => map,
            Err(why) => {
                self.failed(
                    bot,
                    handler,
                    envelope,
                    ScriptError::whole_file(&bot.file, format!("bot state: {why}")),
                );
                return false;
            }
        };
        let store = self.inner.kv.bot(&bot.name, &self.inner.options);
        let input = CtxInput {
            bot: &bot.name,
            envelope,
            me,
            state: map,
            store: store.clone(),
            cooldowns: self.cooldowns(&bot.name),
            handlers: bot.functions.clone(),
            timezone: &self.inner.options.timezone,
        };
        match bot.call(handler, input, event, &self.inner.options) {
            Ok(called) => {
                if let Some(new_state) = called.state {
                    state.insert(bot.name.clone(), new_state);
                }
                ran.handled
                    .commands
                    .extend(called.commands.into_iter().map(|command| Queued {
                        command,
                        bot: Some(bot.name.clone()),
                    }));
                ran.handled.schedules.extend(called.schedules);
                ran.store.push((store, called.store_ops));
                ran.returned.push((bot.name.clone(), called.returned));
                called.stop
            }
            Err(error) => {
                self.failed(bot, handler, envelope, error);
                ran.failed.push(bot.name.clone());
                false
            }
        }
    }

    fn failed(&self, bot: &Bot, handler: &str, envelope: &Envelope, error: ScriptError) {
        tracing::error!(bot = %bot.name, handler, event = %envelope.id, "{error}");
        let mut stats = bot.errors();
        stats.count += 1;
        stats.last = Some(error);
    }

    /// Applies the `ctx.store` changes of handlers that succeeded.
    pub(crate) async fn commit(&self, changes: StoreChanges) {
        for (store, ops) in changes {
            self.inner.kv.commit(&store, ops).await;
        }
    }
}

/// Whether the event is the bot's own doing and not for its handlers: its own messages,
/// requests and receipts are (answering them would talk to itself), but group notices are
/// not: a member the bot let in is still a new member to welcome, and `n.operator` says
/// who acted.
fn own_doing(envelope: &Envelope) -> bool {
    envelope.from_self && !matches!(envelope.event, Event::GroupNotice(_))
}

/// The function a schedule's tick names, instead of `on_tick`.
fn named_function(envelope: &Envelope) -> Option<&str> {
    match &envelope.event {
        Event::Tick { handler, .. } => handler.as_deref(),
        _ => None,
    }
}

/// The only bot an event is for: the one a schedule names, or the one that sent the
/// command whose result this is.
fn only_bot(envelope: &Envelope) -> Option<&str> {
    match &envelope.event {
        Event::Tick { bot, .. } | Event::CommandResult { bot, .. } => bot.as_deref(),
        _ => None,
    }
}

/// `on_start`'s object: the connection and its user.
fn start_info(envelope: &Envelope, me: Option<&str>) -> Dynamic {
    let mut map = Map::new();
    map.insert("type".into(), "start".into());
    map.insert("connection".into(), envelope.connection.to_string().into());
    map.insert("me".into(), me.map_or(Dynamic::UNIT, |me| me.into()));
    map.insert("time_ms".into(), envelope.time_ms.into());
    Dynamic::from_map(map)
}

/// The `*.rhai` files directly in `dir`, in file-name order, and the listing's errors.
fn list_scripts(dir: &Path) -> (Vec<PathBuf>, Vec<ScriptError>) {
    let mut errors = Vec::new();
    let mut files = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries {
                match entry {
                    Ok(entry) => {
                        let path = dir.join(entry.file_name());
                        let is_script = path.extension().is_some_and(|e| e == "rhai");
                        if is_script && path.is_file() {
                            files.push(path);
                        }
                    }
                    Err(e) => errors.push(ScriptError::whole_file(
                        dir,
                        format!("cannot list the scripts directory: {e}"),
                    )),
                }
            }
        }
        Err(e) => errors.push(ScriptError::whole_file(
            dir,
            format!("cannot read the scripts directory: {e}"),
        )),
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    (files, errors)
}

impl EventHandler for BotRuntime {
    fn handles(&self, handler: &str) -> bool {
        self.snapshot().iter().any(|bot| bot.handles(handler))
    }

    fn verdict(
        &self,
        envelope: Arc<Envelope>,
        state: BotStates,
    ) -> BoxFuture<'static, Option<parley_engine::model::Verdict>> {
        let runtime = self.clone();
        Box::pin(async move { runtime.intercept(envelope, state).await })
    }

    fn handle(&self, envelope: Arc<Envelope>, state: BotStates) -> BoxFuture<'static, Handled> {
        let handler = envelope.event.handler_name();
        if own_doing(&envelope) || envelope.backlog || !self.wants(&envelope, handler) {
            return Box::pin(std::future::ready(Handled::new(state, Vec::new())));
        }
        let runtime = self.clone();
        // With no HTTP host allowed (the default) a script cannot wait on anything, and
        // its run is bounded by the operation limit: it runs right here, on the
        // conversation's own thread, sparing a hand-off to another thread per event (most
        // of a handler call's cost). With HTTP allowed it runs on the blocking pool, so a
        // slow call stalls no other conversation.
        let inline = self.inner.options.http_allowed_hosts.is_empty();
        Box::pin(async move {
            // Kept to answer with the state unchanged if the scripts panic.
            let unchanged = state.clone();
            let id = envelope.id.clone();
            let scripts = runtime.clone();
            let run = move || {
                let handler = named_function(&envelope).unwrap_or(handler);
                scripts.run(&envelope, handler, state)
            };
            let ran = match inline {
                true => std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                    .map_err(|_| "a script panicked".to_string()),
                false => tokio::task::spawn_blocking(run)
                    .await
                    .map_err(|e| e.to_string()),
            };
            match ran {
                Ok(ran) => {
                    runtime.commit(ran.store).await;
                    ran.handled
                }
                Err(e) => {
                    tracing::error!(event = %id, "bot scripts panicked or were cancelled: {e}");
                    Handled::new(unchanged, Vec::new())
                }
            }
        })
    }
}
