//! A worker binary with the counter connector beside the built-in ones. Same command line as
//! `connect-worker`: `custom-worker WORKER.properties [CONNECTOR.properties ...]`.

use std::process::ExitCode;

use connect_worker::worker::Worker;

fn main() -> ExitCode {
    connect_worker::cli::main(Worker::builder().plugin(custom_connector_example::plugin()))
}
