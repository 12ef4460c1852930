#!/usr/bin/env python3
"""Drives a worker through its lifecycle with kafka-connect-py, a third-party Kafka Connect
REST client, unchanged: create, status, pause, resume, restart, task restart, delete.

  connect_client_check.py --url http://127.0.0.1:PORT --name NAME --config-json '{...}'

Prints one line per step and exits 1 at the first step whose answer is not what Kafka
Connect would give.
"""

import argparse
import json
import sys
import time

from kafka_connect import KafkaConnect


def wait_for(what, check, timeout=30.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        ok, last = check()
        if ok:
            print(f"ok: {what}")
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: last answer {last!r}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--config-json", required=True)
    args = parser.parse_args()
    config = json.loads(args.config_json)
    client = KafkaConnect(url=args.url)
    name = args.name

    info = client.get_cluster_info()
    assert "version" in info, info
    print("ok: cluster info", info["version"])

    created = client.create_connector({"name": name, "config": config})
    assert created["name"] == name and created["type"] in ("source", "sink"), created
    print("ok: created")

    assert name in client.list_connectors(), "listed"
    expanded = client.list_connectors(expand="status")
    assert expanded[name]["status"]["connector"]["state"] in ("RUNNING", "UNASSIGNED"), expanded
    print("ok: listed with expand=status")

    def state(expected):
        def check():
            s = client.get_connector_status(name)
            tasks = [t["state"] for t in s["tasks"]]
            return s["connector"]["state"] == expected and tasks and all(t == expected for t in tasks), s
        return check

    wait_for("running", state("RUNNING"))
    assert client.get_connector_config(name)["connector.class"] == config["connector.class"]
    assert client.list_connector_tasks(name)[0]["id"] == {"connector": name, "task": 0}
    assert client.get_connector_task_status(name, 0)["state"] == "RUNNING"
    print("ok: config, tasks, task status")

    client.pause_connector(name)
    wait_for("paused", state("PAUSED"))
    client.resume_connector(name)
    wait_for("resumed", state("RUNNING"))

    client.restart_connector(name)
    client.restart_connector(name, include_tasks=True, only_failed=False)
    wait_for("restarted with tasks", state("RUNNING"))
    client.restart_connector_task(name, 0)
    wait_for("task restarted", state("RUNNING"))

    plugins = client.list_connector_plugins()
    assert any(p["class"] == "org.apache.kafka.connect.file.FileStreamSinkConnector" for p in plugins), plugins
    print("ok: plugins")

    client.delete_connector(name)
    assert name not in client.list_connectors(), "deleted"
    print("ok: deleted")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # the step and the answer, for the test's failure message
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
