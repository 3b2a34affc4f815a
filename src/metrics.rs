//! `GET /metrics`: the dashboard's figures in the Prometheus text format, encoded by the
//! `prometheus` crate. The figures are read from [`Sources`] at each scrape (the engine keeps
//! its own counters), so nothing here is global.

use crate::console::{Figures, Sources};
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use prometheus::{Counter, CounterVec, Encoder, Gauge, GaugeVec, Opts, Registry, TextEncoder};

pub fn routes(sources: Sources) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg: &mut web::ServiceConfig| {
        let sources = sources.clone();
        cfg.route(
            "/metrics",
            web::get().to(move || {
                let sources = sources.clone();
                async move { scrape(&sources.figures()) }
            }),
        );
    }
}

fn scrape(figures: &Figures) -> HttpResponse {
    match render(figures) {
        Ok(text) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, TextEncoder::new().format_type()))
            .body(text),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode /metrics");
            HttpResponse::InternalServerError().body(format!("cannot encode the metrics: {e}"))
        }
    }
}

/// The figures in the Prometheus text exposition format.
pub fn render(f: &Figures) -> prometheus::Result<String> {
    let registry = Registry::new_custom(Some("parley".into()), None)?;
    let counter = |name: &str, help: &str, value: f64| -> prometheus::Result<()> {
        let c = Counter::new(name, help)?;
        c.inc_by(value);
        registry.register(Box::new(c))
    };
    let gauge = |name: &str, help: &str, value: f64| -> prometheus::Result<()> {
        let g = Gauge::new(name, help)?;
        g.set(value);
        registry.register(Box::new(g))
    };
    counter(
        "events_in_total",
        "Events taken in from the adapters since start.",
        f.events_in as f64,
    )?;
    counter(
        "events_out_total",
        "Commands sent out through the adapters since start.",
        f.events_out as f64,
    )?;
    gauge(
        "live_actors",
        "Conversation and group actors running now.",
        f.live_actors as f64,
    )?;
    gauge(
        "mailbox_queued_events",
        "Events waiting in the actors' mailboxes.",
        f.queued_events as f64,
    )?;
    gauge(
        "mailbox_deepest",
        "Events waiting in the fullest actor mailbox.",
        f.deepest_mailbox as f64,
    )?;
    counter(
        "actors_started_total",
        "Actors started since start.",
        f.actors_started as f64,
    )?;
    counter(
        "actors_stopped_total",
        "Actors stopped (idle or drained) since start.",
        f.actors_stopped as f64,
    )?;

    let up = GaugeVec::new(
        Opts::new(
            "connection_info",
            "One per engine connection, with its kind and state.",
        ),
        &["connection", "kind", "state"],
    )?;
    let depth = GaugeVec::new(
        Opts::new(
            "outbox_depth",
            "Commands waiting in the outbox, per connection.",
        ),
        &["connection"],
    )?;
    let waits = CounterVec::new(
        Opts::new(
            "rate_limit_waits_total",
            "Sends that waited for a rate limit, per connection.",
        ),
        &["connection"],
    )?;
    let waited = CounterVec::new(
        Opts::new(
            "rate_limit_wait_seconds_total",
            "Time spent waiting for rate limits, per connection.",
        ),
        &["connection"],
    )?;
    for c in &f.connections {
        up.with_label_values(&[c.id.as_str(), c.kind.as_str(), c.state.as_str()])
            .set(1.0);
        depth
            .with_label_values(&[c.id.as_str()])
            .set(c.outbox_depth as f64);
        waits
            .with_label_values(&[c.id.as_str()])
            .inc_by(c.rate_limit_waits as f64);
        waited
            .with_label_values(&[c.id.as_str()])
            .inc_by(c.rate_limit_waited_ms as f64 / 1000.0);
    }
    let errors = CounterVec::new(
        Opts::new(
            "bot_errors_total",
            "Run-time errors of each bot since it was (re)loaded.",
        ),
        &["bot"],
    )?;
    let handlers = GaugeVec::new(
        Opts::new("bot_handlers", "Handlers each loaded bot defines."),
        &["bot"],
    )?;
    for b in &f.bots {
        errors
            .with_label_values(&[b.name.as_str()])
            .inc_by(b.error_count as f64);
        handlers
            .with_label_values(&[b.name.as_str()])
            .set(b.handlers.len() as f64);
    }
    let next_run = GaugeVec::new(
        Opts::new(
            "schedule_next_run_timestamp_seconds",
            "When each schedule runs next (Unix time).",
        ),
        &["schedule", "origin"],
    )?;
    for s in &f.schedules {
        if let Some(next) = s.next_run_ms {
            next_run
                .with_label_values(&[s.id.as_str(), s.origin])
                .set(next as f64 / 1000.0);
        }
    }
    registry.register(Box::new(next_run))?;
    registry.register(Box::new(up))?;
    registry.register(Box::new(depth))?;
    registry.register(Box::new(waits))?;
    registry.register(Box::new(waited))?;
    registry.register(Box::new(errors))?;
    registry.register(Box::new(handlers))?;

    let mut out = Vec::new();
    TextEncoder::new().encode(&registry.gather(), &mut out)?;
    String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::{BotFigures, ConnectionFigures};

    #[test]
    fn renders_every_figure_in_the_text_format() {
        let figures = Figures {
            time_ms: 0,
            live_actors: 3,
            queued_events: 9,
            deepest_mailbox: 4,
            actors_started: 5,
            actors_stopped: 2,
            events_in: 42,
            events_out: 40,
            connections: vec![ConnectionFigures {
                id: "hub".into(),
                kind: "hub".into(),
                state: "running".into(),
                outbox_depth: 7,
                rate_limit_waits: 4,
                rate_limit_waited_ms: 1500,
            }],
            bots: vec![BotFigures {
                name: "echo".into(),
                file: "scripts/echo.rhai".into(),
                handlers: vec!["on_message".into()],
                error_count: 2,
                last_error: Some("scripts/echo.rhai:3:5: boom".into()),
            }],
            schedules: vec![parley_engine::scheduler::ScheduleView {
                id: "digest".into(),
                origin: "config",
                when: "0 9 * * * (UTC)".into(),
                connection: "hub".into(),
                conversation: None,
                bot: None,
                handler: "on_tick".into(),
                next_run_ms: Some(1_795_482_000_000),
                last_run_ms: None,
            }],
        };
        let text = render(&figures).unwrap();
        for line in [
            "# TYPE parley_events_in_total counter",
            "parley_events_in_total 42",
            "parley_events_out_total 40",
            "# TYPE parley_live_actors gauge",
            "parley_live_actors 3",
            "parley_mailbox_queued_events 9",
            "parley_mailbox_deepest 4",
            "parley_outbox_depth{connection=\"hub\"} 7",
            "parley_rate_limit_waits_total{connection=\"hub\"} 4",
            "parley_rate_limit_wait_seconds_total{connection=\"hub\"} 1.5",
            "parley_bot_errors_total{bot=\"echo\"} 2",
            "parley_connection_info{connection=\"hub\",kind=\"hub\",state=\"running\"} 1",
            "parley_schedule_next_run_timestamp_seconds{origin=\"config\",schedule=\"digest\"} 1795482000",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
