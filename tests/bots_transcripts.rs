//! `parley test` on the shipped bots' transcripts (scripts/transcripts/) and on the
//! examples of docs/bots.md (examples/bots/transcripts/), through the real binary, on the
//! hub and over the Tencent Cloud IM and OneBot v11 adapters (against their local fake
//! platforms); and transcripts with wrong expectations, which must fail with a readable
//! diff on every platform.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

fn parley_test(config: &Path, paths: &[&Path]) -> Output {
    parley_test_on(config, paths, "hub")
}

fn parley_test_on(config: &Path, paths: &[&Path], platform: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parley"));
    cmd.args(["--config", config.to_str().unwrap(), "test"]);
    cmd.args(["--platform", platform]);
    cmd.args(paths);
    cmd.output().unwrap()
}

/// The shipped transcripts' names (file stems), sorted.
fn shipped() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("scripts/transcripts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 4, "{names:?}");
    names
}

/// Every shipped transcript on `platform`: passes, or is skipped from the step the platform
/// cannot play (the steps before it passing), with the reason printed.
fn shipped_transcripts_on(platform: &str, skipped: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("scripts"));
    let out = parley_test_on(&config, &[], platform);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    let names = shipped();
    for name in &names {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("{name}.txt on {platform}")))
            .unwrap_or_else(|| panic!("no line for {name}.txt:\n{log}"));
        match skipped.iter().find(|(n, _)| n == name) {
            Some((_, why)) => assert!(
                line.starts_with("skip  ") && line.contains(why) && line.contains("passed"),
                "{name}.txt should be skipped on {platform} ({why}):\n{log}"
            ),
            None => assert!(
                line.starts_with("ok    "),
                "{name}.txt did not pass:\n{log}"
            ),
        }
    }
    let summary = format!(
        "{} passed, 0 failed, {} skipped",
        names.len() - skipped.len(),
        skipped.len()
    );
    assert!(log.contains(&summary), "{log}");
}

#[test]
fn the_shipped_bots_pass_their_transcripts_over_tencent() {
    // The helpdesk's friend requests need a hub request first (the bot's friend settings).
    shipped_transcripts_on(
        "tencent",
        &[
            (
                "customer_service",
                "line 82: tencent cannot play a hub request",
            ),
            // Creating the public club is a hub request.
            (
                "moderation_joins",
                "line 6: tencent cannot play a hub request",
            ),
        ],
    );
}

#[test]
fn the_shipped_bots_pass_their_transcripts_over_onebot() {
    shipped_transcripts_on(
        "onebot",
        &[
            (
                "customer_service",
                "line 82: onebot cannot play a hub request",
            ),
            // Creating the public club is a hub request.
            (
                "moderation_joins",
                "line 6: onebot cannot play a hub request",
            ),
        ],
    );
}

#[test]
fn a_wrong_reply_fails_over_the_adapters_too() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("scripts"));
    let wrong = dir.path().join("wrong.txt");
    std::fs::write(
        &wrong,
        "bots: moderation\n\
         bob -> group:lobby: what the heck\n\
         bot does recall\n\
         bot -> group:lobby: @bob please mind the rules (strike 2; every third one mutes).\n\
         state moderation group:lobby: {\"strikes\": {\"bob\": 2}}\n",
    )
    .unwrap();
    for platform in ["tencent", "onebot"] {
        let out = parley_test_on(&config, &[&wrong], platform);
        let log = text(&out);
        assert!(!out.status.success(), "{log}");
        // The platform's calls, read back with the transcript's names.
        for want in [
            &format!("FAIL  {} on {platform}", wrong.display()),
            "line 2: bob -> group:lobby: what the heck",
            "  bot does recall",
            "- bot -> group:lobby: @bob please mind the rules (strike 2; every third one mutes).",
            "+ bot -> group:lobby: @bob please mind the rules (strike 1; every third one mutes).",
            "line 5: state moderation group:lobby:",
            "actual   {\"recent\":{\"bob\":[",
            "\"strikes\":{\"bob\":1}}",
            "0 passed, 1 failed",
        ] {
            assert!(
                log.contains(want),
                "{platform}: missing {want:?} in:\n{log}"
            );
        }
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_shipped_bots_pass_their_transcripts() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("scripts"));
    // No paths: the transcripts/ folder of the bots folder.
    let out = parley_test(&config, &[]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    let names = shipped();
    for name in &names {
        assert!(
            log.lines()
                .any(|l| l.starts_with("ok    ") && l.contains(&format!("{name}.txt"))),
            "{name}.txt did not pass:\n{log}"
        );
    }
    assert!(
        log.contains(&format!("{} passed, 0 failed", names.len())),
        "{log}"
    );
}

#[test]
fn the_examples_of_the_bot_docs_pass_their_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("examples/bots"));
    let out = parley_test(&config, &[]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("1 passed, 0 failed"), "{log}");
}

#[test]
fn a_wrong_expectation_fails_with_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("scripts"));
    let good = dir.path().join("good.txt");
    std::fs::write(
        &good,
        "bots: echo\nalice -> bot: hi\nbot -> alice: echo #1: hi\n",
    )
    .unwrap();
    let wrong = dir.path().join("wrong.txt");
    std::fs::write(
        &wrong,
        "# The echo bot counts from 1, not 2.\n\
         bots: echo\n\
         alice -> bot: hello\n\
         bot -> alice: echo #2: hello\n\
         state echo direct:alice: {\"count\": 2}\n\
         alice -> bot: never reached\n",
    )
    .unwrap();
    let out = parley_test(&config, &[&good, &wrong]);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.lines()
            .any(|l| l.starts_with("ok    ") && l.contains("good.txt")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.starts_with("FAIL  ") && l.contains("wrong.txt")),
        "{log}"
    );
    // Where, what was expected (-), what happened (+), and the state.
    for want in [
        "line 3: alice -> bot: hello",
        "- bot -> alice: echo #2: hello",
        "+ bot -> alice: echo #1: hello",
        "line 5: state echo direct:alice:",
        "expected {\"count\":2}",
        "actual   {\"count\":1}",
        "1 passed, 1 failed",
    ] {
        assert!(log.contains(want), "missing {want:?} in:\n{log}");
    }
    assert!(!log.contains("never reached"), "{log}");
}

#[test]
fn a_transcript_that_does_not_parse_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("scripts"));
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "bots: echo\nalice shouts at bot\n").unwrap();
    let out = parley_test(&config, &[&bad]);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains("bad.txt:line 2: cannot read `alice shouts at bot`"),
        "{log}"
    );
}
