//! `ctx.store`: the script's view of its bot's key-value store (see `crate::kv`).

use super::ctx::{Ctx, RhaiResult};
use crate::kv::StoreOp;
use rhai::{Array, Dynamic, Engine, INT};

/// `ctx.store`, bound to the handler call's pending changes.
#[derive(Clone)]
pub(crate) struct StoreHandle(Ctx);

fn to_json(value: &Dynamic) -> RhaiResult<serde_json::Value> {
    serde_json::to_value(value)
        .map_err(|e| format!("ctx.store: the value cannot be saved: {e}").into())
}

fn to_dynamic(value: Option<serde_json::Value>) -> RhaiResult<Dynamic> {
    match value {
        Some(value) => rhai::serde::to_dynamic(value),
        None => Ok(Dynamic::UNIT),
    }
}

impl StoreHandle {
    fn get(&self, key: &str) -> RhaiResult<Dynamic> {
        let output = self.0.lock();
        to_dynamic(self.0.shared().store.get(&output.store_ops, key))
    }

    /// Records `op` if it stays within the limits; returns the key's new value.
    fn apply(&self, op: StoreOp) -> RhaiResult<Dynamic> {
        let key = match &op {
            StoreOp::Set(k, _)
            | StoreOp::Remove(k)
            | StoreOp::Incr(k, _)
            | StoreOp::Push(k, ..) => k.clone(),
        };
        let store = &self.0.shared().store;
        let mut output = self.0.lock();
        store.check(&output.store_ops, &op)?;
        output.store_ops.push(op);
        to_dynamic(store.get(&output.store_ops, &key))
    }
}

pub(crate) fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<StoreHandle>("Store")
        .register_get("store", |ctx: &mut Ctx| StoreHandle(ctx.clone()))
        .register_fn("get", |s: &mut StoreHandle, key: &str| s.get(key))
        .register_fn(
            "get",
            |s: &mut StoreHandle, key: &str, default: Dynamic| -> RhaiResult<Dynamic> {
                let value = s.get(key)?;
                Ok(if value.is_unit() { default } else { value })
            },
        )
        .register_fn("set", |s: &mut StoreHandle, key: &str, value: Dynamic| {
            s.apply(StoreOp::Set(key.into(), to_json(&value)?))
                .map(|_| ())
        })
        .register_fn("remove", |s: &mut StoreHandle, key: &str| {
            s.apply(StoreOp::Remove(key.into())).map(|_| ())
        })
        .register_fn("incr", |s: &mut StoreHandle, key: &str| {
            s.apply(StoreOp::Incr(key.into(), 1))
        })
        .register_fn("incr", |s: &mut StoreHandle, key: &str, by: INT| {
            s.apply(StoreOp::Incr(key.into(), by))
        })
        .register_fn("push", |s: &mut StoreHandle, key: &str, value: Dynamic| {
            s.apply(StoreOp::Push(key.into(), to_json(&value)?, usize::MAX))
        })
        .register_fn(
            "push",
            |s: &mut StoreHandle, key: &str, value: Dynamic, keep: INT| {
                s.apply(StoreOp::Push(
                    key.into(),
                    to_json(&value)?,
                    keep.max(0) as usize,
                ))
            },
        )
        .register_fn("keys", |s: &mut StoreHandle| -> Array {
            let output = s.0.lock();
            s.0.shared()
                .store
                .keys(&output.store_ops)
                .into_iter()
                .map(Dynamic::from)
                .collect()
        });
}
