//! Loading the scripts and running their handlers for each event.

use crate::api::{self, Ctx};
use crate::resolver::ScriptsDirResolver;
use crate::{BotInfo, BotOptions, ScriptError};
use futures_util::future::BoxFuture;
use parley_engine::handler::{BotStates, EventHandler, Handled};
use parley_engine::model::{Command, Envelope};
use rhai::packages::{Package, StandardPackage};
use rhai::{CallFnOptions, Dynamic, Engine, Module, Scope, Shared, AST};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// The loaded bots, ready to handle events. Cheap to clone: clones share the bots.
#[derive(Clone)]
pub struct BotRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    options: BotOptions,
    bots: Vec<Bot>,
}

struct Bot {
    name: String,
    file: PathBuf,
    /// The AST's source name, as errors inside it report it.
    source: String,
    engine: Engine,
    ast: AST,
    /// `on_*` functions taking two parameters, sorted.
    handlers: Vec<String>,
    /// Where each handler's definition starts (line, column), for errors Rhai reports
    /// without a position (the operation and call-depth limits).
    handler_positions: HashMap<String, (usize, usize)>,
    errors: Mutex<ErrorStats>,
}

#[derive(Default)]
struct ErrorStats {
    count: u64,
    last: Option<ScriptError>,
}

impl BotRuntime {
    /// Compiles every `*.rhai` file directly in `dir`, in file-name order; the bot's name is
    /// the file stem. A script that does not compile is reported in the returned errors
    /// (`file:line:col`) and skipped; the others load. An unreadable directory is reported
    /// too, and gives a runtime without bots.
    pub fn load(dir: &Path, options: BotOptions) -> (BotRuntime, Vec<ScriptError>) {
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

        let standard = StandardPackage::new().as_shared_module();
        let mut bots = Vec::new();
        for file in files {
            match Bot::load(dir, &file, &options, &standard) {
                Ok(bot) => {
                    tracing::info!(bot = %bot.name, file = %file.display(), handlers = ?bot.handlers, "bot loaded");
                    bots.push(bot);
                }
                Err(error) => {
                    tracing::error!("{error}");
                    errors.push(error);
                }
            }
        }
        (
            BotRuntime {
                inner: Arc::new(Inner { options, bots }),
            },
            errors,
        )
    }

    /// The loaded bots, in the order they handle events.
    pub fn bots(&self) -> Vec<BotInfo> {
        self.inner
            .bots
            .iter()
            .map(|bot| BotInfo {
                name: bot.name.clone(),
                file: bot.file.clone(),
                handlers: bot.handlers.clone(),
            })
            .collect()
    }

    /// How many times the bot's handlers failed since it was loaded (0 for an unknown bot).
    pub fn error_count(&self, bot: &str) -> u64 {
        self.find(bot).map_or(0, |bot| bot.errors().count)
    }

    /// The bot's most recent run-time error.
    pub fn last_error(&self, bot: &str) -> Option<ScriptError> {
        self.find(bot).and_then(|bot| bot.errors().last.clone())
    }

    fn find(&self, name: &str) -> Option<&Bot> {
        self.inner.bots.iter().find(|bot| bot.name == name)
    }

    /// Runs every bot that handles the envelope's event, in order. Blocking: scripts run here.
    fn run(&self, envelope: &Envelope, mut state: BotStates) -> Handled {
        let handler = envelope.event.handler_name();
        let mut commands = Vec::new();
        let mut event = None;
        for bot in &self.inner.bots {
            if !bot.handles(handler) {
                continue;
            }
            let event = match &mut event {
                Some(event) => event,
                None => match api::event_object(envelope) {
                    Ok(object) => event.insert(object),
                    Err(e) => {
                        tracing::error!(event = %envelope.id, handler, "cannot convert the event for scripts: {e}");
                        break;
                    }
                },
            };
            match bot.call(
                handler,
                envelope,
                event.clone(),
                state.get(&bot.name),
                &self.inner.options,
            ) {
                Ok((new_state, bot_commands)) => {
                    if let Some(new_state) = new_state {
                        state.insert(bot.name.clone(), new_state);
                    }
                    commands.extend(bot_commands);
                }
                Err(error) => {
                    tracing::error!(bot = %bot.name, handler, event = %envelope.id, "{error}");
                    let mut stats = bot.errors();
                    stats.count += 1;
                    stats.last = Some(error);
                }
            }
        }
        Handled { state, commands }
    }
}

impl EventHandler for BotRuntime {
    fn handle(&self, envelope: Arc<Envelope>, state: BotStates) -> BoxFuture<'static, Handled> {
        let handler = envelope.event.handler_name();
        let handled_by_some_bot = self.inner.bots.iter().any(|bot| bot.handles(handler));
        if envelope.from_self || envelope.backlog || !handled_by_some_bot {
            return Box::pin(std::future::ready(Handled {
                state,
                commands: Vec::new(),
            }));
        }
        let runtime = self.clone();
        Box::pin(async move {
            // Kept to answer with the state unchanged if the blocking task dies.
            let unchanged = state.clone();
            let id = envelope.id.clone();
            match tokio::task::spawn_blocking(move || runtime.run(&envelope, state)).await {
                Ok(handled) => handled,
                Err(e) => {
                    tracing::error!(event = %id, "bot scripts panicked or were cancelled: {e}");
                    Handled {
                        state: unchanged,
                        commands: Vec::new(),
                    }
                }
            }
        })
    }
}

impl Bot {
    fn load(
        dir: &Path,
        file: &Path,
        options: &BotOptions,
        standard: &Shared<Module>,
    ) -> Result<Bot, ScriptError> {
        let name = file
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let code = std::fs::read_to_string(file)
            .map_err(|e| ScriptError::whole_file(file, format!("cannot read the script: {e}")))?;
        let engine = new_engine(&name, dir, options, standard);
        let handler_positions = function_positions(&code);
        let mut ast = engine
            .compile(code)
            .map_err(|e| ScriptError::compile(file, &e))?;
        let source = file.display().to_string();
        ast.set_source(source.as_str());

        let mut handlers = Vec::new();
        for function in ast.iter_functions() {
            if !function.name.starts_with("on_") {
                continue;
            }
            if function.params.len() == 2 {
                handlers.push(function.name.to_string());
            } else {
                tracing::warn!(
                    bot = %name,
                    "{source}: `{}` takes {} parameters, not 2 (ctx and the event); it will not be called",
                    function.name,
                    function.params.len()
                );
            }
        }
        handlers.sort();
        handlers.dedup();

        Ok(Bot {
            name,
            file: file.to_path_buf(),
            source,
            engine,
            ast,
            handlers,
            handler_positions,
            errors: Mutex::default(),
        })
    }

    fn handles(&self, handler: &str) -> bool {
        self.handlers
            .binary_search_by(|h| h.as_str().cmp(handler))
            .is_ok()
    }

    fn errors(&self) -> std::sync::MutexGuard<'_, ErrorStats> {
        self.errors.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Calls `handler(ctx, event)`. Returns the bot's new state (`None` if the script did not
    /// write it) and its commands; on error, nothing of this call is kept.
    fn call(
        &self,
        handler: &str,
        envelope: &Envelope,
        event: Dynamic,
        state: Option<&serde_json::Value>,
        options: &BotOptions,
    ) -> Result<(Option<serde_json::Value>, Vec<Command>), ScriptError> {
        let state = api::state_to_map(state)
            .map_err(|why| ScriptError::whole_file(&self.file, format!("bot state: {why}")))?;
        let ctx = Ctx::new(&self.name, envelope, state);
        // Top-level statements run before the handler (that is how top-level `import`s
        // become visible to it); the scope is fresh for every call.
        let result = self.engine.call_fn_with_options::<Dynamic>(
            CallFnOptions::new().eval_ast(true).rewind_scope(true),
            &mut Scope::new(),
            &self.ast,
            handler,
            vec![Dynamic::from(ctx.clone()), event],
        );
        let output = ctx.take_output();
        if let Err(error) = result {
            let handler_at = self.handler_positions.get(handler).copied();
            return Err(ScriptError::runtime(
                &self.file,
                &self.source,
                &error,
                handler,
                handler_at,
                options,
            ));
        }
        if !output.state_written {
            return Ok((None, output.commands));
        }
        let state = serde_json::to_value(Dynamic::from_map(output.state)).map_err(|e| {
            ScriptError::whole_file(&self.file, format!("ctx.state cannot be saved: {e}"))
        })?;
        let size = serde_json::to_vec(&state).map_or(usize::MAX, |bytes| bytes.len());
        if size > options.max_state_bytes {
            return Err(ScriptError::whole_file(
                &self.file,
                format!(
                    "ctx.state is too large: {size} bytes as JSON, over the limit of {} bytes",
                    options.max_state_bytes
                ),
            ));
        }
        Ok((Some(state), output.commands))
    }
}

/// One engine per bot, so that `print` and `debug` can name the bot they come from.
fn new_engine(bot: &str, dir: &Path, options: &BotOptions, standard: &Shared<Module>) -> Engine {
    let mut engine = Engine::new_raw();
    engine.register_global_module(standard.clone());
    engine.set_module_resolver(ScriptsDirResolver::new(dir));

    engine.set_max_operations(options.max_operations);
    engine.set_max_call_levels(options.max_call_levels);
    engine.set_max_expr_depths(64, 32);
    engine.set_max_string_size(options.max_string_size);
    engine.set_max_array_size(options.max_array_size);
    engine.set_max_map_size(options.max_map_size);

    let name: Arc<str> = bot.into();
    let print_name = name.clone();
    engine.on_print(move |text| tracing::info!(bot = %print_name, "{text}"));
    engine.on_debug(move |text, source, pos| match (source, pos.line()) {
        (Some(source), Some(line)) => tracing::debug!(bot = %name, "{source}:{line}: {text}"),
        _ => tracing::debug!(bot = %name, "{text}"),
    });

    api::register(&mut engine);
    engine
}

/// The (line, column) of each `fn name(` or `private fn name(` that starts a line, by name.
/// A plain text scan, good for pointing at a handler; the AST does not expose positions.
fn function_positions(code: &str) -> HashMap<String, (usize, usize)> {
    let mut positions = HashMap::new();
    for (index, line) in code.lines().enumerate() {
        let trimmed = line.trim_start();
        let column = line.len() - trimmed.len() + 1;
        let rest = trimmed
            .strip_prefix("private")
            .map_or(trimmed, str::trim_start);
        let Some(rest) = rest.strip_prefix("fn") else {
            continue;
        };
        if !rest.starts_with(char::is_whitespace) {
            continue;
        }
        let rest = rest.trim_start();
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end > 0 && rest[end..].trim_start().starts_with('(') {
            positions
                .entry(rest[..end].to_string())
                .or_insert((index + 1, column));
        }
    }
    positions
}
