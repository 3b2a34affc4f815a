//! The web console in real browsers: `tests/browser/console.test.js` drives headless Chromium
//! (through `playwright-core`) and headless Firefox (through WebDriver: `geckodriver` and
//! `selenium-webdriver`) against the real binary, one scenario for both: two users chat, the
//! echo bot answers, a friend request is accepted, a muted member is refused, recall,
//! pinning and muting conversations, paging back through older history, the dashboard is
//! refused without the admin token and shows a broadcast reaching 100%, and `/metrics`
//! answers.
//!
//! Needs Node and `npm ci` in `tests/browser`, and for each browser its tools: Chromium at
//! `/usr/bin/chromium` (Debian's `chromium`; `CHROMIUM` overrides it), Firefox at
//! `/usr/bin/firefox-esr` (Debian's `firefox-esr`; `FIREFOX`) and `geckodriver` on `PATH`
//! or in `~/.cargo/bin` (`cargo install geckodriver --locked`; `GECKODRIVER`). Without them
//! a browser's test is skipped with a note, unless `CI` or `PARLEY_BROWSER_TESTS=1` is set,
//! when it fails. Screenshots go to a temporary folder, or for Chromium to
//! `PARLEY_SCREENSHOT_DIR` (`PARLEY_SCREENSHOT_DIR=docs` refreshes the README's).

mod common;

use common::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

const ADMIN_TOKEN: &str = "console-admin-token";

/// Messages from carol to alice before the browser opens, for paging back through history.
const HISTORY_MESSAGES: usize = 130;

#[derive(Clone, Copy, PartialEq)]
enum Browser {
    Chromium,
    Firefox,
}

impl Browser {
    fn name(self) -> &'static str {
        match self {
            Browser::Chromium => "chromium",
            Browser::Firefox => "firefox",
        }
    }
}

/// The first of `candidates` that exists, or the name of a program found on `PATH`.
fn find_program(var: &str, candidates: &[PathBuf], on_path: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        return Some(PathBuf::from(path)).filter(|p| p.exists());
    }
    if let Some(found) = candidates.iter().find(|p| p.exists()) {
        return Some(found.clone());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(on_path))
        .find(|p| p.exists())
}

/// The environment the browser's driver needs, or why the browser test cannot run here.
fn browser_env(
    browser: Browser,
    browser_dir: &Path,
) -> Result<Vec<(&'static str, PathBuf)>, String> {
    if Command::new("node").arg("--version").output().is_err() {
        return Err("no `node` on PATH".into());
    }
    let npm = |package: &str| {
        if browser_dir.join("node_modules").join(package).exists() {
            Ok(())
        } else {
            Err(format!(
                "{package} is not installed (cd {} && npm ci)",
                browser_dir.display()
            ))
        }
    };
    match browser {
        Browser::Chromium => {
            let chromium = find_program("CHROMIUM", &["/usr/bin/chromium".into()], "chromium")
                .ok_or("no Chromium at /usr/bin/chromium (apt-get install -y chromium)")?;
            npm("playwright-core")?;
            Ok(vec![("CHROMIUM", chromium)])
        }
        Browser::Firefox => {
            let firefox = find_program("FIREFOX", &["/usr/bin/firefox-esr".into()], "firefox")
                .ok_or("no Firefox at /usr/bin/firefox-esr (apt-get install -y firefox-esr)")?;
            let cargo_bin = std::env::var_os("CARGO_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
                .map(|d| d.join("bin/geckodriver"));
            let geckodriver = find_program(
                "GECKODRIVER",
                &cargo_bin.into_iter().collect::<Vec<_>>(),
                "geckodriver",
            )
            .ok_or("no geckodriver (cargo install geckodriver --locked)")?;
            npm("selenium-webdriver")?;
            Ok(vec![("FIREFOX", firefox), ("GECKODRIVER", geckodriver)])
        }
    }
}

#[tokio::test]
async fn the_console_works_in_headless_chromium() {
    console_works_in(Browser::Chromium).await;
}

#[tokio::test]
async fn the_console_works_in_headless_firefox() {
    console_works_in(Browser::Firefox).await;
}

async fn console_works_in(browser: Browser) {
    let browser_dir = repo().join("tests/browser");
    let tools = match browser_env(browser, &browser_dir) {
        Ok(tools) => tools,
        Err(why) => {
            let required = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
                || std::env::var_os("PARLEY_BROWSER_TESTS").is_some_and(|v| v == "1");
            assert!(!required, "the {} test cannot run: {why}", browser.name());
            eprintln!("skipped: the {} test cannot run: {why}", browser.name());
            return;
        }
    };

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("scripts"));
    let server = Server::start(&config, &[("PARLEY_ADMIN_TOKEN", ADMIN_TOKEN)]);

    // Older history to page back through: carol writes to alice before she logs in.
    {
        let mut carol = server.client("carol-token").await;
        for i in 1..=HISTORY_MESSAGES {
            carol
                .send_text(
                    json!({"kind": "direct", "id": "alice"}),
                    &format!("older {i:03}"),
                )
                .await;
        }
    }

    let shots = match std::env::var_os("PARLEY_SCREENSHOT_DIR") {
        Some(d) if browser == Browser::Chromium => repo().join(d),
        _ => dir.path().join("screenshots"),
    };
    std::fs::create_dir_all(&shots).unwrap();

    let mut node = tokio::process::Command::new("node");
    node.arg("console.test.js")
        .arg(browser.name())
        .current_dir(&browser_dir)
        .env("PARLEY_URL", format!("http://{}", server.addr))
        .env("PARLEY_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("HISTORY_MESSAGES", HISTORY_MESSAGES.to_string())
        .env("SCREENSHOT_DIR", &shots)
        .envs(tools)
        .kill_on_drop(true);
    let out = node.output().await.expect("cannot run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let log = server.stderr();
        // Kept for a look at the pages' screenshots (failed-*.png).
        let kept = dir.keep();
        panic!(
            "the {} test failed ({}):\n{stdout}\n{stderr}\nscreenshots in {}\n--- parley's log:\n{log}",
            browser.name(),
            out.status,
            kept.join("screenshots").display(),
        );
    }
    assert!(stdout.contains("ok: the console works"), "{stdout}");
    for shot in ["console-chat.png", "console-dashboard.png"] {
        let len = std::fs::metadata(shots.join(shot)).map_or(0, |m| m.len());
        assert!(len > 10_000, "{shot} is missing or empty");
    }
    server.stop();
}

/// The same routes over plain HTTP, so that they are checked where no browser is installed.
#[tokio::test]
async fn the_console_pages_dashboard_data_and_metrics_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("scripts"));
    let server = Server::start(&config, &[("PARLEY_ADMIN_TOKEN", ADMIN_TOKEN)]);
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{base}{path}"));

    for (path, mime, needle) in [
        ("/", "text/html", "/console/chat.js"),
        ("/dashboard", "text/html", "/console/dashboard.js"),
        ("/console/chat.js", "text/javascript", "class HubSocket"),
        ("/console/style.css", "text/css", ".msg"),
    ] {
        let res = get(path).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(content_type.starts_with(mime), "{path}: {content_type}");
        assert!(res.text().await.unwrap().contains(needle), "{path}");
    }

    let refused = get("/admin/dashboard").send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let wrong = get("/admin/dashboard")
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let figures: serde_json::Value = get("/admin/dashboard")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(figures["connections"][0]["id"], "hub", "{figures}");
    let echo = figures["bots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "echo")
        .unwrap_or_else(|| panic!("no echo bot in {figures}"));
    assert_eq!(echo["handlers"], serde_json::json!(["on_message"]));

    // An admin may open the chat as any existing user.
    let token = http
        .post(format!("{base}/admin/console/token"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({"user": "alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
    let token: serde_json::Value = token.json().await.unwrap();
    assert_eq!(token["token"], "alice-token");
    let unknown = http
        .post(format!("{base}/admin/console/token"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({"user": "nobody"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let anonymous = http
        .post(format!("{base}/admin/console/token"))
        .json(&serde_json::json!({"user": "alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let metrics = get("/metrics").send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = metrics.text().await.unwrap();
    for line in [
        "# TYPE parley_live_actors gauge",
        "parley_outbox_depth{connection=\"hub\"} 0",
        "parley_bot_errors_total{bot=\"echo\"} 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    server.stop();
}
