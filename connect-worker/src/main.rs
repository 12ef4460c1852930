//! The `connect-worker` binary (being wired to the worker library).

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("connect-worker: not wired yet");
    ExitCode::FAILURE
}
