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

# The same security options as the tests' Kafka tool (this file's folder is on sys.path).
from kafka_tool import add_security_options, security
from kafka.admin import NewTopic


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def _admin(args, timeout):
    return KafkaAdminClient(
        bootstrap_servers=args.bootstrap,
        request_timeout_ms=int(timeout * 1000),
        api_version_auto_timeout_ms=int(timeout * 1000),
        reconnect_backoff_max_ms=200,
        **security(args),
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
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, acks="all", **security(args))
    for v in values:
        producer.send(topic, key=b"k", value=v).get(timeout=20)
    producer.close()
    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **security(args),
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
    for name in ("ping", "roundtrip", "refused"):
        p = sub.add_parser(name)
        p.add_argument("--bootstrap", required=True)
        add_security_options(p)
        p.add_argument("--timeout", type=float, default=10.0)
        if name == "roundtrip":
            p.add_argument("--topic")
            p.add_argument("--count", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    return {"ping": ping, "roundtrip": roundtrip, "refused": refused}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
