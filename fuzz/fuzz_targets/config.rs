//! The configuration loader (`vfex_control::config::parse`, what
//! `vfex --config` and `load config` run) on arbitrary text: never
//! panics; the result is a configuration or a non-empty list of errors,
//! each with a 1-based line and column inside the text and a message, in
//! file order. A configuration it accepts also survives what the control
//! plane does with it next: written back (`save config`, `show config`)
//! it reads back equal, and it compiles (every VF port resolved).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vfex_control::compile::{VfMap, compile};
use vfex_control::config::parse;
use vfex_control::model::{PciAddr, PortDevice};

const FILE: &str = "fuzz.toml";

fuzz_target!(|data: &[u8]| {
    // The loader reads the file with read_to_string: text that is not
    // UTF-8 never reaches the parser (one "cannot read" error).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse(FILE, text) {
        Err(errs) => {
            assert!(!errs.0.is_empty(), "an Err with no error");
            let lines = text.split('\n').count();
            let mut last = (0, 0);
            for e in &errs.0 {
                assert_eq!(e.file, FILE);
                assert!(e.line >= 1 && e.line <= lines, "line out of the text: {e}");
                let len = text.split('\n').nth(e.line - 1).unwrap().chars().count();
                assert!(
                    e.col >= 1 && e.col <= len + 1,
                    "column out of the line: {e}"
                );
                assert!(!e.msg.trim().is_empty(), "an error without a message");
                assert!(
                    e.to_string()
                        .starts_with(&format!("{FILE}:{}:{}: ", e.line, e.col)),
                    "{e}"
                );
                assert!((e.line, e.col) >= last, "errors out of file order");
                last = (e.line, e.col);
            }
            let shown = errs.to_string();
            assert!(shown.contains("in the configuration"), "{shown}");
        }
        Ok(cfg) => {
            // save config / show config, then load config: the same.
            let back = cfg.validate().unwrap_or_else(|e| {
                panic!(
                    "an accepted configuration does not read back:\n{}\n{e}",
                    cfg.to_toml()
                )
            });
            assert_eq!(back, cfg, "read back differently:\n{}", cfg.to_toml());
            // Every `vf = {pf, index}` port resolved to some VF address.
            let vfs: VfMap = cfg
                .ports
                .values()
                .filter_map(|p| match &p.device {
                    PortDevice::Vf { pf, index } => {
                        Some(((pf.clone(), *index), PciAddr::default()))
                    }
                    _ => None,
                })
                .collect();
            let _ = compile(&cfg, &vfs);
        }
    }
});
