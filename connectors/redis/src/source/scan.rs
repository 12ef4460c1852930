//! `SCAN` to the end, on a single server or on every master of a cluster.

use bytes::Bytes;
use fred::prelude::{Client, ClientLike};
use fred::types::scan::ScanType;
use fred::types::Value as Reply;

use super::command;
use super::reply;

/// How many keys one SCAN call looks at.
const SCAN_COUNT: u32 = 1000;

/// Every key matching `pattern` (and of type `stream` when `streams_only`), on every master
/// in a cluster. For patterns that match few keys (streams, processing lists): the keys are
/// collected in memory.
pub(crate) async fn all_keys(
    client: &Client,
    cluster: bool,
    pattern: &str,
    streams_only: bool,
) -> Result<Vec<Bytes>, fred::error::Error> {
    if cluster {
        use futures::TryStreamExt;
        let kind = streams_only.then_some(ScanType::Stream);
        let keys: Vec<fred::types::Key> = client
            .scan_cluster_buffered(pattern.to_owned(), Some(SCAN_COUNT), kind)
            .try_collect()
            .await?;
        return Ok(keys.into_iter().map(fred::types::Key::into_bytes).collect());
    }
    let mut keys = Vec::new();
    let mut cursor = Bytes::from_static(b"0");
    loop {
        let mut args: Vec<Reply> = vec![
            Reply::Bytes(cursor),
            "MATCH".into(),
            pattern.into(),
            "COUNT".into(),
            i64::from(SCAN_COUNT).into(),
        ];
        if streams_only {
            args.push("TYPE".into());
            args.push("stream".into());
        }
        let page = client
            .custom::<Reply, Reply>(command("SCAN", false), args)
            .await?;
        let (next, found) = reply::scan(page).map_err(|e| {
            fred::error::Error::new(fred::error::ErrorKind::Protocol, e.to_string())
        })?;
        keys.extend(found);
        if next == "0" {
            return Ok(keys);
        }
        cursor = next.into_bytes();
    }
}
