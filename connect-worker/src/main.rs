//! The `connect-worker` binary, with every built-in connector, on jemalloc; see
//! `connect-worker --help`. Built only with the features `builtin-connectors` and `jemalloc`
//! (both default).

use std::process::ExitCode;

/// jemalloc rather than glibc's malloc: a record passes through several threads (read on one,
/// converted and produced on another), and glibc's malloc spent about a quarter of the
/// worker's CPU in the source benchmark freeing across threads and consolidating. Measured
/// (docs/benchmarks.md): less CPU per record and a lower peak RSS than glibc.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read when it starts (before `main`); `_RJEM_MALLOC_CONF` in the
/// environment overrides them. One arena (the worker has few threads; more arenas only hold
/// more memory), freed pages returned to the system after one second, not ten: the peak RSS
/// stays near what is live.
// `unsafe_code` allowed: naming an exported symbol is how jemalloc takes compiled-in settings;
// nothing else defines it.
#[allow(non_upper_case_globals, unsafe_code)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] = b"narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

fn main() -> ExitCode {
    connect_worker::cli::main(
        connect_worker::worker::Worker::builder()
            .plugins(connect_worker::builtin_connectors::plugins()),
    )
}
