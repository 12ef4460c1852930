#!/usr/bin/env python3
"""The independent Kafka client of the end-to-end tests, built on kafka-python.

What our Rust code writes to Kafka is read back with this, and what it reads may be produced
with this, so a bug shared by our code and rskafka cannot hide itself.

  kafka_tool.py consume --bootstrap HOST:PORT --topic T --count N [--timeout S] [SECURITY]
      Reads every partition of T from the earliest offset, without a consumer group, until N
      records arrived or S seconds passed. Prints one JSON object per record:
      {"topic","partition","offset","timestamp","key","value","key_b64","value_b64","headers"}
      (key/value are text, or null when absent or not UTF-8; *_b64 are exact bytes).
      Exits 1 when fewer than N records arrived.

  kafka_tool.py produce --bootstrap HOST:PORT --topic T
      Reads JSON objects, one a line, from stdin: {"key": str|null, "value": str|null,
      "partition": int (optional), "headers": {name: str} (optional)} and produces them,
      waiting for every acknowledgement. Prints the number of records produced.

  kafka_tool.py cluster-id --bootstrap HOST:PORT [SECURITY]
      Prints the cluster id KafkaAdminClient.describe_cluster() reports. Exits 1 when the
      broker reports none.

  kafka_tool.py group-offsets --bootstrap HOST:PORT --group G --topic T --partitions 0,1 [SECURITY]
      Reads G's committed offsets of the named partitions of T two ways and prints
      {"admin": {partition: offset}, "consumer": {partition: offset or null}}: what
      KafkaAdminClient.list_consumer_group_offsets(G, partitions=...) reports (-1 when G has no
      offset) and what KafkaConsumer(group_id=G).committed(...) reports (None then).

  kafka_tool.py commit-offsets --bootstrap HOST:PORT --group G --topic T --offsets 0=5,1=7 [SECURITY]
      Commits the offsets to G as a consumer outside the group's membership (assign(), then
      commit(): generation -1, no member id), as a Java worker's sink tasks leave them.

  kafka_tool.py end-offsets --bootstrap HOST:PORT --topic T [SECURITY]
      Prints {"earliest": {partition: offset}, "latest": {partition: offset}} from
      KafkaConsumer.beginning_offsets / end_offsets (ListOffsets).

  kafka_tool.py high-watermarks --bootstrap HOST:PORT --topic T --partitions N [SECURITY]
      Prints the end offset (high watermark) of partitions 0..N-1 of T as a JSON object
      {"0": offset, ...}, taken from fetch answers: the test broker's ListOffsets(latest)
      answers the base offset of the last batch + 1, so end-offsets is wrong there for a
      partition whose last batch holds more than one record.

  kafka_tool.py describe-group --bootstrap HOST:PORT --group G [SECURITY]
      Prints what DescribeGroups (v0, sent by kafka-python to G's coordinator) says of G, as {"state", "protocol_type",
      "protocol", "members": [{"member_id", "metadata_b64", "assignment_b64"}]}, members in
      member id order, metadata and assignment as the exact bytes the broker holds.

  kafka_tool.py create-topic --bootstrap HOST:PORT --topic T --partitions N [--config K=V ...] [SECURITY]
      Creates T with KafkaAdminClient.create_topics (replication factor 1) and these topic
      configs.

  kafka_tool.py describe-topic --bootstrap HOST:PORT --topic T [SECURITY]
      Prints {"partitions": [..], "configs": {name: value} or null} from
      KafkaAdminClient.describe_topics and describe_configs (null when the broker answers
      DescribeConfigs with an error).

  SECURITY (every command): --security-protocol PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL,
      --cafile PEM (TLS), --mechanism PLAIN|SCRAM-SHA-256|SCRAM-SHA-512 --user U --password P.
"""

import argparse
import base64
import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.protocol.admin import DescribeGroupsRequest
from kafka.structs import OffsetAndMetadata


def _text(raw):
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def security(args):
    """kafka-python's keyword arguments for the SECURITY options."""
    kw = {"security_protocol": args.security_protocol}
    if args.security_protocol in ("SSL", "SASL_SSL"):
        kw["ssl_cafile"] = args.cafile
        kw["ssl_check_hostname"] = True
    if args.security_protocol.startswith("SASL_"):
        kw["sasl_mechanism"] = args.mechanism
        kw["sasl_plain_username"] = args.user
        kw["sasl_plain_password"] = args.password
    return kw


def add_security_options(parser):
    parser.add_argument("--security-protocol", default="PLAINTEXT")
    parser.add_argument("--cafile")
    parser.add_argument("--mechanism", default="PLAIN")
    parser.add_argument("--user")
    parser.add_argument("--password")


def _b64(raw):
    return None if raw is None else base64.b64encode(raw).decode("ascii")


def topic_partitions(consumer, args, deadline):
    """The partitions of args.topic, waiting until `deadline` (time.monotonic()) for them (a
    topic just created may be known with no partitions yet); None, with a message, when it
    has none by then."""
    partitions = None
    while not partitions and time.monotonic() < deadline:
        partitions = consumer.partitions_for_topic(args.topic)
        if not partitions:
            time.sleep(0.1)
    if not partitions:
        print(f"topic {args.topic!r} does not exist on {args.bootstrap}", file=sys.stderr)
        return None
    return [TopicPartition(args.topic, p) for p in sorted(partitions)]


def consume(args):
    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=500,
        **security(args),
    )
    deadline = time.monotonic() + args.timeout
    assignment = topic_partitions(consumer, args, deadline)
    if assignment is None:
        return 1
    consumer.assign(assignment)
    consumer.seek_to_beginning(*assignment)

    seen = 0
    while seen < args.count and time.monotonic() < deadline:
        batches = consumer.poll(timeout_ms=200, max_records=10000)
        for records in batches.values():
            for r in records:
                print(json.dumps({
                    "topic": r.topic,
                    "partition": r.partition,
                    "offset": r.offset,
                    "timestamp": r.timestamp,
                    "key": _text(r.key),
                    "value": _text(r.value),
                    "key_b64": _b64(r.key),
                    "value_b64": _b64(r.value),
                    "headers": {k: _text(v) for k, v in (r.headers or [])},
                }))
                seen += 1
    consumer.close()
    if seen < args.count:
        print(f"read {seen} of {args.count} records from {args.topic!r} within {args.timeout} s",
              file=sys.stderr)
        return 1
    return 0


def produce(args):
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, acks="all", linger_ms=5, **security(args))
    futures = []
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        rec = json.loads(line)
        enc = lambda s: None if s is None else s.encode("utf-8")
        headers = [(k, enc(v)) for k, v in (rec.get("headers") or {}).items()]
        futures.append(producer.send(args.topic, key=enc(rec.get("key")), value=enc(rec.get("value")),
                                     partition=rec.get("partition"), headers=headers or None))
    for f in futures:
        f.get(timeout=args.timeout)
    producer.close()
    print(len(futures))
    return 0


def cluster_id(args):
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap, request_timeout_ms=int(args.timeout * 1000),
                             **security(args))
    try:
        found = admin.describe_cluster().get("cluster_id")
    finally:
        admin.close()
    if not found:
        print(f"{args.bootstrap} reports no cluster id", file=sys.stderr)
        return 1
    print(found)
    return 0


def _partitions(args):
    return [TopicPartition(args.topic, int(p)) for p in args.partitions.split(",")]


def group_offsets(args):
    wanted = _partitions(args)
    timeout_ms = int(args.timeout * 1000)
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap, request_timeout_ms=timeout_ms,
                             **security(args))
    try:
        listed = admin.list_consumer_group_offsets(args.group, partitions=wanted)
    finally:
        admin.close()
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap, group_id=args.group,
                             enable_auto_commit=False, request_timeout_ms=timeout_ms,
                             **security(args))
    try:
        committed = {tp.partition: consumer.committed(tp) for tp in wanted}
    finally:
        consumer.close()
    print(json.dumps({
        "admin": {tp.partition: listed[tp].offset for tp in wanted if tp in listed},
        "consumer": committed,
    }))
    return 0


def commit_offsets(args):
    offsets = {}
    for item in args.offsets.split(","):
        partition, offset = item.split("=")
        offsets[TopicPartition(args.topic, int(partition))] = OffsetAndMetadata(int(offset), "", -1)
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap, group_id=args.group,
                             enable_auto_commit=False, request_timeout_ms=int(args.timeout * 1000),
                             **security(args))
    try:
        consumer.assign(list(offsets))
        consumer.commit(offsets)
    finally:
        consumer.close()
    return 0


def end_offsets(args):
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap, request_timeout_ms=int(args.timeout * 1000),
                             **security(args))
    try:
        tps = topic_partitions(consumer, args, time.monotonic() + args.timeout)
        if tps is None:
            return 1
        earliest = consumer.beginning_offsets(tps)
        latest = consumer.end_offsets(tps)
    finally:
        consumer.close()
    print(json.dumps({
        "earliest": {tp.partition: earliest[tp] for tp in tps},
        "latest": {tp.partition: latest[tp] for tp in tps},
    }))
    return 0


def high_watermarks(args):
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap, group_id=None, enable_auto_commit=False,
                             max_partition_fetch_bytes=1024, **security(args))
    deadline = time.monotonic() + args.timeout
    ends = {}
    try:
        # One partition at a time: kafka-python records a partition's high watermark when it
        # parses that partition's fetch answer, which one small poll may not reach.
        for tp in [TopicPartition(args.topic, p) for p in range(args.partitions)]:
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            while consumer.highwater(tp) is None:
                if time.monotonic() > deadline:
                    print(f"no fetch answer for {tp} within {args.timeout} s", file=sys.stderr)
                    return 1
                consumer.poll(timeout_ms=200, max_records=1)
            ends[tp.partition] = consumer.highwater(tp)
    finally:
        consumer.close()
    print(json.dumps(ends))
    return 0


def describe_group(args):
    # KafkaAdminClient.describe_consumer_groups fails on groups of any protocol type but
    # "consumer" (kafka-python 2.x builds its member tuples only for those), so this sends
    # kafka-python's own DescribeGroups v0 to the group's coordinator, found by its admin
    # client, and reads kafka-python's decoding of the answer.
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap, request_timeout_ms=int(args.timeout * 1000),
                             **security(args))
    try:
        node = admin._find_coordinator_ids([args.group])[args.group]
        future = admin._send_request_to_node(node, DescribeGroupsRequest[0](groups=[args.group]))
        admin._wait_for_futures([future])
        [(error_code, _, state, protocol_type, protocol, members)] = future.value.groups
    finally:
        admin.close()
    if error_code != 0:
        print(f"DescribeGroups of {args.group} answered error {error_code}", file=sys.stderr)
        return 1
    b64 = lambda raw: base64.b64encode(bytes(raw)).decode()
    print(json.dumps({
        "state": state,
        "protocol_type": protocol_type,
        "protocol": protocol,
        "members": [{"member_id": member_id, "metadata_b64": b64(metadata), "assignment_b64": b64(assignment)}
                    for (member_id, _, _, metadata, assignment) in sorted(members)],
    }))
    return 0


def create_topic(args):
    configs = dict(item.split("=", 1) for item in args.config)
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap, request_timeout_ms=int(args.timeout * 1000),
                             **security(args))
    try:
        admin.create_topics([NewTopic(args.topic, args.partitions, 1, topic_configs=configs)])
    finally:
        admin.close()
    return 0


def describe_topic(args):
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap, request_timeout_ms=int(args.timeout * 1000),
                             **security(args))
    try:
        [topic] = admin.describe_topics([args.topic])
        if topic["error_code"] != 0:
            print(f"describe_topics of {args.topic} answered error {topic['error_code']}", file=sys.stderr)
            return 1
        [described] = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, args.topic)])
    finally:
        admin.close()
    [resource] = described.resources
    error_code, configs = resource[0], resource[4]
    print(json.dumps({
        "partitions": sorted(p["partition"] for p in topic["partitions"]),
        "configs": None if error_code != 0 else {entry[0]: entry[1] for entry in configs},
    }))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {"consume": consume, "produce": produce, "cluster-id": cluster_id,
                "group-offsets": group_offsets, "commit-offsets": commit_offsets, "end-offsets": end_offsets,
                "high-watermarks": high_watermarks, "describe-group": describe_group,
                "create-topic": create_topic, "describe-topic": describe_topic}
    for name in commands:
        p = sub.add_parser(name)
        p.add_argument("--bootstrap", required=True)
        if name not in ("cluster-id", "describe-group"):
            p.add_argument("--topic", required=True)
        p.add_argument("--timeout", type=float, default=30.0)
        add_security_options(p)
        if name == "consume":
            p.add_argument("--count", type=int, required=True)
        if name in ("group-offsets", "commit-offsets", "describe-group"):
            p.add_argument("--group", required=True)
        if name == "group-offsets":
            p.add_argument("--partitions", required=True)
        if name == "commit-offsets":
            p.add_argument("--offsets", required=True)
        if name in ("high-watermarks", "create-topic"):
            p.add_argument("--partitions", type=int, required=True)
        if name == "create-topic":
            p.add_argument("--config", action="append", default=[])
    args = parser.parse_args()
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
