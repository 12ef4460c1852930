//! A tansu broker of a test's own, with the memory engine, that the test can kill and start
//! again on the same port (the shared one from `scripts/services.sh` must stay up for the
//! other tests). A restarted broker has forgotten everything: topics, groups, offsets.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, Services};

/// A private tansu broker on 127.0.0.1; killed when dropped.
#[derive(Debug)]
pub struct PrivateKafka {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Option<Child>,
}

impl PrivateKafka {
    /// Starts tansu (`TANSU_BIN` of the services env file) on a free port and waits until it
    /// listens.
    pub async fn start() -> Self {
        let mut broker = Self {
            port: free_port(),
            child: None,
        };
        broker.restart().await;
        broker
    }

    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the broker at once, as a crash would (no clean shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker (again) on its port, after killing it if it runs, and waits until it
    /// listens.
    pub async fn restart(&mut self) {
        self.kill();
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(tansu_bin())
            .args(["broker", "--storage-engine", "memory://tansu/"])
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tansu: {e}"));
        self.child = Some(child);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the private broker did not listen on {} within 10 s",
            self.port
        );
    }
}

impl Drop for PrivateKafka {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The tansu binary `scripts/services.sh` recorded.
fn tansu_bin() -> String {
    let path = Services::env_file();
    let env = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; start the services first: scripts/services.sh start",
            path.display()
        )
    });
    env.lines()
        .find_map(|l| l.strip_prefix("TANSU_BIN="))
        .unwrap_or_else(|| panic!("{} has no TANSU_BIN", path.display()))
        .trim()
        .to_owned()
}
