//! Splitting a byte stream into lines exactly where Kafka's `FileStreamSourceTask` does, while
//! counting the byte position after each line (the source offset).

/// Bytes read from the file and not yet returned as lines.
///
/// Line ends are `\n`, `\r\n` and a lone `\r`, as in Kafka's `extractLine`. A `\r` that is the
/// last byte read so far is not a line end yet: the next byte may be the `\n` of a `\r\n`.
/// Splitting bytes rather than characters is safe because neither byte can occur inside a
/// multi-byte UTF-8 sequence.
#[derive(Debug, Default)]
pub(crate) struct LineBuffer {
    buf: Vec<u8>,
    /// Where the unreturned bytes start in `buf`; consumed bytes are dropped on the next push,
    /// so returning a line never moves the rest.
    start: usize,
    /// How far past `start` has been searched for a line end without finding one, so a long
    /// line arriving in many reads is scanned once.
    scanned: usize,
    /// The byte position in the file of `buf[start]`.
    position: u64,
}

impl LineBuffer {
    /// An empty buffer whose next byte is at `position` in the file.
    pub(crate) fn new(position: u64) -> Self {
        Self {
            position,
            ..Self::default()
        }
    }

    /// Appends bytes just read.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete line, without its line end, and the byte position just after its
    /// line end. Invalid UTF-8 becomes U+FFFD, as Java's decoder does.
    pub(crate) fn next_line(&mut self) -> Option<(String, u64)> {
        let pending = &self.buf[self.start..];
        let found = pending[self.scanned..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .map(|i| i + self.scanned);
        let Some(until) = found else {
            self.scanned = pending.len();
            return None;
        };
        let next_start = if pending[until] == b'\n' {
            until + 1
        } else {
            match pending.get(until + 1) {
                // Wait for the next byte to tell `\r\n` from a lone `\r`.
                None => {
                    self.scanned = until;
                    return None;
                }
                Some(b'\n') => until + 2,
                Some(_) => until + 1,
            }
        };
        let line = String::from_utf8_lossy(&pending[..until]).into_owned();
        self.start += next_start;
        self.scanned = 0;
        // usize always fits in u64 on the platforms Rust supports.
        self.position += next_start as u64;
        Some((line, self.position))
    }

    /// The number of bytes held that are not part of a returned line.
    pub(crate) fn pending(&self) -> usize {
        self.buf.len() - self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(buf: &mut LineBuffer) -> Vec<(String, u64)> {
        std::iter::from_fn(|| buf.next_line()).collect()
    }

    #[test]
    fn splits_at_every_kind_of_line_end_and_counts_bytes() {
        let mut buf = LineBuffer::new(0);
        buf.push("a\r\nbé\nc\rd\n\nend".as_bytes());
        assert_eq!(
            drain(&mut buf),
            [
                ("a".to_owned(), 3),
                ("bé".to_owned(), 7),
                ("c".to_owned(), 9),
                ("d".to_owned(), 11),
                (String::new(), 12),
            ]
        );
        assert_eq!(buf.pending(), 3);
        buf.push(b"\n");
        assert_eq!(drain(&mut buf), [("end".to_owned(), 16)]);
        assert_eq!(buf.pending(), 0);
    }

    #[test]
    fn a_trailing_carriage_return_waits_for_the_next_byte() {
        let mut buf = LineBuffer::new(10);
        buf.push(b"x\r");
        assert_eq!(buf.next_line(), None);
        buf.push(b"\ny\r");
        assert_eq!(drain(&mut buf), [("x".to_owned(), 13)]);
        buf.push(b"z");
        assert_eq!(drain(&mut buf), [("y".to_owned(), 15)]);
        assert_eq!(buf.pending(), 1);
    }

    #[test]
    fn lines_split_across_pushes_and_multibyte_characters() {
        let text = "日本語\n".as_bytes();
        let mut buf = LineBuffer::new(0);
        for byte in text {
            assert_eq!(buf.next_line(), None);
            buf.push(std::slice::from_ref(byte));
        }
        assert_eq!(drain(&mut buf), [("日本語".to_owned(), 10)]);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let mut buf = LineBuffer::new(0);
        buf.push(b"a\xffb\n");
        assert_eq!(drain(&mut buf), [("a\u{fffd}b".to_owned(), 4)]);
    }
}
