//! `parley check`: the shipped bots and the examples of docs/bots.md compile; a broken
//! script is reported as file:line:col with a non-zero exit; a misspelt handler is warned about.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

fn parley_check(config: &Path, paths: &[&Path]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parley"));
    cmd.args(["--config", config.to_str().unwrap(), "check"]);
    cmd.args(paths);
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_shipped_bots_and_the_doc_examples_compile() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("scripts"));
    let out = parley_check(&config, &[]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("customer_service.rhai"), "{log}");

    let examples = repo().join("examples/bots");
    let out = parley_check(&config, &[&examples]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(!log.contains("warning"), "{log}");
    // One example per handler, each named in docs/bots.md.
    let docs = std::fs::read_to_string(repo().join("docs/bots.md")).unwrap();
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rhai") {
            let name = path.file_name().unwrap().to_str().unwrap();
            assert!(log.contains(name), "{name} not checked:\n{log}");
            assert!(
                docs.contains(&format!("examples/bots/{name}")),
                "docs/bots.md does not show {name}"
            );
        }
    }
}

#[test]
fn every_broken_script_is_reported_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    std::fs::write(
        scripts.join("good.rhai"),
        "fn on_message(ctx, msg) { ctx.reply(\"hi\"); }\n",
    )
    .unwrap();
    std::fs::write(
        scripts.join("bad.rhai"),
        "fn on_message(ctx, msg) {\n    let x = ;\n}\n",
    )
    .unwrap();
    std::fs::write(
        scripts.join("worse.rhai"),
        "fn on_message(ctx, msg) {\n    ctx.reply(\"unclosed);\n}\n",
    )
    .unwrap();
    std::fs::write(
        scripts.join("typo.rhai"),
        "fn on_mesage(ctx, msg) { ctx.reply(\"x\"); }\n",
    )
    .unwrap();
    let config = write_config(dir.path(), &scripts);

    let out = parley_check(&config, &[]);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("bad.rhai:2:13: "), "{log}");
    assert!(log.contains("worse.rhai:2:"), "{log}");
    assert!(
        log.lines()
            .any(|l| l.starts_with("ok") && l.contains("good.rhai")),
        "{log}"
    );
    assert!(log.contains("did you mean `on_message`?"), "{log}");
    assert!(log.contains("2 of 4 script(s) do not compile"), "{log}");

    // One file: only that file is reported.
    let out = parley_check(&config, &[&scripts.join("good.rhai")]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(!log.contains("bad.rhai"), "{log}");
}
