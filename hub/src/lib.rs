//! Parley's embedded IM service: users log in with a token over a JSON WebSocket protocol
//! (docs/hub-protocol.md) and exchange 1:1 and group messages, kept in the hub's own SQLite
//! file. Bots are ordinary hub users; the engine reaches them through [`HubAdapter`].
//!
//! ```no_run
//! # async fn demo(config: parley_hub::HubConfig) -> Result<(), Box<dyn std::error::Error>> {
//! use actix_web::{App, HttpServer};
//! use parley_hub::{Hub, HubAdapter};
//!
//! let hub = Hub::open(std::path::Path::new("data/hub.db"), &config).await?;
//! let routes = hub.configure(Some("admin-secret".into()));
//! let server = HttpServer::new(move || App::new().configure(routes.clone()))
//!     .bind(("127.0.0.1", 8080))?
//!     .run();
//! // The engine connection `hub` speaks as the hub user `bot`.
//! let adapter = HubAdapter::new(hub.clone(), "hub".into(), "bot".into());
//! # drop((server, adapter));
//! # Ok(())
//! # }
//! ```

mod adapter;
mod admin;
mod admin_groups;
mod clock;
mod commands;
mod config;
mod dispatch;
mod dispatch_groups;
mod error;
mod events;
mod friends;
mod group_commands;
mod group_members;
mod groups;
mod http;
mod hub;
mod ids;
mod message;
mod presence;
mod profiles;
mod protocol;
mod query_commands;
mod recall;
mod receipts;
mod registry;
mod send_path;
mod store;
mod ws;

pub use adapter::HubAdapter;
pub use clock::Clock;
pub use config::{DevicePolicy, HubConfig, HubGroupConfig, HubUserConfig};
pub use error::HubError;
pub use hub::{lookup_token, Hub, HubOptions};
pub use store::{GroupInfo, GroupKind, InfoPolicy, JoinPolicy, MemberInfo, Role, UserInfo};
