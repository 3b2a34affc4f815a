//! Parley's Tencent Cloud IM adapter (docs/platforms/tencent.md): a bot is an account of the
//! operator's IM app; it hears through Tencent's third-party callbacks and acts through the
//! REST API v4 as the app admin. What every cloud shares lives in `parley-vendor`.

mod adapter;
pub mod callback_sign;
mod callbacks;
mod commands;
pub mod config;
mod directory;
mod elements;
mod endpoint;
mod errors;
mod history;
mod rest;
#[cfg(feature = "testing")]
pub mod testing;
pub mod usersig;

pub use adapter::TencentAdapter;
pub use config::TencentConfig;
