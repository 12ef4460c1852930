#!/usr/bin/env python3
"""The Python baseline of the sink benchmark: what users write by hand today.

A kafka-python consumer reads every partition of the topic from the beginning; each poll's
records go to Redis as one redis-py pipeline (no transaction). Runs until it is killed, like
a real bridge; scripts/bench/harness.py times it from the outside.

  py_sink.py --bootstrap H:P --topic T --redis-host H --redis-port P --type string|hash|stream --keyspace K
"""

import argparse
import json
import time

import redis
from kafka import KafkaConsumer, TopicPartition


def fields(raw):
    """A JSON object's fields as text, as the worker's HASH/STREAM encoding (nulls left out)."""
    return {k: v if isinstance(v, str) else json.dumps(v)
            for k, v in json.loads(raw).items() if v is not None}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--redis-host", required=True)
    p.add_argument("--redis-port", type=int, required=True)
    p.add_argument("--type", choices=["string", "hash", "stream"], required=True)
    p.add_argument("--keyspace", required=True)
    args = p.parse_args()

    r = redis.Redis(host=args.redis_host, port=args.redis_port)
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap, group_id=None,
                             enable_auto_commit=False, auto_offset_reset="earliest")
    partitions = None
    while not partitions:
        partitions = consumer.partitions_for_topic(args.topic)
        if not partitions:
            time.sleep(0.1)
    assignment = [TopicPartition(args.topic, p) for p in sorted(partitions)]
    consumer.assign(assignment)
    consumer.seek_to_beginning(*assignment)

    prefix = args.keyspace + ":"
    while True:
        batches = consumer.poll(timeout_ms=1000)
        if not batches:
            continue
        pipe = r.pipeline(transaction=False)
        for records in batches.values():
            for rec in records:
                if rec.key is None or rec.value is None:
                    continue
                if args.type == "string":
                    pipe.set(prefix + rec.key.decode(), rec.value)
                elif args.type == "hash":
                    pipe.hset(prefix + rec.key.decode(), mapping=fields(rec.value))
                else:
                    pipe.xadd(args.keyspace, fields(rec.value))
        pipe.execute()


if __name__ == "__main__":
    main()
