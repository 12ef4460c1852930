//! What a `read_committed` consumer takes from one fetch answer, and where it reads next.
//!
//! The rule that keeps a sink from losing records: the fetch offset moves only past a record
//! batch the broker sent, data or transaction marker, to the batch's own last offset + 1. An
//! answer with no batch at or past the offset moves nothing, whatever the high watermark says:
//! the broker may hold the records back (an open transaction keeps the last stable offset below
//! the high watermark) or, as tansu sometimes does, simply not send them this time.
//!
//! Records of aborted transactions are dropped as Kafka's consumer drops them: a transactional
//! batch is skipped while its producer has an aborted transaction that started at or before the
//! batch, until that producer's abort marker.

use std::collections::HashSet;

use bytes::Bytes;
use rskafka::client::partition::{BatchContent, PartitionFetch};

use super::fetcher::FetchedRecord;

/// The records of an answer to hand out, and the offset to fetch next.
#[derive(Debug)]
pub(crate) struct Consumed {
    pub records: Vec<FetchedRecord>,
    /// Equal to the fetch offset when the answer held no batch past it.
    pub next_offset: i64,
}

/// Takes the committed records at or after `offset` out of `fetch`.
pub(crate) fn consume(fetch: PartitionFetch, offset: i64) -> Consumed {
    let mut aborted = fetch.aborted_transactions;
    // Taken in the order they started, as the batches come.
    aborted.sort_by_key(|t| std::cmp::Reverse(t.first_offset));
    let mut aborted_producers = HashSet::new();
    let mut records = Vec::new();
    let mut next_offset = offset;
    for batch in fetch.batches {
        if batch.last_offset < offset {
            continue; // a batch the broker sent whole although the offset is past it
        }
        while aborted
            .last()
            .is_some_and(|t| t.first_offset <= batch.last_offset)
        {
            if let Some(transaction) = aborted.pop() {
                aborted_producers.insert(transaction.producer_id);
            }
        }
        next_offset = next_offset.max(batch.last_offset + 1);
        match batch.content {
            BatchContent::Control { commit } => {
                if !commit {
                    aborted_producers.remove(&batch.producer_id);
                }
            }
            BatchContent::Records(_)
                if batch.is_transactional && aborted_producers.contains(&batch.producer_id) => {}
            BatchContent::Records(batch_records) => {
                records.extend(
                    batch_records
                        .into_iter()
                        .filter(|r| r.offset >= offset)
                        .map(|r| FetchedRecord {
                            offset: r.offset,
                            key: r.record.key.map(Bytes::from),
                            value: r.record.value.map(Bytes::from),
                            headers: r
                                .record
                                .headers
                                .into_iter()
                                .map(|(k, v)| (k, Bytes::from(v)))
                                .collect(),
                            timestamp: r.record.timestamp.timestamp_millis(),
                        }),
                );
            }
        }
    }
    Consumed {
        records,
        next_offset,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rskafka::chrono::{TimeZone, Utc};
    use rskafka::client::partition::{AbortedTransaction, FetchedRecordBatch};
    use rskafka::record::{Record, RecordAndOffset};

    use super::*;

    /// A data batch of `count` records from `base`, values "v<offset>".
    fn data(base: i64, count: i64, producer_id: i64, is_transactional: bool) -> FetchedRecordBatch {
        FetchedRecordBatch {
            base_offset: base,
            last_offset: base + count - 1,
            producer_id,
            is_transactional,
            content: BatchContent::Records(
                (base..base + count)
                    .map(|offset| RecordAndOffset {
                        record: Record {
                            key: None,
                            value: Some(format!("v{offset}").into_bytes()),
                            headers: BTreeMap::new(),
                            timestamp: Utc.timestamp_millis_opt(1_000).unwrap(),
                        },
                        offset,
                    })
                    .collect(),
            ),
        }
    }

    fn marker(offset: i64, producer_id: i64, commit: bool) -> FetchedRecordBatch {
        FetchedRecordBatch {
            base_offset: offset,
            last_offset: offset,
            producer_id,
            is_transactional: true,
            content: BatchContent::Control { commit },
        }
    }

    fn answer(
        batches: Vec<FetchedRecordBatch>,
        high_watermark: i64,
        last_stable_offset: i64,
    ) -> PartitionFetch {
        PartitionFetch {
            batches,
            high_watermark,
            last_stable_offset: Some(last_stable_offset),
            aborted_transactions: Vec::new(),
        }
    }

    fn offsets(consumed: &Consumed) -> Vec<i64> {
        consumed.records.iter().map(|r| r.offset).collect()
    }

    #[test]
    fn an_empty_answer_below_the_high_watermark_does_not_move_the_offset() {
        // What tansu sent about once per 530 fetches: no records for an offset that holds one.
        let consumed = consume(answer(vec![], 46_834, 46_834), 46_500);
        assert!(consumed.records.is_empty());
        assert_eq!(consumed.next_offset, 46_500);
    }

    #[test]
    fn records_are_taken_from_the_fetch_offset_and_the_offset_moves_past_the_last_batch() {
        let consumed = consume(
            answer(vec![data(10, 5, -1, false), data(15, 3, -1, false)], 18, 18),
            12,
        );
        assert_eq!(offsets(&consumed), vec![12, 13, 14, 15, 16, 17]);
        assert_eq!(consumed.next_offset, 18);
        assert_eq!(consumed.records[0].value.as_deref(), Some(&b"v12"[..]));
    }

    #[test]
    fn a_control_batch_is_skipped_by_its_own_offset() {
        // A committed transaction: records 0-2, its marker at 3, then plain records 4-5.
        let consumed = consume(
            answer(
                vec![
                    data(0, 3, 7, true),
                    marker(3, 7, true),
                    data(4, 2, -1, false),
                ],
                6,
                6,
            ),
            0,
        );
        assert_eq!(offsets(&consumed), vec![0, 1, 2, 4, 5]);
        assert_eq!(consumed.next_offset, 6);

        // A marker alone (the end of the partition): step over it, hand out nothing.
        let consumed = consume(answer(vec![marker(3, 7, true)], 4, 4), 3);
        assert!(consumed.records.is_empty());
        assert_eq!(consumed.next_offset, 4);
    }

    #[test]
    fn an_open_transaction_holds_the_offset_at_the_last_stable_offset() {
        // Records 0-4 are committed; a transaction opened at 5 is still open (high watermark
        // 9, last stable offset 5), so the broker sends up to offset 4 only.
        let consumed = consume(answer(vec![data(0, 5, -1, false)], 9, 5), 0);
        assert_eq!(offsets(&consumed), vec![0, 1, 2, 3, 4]);
        assert_eq!(consumed.next_offset, 5);

        // Asked again at 5 while it is open: nothing comes back and the offset stays, so the
        // transaction's records are read once it commits.
        let consumed = consume(answer(vec![], 9, 5), 5);
        assert!(consumed.records.is_empty());
        assert_eq!(consumed.next_offset, 5);

        let consumed = consume(
            answer(vec![data(5, 4, 9, true), marker(9, 9, true)], 10, 10),
            5,
        );
        assert_eq!(offsets(&consumed), vec![5, 6, 7, 8]);
        assert_eq!(consumed.next_offset, 10);
    }

    #[test]
    fn records_of_an_aborted_transaction_are_dropped() {
        // Producer 9 aborted the transaction of 2-3 (marker at 4); producer 8 committed 5-6.
        let mut fetch = answer(
            vec![
                data(0, 2, -1, false),
                data(2, 2, 9, true),
                marker(4, 9, false),
                data(5, 2, 8, true),
                marker(7, 8, true),
                data(8, 1, 9, true),
            ],
            9,
            9,
        );
        fetch.aborted_transactions = vec![AbortedTransaction {
            producer_id: 9,
            first_offset: 2,
        }];
        let consumed = consume(fetch, 0);
        // Producer 9's batch after its abort marker belongs to a new transaction: kept.
        assert_eq!(offsets(&consumed), vec![0, 1, 5, 6, 8]);
        assert_eq!(consumed.next_offset, 9);
    }
}
