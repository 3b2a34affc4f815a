//! Cron schedules deliver ticks to the bots; missed runs follow the schedule's policy.

mod support;

use futures_util::FutureExt;
use parley_engine::handler::Handled;
use parley_engine::model::*;
use parley_engine::scheduler::{
    MissedRuns, Schedule, ScheduleChange, ScheduleSpec, ScriptSchedule, When,
};
use parley_engine::store::{now_ms, Store};
use parley_engine::{Engine, EngineConfig};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{text_event, Counter, FnHandler, RecordingAdapter};

fn spec(name: &str, cron: &str, missed: MissedRuns) -> ScheduleSpec {
    ScheduleSpec {
        name: name.into(),
        cron: cron.into(),
        timezone: "Asia/Shanghai".into(),
        connection: "test".into(),
        conversation: Some("group:lobby".into()),
        bot: None,
        handler: None,
        payload: json!({"topic": "news"}),
        missed,
    }
}

fn recording_handler(ticks: Arc<Mutex<Vec<Envelope>>>, counter: Counter) -> FnHandler {
    FnHandler(Box::new(move |env, state| {
        let (ticks, counter) = (ticks.clone(), counter.clone());
        async move {
            if matches!(env.event, Event::Tick { .. }) {
                ticks.lock().unwrap().push((*env).clone());
                counter.bump();
            }
            parley_engine::handler::Handled::new(state, vec![])
        }
        .boxed()
    }))
}

async fn start(path: &std::path::Path, schedules: Vec<ScheduleSpec>, handler: FnHandler) -> Engine {
    let store = Store::open(path).await.unwrap();
    let config = EngineConfig {
        schedules: schedules
            .into_iter()
            .map(|s| Schedule::parse(s).unwrap())
            .collect(),
        ..EngineConfig::default()
    };
    Engine::start(
        config,
        store,
        Arc::new(handler),
        vec![(ConnectionId::from("test"), RecordingAdapter::new())],
    )
    .await
    .unwrap()
}

#[actix_rt::test]
async fn a_schedule_delivers_ticks_with_its_payload_to_its_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let (ticks, counter) = (Arc::default(), Counter::new());
    // Every second (the six-field form has seconds).
    let engine = start(
        &dir.path().join("p.db"),
        vec![spec("pulse", "* * * * * *", MissedRuns::Skip)],
        recording_handler(Arc::clone(&ticks), counter.clone()),
    )
    .await;
    counter.wait_for(2).await;
    engine.shutdown().await;
    let ticks = ticks.lock().unwrap();
    let Event::Tick {
        schedule,
        conversation,
        payload,
        ..
    } = &ticks[0].event
    else {
        unreachable!()
    };
    assert_eq!(schedule.as_str(), "pulse");
    assert_eq!(conversation, &Some(ConversationId::group("lobby")));
    assert_eq!(payload, &json!({"topic": "news"}));
    assert!(ticks[0].id.as_str().starts_with("tick:pulse:"));
    assert!(
        ticks[1].time_ms - ticks[0].time_ms >= 1000,
        "one tick per scheduled second"
    );
}

#[actix_rt::test]
async fn runs_missed_while_stopped_run_once_or_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    {
        // Due five hours ago: five hourly runs were missed.
        let store = Store::open(&path).await.unwrap();
        let five_hours_ago = now_ms() - 5 * 3_600_000;
        store
            .save_schedule_run("hourly", five_hours_ago - 3_600_000, five_hours_ago)
            .await
            .unwrap();
        store
            .save_schedule_run("hourly-skip", five_hours_ago - 3_600_000, five_hours_ago)
            .await
            .unwrap();
        store.close().await;
    }
    let (ticks, counter) = (Arc::new(Mutex::new(Vec::new())), Counter::new());
    let engine = start(
        &path,
        vec![
            spec("hourly", "0 * * * *", MissedRuns::RunOnce),
            spec("hourly-skip", "0 * * * *", MissedRuns::Skip),
        ],
        recording_handler(ticks.clone(), counter.clone()),
    )
    .await;
    counter.wait_for(1).await;
    // A second tick could only come from a wrong policy; waiting longer cannot make a
    // right result fail.
    let more = tokio::time::timeout(Duration::from_millis(300), counter.wait_for(2)).await;
    assert!(more.is_err(), "missed runs were replayed more than once");
    engine.shutdown().await;
    let ticks = ticks.lock().unwrap().clone();
    assert_eq!(ticks.len(), 1);
    let Event::Tick { schedule, .. } = &ticks[0].event else {
        unreachable!()
    };
    assert_eq!(schedule.as_str(), "hourly", "the skip policy did not run");
    assert!(
        now_ms() - ticks[0].time_ms < 3_600_000,
        "the run is the latest missed one"
    );
    let store = Store::open(&path).await.unwrap();
    assert!(
        store.schedule_next_run("hourly").await.unwrap().unwrap() > now_ms(),
        "the next run is in the future"
    );
}

#[actix_rt::test]
async fn a_schedule_for_an_unknown_connection_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.db")).await.unwrap();
    let mut s = spec("x", "0 9 * * *", MissedRuns::Skip);
    s.connection = "nowhere".into();
    let config = EngineConfig {
        schedules: vec![Schedule::parse(s).unwrap()],
        ..EngineConfig::default()
    };
    let handler = recording_handler(Arc::default(), Counter::new());
    let err = Engine::start(
        config,
        store,
        Arc::new(handler),
        vec![(ConnectionId::from("test"), RecordingAdapter::new())],
    )
    .await
    .err()
    .unwrap();
    assert!(
        err.to_string()
            .contains("schedule `x` names the unknown connection `nowhere`"),
        "{err}"
    );
}

/// A bot that schedules on "once <ms from now>", "cron" and "cancel <id>", and records
/// every tick it gets.
fn scheduling_handler(ticks: Arc<Mutex<Vec<Envelope>>>, counter: Counter) -> FnHandler {
    FnHandler(Box::new(move |env, state| {
        let (ticks, counter) = (ticks.clone(), counter.clone());
        async move {
            let mut handled = Handled::new(state, vec![]);
            match &env.event {
                Event::Tick { .. } => {
                    ticks.lock().unwrap().push((*env).clone());
                    counter.bump();
                }
                Event::Message(m) => {
                    let text = m.content.plain_text();
                    let words: Vec<&str> = text.split_whitespace().collect();
                    let when = match words.as_slice() {
                        ["once", ms] => Some(When::Once {
                            at_ms: env.time_ms + ms.parse::<i64>().unwrap(),
                        }),
                        ["cron"] => Some(When::Cron {
                            expression: "0 9 * * *".into(),
                            timezone: "Asia/Shanghai".into(),
                        }),
                        ["cancel", id] => {
                            handled.schedules.push(ScheduleChange::Cancel {
                                bot: "reminder".into(),
                                id: id.to_string(),
                            });
                            None
                        }
                        _ => None,
                    };
                    if let Some(when) = when {
                        handled.schedules.push(ScheduleChange::Set(ScriptSchedule {
                            id: ScriptSchedule::id_for("reminder", &env.id, 0),
                            bot: "reminder".into(),
                            handler: "remind".into(),
                            when,
                            payload: json!({"what": text}),
                        }));
                    }
                }
                _ => {}
            }
            handled
        }
        .boxed()
    }))
}

fn say(id: &str, text: &str) -> Envelope {
    let mut e = text_event(id, ConversationId::direct("alice"), text);
    e.time_ms = now_ms();
    e
}

#[actix_rt::test]
async fn a_script_schedule_ticks_its_bot_and_handler_in_its_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let (ticks, counter) = (Arc::default(), Counter::new());
    let engine = start(
        &dir.path().join("p.db"),
        vec![],
        scheduling_handler(Arc::clone(&ticks), counter.clone()),
    )
    .await;
    let intake = engine.intake(&ConnectionId::from("test")).unwrap();
    intake.deliver(say("m1", "once 200"), None).await.unwrap();
    counter.wait_for(1).await;
    let tick = ticks.lock().unwrap()[0].clone();
    let Event::Tick {
        schedule,
        conversation,
        payload,
        bot,
        handler,
    } = &tick.event
    else {
        unreachable!()
    };
    assert_eq!(
        schedule.as_str(),
        ScriptSchedule::id_for("reminder", &EventId("m1".into()), 0)
    );
    assert_eq!(conversation, &Some(ConversationId::direct("alice")));
    assert_eq!(payload, &json!({"what": "once 200"}));
    assert_eq!(
        (bot.as_deref(), handler.as_deref()),
        (Some("reminder"), Some("remind"))
    );
    // A one-off is gone once it ran.
    let mut views = engine.schedule_views();
    views.wait_for(|v| v.is_empty()).await.unwrap();
    drop(intake);
    engine.shutdown().await;
}

#[actix_rt::test]
async fn script_schedules_survive_a_restart_and_can_be_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let id = ScriptSchedule::id_for("reminder", &EventId("m1".into()), 0);
    {
        let engine = start(
            &path,
            vec![],
            scheduling_handler(Arc::default(), Counter::new()),
        )
        .await;
        let intake = engine.intake(&ConnectionId::from("test")).unwrap();
        intake.deliver(say("m1", "cron"), None).await.unwrap();
        let mut views = engine.schedule_views();
        views.wait_for(|v| v.len() == 1).await.unwrap();
        drop(intake);
        engine.shutdown().await;
    }
    let engine = start(
        &path,
        vec![],
        scheduling_handler(Arc::default(), Counter::new()),
    )
    .await;
    let mut views = engine.schedule_views();
    let listed = views.wait_for(|v| v.len() == 1).await.unwrap().clone();
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].origin, "script");
    assert_eq!(listed[0].when, "0 9 * * * (Asia/Shanghai)");
    assert_eq!(listed[0].handler, "remind");
    assert_eq!(listed[0].conversation.as_deref(), Some("direct:alice"));
    let next = listed[0].next_run_ms.unwrap();
    assert!(
        next > now_ms() && next - now_ms() <= 86_400_000,
        "next 09:00 in Shanghai"
    );

    let intake = engine.intake(&ConnectionId::from("test")).unwrap();
    intake
        .deliver(say("m2", &format!("cancel {id}")), None)
        .await
        .unwrap();
    views.wait_for(|v| v.is_empty()).await.unwrap();
    drop(intake);
    engine.shutdown().await;
}

#[actix_rt::test]
async fn a_one_off_due_while_stopped_runs_once_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    {
        // Due in an hour; then the clock "moves": the row is rewritten as due an hour ago.
        let engine = start(
            &path,
            vec![],
            scheduling_handler(Arc::default(), Counter::new()),
        )
        .await;
        let intake = engine.intake(&ConnectionId::from("test")).unwrap();
        intake
            .deliver(say("m1", "once 3600000"), None)
            .await
            .unwrap();
        engine
            .schedule_views()
            .wait_for(|v| v.len() == 1)
            .await
            .unwrap();
        drop(intake);
        engine.shutdown().await;
        let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let past = json!({"kind": "once", "at_ms": now_ms() - 3_600_000}).to_string();
        sqlx::query("UPDATE script_schedules SET timing = ?")
            .bind(past)
            .execute(&db)
            .await
            .unwrap();
        db.close().await;
    }
    let (ticks, counter) = (Arc::new(Mutex::new(Vec::new())), Counter::new());
    let engine = start(
        &path,
        vec![],
        scheduling_handler(ticks.clone(), counter.clone()),
    )
    .await;
    counter.wait_for(1).await;
    engine
        .schedule_views()
        .wait_for(|v| v.is_empty())
        .await
        .unwrap();
    engine.shutdown().await;
    assert_eq!(ticks.lock().unwrap().len(), 1);
}
