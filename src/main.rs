//! `vfex [EAL options] -- [vfex options]`: the vfex command line.
//!
//! Exit status: 0 ok, 1 runtime error, 2 usage error.

mod demo;
mod generator;
mod options;
mod role;
mod run;
mod shell;
mod telemetry;

use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (eal_args, vfex_args) = options::split_args(&argv);
    // `vfex --help` / `vfex -h` before `--` is ours too (EAL's own help is
    // about EAL only).
    let early_help = eal_args.iter().any(|a| a == "--help" || a == "-h");
    let opts = match options::parse(&vfex_args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("vfex: {e}");
            return ExitCode::from(2);
        }
    };
    if opts.help || early_help {
        print!("{}", options::help());
        return ExitCode::SUCCESS;
    }
    if opts.version || eal_args.iter().any(|a| a == "--version" || a == "-V") {
        println!("vfex {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    match run::run(&eal_args, &opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(run::RunError::Usage(e)) => {
            eprintln!("vfex: {e:#}");
            ExitCode::from(2)
        }
        Err(run::RunError::Runtime(e)) => {
            eprintln!("vfex: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
