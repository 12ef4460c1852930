#!/usr/bin/env python3
"""The Python baseline of the source benchmark: what users write by hand today.

redis-py reads the stream through a consumer group (XREADGROUP, 1000 entries a call), a
kafka-python producer sends each entry keyed by its id with the worker's JSON value
({"id","body","stream"}), flushes, and the entries are acknowledged (XACK) once Kafka has
them: at-least-once. Runs until it is killed; scripts/bench/harness.py times it.

  py_source.py --bootstrap H:P --topic T --redis-host H --redis-port P --stream S --group G
"""

import argparse
import json

import redis
from kafka import KafkaProducer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--redis-host", required=True)
    p.add_argument("--redis-port", type=int, required=True)
    p.add_argument("--stream", required=True)
    p.add_argument("--group", required=True)
    args = p.parse_args()

    r = redis.Redis(host=args.redis_host, port=args.redis_port, decode_responses=True)
    try:
        r.xgroup_create(args.stream, args.group, id="0", mkstream=True)
    except redis.ResponseError as e:
        if not str(e).startswith("BUSYGROUP"):
            raise
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, acks="all")
    while True:
        reply = r.xreadgroup(args.group, "py", {args.stream: ">"}, count=1000, block=1000)
        if not reply:
            continue
        ids = []
        for _, entries in reply:
            for entry_id, body in entries:
                value = json.dumps({"id": entry_id, "body": body, "stream": args.stream},
                                   separators=(",", ":"))
                producer.send(args.topic, key=entry_id.encode(), value=value.encode())
                ids.append(entry_id)
        producer.flush()
        r.xack(args.stream, args.group, *ids)


if __name__ == "__main__":
    main()
