//! The connectors shipped with `connect-worker`: FileStreamSource and FileStreamSink
//! (`connect-file`), the Redis sink and the Redis sources (`connect-redis`).
//!
//! Behind the `builtin-connectors` feature (a default one), so that a worker binary of one's
//! own that depends on this crate with `default-features = false` compiles neither these
//! connectors nor fred. A binary that wants them too registers them as the shipped one does:
//!
//! ```no_run
//! use connect_worker::worker::Worker;
//!
//! fn main() -> std::process::ExitCode {
//!     connect_worker::cli::main(Worker::builder().plugins(connect_worker::builtin_connectors::plugins()))
//! }
//! ```

use connect_core::plugin::PluginDescriptor;

/// Every built-in connector, for `WorkerBuilder::plugins`.
pub fn plugins() -> Vec<PluginDescriptor> {
    let mut plugins = connect_file::plugins();
    plugins.extend(connect_redis::plugins());
    plugins
}
