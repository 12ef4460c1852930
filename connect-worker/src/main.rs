//! The `connect-worker` binary; see `connect-worker --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    connect_worker::cli::main(connect_worker::worker::Worker::builder())
}
