//! Checks a vfex configuration file: prints every error with
//! file:line:column, or the configuration as vfex understood it.
//!
//! `cargo run -p vfex-control --example vfex_check_config -- examples/port-extender.toml`

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: vfex_check_config FILE.toml");
        std::process::exit(2);
    };
    match vfex_control::config::load(std::path::Path::new(&path)) {
        Ok(c) => print!("{}", c.to_toml()),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
