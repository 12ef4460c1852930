//! Kafka's default partitioner, so keyed records land where the Java client puts them.

use std::sync::atomic::{AtomicU32, Ordering};

/// Kafka's murmur2 hash (`org.apache.kafka.common.utils.Utils.murmur2`), seed 0x9747b28c.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    let mut h = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition of a keyed record: `toPositive(murmur2(key)) % partitions`, as Kafka's
/// `BuiltInPartitioner.partitionForKey`.
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % partitions.max(1)
}

/// Chooses partitions for records without a key: every record of one batch goes to the same
/// partition, and the next batch to the next one. Like Kafka's sticky partitioner, this keeps
/// produce requests large while spreading load over time.
#[derive(Debug, Default)]
pub struct StickyPartitioner {
    next: AtomicU32,
}

impl StickyPartitioner {
    /// The partition for the unkeyed records of the next batch.
    pub fn next_batch_partition(&self, partitions: i32) -> i32 {
        (self.next.fetch_add(1, Ordering::Relaxed) % partitions.max(1) as u32) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafkas_test_vectors() {
        // From Kafka's UtilsTest.testMurmur2; checked here against kafka-python as well.
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            (b"abc", 479470107),
        ];
        for (input, expected) in cases {
            assert_eq!(
                murmur2(input),
                expected,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn keys_land_where_the_java_client_puts_them() {
        // Partitions of 4 as kafka-python's DefaultPartitioner computes them.
        for (key, partition) in [
            ("21", 0),
            ("foobar", 2),
            ("abc", 3),
            ("", 1),
            ("key-0", 1),
            ("order-1", 2),
        ] {
            assert_eq!(partition_for_key(key.as_bytes(), 4), partition, "{key}");
        }
    }

    #[test]
    fn unkeyed_batches_rotate_over_partitions() {
        let sticky = StickyPartitioner::default();
        let chosen: Vec<i32> = (0..5).map(|_| sticky.next_batch_partition(3)).collect();
        assert_eq!(chosen, [0, 1, 2, 0, 1]);
    }
}
