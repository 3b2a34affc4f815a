//! The web console in a real browser: `tests/browser/console.test.js` drives headless
//! Chromium (through `playwright-core`) against the real binary: two users chat, the echo
//! bot answers, a friend request is accepted, a muted member is refused, recall, the
//! dashboard is refused without the admin token and shows a broadcast reaching 100%, and
//! `/metrics` answers.
//!
//! Needs `/usr/bin/chromium` (Debian's `chromium`), Node and `npm ci` in `tests/browser`.
//! Without them the test is skipped with a note, unless `CI` or `PARLEY_BROWSER_TESTS=1`
//! is set, when it fails. Screenshots go to a temporary folder, or to
//! `PARLEY_SCREENSHOT_DIR` (`PARLEY_SCREENSHOT_DIR=docs` refreshes the README's).

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

const ADMIN_TOKEN: &str = "console-admin-token";

/// Why the browser test cannot run here, if it cannot.
fn missing_tools(browser_dir: &Path) -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "no Chromium at {chromium} (apt-get install -y chromium)"
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("no `node` on PATH".into());
    }
    if !browser_dir.join("node_modules/playwright-core").exists() {
        return Some(format!(
            "playwright-core is not installed (cd {} && npm ci)",
            browser_dir.display()
        ));
    }
    None
}

#[test]
fn the_console_works_in_headless_chromium() {
    let browser_dir = repo().join("tests/browser");
    if let Some(why) = missing_tools(&browser_dir) {
        let required = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
            || std::env::var_os("PARLEY_BROWSER_TESTS").is_some_and(|v| v == "1");
        assert!(!required, "the browser test cannot run: {why}");
        eprintln!("skipped: the browser test cannot run: {why}");
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("scripts"));
    let server = Server::start(&config, &[("PARLEY_ADMIN_TOKEN", ADMIN_TOKEN)]);

    let shots = match std::env::var_os("PARLEY_SCREENSHOT_DIR") {
        Some(d) => repo().join(d),
        None => dir.path().join("screenshots"),
    };
    std::fs::create_dir_all(&shots).unwrap();

    let out = Command::new("node")
        .arg("console.test.js")
        .current_dir(&browser_dir)
        .env("PARLEY_URL", format!("http://{}", server.addr))
        .env("PARLEY_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("SCREENSHOT_DIR", &shots)
        .output()
        .expect("cannot run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser test failed ({}):\n{stdout}\n{stderr}\n--- parley's log:\n{}",
        out.status,
        server.stderr()
    );
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
