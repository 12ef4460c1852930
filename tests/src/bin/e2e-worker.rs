//! The worker binary the end-to-end tests run as a separate process (to kill it with
//! SIGKILL): `connect-worker` itself, built as part of this package so that tests find it at
//! `CARGO_BIN_EXE_e2e-worker`. The same plugins as connect-worker's `main`; the system
//! allocator, not jemalloc. Plus test plugins the shipped binary does not have
//! ([`connect_e2e::hanging_start`]).

use std::process::ExitCode;

fn main() -> ExitCode {
    connect_worker::cli::main(
        connect_worker::worker::Worker::builder()
            .plugins(connect_worker::builtin_connectors::plugins())
            .plugin(connect_e2e::hanging_start::plugin()),
    )
}
