//! A worker binary with the counter connector and no other: it depends on `connect-worker`
//! without default features, so it compiles no built-in connector, no fred and no jemalloc.
//! Kafka's converters, transforms and predicates are there, as in every worker. Same command
//! line as `connect-worker`: `custom-worker WORKER.properties [CONNECTOR.properties ...]`.

use std::process::ExitCode;

use connect_worker::worker::Worker;

fn main() -> ExitCode {
    connect_worker::cli::main(Worker::builder().plugin(custom_connector_example::plugin()))
}
