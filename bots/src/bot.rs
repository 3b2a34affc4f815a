//! One bot: its compiled script, its engine, and calling one of its handlers.

use crate::api::{self, Ctx, CtxInput};
use crate::kv::StoreOp;
use crate::resolver::ScriptsDirResolver;
use crate::{BotOptions, ScriptError};
use parley_engine::model::{Command, ConnectionId};
use parley_engine::scheduler::ScheduleChange;
use rhai::{CallFnOptions, Dynamic, Engine, Module, Scope, Shared, AST};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

pub(crate) struct Bot {
    pub(crate) name: String,
    pub(crate) file: PathBuf,
    /// The AST's source name, as errors inside it report it.
    source: String,
    engine: Engine,
    ast: AST,
    /// `on_*` functions taking two parameters, sorted.
    pub(crate) handlers: Vec<String>,
    /// Every public function taking two parameters: what a schedule may call.
    pub(crate) functions: Arc<[String]>,
    /// Where each handler's definition starts (line, column), for errors Rhai reports
    /// without a position (the operation and call-depth limits).
    handler_positions: HashMap<String, (usize, usize)>,
    errors: Mutex<ErrorStats>,
    /// Connections this version of the bot has run `on_start` for.
    started: Mutex<HashSet<ConnectionId>>,
}

#[derive(Default)]
pub(crate) struct ErrorStats {
    pub(crate) count: u64,
    pub(crate) last: Option<ScriptError>,
}

/// What a successful handler call produced.
pub(crate) struct Called {
    /// The bot's new state; `None` if the script did not write it.
    pub(crate) state: Option<serde_json::Value>,
    pub(crate) commands: Vec<Command>,
    pub(crate) schedules: Vec<ScheduleChange>,
    pub(crate) stop: bool,
    pub(crate) store_ops: Vec<StoreOp>,
    /// The handler's return value.
    pub(crate) returned: Dynamic,
}

thread_local! {
    /// When the handler running on this thread must stop (interceptors' deadline).
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Runs `f` with the scripts on this thread stopped at `deadline`.
pub(crate) fn with_deadline<T>(deadline: Instant, f: impl FnOnce() -> T) -> T {
    DEADLINE.with(|d| d.set(Some(deadline)));
    let result = f();
    DEADLINE.with(|d| d.set(None));
    result
}

impl Bot {
    pub(crate) fn load(
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
        let ast = engine
            .compile(&code)
            .map_err(|e| ScriptError::compile(file, &e))?;
        // Top-level `const`s are evaluated once and compiled into the functions, which
        // cannot see the top level otherwise.
        let mut constants = Scope::new();
        engine
            .run_ast_with_scope(&mut constants, &ast)
            .map_err(|e| {
                ScriptError::whole_file(file, format!("top-level statements failed: {e}"))
            })?;
        let mut ast = engine
            .compile_with_scope(&constants, code)
            .map_err(|e| ScriptError::compile(file, &e))?;
        let source = file.display().to_string();
        ast.set_source(source.as_str());

        let mut handlers = Vec::new();
        let mut functions: Vec<String> = ast
            .iter_functions()
            .filter(|f| f.params.len() == 2 && f.access != rhai::FnAccess::Private)
            .map(|f| f.name.to_string())
            .collect();
        functions.sort();
        functions.dedup();
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
            functions: functions.into(),
            handler_positions,
            errors: Mutex::default(),
            started: Mutex::default(),
        })
    }

    pub(crate) fn handles(&self, handler: &str) -> bool {
        self.handlers
            .binary_search_by(|h| h.as_str().cmp(handler))
            .is_ok()
    }

    /// Whether a schedule may call `function(ctx, tick)`.
    pub(crate) fn has_function(&self, function: &str) -> bool {
        self.functions
            .binary_search_by(|h| h.as_str().cmp(function))
            .is_ok()
    }

    pub(crate) fn errors(&self) -> MutexGuard<'_, ErrorStats> {
        self.errors.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// True the first time it is asked for a connection.
    pub(crate) fn first_start(&self, connection: &ConnectionId) -> bool {
        self.started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(connection.clone())
    }

    /// Calls `handler(ctx, event)`. On error, nothing of this call is kept.
    pub(crate) fn call(
        &self,
        handler: &str,
        input: CtxInput<'_>,
        event: &Dynamic,
        options: &BotOptions,
    ) -> Result<Called, ScriptError> {
        let ctx = Ctx::new(input);
        let event = api::for_bot(event, &ctx);
        // Top-level statements run before the handler (that is how top-level `import`s
        // become visible to it); the scope is fresh for every call.
        let result = self.engine.call_fn_with_options::<Dynamic>(
            // The tag lets the global `schedule(...)` functions find this call's `ctx`.
            CallFnOptions::new()
                .eval_ast(true)
                .rewind_scope(true)
                .with_tag(ctx.clone()),
            &mut Scope::new(),
            &self.ast,
            handler,
            vec![Dynamic::from(ctx.clone()), event],
        );
        let output = ctx.take_output();
        let returned = result.map_err(|error| {
            let handler_at = self.handler_positions.get(handler).copied();
            ScriptError::runtime(
                &self.file,
                &self.source,
                &error,
                handler,
                handler_at,
                options,
            )
        })?;
        let state = match output.state_written {
            false => None,
            true => Some(self.checked_state(output.state, options)?),
        };
        Ok(Called {
            state,
            commands: output.commands,
            schedules: output.schedules,
            stop: output.stop,
            store_ops: output.store_ops,
            returned,
        })
    }

    fn checked_state(
        &self,
        state: rhai::Map,
        options: &BotOptions,
    ) -> Result<serde_json::Value, ScriptError> {
        let state = serde_json::to_value(Dynamic::from_map(state)).map_err(|e| {
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
        Ok(state)
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
    engine.on_progress(|operations| {
        let late = operations % 512 == 0
            && DEADLINE.with(|d| d.get().is_some_and(|d| Instant::now() >= d));
        late.then(|| Dynamic::from("the deadline passed"))
    });

    let name: Arc<str> = bot.into();
    let print_name = name.clone();
    engine.on_print(move |text| tracing::info!(bot = %print_name, "{text}"));
    engine.on_debug(move |text, source, pos| match (source, pos.line()) {
        (Some(source), Some(line)) => tracing::debug!(bot = %name, "{source}:{line}: {text}"),
        _ => tracing::debug!(bot = %name, "{text}"),
    });

    api::register(
        &mut engine,
        api::HttpPolicy {
            allowed_hosts: options.http_allowed_hosts.clone(),
            timeout: std::time::Duration::from_millis(options.http_timeout_ms),
            max_response_bytes: options.http_max_response_bytes,
        },
    );
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
