use vfex_control::config::{self, ConfigErrors};
use vfex_control::model::*;

use crate::examples_dir;

fn example(name: &str) -> Config {
    let path = examples_dir().join(name);
    match config::load(&path) {
        Ok(c) => c,
        Err(e) => panic!("{name} does not load:\n{e}"),
    }
}

#[test]
fn every_example_loads() {
    let mut n = 0;
    for e in std::fs::read_dir(examples_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            config::load(&p).unwrap_or_else(|e| panic!("{}:\n{e}", p.display()));
            n += 1;
        }
    }
    assert!(n >= 4, "expected an example per role, found {n}");
}
