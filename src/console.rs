//! The web console: the chat page at `/` (a client of the hub's WebSocket protocol), the
//! engine dashboard at `/dashboard`, and the figures behind it at `GET /admin/dashboard`
//! (admin token). The pages are plain files from `web/`, embedded in the binary.
//!
//! The dashboard and `/metrics` read the same [`Figures`], gathered by [`Sources`] from the
//! router's stats, the bot runtime and an [`EngineFigures`] that `app.rs` provides.

use crate::admin::{error, refusal};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use parley_bots::BotRuntime;
use parley_engine::actors::RouterStats;
use parley_engine::scheduler::ScheduleView;
use parley_hub::Hub;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::watch;

/// One engine connection, as the dashboard and `/metrics` show it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ConnectionFigures {
    pub id: String,
    /// The adapter kind (`hub`, `tencent`, ...).
    pub kind: String,
    /// `running`, `stopped`, ... as the engine tells it.
    pub state: String,
    /// Commands waiting in the outbox.
    pub outbox_depth: usize,
    /// Sends that had to wait for a rate limit, and the total wait.
    pub rate_limit_waits: u64,
    pub rate_limit_waited_ms: u64,
}

/// What the engine tells about its connections and its traffic. `app.rs` implements it
/// on top of the engine's accessors.
pub trait EngineFigures: Send + Sync + 'static {
    fn connections(&self) -> Vec<ConnectionFigures>;
    /// Events taken in from the adapters since start.
    fn events_in(&self) -> u64;
    /// Commands executed (sent out) since start.
    fn events_out(&self) -> u64;
}

impl EngineFigures for parley_engine::monitor::EngineMonitor {
    fn connections(&self) -> Vec<ConnectionFigures> {
        parley_engine::monitor::EngineMonitor::connections(self)
            .into_iter()
            .map(|c| ConnectionFigures {
                id: c.id.to_string(),
                kind: c.kind.to_string(),
                state: c.state.into(),
                outbox_depth: c.outbox_depth,
                rate_limit_waits: c.rate_limit_waits,
                rate_limit_waited_ms: c.rate_limit_waited.as_millis() as u64,
            })
            .collect()
    }

    fn events_in(&self) -> u64 {
        parley_engine::monitor::EngineMonitor::events_in(self)
    }

    fn events_out(&self) -> u64 {
        parley_engine::monitor::EngineMonitor::events_out(self)
    }
}

/// One bot, with its errors since it was (re)loaded.
#[derive(Clone, Debug, Serialize)]
pub struct BotFigures {
    pub name: String,
    pub file: String,
    pub handlers: Vec<String>,
    pub error_count: u64,
    /// `file:line:col: message`.
    pub last_error: Option<String>,
}

/// Everything the dashboard shows at one instant.
#[derive(Clone, Debug, Serialize)]
pub struct Figures {
    pub time_ms: i64,
    pub live_actors: usize,
    /// Events waiting in the actors' mailboxes, in all and in the fullest one.
    pub queued_events: usize,
    pub deepest_mailbox: usize,
    pub actors_started: u64,
    pub actors_stopped: u64,
    pub events_in: u64,
    pub events_out: u64,
    pub connections: Vec<ConnectionFigures>,
    pub bots: Vec<BotFigures>,
    /// Config and script schedules, with their next run.
    pub schedules: Vec<ScheduleView>,
}

/// Where the figures come from.
#[derive(Clone)]
pub struct Sources {
    pub stats: watch::Receiver<RouterStats>,
    pub bots: BotRuntime,
    pub engine: Arc<dyn EngineFigures>,
    pub schedules: watch::Receiver<Vec<ScheduleView>>,
}

impl Sources {
    pub fn figures(&self) -> Figures {
        let stats = *self.stats.borrow();
        let bots = self
            .bots
            .bots()
            .into_iter()
            .map(|b| BotFigures {
                error_count: self.bots.error_count(&b.name),
                last_error: self.bots.last_error(&b.name).map(|e| e.to_string()),
                file: b.file.display().to_string(),
                handlers: b.handlers,
                name: b.name,
            })
            .collect();
        Figures {
            time_ms: parley_engine::store::now_ms(),
            live_actors: stats.live_actors,
            queued_events: stats.queued_events,
            deepest_mailbox: stats.deepest_mailbox,
            actors_started: stats.started_total,
            actors_stopped: stats.stopped_total,
            events_in: self.engine.events_in(),
            events_out: self.engine.events_out(),
            connections: self.engine.connections(),
            bots,
            schedules: self.schedules.borrow().clone(),
        }
    }
}

/// What the console routes need.
#[derive(Clone)]
pub struct ConsoleState {
    /// The admin token; `None` refuses the dashboard's data.
    pub token: Option<String>,
    pub sources: Sources,
    /// Used to look up a user's login token for the chat page's "log in as" (admin only).
    pub hub: Hub,
}

const INDEX_HTML: &str = include_str!("../web/index.html");
const CHAT_JS: &str = include_str!("../web/chat.js");
const DASHBOARD_HTML: &str = include_str!("../web/dashboard.html");
const DASHBOARD_JS: &str = include_str!("../web/dashboard.js");
const COMMON_JS: &str = include_str!("../web/common.js");
const STYLE_CSS: &str = include_str!("../web/style.css");
const FAVICON_SVG: &str = include_str!("../web/favicon.svg");

pub fn routes(state: ConsoleState) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::new(state.clone()))
            .route("/", web::get().to(|| page(INDEX_HTML, "text/html")))
            .route(
                "/dashboard",
                web::get().to(|| page(DASHBOARD_HTML, "text/html")),
            )
            .route(
                "/console/chat.js",
                web::get().to(|| page(CHAT_JS, "text/javascript")),
            )
            .route(
                "/console/dashboard.js",
                web::get().to(|| page(DASHBOARD_JS, "text/javascript")),
            )
            .route(
                "/console/common.js",
                web::get().to(|| page(COMMON_JS, "text/javascript")),
            )
            .route(
                "/console/style.css",
                web::get().to(|| page(STYLE_CSS, "text/css")),
            )
            .route(
                "/favicon.svg",
                web::get().to(|| page(FAVICON_SVG, "image/svg+xml")),
            )
            .route("/admin/dashboard", web::get().to(dashboard))
            .route("/admin/console/token", web::post().to(user_token));
    }
}

async fn page(body: &'static str, mime: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, format!("{mime}; charset=utf-8")))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(body)
}

async fn dashboard(req: HttpRequest, state: web::Data<ConsoleState>) -> HttpResponse {
    if let Some(denied) = refusal(&req, state.token.as_deref()) {
        return denied;
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(state.sources.figures())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    user: String,
}

/// `POST /admin/console/token {"user": "alice"}` → `{"user": "alice", "token": "..."}`:
/// lets an admin open the chat as any existing hub user.
async fn user_token(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(denied) = refusal(&req, state.token.as_deref()) {
        return denied;
    }
    let request: TokenRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("invalid token request: {e}"),
            )
        }
    };
    match state.hub.user_token(&request.user).await {
        Ok(Some(token)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({"user": request.user, "token": token})),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no hub user {:?}", request.user),
        ),
        Err(e) => {
            tracing::error!(error = %e, "console: hub failure");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the hub failed; see the server log",
            )
        }
    }
}
