#!/usr/bin/env python3
"""When does the broker answer a fetch that found nothing, if a record arrives meanwhile?

Kafka answers a fetch with `min_bytes=1` as soon as a record arrives. tansu holds it, and
looks again only at certain moments of the wait; those moments set a floor under any
consumer's latency. For each fetch wait, this sends fetches for the next (not yet written)
offset of a one-partition topic and produces one record `delay` ms after each fetch leaves,
then prints when the fetch came back.

    python fetch_hold_probe.py --bootstrap 127.0.0.1:9092 --waits 10,25,50,100

Needs kafka-python (the tests' virtualenv has it) and a running broker
(`scripts/services.sh start`). Creates a topic named fetch-hold-probe-<time>.
"""

import argparse
import threading
import time

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.client_async import KafkaClient
from kafka.protocol.fetch import FetchRequest


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--waits", default="10,25,50,100", help="fetch waits to try, in ms")
    p.add_argument("--steps", type=int, default=10, help="produce delays tried per wait")
    a = p.parse_args()

    topic = f"fetch-hold-probe-{int(time.time())}"
    KafkaAdminClient(bootstrap_servers=a.bootstrap).create_topics([NewTopic(topic, 1, 1)])
    producer = KafkaProducer(bootstrap_servers=a.bootstrap, linger_ms=0)
    producer.send(topic, b"first").get(timeout=10)
    client = KafkaClient(bootstrap_servers=a.bootstrap)
    node = client.least_loaded_node()
    deadline = time.monotonic() + 10
    while not client.ready(node):
        if time.monotonic() > deadline:
            raise SystemExit(f"no connection to {a.bootstrap} within 10 s")
        client.poll(timeout_ms=100)

    def fetch(offset, wait_ms):
        """(ms until the answer, bytes of records in it)"""
        request = FetchRequest[4](-1, wait_ms, 1, 1 << 20, 0, [(topic, [(0, offset, 1 << 20)])])
        start = time.monotonic()
        future = client.send(node, request)
        while not future.is_done:
            client.poll(future=future, timeout_ms=1000)
        if future.failed():
            raise SystemExit(f"fetch failed: {future.exception}")
        records = future.value.topics[0][1][0][-1]
        return (time.monotonic() - start) * 1000, len(records or b"")

    def produce_after(delay_ms):
        time.sleep(delay_ms / 1000)
        producer.send(topic, b"probe")
        producer.flush()

    print("Each cell: produced after D ms -> the fetch answered after A ms (both from the "
          "moment the fetch left; 'empty': it answered with no records).")
    offset = 1
    for wait in (int(w) for w in a.waits.split(",")):
        cells = []
        for delay in range(1, wait + 2, max(1, wait // a.steps)):
            writer = threading.Thread(target=produce_after, args=(delay,))
            writer.start()
            took, size = fetch(offset, wait)
            writer.join()
            # Either way the record is written now: the next fetch asks for the one after it.
            offset += 1
            cells.append(f"{delay}->{took:.1f}{'' if size else ' empty'}")
            time.sleep(0.03)
        print(f"fetch wait {wait} ms: " + "  ".join(cells))


if __name__ == "__main__":
    main()
