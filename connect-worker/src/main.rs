//! The `connect-worker` binary.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "connect-worker {}: the worker runtime is not built yet (see issue #4); \
         nothing to run",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::FAILURE
}
