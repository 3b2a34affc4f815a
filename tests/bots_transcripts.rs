//! `parley test` on the shipped bots' transcripts (scripts/transcripts/) and on the
//! examples of docs/bots.md (examples/bots/transcripts/), through the real binary; and a
//! transcript with wrong expectations, which must fail with a readable diff.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

fn parley_test(config: &Path, paths: &[&Path]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parley"));
    cmd.args(["--config", config.to_str().unwrap(), "test"]);
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
fn the_shipped_bots_pass_their_transcripts() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("scripts"));
    // No paths: the transcripts/ folder of the bots folder.
    let out = parley_test(&config, &[]);
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    for name in ["broadcast", "customer_service", "echo", "moderation"] {
        assert!(
            log.lines()
                .any(|l| l.starts_with("ok    ") && l.contains(&format!("{name}.txt"))),
            "{name}.txt did not pass:\n{log}"
        );
    }
    assert!(log.contains("4 passed, 0 failed"), "{log}");
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
