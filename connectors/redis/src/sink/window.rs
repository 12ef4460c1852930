//! Batches written ahead: the sink hands a batch to Redis and returns from `put` before Redis
//! answers, so the worker converts the next batch while Redis writes this one. The window keeps
//! the batches Redis has not answered yet, oldest first, bounded by their size, and takes in
//! their answers in order: a batch counts as written only once it and every batch before it
//! were.
//!
//! The batches share one connection, so Redis applies them in the order they were sent. A
//! batch that fails (a refused command, a dropped connection, an aborted transaction) makes
//! the sink read its records again from the first one not confirmed (see `task.rs`).

use std::collections::{HashMap, VecDeque};
use std::future::Future;

use connect_core::record::TopicPartition;
use fred::error::{Error as FredError, ErrorKind};
use tokio::task::JoinHandle;

/// Per partition, the first offset of the records of one or more batches (where to read again
/// if they fail) and the offset after their last one (written up to there once confirmed).
#[derive(Debug, Default, Clone)]
pub struct Span {
    pub first: HashMap<TopicPartition, i64>,
    pub next: HashMap<TopicPartition, i64>,
}

impl Span {
    /// The span of these records.
    pub fn of(records: &[connect_core::record::SinkRecord]) -> Self {
        let mut span = Span::default();
        for r in records {
            span.add(&r.original, r.original_offset);
        }
        span
    }

    /// Widens the span to cover `other` too.
    pub fn cover(&mut self, other: &Span) {
        for (tp, first) in &other.first {
            let f = self.first.entry(tp.clone()).or_insert(*first);
            *f = (*f).min(*first);
        }
        for (tp, next) in &other.next {
            let n = self.next.entry(tp.clone()).or_insert(*next);
            *n = (*n).max(*next);
        }
    }

    /// Whether the record at `offset` of `tp` is in the span.
    pub fn holds(&self, tp: &TopicPartition, offset: i64) -> bool {
        self.first.get(tp).is_some_and(|first| *first <= offset)
            && self.next.get(tp).is_some_and(|next| offset < *next)
    }

    /// Widens the span to cover the record at `offset` of `tp`.
    pub fn add(&mut self, tp: &TopicPartition, offset: i64) {
        let first = self.first.entry(tp.clone()).or_insert(offset);
        *first = (*first).min(offset);
        let next = self.next.entry(tp.clone()).or_insert(offset + 1);
        *next = (*next).max(offset + 1);
    }
}

/// One part of a batch's answer: the replies of pipelines already handed to fred.
pub enum Reply {
    Done(Result<(), FredError>),
    Waiting(JoinHandle<Result<(), FredError>>),
}

impl Reply {
    /// Hands the pipelines of `send` to fred now (their first poll queues them on the
    /// connection, in the order of the calls) and lets their replies arrive in the background.
    pub async fn send<F>(send: F) -> Reply
    where
        F: Future<Output = Result<(), FredError>> + Send + 'static,
    {
        let mut send = Box::pin(send);
        match futures::poll!(send.as_mut()) {
            std::task::Poll::Ready(result) => Reply::Done(result),
            std::task::Poll::Pending => Reply::Waiting(tokio::spawn(send)),
        }
    }

    fn is_finished(&self) -> bool {
        match self {
            Reply::Done(_) => true,
            Reply::Waiting(handle) => handle.is_finished(),
        }
    }

    pub async fn wait(self) -> Result<(), FredError> {
        match self {
            Reply::Done(result) => result,
            Reply::Waiting(handle) => handle.await.unwrap_or_else(|e| {
                Err(FredError::new(
                    ErrorKind::Unknown,
                    format!("the task waiting for Redis' answer ended: {e}"),
                ))
            }),
        }
    }
}

/// A batch handed to Redis.
pub struct Sent {
    /// Its answers, in the order its pipelines were sent.
    pub replies: Vec<Reply>,
    /// Its records.
    pub span: Span,
    /// The size of its commands' arguments.
    pub bytes: usize,
}

/// Batches written ahead failed: what the sink must read again.
#[derive(Debug)]
pub struct Failed {
    /// The first failure.
    pub error: FredError,
    /// The records of the first failed batch and of every batch sent after it.
    pub unconfirmed: Span,
}

/// The batches handed to Redis and not answered yet, oldest first.
#[derive(Default)]
pub struct Window {
    sent: VecDeque<Sent>,
    bytes: usize,
}

impl Window {
    pub fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }

    pub fn push(&mut self, sent: Sent) {
        self.bytes += sent.bytes;
        self.sent.push_back(sent);
    }

    /// Takes in the answers that arrived, oldest first, without waiting; the span of each
    /// batch written goes to `written`. A failure waits for every batch sent after it.
    pub async fn collect(&mut self, written: &mut HashMap<TopicPartition, i64>) -> Option<Failed> {
        while self
            .sent
            .front()
            .is_some_and(|s| s.replies.iter().all(Reply::is_finished))
        {
            if let Some(failed) = self.take_oldest(written).await {
                return Some(failed);
            }
        }
        None
    }

    /// Waits for the oldest batches until what is in flight is within `limit` bytes (the
    /// newest batch always stays in flight).
    pub async fn limit(
        &mut self,
        limit: usize,
        written: &mut HashMap<TopicPartition, i64>,
    ) -> Option<Failed> {
        while self.bytes > limit && self.sent.len() > 1 {
            if let Some(failed) = self.take_oldest(written).await {
                return Some(failed);
            }
        }
        None
    }

    /// Waits for every batch in flight.
    pub async fn drain(&mut self, written: &mut HashMap<TopicPartition, i64>) -> Option<Failed> {
        while !self.sent.is_empty() {
            if let Some(failed) = self.take_oldest(written).await {
                return Some(failed);
            }
        }
        None
    }

    /// Waits for the oldest batch; if it failed, for every other one too.
    async fn take_oldest(&mut self, written: &mut HashMap<TopicPartition, i64>) -> Option<Failed> {
        let oldest = self.sent.pop_front()?;
        self.bytes -= oldest.bytes;
        match wait_all(oldest.replies).await {
            Ok(()) => {
                for (tp, next) in oldest.span.next {
                    let n = written.entry(tp).or_insert(next);
                    *n = (*n).max(next);
                }
                None
            }
            Err(error) => {
                let mut unconfirmed = oldest.span;
                // Whatever Redis answers for the later batches, they are read again: they
                // were sent after a batch that failed.
                while let Some(later) = self.sent.pop_front() {
                    let _ = wait_all(later.replies).await;
                    unconfirmed.cover(&later.span);
                }
                self.bytes = 0;
                Some(Failed { error, unconfirmed })
            }
        }
    }
}

/// The first failure among a batch's answers, after all of them arrived.
async fn wait_all(replies: Vec<Reply>) -> Result<(), FredError> {
    let mut first = Ok(());
    for reply in replies {
        let result = reply.wait().await;
        if first.is_ok() {
            first = result;
        }
    }
    first
}

/// The first error among a pipeline's replies.
pub fn first_error<T>(replies: Vec<Result<T, FredError>>) -> Result<(), FredError> {
    replies
        .into_iter()
        .find_map(Result::err)
        .map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(partition: i32) -> TopicPartition {
        TopicPartition {
            topic: "t".into(),
            partition,
        }
    }

    fn sent(partition: i32, first: i64, next: i64, result: Result<(), FredError>) -> Sent {
        let mut span = Span::default();
        span.add(&tp(partition), first);
        span.add(&tp(partition), next - 1);
        Sent {
            replies: vec![Reply::Done(result)],
            span,
            bytes: 100,
        }
    }

    fn refused() -> Result<(), FredError> {
        Err(FredError::new(ErrorKind::Unknown, "WRONGTYPE"))
    }

    #[tokio::test]
    async fn batches_count_as_written_in_order_and_a_failure_sends_every_later_one_back() {
        let mut window = Window::default();
        window.push(sent(0, 0, 10, Ok(())));
        window.push(sent(0, 10, 20, refused()));
        // Redis applied it, but it came after a batch that failed: read again all the same.
        window.push(sent(0, 20, 30, Ok(())));
        window.push(sent(1, 0, 5, Ok(())));
        let mut written = HashMap::new();
        let failed = window.collect(&mut written).await.expect("a failure");
        assert_eq!(written, HashMap::from([(tp(0), 10)]));
        assert_eq!(failed.error.details(), "WRONGTYPE");
        assert_eq!(
            failed.unconfirmed.first,
            HashMap::from([(tp(0), 10), (tp(1), 0)])
        );
        assert_eq!(
            failed.unconfirmed.next,
            HashMap::from([(tp(0), 30), (tp(1), 5)])
        );
        assert!(window.is_empty());
    }

    #[tokio::test]
    async fn the_limit_waits_for_the_oldest_and_keeps_the_newest_in_flight() {
        let mut window = Window::default();
        for i in 0..5 {
            window.push(sent(0, i * 10, i * 10 + 10, Ok(())));
        }
        let mut written = HashMap::new();
        assert!(window.limit(250, &mut written).await.is_none());
        assert_eq!(written, HashMap::from([(tp(0), 30)]));
        assert!(window.limit(0, &mut written).await.is_none());
        assert_eq!(written, HashMap::from([(tp(0), 40)]));
        assert!(!window.is_empty(), "the newest batch stays in flight");
        assert!(window.drain(&mut written).await.is_none());
        assert_eq!(written, HashMap::from([(tp(0), 50)]));
        assert!(window.is_empty());
    }
}
