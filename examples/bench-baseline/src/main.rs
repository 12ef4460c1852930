//! `bench-baseline`: the ceiling `scripts/bench.sh` measures the worker against, and the tools
//! it drives.
//!
//! The bridges are what a careful engineer writes by hand with the same crates the worker
//! uses (rskafka and fred) and no framework: no converters, transforms, offsets store or REST
//! API. They run until they are killed, like a real bridge; the benchmark times them from the
//! outside exactly as it times the worker.
//!
//! ```text
//! bench-baseline sink-bridge   --kafka H:P --topic T --redis URL --type string|hash|stream --keyspace K
//! bench-baseline plain-bridge  --kafka H:P --topic T --redis URL --type string --keyspace K
//! bench-baseline source-bridge --redis URL --stream S --group G --kafka H:P --topic T [--batch N]
//! bench-baseline produce       --kafka H:P --topic T --partitions P --count N   (fixture)
//! bench-baseline fill-stream   --redis URL --stream S --count N                 (fixture)
//! bench-baseline create-topic  --kafka H:P --topic T --partitions P
//! bench-baseline wait-topic    --kafka H:P --topic T --count N [--timeout S]    (completion)
//! bench-baseline latency       --kafka H:P --topic T --redis URL --keyspace K --rate R --seconds S [--tick-ms 5]
//! ```

mod common;
mod fixtures;
mod latency;
mod plain_bridge;
mod sink_bridge;
mod source_bridge;

use std::collections::HashMap;
use std::process::ExitCode;

use common::Result;

const USAGE: &str = "usage: bench-baseline sink-bridge|plain-bridge|source-bridge|produce|fill-stream|create-topic|wait-topic|latency --key value ... (see src/main.rs)";

/// `--key value` pairs.
#[derive(Debug)]
pub struct Args(HashMap<String, String>);

impl Args {
    fn parse(args: impl Iterator<Item = String>) -> Result<Self> {
        let mut map = HashMap::new();
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            let key = arg
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --key, got {arg:?}"))?;
            let value = args
                .next()
                .ok_or_else(|| format!("--{key} needs a value"))?;
            map.insert(key.to_owned(), value);
        }
        Ok(Self(map))
    }

    /// A required argument.
    pub fn get(&self, key: &str) -> Result<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("--{key} is required").into())
    }

    /// An optional number with a default.
    pub fn num<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T> {
        match self.0.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{key}: not a number: {v:?}").into()),
        }
    }
}

async fn run(command: &str, args: &Args) -> Result<()> {
    match command {
        "sink-bridge" => sink_bridge::run(args).await,
        "plain-bridge" => plain_bridge::run(args).await,
        "source-bridge" => source_bridge::run(args).await,
        "produce" => fixtures::produce(args).await,
        "fill-stream" => fixtures::fill_stream(args).await,
        "create-topic" => fixtures::create_topic(args).await,
        "wait-topic" => fixtures::wait_topic(args).await,
        "latency" => latency::run(args).await,
        other => Err(format!("unknown command {other:?}; {USAGE}").into()),
    }
}

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let Some(command) = argv.next() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = Args::parse(argv).and_then(|args| {
        let mut builder = match args.num("threads", 0)? {
            // --threads 1: everything on this thread (no cross-thread wake-ups).
            1 => tokio::runtime::Builder::new_current_thread(),
            0 => tokio::runtime::Builder::new_multi_thread(),
            n => {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(n);
                b
            }
        };
        let runtime = builder.enable_all().build()?;
        runtime.block_on(run(&command, &args))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-baseline {command}: {e}");
            ExitCode::FAILURE
        }
    }
}
