#!/usr/bin/env python3
"""kafka-python against a broker that wants TLS and/or SASL (scripts/secure-kafka.sh starts one).

  secure_kafka_client.py ping      --bootstrap HOST:PORT [security options] [--timeout S]
      Exits 0 once the broker answers a metadata request, 1 when it did not within S seconds.

  secure_kafka_client.py roundtrip --bootstrap HOST:PORT [security options] [--topic T] [--count N]
      Creates topic T (one partition), produces N records, reads them back from the earliest
      offset, and prints one JSON object: {"topic", "produced", "consumed", "values"}.
      Exits 1 when a record is missing.

  secure_kafka_client.py refused   --bootstrap HOST:PORT [security options] [--timeout S]
      Exits 0 when the broker does NOT let this client in (TLS failure, authentication failure,
      connection closed), printing {"refused": true, "error": ..., "log": [...]} with what
      kafka-python said; exits 1, printing {"refused": false}, when it could read metadata.

Security options: --security-protocol PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL, --cafile PEM,
--mechanism PLAIN|SCRAM-SHA-256|SCRAM-SHA-512, --user U, --password P.
"""

import argparse
import json
import logging
import sys
import time
import uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def _security(args):
    kw = {"security_protocol": args.security_protocol}
    if args.security_protocol in ("SSL", "SASL_SSL"):
        kw["ssl_cafile"] = args.cafile
        kw["ssl_check_hostname"] = True
    if args.security_protocol.startswith("SASL_"):
        kw["sasl_mechanism"] = args.mechanism
        kw["sasl_plain_username"] = args.user
        kw["sasl_plain_password"] = args.password
    return kw


def _admin(args, timeout):
    return KafkaAdminClient(
        bootstrap_servers=args.bootstrap,
        request_timeout_ms=int(timeout * 1000),
        api_version_auto_timeout_ms=int(timeout * 1000),
        reconnect_backoff_max_ms=200,
        **_security(args),
    )


def ping(args):
    deadline = time.monotonic() + args.timeout
    last = None
    while time.monotonic() < deadline:
        try:
            admin = _admin(args, 5.0)
            admin.list_topics()
            admin.close()
            return 0
        except Exception as e:  # noqa: BLE001 - any failure means "not yet"
            last = e
            time.sleep(0.2)
    print(f"no answer from {args.bootstrap}: {last!r}", file=sys.stderr)
    return 1


def roundtrip(args):
    topic = args.topic or f"secure-{uuid.uuid4().hex[:12]}"
    admin = _admin(args, 10.0)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    values = [f"{args.security_protocol}-{args.mechanism}-{i}".encode() for i in range(args.count)]
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, acks="all", **_security(args))
    for v in values:
        producer.send(topic, key=b"k", value=v).get(timeout=20)
    producer.close()
    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **_security(args),
    )
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    got = []
    deadline = time.monotonic() + 30
    while len(got) < len(values) and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            got.extend(r.value for r in records)
    consumer.close()
    print(json.dumps({
        "topic": topic,
        "produced": len(values),
        "consumed": len(got),
        "values": [v.decode() for v in got],
    }))
    return 0 if got == values else 1


def consume(args):
    """Prints the values of the first --count records of every partition of --topic, read
    from the beginning, as one JSON list (partition by partition, in offset order)."""
    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        **_security(args),
    )
    deadline = time.monotonic() + args.timeout
    partitions = None
    # A topic just created may be known with no partitions yet: wait for them.
    while not partitions and time.monotonic() < deadline:
        partitions = consumer.partitions_for_topic(args.topic)
        if not partitions:
            time.sleep(0.2)
    if not partitions:
        print(f"topic {args.topic} not found", file=sys.stderr)
        return 1
    tps = [TopicPartition(args.topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    got = {tp.partition: [] for tp in tps}
    while sum(map(len, got.values())) < args.count and time.monotonic() < deadline:
        for tp, records in consumer.poll(timeout_ms=200).items():
            got[tp.partition].extend(r.value.decode() for r in records)
    consumer.close()
    values = [v for p in sorted(got) for v in got[p]]
    print(json.dumps(values))
    return 0 if len(values) >= args.count else 1


def refused(args):
    collect = _Collect()
    kafka_log = logging.getLogger("kafka")
    kafka_log.addHandler(collect)
    kafka_log.setLevel(logging.WARNING)
    kafka_log.propagate = False
    try:
        admin = _admin(args, args.timeout)
        admin.list_topics()
        admin.close()
    except Exception as e:  # noqa: BLE001 - every refusal counts, the log says which
        print(json.dumps({"refused": True, "error": repr(e), "log": collect.lines[-10:]}))
        return 0
    print(json.dumps({"refused": False, "log": collect.lines[-10:]}))
    return 1


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("ping", "roundtrip", "refused", "consume"):
        p = sub.add_parser(name)
        p.add_argument("--bootstrap", required=True)
        p.add_argument("--security-protocol", default="PLAINTEXT")
        p.add_argument("--cafile")
        p.add_argument("--mechanism", default="PLAIN")
        p.add_argument("--user")
        p.add_argument("--password")
        p.add_argument("--timeout", type=float, default=10.0)
        if name in ("roundtrip", "consume"):
            p.add_argument("--topic", required=name == "consume")
            p.add_argument("--count", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    commands = {"ping": ping, "roundtrip": roundtrip, "refused": refused, "consume": consume}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
