//! Cron schedules deliver ticks to the bots; missed runs follow the schedule's policy.

mod support;

use futures_util::FutureExt;
use parley_engine::model::*;
use parley_engine::scheduler::{MissedRuns, Schedule, ScheduleSpec};
use parley_engine::store::{now_ms, Store};
use parley_engine::{Engine, EngineConfig};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{Counter, FnHandler, RecordingAdapter};

fn spec(name: &str, cron: &str, missed: MissedRuns) -> ScheduleSpec {
    ScheduleSpec {
        name: name.into(),
        cron: cron.into(),
        timezone: "Asia/Shanghai".into(),
        connection: "test".into(),
        conversation: Some("group:lobby".into()),
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
            parley_engine::handler::Handled {
                state,
                commands: vec![],
            }
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
