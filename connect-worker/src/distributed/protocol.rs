//! Kafka Connect's group protocol, byte for byte as Java workers write and read it, so that
//! connect-rs workers can share a group with them: the metadata a worker sends with JoinGroup
//! ([`WorkerMetadata`]) and the assignment the leader sends each worker with SyncGroup
//! ([`Assignment`], also embedded in v1/v2 metadata as the worker's current allocation).
//!
//! Three protocols (`connect.protocol`): `default` (eager, v0), `compatible` (incremental
//! cooperative, v1) and `sessioned` (v2, the same bytes as v1 with session keys in use). v0 is
//! a prefix of v1, and Java reads every version with the v1 reader: when the bytes end before
//! a field that has a default (the allocation, the assigned and revoked lists, the delay), the
//! field gets it, and bytes after the last field are ignored. [`WorkerMetadata::decode`] and
//! [`Assignment::decode`] read the same way.
//!
//! All numbers are big-endian; a STRING is an INT16 length and UTF-8 bytes, NULLABLE_BYTES an
//! INT32 length (negative: null) and the bytes, an ARRAY an INT32 count (negative, where the
//! array may be null: null) and the elements.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{BufMut, Bytes, BytesMut};

/// The protocol type of every Kafka Connect group's JoinGroup.
pub const PROTOCOL_TYPE: &str = "connect";
/// The task number that stands for the connector itself in an assignment's task lists.
pub const CONNECTOR_TASK: i32 = -1;
/// An assignment's `error`: none.
pub const NO_ERROR: i16 = 0;
/// An assignment's `error`: the leader's configs are behind a member's; every member catches
/// up and rejoins.
pub const CONFIG_MISMATCH: i16 = 1;

/// The protocols of `connect.protocol`, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConnectProtocol {
    /// `eager`: every rebalance stops everything; protocol `default`, version 0.
    Eager,
    /// `compatible`: incremental cooperative rebalancing; protocol `compatible`, version 1.
    Compatible,
    /// `sessioned`: as `compatible`, with signed internal requests; version 2.
    Sessioned,
}

impl ConnectProtocol {
    /// The protocol's name in JoinGroup and SyncGroup.
    pub fn name(self) -> &'static str {
        match self {
            ConnectProtocol::Eager => "default",
            ConnectProtocol::Compatible => "compatible",
            ConnectProtocol::Sessioned => "sessioned",
        }
    }

    /// The version written at the head of its metadata and assignments.
    pub fn version(self) -> i16 {
        match self {
            ConnectProtocol::Eager => 0,
            ConnectProtocol::Compatible => 1,
            ConnectProtocol::Sessioned => 2,
        }
    }

    /// The protocol a JoinGroup answer names, if it is one of Kafka Connect's.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Eager, Self::Compatible, Self::Sessioned]
            .into_iter()
            .find(|p| p.name() == name)
    }

    /// What a worker configured with this protocol offers, most preferred first: it and
    /// every older one, so that a group of mixed workers runs the newest all of them speak.
    pub fn offered(self) -> Vec<Self> {
        [Self::Sessioned, Self::Compatible, Self::Eager]
            .into_iter()
            .filter(|p| *p <= self)
            .collect()
    }
}

/// A connector's task, as assignments name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskRef {
    pub connector: String,
    pub task: i32,
}

impl TaskRef {
    pub fn new(connector: impl Into<String>, task: i32) -> Self {
        Self {
            connector: connector.into(),
            task,
        }
    }
}

/// Connectors and tasks: what a worker runs, is given or must stop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Work {
    pub connectors: BTreeSet<String>,
    pub tasks: BTreeSet<TaskRef>,
}

impl Work {
    pub fn is_empty(&self) -> bool {
        self.connectors.is_empty() && self.tasks.is_empty()
    }
}

/// What a worker says about itself when it joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerMetadata {
    /// 0, 1 or 2 (see [`ConnectProtocol::version`]); higher versions read as 1.
    pub version: i16,
    /// The worker's advertised REST URL (Java's ends with `/`).
    pub url: String,
    /// The offset of the last config-topic record it read, plus one; -1 if none.
    pub config_offset: i64,
    /// Version 1 and later: everything it runs now (its previous assignments merged), or
    /// `None` before its first assignment. Not written in version 0.
    pub allocation: Option<Assignment>,
}

/// What the leader assigns one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// 0, 1 or 2, as the protocol the group runs.
    pub version: i16,
    /// [`NO_ERROR`] or [`CONFIG_MISMATCH`].
    pub error: i16,
    /// The leader's member id and advertised URL.
    pub leader: String,
    pub leader_url: String,
    /// The config offset the assignment was computed at.
    pub config_offset: i64,
    /// Eager: everything the worker is to run. Incremental: what it is to start, in addition.
    pub assigned: Work,
    /// Incremental only: what the worker is to stop.
    pub revoked: Work,
    /// Incremental only: milliseconds until the worker should rejoin (a delayed rebalance).
    pub delay_ms: i32,
}

/// Bytes that are not Kafka Connect metadata or an assignment, or values that cannot be
/// written in the version asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConnectProtocolError(String);

impl WorkerMetadata {
    pub fn encode(&self) -> Result<Bytes, ConnectProtocolError> {
        let fail = |problem: String| {
            ConnectProtocolError(format!(
                "cannot write Kafka Connect worker metadata v{}: {problem}",
                self.version
            ))
        };
        let mut out = BytesMut::new();
        check_version(self.version).map_err(fail)?;
        out.put_i16(self.version);
        put_string(&mut out, &self.url, "url").map_err(fail)?;
        out.put_i64(self.config_offset);
        match (self.version, &self.allocation) {
            (0, None) => {}
            (0, Some(_)) => return Err(fail("version 0 has no allocation".to_owned())),
            (_, None) => out.put_i32(-1),
            (_, Some(allocation)) => {
                let bytes = allocation.encode()?;
                put_bytes(&mut out, &bytes, "allocation").map_err(fail)?;
            }
        }
        Ok(out.freeze())
    }

    /// Reads metadata of any version as Java does: version 0 has no allocation, versions
    /// above 2 are read as 1, trailing bytes are ignored.
    pub fn decode(bytes: &[u8]) -> Result<Self, ConnectProtocolError> {
        let mut r = Reader::new(bytes, "worker metadata");
        let version = r.version()?;
        let url = r.string("url")?;
        let config_offset = r.i64("config_offset")?;
        let allocation = match r.nullable_bytes_or_null("allocation")? {
            Some(bytes) => Some(Assignment::decode(bytes).map_err(|e| {
                ConnectProtocolError(format!(
                    "cannot read Kafka Connect worker metadata: its allocation: {e}"
                ))
            })?),
            None => None,
        };
        Ok(Self {
            version,
            url,
            config_offset,
            allocation,
        })
    }
}

impl Assignment {
    /// An empty assignment from `leader` (what every member gets at least).
    pub fn empty(protocol: ConnectProtocol, leader: &str, leader_url: &str, offset: i64) -> Self {
        Self {
            version: protocol.version(),
            error: NO_ERROR,
            leader: leader.to_owned(),
            leader_url: leader_url.to_owned(),
            config_offset: offset,
            assigned: Work::default(),
            revoked: Work::default(),
            delay_ms: 0,
        }
    }

    /// Writes the assignment in its version. Version 0 has no revoked list and no delay: an
    /// assignment with either cannot be written in it.
    pub fn encode(&self) -> Result<Bytes, ConnectProtocolError> {
        let fail = |problem: String| {
            ConnectProtocolError(format!(
                "cannot write Kafka Connect assignment v{}: {problem}",
                self.version
            ))
        };
        check_version(self.version).map_err(fail)?;
        if self.version == 0 && (!self.revoked.is_empty() || self.delay_ms != 0) {
            return Err(fail(
                "version 0 (eager) has no revoked connectors or tasks and no delay".to_owned(),
            ));
        }
        let mut out = BytesMut::new();
        out.put_i16(self.version);
        out.put_i16(self.error);
        put_string(&mut out, &self.leader, "leader").map_err(fail)?;
        put_string(&mut out, &self.leader_url, "leader_url").map_err(fail)?;
        out.put_i64(self.config_offset);
        put_work(&mut out, &self.assigned, "assignment").map_err(fail)?;
        if self.version > 0 {
            put_work(&mut out, &self.revoked, "revoked").map_err(fail)?;
            out.put_i32(self.delay_ms);
        }
        Ok(out.freeze())
    }

    /// Reads an assignment of any version with Java's v1 reader: missing lists are empty, a
    /// missing delay is 0, trailing bytes are ignored.
    pub fn decode(bytes: &[u8]) -> Result<Self, ConnectProtocolError> {
        let mut r = Reader::new(bytes, "assignment");
        Ok(Self {
            version: r.version()?,
            error: r.i16("error")?,
            leader: r.string("leader")?,
            leader_url: r.string("leader_url")?,
            config_offset: r.i64("config_offset")?,
            assigned: r.work_or_empty("assignment")?,
            revoked: r.work_or_empty("revoked")?,
            delay_ms: if r.is_done() { 0 } else { r.i32("delay")? },
        })
    }
}

/// The JoinGroup protocols of a worker configured with `protocol`, most preferred first, each
/// with its metadata: `allocation` (what the worker runs) goes into the v1 and v2 metadata,
/// with the version of each; v0 metadata has none.
pub fn join_protocols(
    protocol: ConnectProtocol,
    url: &str,
    config_offset: i64,
    allocation: Option<&Assignment>,
) -> Result<Vec<(String, Bytes)>, ConnectProtocolError> {
    protocol
        .offered()
        .into_iter()
        .map(|offered| {
            let version = offered.version();
            let allocation = match (offered, allocation) {
                (ConnectProtocol::Eager, _) | (_, None) => None,
                (_, Some(allocation)) => Some(Assignment {
                    version,
                    ..allocation.clone()
                }),
            };
            let metadata = WorkerMetadata {
                version,
                url: url.to_owned(),
                config_offset,
                allocation,
            };
            Ok((offered.name().to_owned(), metadata.encode()?))
        })
        .collect()
}

fn check_version(version: i16) -> Result<(), String> {
    if version < 0 {
        return Err(format!("version {version} is negative"));
    }
    Ok(())
}

fn put_string(out: &mut BytesMut, s: &str, field: &str) -> Result<(), String> {
    let len = i16::try_from(s.len())
        .map_err(|_| format!("`{field}` is {} bytes, more than 32767", s.len()))?;
    out.put_i16(len);
    out.put_slice(s.as_bytes());
    Ok(())
}

fn put_bytes(out: &mut BytesMut, bytes: &[u8], field: &str) -> Result<(), String> {
    out.put_i32(count(bytes.len(), field)?);
    out.put_slice(bytes);
    Ok(())
}

fn count(n: usize, field: &str) -> Result<i32, String> {
    i32::try_from(n).map_err(|_| format!("`{field}` has {n} entries, too many"))
}

/// Connectors and tasks as Java groups them: one entry per connector name (in name order),
/// its task list starting with [`CONNECTOR_TASK`] when the connector itself is in.
fn put_work(out: &mut BytesMut, work: &Work, field: &str) -> Result<(), String> {
    let mut entries: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for connector in &work.connectors {
        entries.entry(connector).or_default().push(CONNECTOR_TASK);
    }
    for task in &work.tasks {
        entries.entry(&task.connector).or_default().push(task.task);
    }
    out.put_i32(count(entries.len(), field)?);
    for (connector, tasks) in entries {
        put_string(out, connector, field)?;
        out.put_i32(count(tasks.len(), field)?);
        for task in tasks {
            out.put_i32(task);
        }
    }
    Ok(())
}

/// Reads the fields of one structure, naming what it reads in its errors.
struct Reader<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Self { rest: bytes, what }
    }

    fn error(&self, problem: String) -> ConnectProtocolError {
        ConnectProtocolError(format!(
            "cannot read Kafka Connect {}: {problem}",
            self.what
        ))
    }

    /// Whether every byte was read: the fields left get their defaults.
    fn is_done(&self) -> bool {
        self.rest.is_empty()
    }

    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], ConnectProtocolError> {
        if self.rest.len() < n {
            return Err(self.error(format!(
                "the bytes end inside `{field}` (it needs {n} bytes, {} are left)",
                self.rest.len()
            )));
        }
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N], ConnectProtocolError> {
        let taken = self.take(N, field)?;
        let mut array = [0; N];
        array.copy_from_slice(taken);
        Ok(array)
    }

    fn i16(&mut self, field: &str) -> Result<i16, ConnectProtocolError> {
        Ok(i16::from_be_bytes(self.array(field)?))
    }

    fn i32(&mut self, field: &str) -> Result<i32, ConnectProtocolError> {
        Ok(i32::from_be_bytes(self.array(field)?))
    }

    fn i64(&mut self, field: &str) -> Result<i64, ConnectProtocolError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }

    fn version(&mut self) -> Result<i16, ConnectProtocolError> {
        let version = self.i16("version")?;
        if version < 0 {
            return Err(self.error(format!("version {version} is negative")));
        }
        Ok(version)
    }

    /// A STRING; invalid UTF-8 is replaced, as Java's decoder does.
    fn string(&mut self, field: &str) -> Result<String, ConnectProtocolError> {
        let len = self.i16(field)?;
        let len = usize::try_from(len)
            .map_err(|_| self.error(format!("`{field}` has a negative length ({len})")))?;
        Ok(String::from_utf8_lossy(self.take(len, field)?).into_owned())
    }

    /// NULLABLE_BYTES, null when negative or when the bytes ended before it.
    fn nullable_bytes_or_null(
        &mut self,
        field: &str,
    ) -> Result<Option<&'a [u8]>, ConnectProtocolError> {
        if self.is_done() {
            return Ok(None);
        }
        let len = self.i32(field)?;
        match usize::try_from(len) {
            Ok(len) => Ok(Some(self.take(len, field)?)),
            Err(_) => Ok(None),
        }
    }

    /// An array's count: `None` for null (negative, where `nullable`); a count the bytes
    /// left cannot hold (each element takes at least `min_size` bytes) is an error.
    fn count(
        &mut self,
        field: &str,
        nullable: bool,
        min_size: usize,
    ) -> Result<Option<usize>, ConnectProtocolError> {
        let n = self.i32(field)?;
        let Ok(count) = usize::try_from(n) else {
            if nullable {
                return Ok(None);
            }
            return Err(self.error(format!("`{field}` has a negative count ({n})")));
        };
        if count.saturating_mul(min_size) > self.rest.len() {
            return Err(self.error(format!(
                "`{field}` counts {count} entries, more than the {} bytes left hold",
                self.rest.len()
            )));
        }
        Ok(Some(count))
    }

    /// A nullable array of (connector, tasks) entries; empty when null or when the bytes
    /// ended before it.
    fn work_or_empty(&mut self, field: &str) -> Result<Work, ConnectProtocolError> {
        let mut work = Work::default();
        if self.is_done() {
            return Ok(work);
        }
        // An entry is at least a name length and a task count.
        let Some(entries) = self.count(field, true, 6)? else {
            return Ok(work);
        };
        for _ in 0..entries {
            let connector = self.string(field)?;
            let tasks = self.count(field, false, 4)?.unwrap_or(0);
            for _ in 0..tasks {
                match self.i32(field)? {
                    CONNECTOR_TASK => {
                        work.connectors.insert(connector.clone());
                    }
                    task => {
                        work.tasks.insert(TaskRef::new(connector.clone(), task));
                    }
                }
            }
        }
        Ok(work)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A STRING's bytes.
    fn s(text: &str) -> Vec<u8> {
        let mut out = (text.len() as i16).to_be_bytes().to_vec();
        out.extend_from_slice(text.as_bytes());
        out
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn work(connectors: &[&str], tasks: &[(&str, i32)]) -> Work {
        Work {
            connectors: connectors.iter().map(|c| c.to_string()).collect(),
            tasks: tasks.iter().map(|(c, t)| TaskRef::new(*c, *t)).collect(),
        }
    }

    const URL: &str = "http://w1:8083/";

    /// The v0 metadata of a worker at `http://w1:8083/`, config offset 7 (27 bytes).
    fn v0_metadata_bytes() -> Vec<u8> {
        cat(&[
            &[0x00, 0x00],
            &[0x00, 0x0f],
            b"http://w1:8083/",
            &[0, 0, 0, 0, 0, 0, 0, 0x07],
        ])
    }

    /// A v2 assignment from leader `connect-1-abc`: connector c1 with task c1-0, task c2-1,
    /// nothing revoked, no delay (84 bytes).
    fn v2_assignment_bytes() -> Vec<u8> {
        cat(&[
            &[0x00, 0x02, 0x00, 0x00],
            &[0x00, 0x0d],
            b"connect-1-abc",
            &[0x00, 0x0f],
            b"http://w1:8083/",
            &[0, 0, 0, 0, 0, 0, 0, 0x07],
            &[0, 0, 0, 2],
            &[0x00, 0x02],
            b"c1",
            &[0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0],
            &[0x00, 0x02],
            b"c2",
            &[0, 0, 0, 1, 0, 0, 0, 1],
            &[0, 0, 0, 0],
            &[0, 0, 0, 0],
        ])
    }

    fn v2_assignment() -> Assignment {
        Assignment {
            version: 2,
            error: NO_ERROR,
            leader: "connect-1-abc".into(),
            leader_url: URL.into(),
            config_offset: 7,
            assigned: work(&["c1"], &[("c1", 0), ("c2", 1)]),
            revoked: Work::default(),
            delay_ms: 0,
        }
    }

    #[test]
    fn v0_metadata_is_version_url_and_offset() {
        let metadata = WorkerMetadata {
            version: 0,
            url: URL.into(),
            config_offset: 7,
            allocation: None,
        };
        let bytes = metadata.encode().unwrap();
        assert_eq!(bytes.len(), 27);
        assert_eq!(bytes.as_ref(), v0_metadata_bytes().as_slice());
        assert_eq!(WorkerMetadata::decode(&bytes).unwrap(), metadata);
    }

    #[test]
    fn v1_metadata_without_allocation_ends_in_a_null() {
        let metadata = WorkerMetadata {
            version: 1,
            url: URL.into(),
            config_offset: 7,
            allocation: None,
        };
        let mut expected = v0_metadata_bytes();
        expected[1] = 0x01;
        expected.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        let bytes = metadata.encode().unwrap();
        assert_eq!(bytes.len(), 31);
        assert_eq!(bytes.as_ref(), expected.as_slice());
        assert_eq!(WorkerMetadata::decode(&bytes).unwrap(), metadata);
    }

    #[test]
    fn v2_assignment_groups_tasks_under_their_connector() {
        let bytes = v2_assignment().encode().unwrap();
        assert_eq!(bytes.len(), 84);
        assert_eq!(bytes.as_ref(), v2_assignment_bytes().as_slice());
        assert_eq!(Assignment::decode(&bytes).unwrap(), v2_assignment());
    }

    #[test]
    fn v2_metadata_embeds_the_allocation_with_its_length() {
        let metadata = WorkerMetadata {
            version: 2,
            url: URL.into(),
            config_offset: 7,
            allocation: Some(v2_assignment()),
        };
        let expected = cat(&[
            &[0x00, 0x02],
            &s(URL),
            &[0, 0, 0, 0, 0, 0, 0, 0x07],
            &[0x00, 0x00, 0x00, 0x54],
            &v2_assignment_bytes(),
        ]);
        let bytes = metadata.encode().unwrap();
        assert_eq!(bytes.as_ref(), expected.as_slice());
        assert_eq!(WorkerMetadata::decode(&bytes).unwrap(), metadata);
    }

    #[test]
    fn v1_assignment_with_revocations_and_a_delay() {
        let assignment = Assignment {
            version: 1,
            error: NO_ERROR,
            leader: "w-1".into(),
            leader_url: "http://a:1/".into(),
            config_offset: 3,
            assigned: work(&["a"], &[]),
            revoked: work(&["c"], &[("b", 0), ("b", 2)]),
            delay_ms: 1500,
        };
        let expected = cat(&[
            &[0x00, 0x01],                   // version 1
            &[0x00, 0x00],                   // no error
            &[0x00, 0x03, b'w', b'-', b'1'], // leader
            &[0x00, 0x0b],                   // leader_url, 11 bytes
            b"http://a:1/",
            &[0, 0, 0, 0, 0, 0, 0, 0x03],          // config offset 3
            &[0, 0, 0, 1],                         // assigned: 1 entry
            &[0x00, 0x01, b'a'],                   //   "a"
            &[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff], // [-1]: the connector
            &[0, 0, 0, 2],                         // revoked: 2 entries
            &[0x00, 0x01, b'b'],                   //   "b"
            &[0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2], // [0, 2]: tasks b-0 and b-2
            &[0x00, 0x01, b'c'],                   //   "c"
            &[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff], // [-1]: the connector
            &[0x00, 0x00, 0x05, 0xdc],             // delay 1500 ms
        ]);
        let bytes = assignment.encode().unwrap();
        assert_eq!(bytes.as_ref(), expected.as_slice());
        assert_eq!(Assignment::decode(&bytes).unwrap(), assignment);
    }

    #[test]
    fn a_v0_assignment_reads_with_nothing_revoked_and_no_delay() {
        let assignment = Assignment {
            version: 0,
            error: CONFIG_MISMATCH,
            leader: "l".into(),
            leader_url: URL.into(),
            config_offset: -1,
            assigned: Work::default(),
            revoked: Work::default(),
            delay_ms: 0,
        };
        let expected = cat(&[
            &[0x00, 0x00, 0x00, 0x01],
            &s("l"),
            &s(URL),
            &[0xff; 8],
            &[0, 0, 0, 0],
        ]);
        let bytes = assignment.encode().unwrap();
        assert_eq!(bytes.as_ref(), expected.as_slice());
        assert_eq!(Assignment::decode(&bytes).unwrap(), assignment);
    }

    #[test]
    fn fields_missing_at_the_end_get_their_defaults() {
        // The header only: no lists, no delay.
        let header = cat(&[&[0x00, 0x01, 0x00, 0x00], &s("l"), &s(URL), &[0; 8]]);
        let read = Assignment::decode(&header).unwrap();
        assert_eq!(read.assigned, Work::default());
        assert_eq!(read.revoked, Work::default());
        assert_eq!(read.delay_ms, 0);
        // A null assigned list, then the end.
        let null_list = cat(&[&header, &[0xff, 0xff, 0xff, 0xff]]);
        assert_eq!(Assignment::decode(&null_list).unwrap(), read);
        // v0 metadata read by a newer worker: no allocation.
        assert_eq!(
            WorkerMetadata::decode(&v0_metadata_bytes())
                .unwrap()
                .allocation,
            None
        );
    }

    #[test]
    fn newer_versions_read_as_v1_and_trailing_bytes_are_ignored() {
        let mut bytes = v2_assignment_bytes();
        bytes[1] = 0x05;
        bytes.extend_from_slice(&[0xde, 0xad, 0xbe]);
        let read = Assignment::decode(&bytes).unwrap();
        assert_eq!(read.version, 5);
        assert_eq!(read.assigned, v2_assignment().assigned);

        let mut metadata = v0_metadata_bytes();
        metadata[1] = 0x03;
        metadata.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x01, 0x02]);
        let read = WorkerMetadata::decode(&metadata).unwrap();
        assert_eq!((read.version, read.config_offset), (3, 7));
        assert_eq!(read.allocation, None);
    }

    #[test]
    fn malformed_bytes_are_errors_that_name_the_field() {
        let error = |bytes: &[u8]| WorkerMetadata::decode(bytes).unwrap_err().to_string();
        // Cut inside the url.
        let cut = &v0_metadata_bytes()[..10];
        assert_eq!(
            error(cut),
            "cannot read Kafka Connect worker metadata: the bytes end inside `url` (it needs 15 bytes, 6 are left)"
        );
        // Cut inside the config offset: a field without a default.
        assert!(error(&v0_metadata_bytes()[..20]).contains("`config_offset`"));
        assert!(error(&[0xff, 0xff]).contains("version -1 is negative"));
        assert!(error(&[0x00, 0x00, 0xff, 0xfe]).contains("`url` has a negative length (-2)"));
        assert!(error(&[]).contains("`version`"));

        let assignment_error = |bytes: &[u8]| Assignment::decode(bytes).unwrap_err().to_string();
        let header = cat(&[&[0x00, 0x01, 0x00, 0x00], &s("l"), &s(URL), &[0; 8]]);
        // A task list cannot be null.
        let null_tasks = cat(&[&header, &[0, 0, 0, 1], &s("c"), &[0xff, 0xff, 0xff, 0xff]]);
        assert!(assignment_error(&null_tasks).contains("`assignment` has a negative count (-1)"));
        // A count the bytes cannot hold.
        let huge = cat(&[&header, &[0x7f, 0xff, 0xff, 0xff]]);
        assert!(assignment_error(&huge).contains("counts 2147483647 entries"));
        // A broken allocation inside metadata says so.
        let broken_allocation = cat(&[&v0_metadata_bytes(), &[0, 0, 0, 2, 0x00, 0x01]]);
        assert!(error(&broken_allocation).contains("its allocation"));
    }

    #[test]
    fn what_version_0_cannot_say_is_refused() {
        let mut assignment = Assignment::empty(ConnectProtocol::Eager, "l", URL, 0);
        assignment.revoked = work(&["c"], &[]);
        assert!(assignment
            .encode()
            .unwrap_err()
            .to_string()
            .contains("version 0 (eager) has no revoked"));
        let metadata = WorkerMetadata {
            version: 0,
            url: URL.into(),
            config_offset: 0,
            allocation: Some(Assignment::empty(ConnectProtocol::Eager, "l", URL, 0)),
        };
        assert!(metadata.encode().is_err());
        let long = Assignment::empty(ConnectProtocol::Compatible, &"x".repeat(40_000), URL, 0);
        assert!(long
            .encode()
            .unwrap_err()
            .to_string()
            .contains("`leader` is 40000 bytes"));
    }

    #[test]
    fn protocols_are_offered_newest_first_with_their_metadata() {
        assert_eq!(
            ConnectProtocol::Sessioned.offered(),
            vec![
                ConnectProtocol::Sessioned,
                ConnectProtocol::Compatible,
                ConnectProtocol::Eager
            ]
        );
        assert_eq!(
            ConnectProtocol::Eager.offered(),
            vec![ConnectProtocol::Eager]
        );
        assert_eq!(
            ConnectProtocol::from_name("compatible"),
            Some(ConnectProtocol::Compatible)
        );
        assert_eq!(ConnectProtocol::from_name("range"), None);

        let allocation = v2_assignment();
        let offered =
            join_protocols(ConnectProtocol::Compatible, URL, 7, Some(&allocation)).unwrap();
        let names: Vec<&str> = offered.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["compatible", "default"]);
        // v0 metadata has no allocation; v1's carries it as a v1 assignment.
        assert_eq!(offered[1].1.as_ref(), v0_metadata_bytes().as_slice());
        let v1 = WorkerMetadata::decode(&offered[0].1).unwrap();
        assert_eq!(v1.version, 1);
        let embedded = v1.allocation.unwrap();
        assert_eq!(embedded.version, 1);
        assert_eq!(embedded.assigned, allocation.assigned);
    }
}
