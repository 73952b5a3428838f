//! Helpers shared by the tests that drive the `linflow` binary.
// Each test file uses the helpers it needs.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the `linflow` binary with `args` from the crate's root.
pub fn linflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_linflow")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap()
}

/// Standard output followed by standard error.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A fresh, empty temporary directory for `name`, unique to this test binary and process.
pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("linflow-{}-{}-{name}", env!("CARGO_CRATE_NAME"), std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A small GD experiment file (a 2-3-2 network on the identity target, η = 1/10, 5 steps) that
/// tests vary one line at a time.
pub const GD_FILE: &str = r#"
[model]
arch = "deep_linear"
widths = [2, 3, 2]

[loss]
kind = "target"
target = [[1, 0], [0, 1]]

[init]
kind = "gaussian"
scale = 0.5
seed = 1

[method]
kind = "gd"
eta = "1/10"

[run]
steps = 5
"#;
