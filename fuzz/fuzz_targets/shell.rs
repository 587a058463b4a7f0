//! The command shell's parser (`vfex -i`, `--cmdline-file`: the binary's
//! `src/shell.rs`, compiled in here as it stands) on arbitrary lines:
//! `parse_line`, `complete` and `help` never panic. A rejected line gets a
//! one-line message; an accepted one names a command whose words start the
//! line; completions start where the last word starts (on a character
//! boundary) and each extends the partial word.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/shell.rs"]
mod shell;

use shell::{COMMANDS, ShellCmd, complete, help, parse_line, split_words};

fuzz_target!(|data: &[u8]| {
    // The shell reads lines of text (stdin, the command file).
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    if line.contains('\n') {
        return;
    }
    match parse_line(line) {
        Err(e) => {
            assert!(!e.0.is_empty(), "an error without a message");
            assert!(!e.0.contains('\n'), "a multi-line error: {e}");
        }
        Ok(None) => {
            assert!(split_words(line).is_ok_and(|w| w.is_empty()));
        }
        Ok(Some(cmd)) => {
            let words = split_words(line).expect("an accepted line splits");
            assert!(
                COMMANDS.iter().any(|d| d.words.len() <= words.len()
                    && d.words.iter().zip(&words).all(|(a, b)| a == b)),
                "{line:?} accepted as {cmd:?} without a command's words"
            );
            if let ShellCmd::Help(topic) = &cmd {
                assert!(!help(topic.as_deref()).is_empty());
            }
        }
    }
    let (at, cands) = complete(line);
    assert!(
        line.is_char_boundary(at),
        "completion start {at} inside a character"
    );
    let partial = &line[at..];
    for c in &cands {
        assert!(c.starts_with(partial), "{c:?} does not extend {partial:?}");
    }
});
