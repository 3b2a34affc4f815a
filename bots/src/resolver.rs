//! `import` for bot scripts, confined to the scripts directory.

use rhai::module_resolvers::FileModuleResolver;
use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Shared, AST};
use std::path::{Component, Path, PathBuf};

type RhaiResultOf<T> = Result<T, Box<EvalAltResult>>;
type SharedModule = Shared<Module>;

/// Resolves `import "lib/util" as util;` to `<scripts dir>/lib/util.rhai`, and refuses any
/// path that is absolute, climbs out with `..`, or leads outside through a symbolic link.
/// Paths are always relative to the scripts directory, whichever script imports them.
pub(crate) struct ScriptsDirResolver {
    /// The canonical scripts directory; `None` if it could not be resolved (imports fail).
    root: Option<PathBuf>,
    files: FileModuleResolver,
}

impl ScriptsDirResolver {
    pub(crate) fn new(dir: &Path) -> Self {
        let root = dir.canonicalize().ok();
        let files = FileModuleResolver::new_with_path(root.clone().unwrap_or_default());
        Self { root, files }
    }

    fn check(&self, path: &str, pos: Position) -> RhaiResultOf<()> {
        let refuse = |why: &str| -> RhaiResultOf<()> {
            Err(
                EvalAltResult::ErrorRuntime(format!("cannot import `{path}`: {why}").into(), pos)
                    .into(),
            )
        };
        let Some(root) = &self.root else {
            return refuse("the scripts directory cannot be resolved");
        };
        let relative = Path::new(path);
        let inside = relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if path.is_empty() || !inside {
            return refuse("imports must be relative paths inside the scripts directory");
        }
        let file = self.files.get_file_path(path, None);
        if let Ok(real) = file.canonicalize() {
            if !real.starts_with(root) {
                return refuse("it leads outside the scripts directory");
            }
        }
        Ok(())
    }
}

impl ModuleResolver for ScriptsDirResolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> RhaiResultOf<SharedModule> {
        self.check(path, pos)?;
        self.files.resolve(engine, source, path, pos)
    }

    fn resolve_ast(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Option<RhaiResultOf<AST>> {
        if let Err(error) = self.check(path, pos) {
            return Some(Err(error));
        }
        self.files.resolve_ast(engine, source, path, pos)
    }
}
