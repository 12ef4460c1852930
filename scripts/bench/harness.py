#!/usr/bin/env python3
"""Runs the benchmark's scenarios against running services and writes results.json/runs.csv.

Called by scripts/bench.sh, which starts the services, builds the binaries and renders the
report; see docs/benchmarks.md ("Method") for what is measured and how.

Every measured system (the worker, the Rust bridge, the Python bridge) runs as a process of
its own and is measured from the outside in the same way:
  - time: from the moment the work is handed over (the connector is created / the bridge
    process is started) until the destination holds every record (Redis: DBSIZE and the last
    key of each partition, or XLEN; Kafka: the partitions' high watermarks);
  - CPU: utime + stime of that process from /proc/<pid>/stat over that window (for a bridge,
    its whole life);
  - peak RSS: VmHWM from /proc/<pid>/status (the worker is started afresh for every run);
  - interference: the CPU busy on the machine (/proc/stat) minus what this benchmark's
    processes used, in cores, during the window; and the 1-minute load average before it.
"""

import argparse
import csv
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import redis

CLK_TCK = os.sysconf("SC_CLK_TCK")
STRING_CONVERTER = "org.apache.kafka.connect.storage.StringConverter"
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
SINK_TOPIC = "bench-sink"
STREAM = "bench-stream"
KEYSPACE = "bench"
PARTITIONS = 4
# The distributed scenario's workers.
CLUSTER_SIZE = 3
# The worker's default fetch.max.wait.ms (connect-worker/src/kafka/fetcher.rs, FetchConfig).
WORKER_FETCH_WAIT_MS = 25


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def json_value(seq):
    """The value of record `seq` (as examples/bench-baseline/src/common.rs writes it)."""
    return f'{{"id":{seq},"user":"user-{seq % 10000:04}","amount":{seq % 1000}.{seq % 100:02},"ok":true}}'


def proc_cpu(pid):
    """utime + stime of a process (or the sum over a list of processes), in seconds."""
    if isinstance(pid, (list, tuple)):
        return sum(proc_cpu(p) for p in pid)
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def proc_hwm_mb(pid):
    """Peak RSS of a process (or the sum of the peaks over a list of processes), in MB."""
    if isinstance(pid, (list, tuple)):
        return sum(proc_hwm_mb(p) for p in pid)
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def system_busy():
    """Seconds of CPU busy on the whole machine so far (all cores), and of steal."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = v[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK, steal / CLK_TCK


def loadavg1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rebalance_view(worker):
    """(leader, generation) from a distributed worker's rebalance metrics, (None, None) before
    its first completed rebalance, while it rebalances, or when it does not answer."""
    try:
        with urllib.request.urlopen(worker.rest + "/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return None, None
    prefix = "^kafka_connect_connect_worker_rebalance_metrics_"
    leader = re.search(prefix + r'leader_name\{leader_name="([^"]+)"\} 1$', text, re.M)
    epoch = re.search(prefix + r"epoch (\S+)$", text, re.M)
    busy = re.search(prefix + r"rebalancing (\S+)$", text, re.M)
    if not (leader and epoch and busy) or float(busy.group(1)) != 0 or float(epoch.group(1)) < 0:
        return None, None
    return leader.group(1), float(epoch.group(1))


def http(method, url, body=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


class Window:
    """A measured interval: wall time, the target's CPU, and the CPU others used meanwhile."""

    def __init__(self, bench, pid=None):
        self.bench = bench
        self.pid = pid
        self.load1 = loadavg1()
        self.busy0, self.steal0 = system_busy()
        self.ours0 = bench.our_cpu()
        self.services0 = [proc_cpu(p) for p in bench.service_pids]
        self.target0 = proc_cpu(pid) if pid else 0.0
        self.t0 = time.monotonic()

    def close(self, pid):
        """Closes the window, `pid` being the measured process (still running), or the list
        of them (a cluster's workers: their CPU and peak RSS add up)."""
        elapsed = time.monotonic() - self.t0
        target = proc_cpu(pid) - (self.target0 if self.pid == pid else 0.0)
        busy, steal = system_busy()
        ours = self.bench.our_cpu() - self.ours0 + target
        foreign = max(0.0, (busy - self.busy0) - ours)
        redis_cpu, tansu_cpu = (proc_cpu(p) - c0 for p, c0 in zip(self.bench.service_pids,
                                                                  self.services0))
        return {
            "seconds": elapsed,
            "cpu_s": target,
            "redis_cpu_s": redis_cpu,
            "tansu_cpu_s": tansu_cpu,
            "peak_rss_mb": proc_hwm_mb(pid),
            "load1_before": self.load1,
            "foreign_cores": foreign / elapsed,
            "steal_cores": (steal - self.steal0) / elapsed,
        }


class Bench:
    def __init__(self, a):
        self.a = a
        self.count = a.count
        self.results_dir = a.results
        self.logs = os.path.join(a.results, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.work = tempfile.mkdtemp(prefix="bench-", dir=a.work)
        self.r = redis.Redis(host=a.redis_host, port=a.redis_port)
        self.redis_url = f"redis://{a.redis_host}:{a.redis_port}"
        self.service_pids = [int(open(os.path.join(a.state, f"{n}.pid")).read())
                             for n in ("redis", "tansu")]
        self.children = []
        self.seq = 0
        self.runs = []
        self.latency = []
        self.data = {}
        self.phases = {}
        self.phase_start = time.monotonic()

    def phase(self, name):
        """Notes how long the part of the run since the last phase took."""
        now = time.monotonic()
        self.phases[name] = round(now - self.phase_start, 1)
        self.phase_start = now
        log(f"{name}: {self.phases[name]:.0f} s")

    # ---- processes -------------------------------------------------------------------

    def our_cpu(self):
        """CPU seconds of this harness, its waited-for children and the services."""
        t = os.times()
        total = t.user + t.system + t.children_user + t.children_system
        for pid in self.service_pids:
            total += proc_cpu(pid)
        return total

    def spawn(self, cmd, name, env=None):
        self.seq += 1
        path = os.path.join(self.logs, f"{self.seq:03d}-{name}.log")
        out = open(path, "w")
        # The worker reads CONNECT_* variables as its own settings: pass none of ours.
        base = {k: v for k, v in os.environ.items() if not k.startswith("CONNECT_")}
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env={**base, **(env or {})})
        p.log_path = path
        self.children.append(p)
        return p

    def stop(self, p, timeout=15):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.children:
            self.children.remove(p)

    def stop_all(self):
        for p in list(self.children):
            self.stop(p, timeout=5)

    def tool(self, *args, timeout=600):
        """Runs a bench-baseline command to its end; returns its parsed last stdout line."""
        out = subprocess.run([self.a.baseline_bin, *args], capture_output=True, text=True,
                             timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"bench-baseline {args[0]} failed: {out.stderr.strip()}")
        lines = out.stdout.strip().splitlines()
        return json.loads(lines[-1]) if lines else None

    def kafka_args(self, topic):
        return ["--kafka", self.a.kafka, "--topic", topic]

    # ---- the worker ------------------------------------------------------------------

    def start_worker(self, name, group=None):
        """A standalone worker, or with `group` a member of that distributed cluster (its
        three storage topics named after the group, with Kafka Connect's other defaults)."""
        d = tempfile.mkdtemp(prefix=f"{name}-", dir=self.work)
        port = free_port()
        props = os.path.join(d, "worker.properties")
        with open(props, "w") as f:
            f.write(f"bootstrap.servers={self.a.kafka}\n"
                    f"listeners=http://127.0.0.1:{port}\n"
                    "offset.flush.interval.ms=10000\n"
                    f"key.converter={STRING_CONVERTER}\n"
                    f"value.converter={STRING_CONVERTER}\n")
            if group is None:
                f.write(f"offset.storage.file.filename={d}/connect.offsets\n")
            else:
                f.write(f"group.id={group}\n")
                for store in ("config", "offset", "status"):
                    f.write(f"{store}.storage.topic={group}-{store}s\n"
                            f"{store}.storage.replication.factor=1\n")
        p = self.spawn([self.a.worker_bin, props], name, env={"RUST_LOG": "warn"})
        p.rest = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                http("GET", p.rest + "/")
                return p
            except (urllib.error.URLError, ConnectionError):
                if p.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the worker did not come up; see {p.log_path}")
                time.sleep(0.05)

    def start_cluster(self, name, size):
        """`size` workers in one new group, once they agree on a leader and a generation."""
        self.seq += 1
        group = f"bench-{name}-{self.seq}"
        workers = [self.start_worker(f"{name}-w{i + 1}", group) for i in range(size)]
        deadline = time.monotonic() + 60
        while True:
            views = [rebalance_view(w) for w in workers]
            if views[0][0] is not None and all(v == views[0] for v in views):
                return workers
            for w in workers:
                if w.poll() is not None:
                    raise RuntimeError(f"a cluster worker exited; see {w.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not settle: {views}; see {workers[0].log_path}")
            time.sleep(0.1)

    def create_connector(self, worker, name, config, initial_state=None):
        # A distributed worker answers 409 while its group rebalances; a client retries.
        body = {"name": name, "config": config}
        if initial_state:
            body["initial_state"] = initial_state
        deadline = time.monotonic() + 30
        while True:
            try:
                http("POST", worker.rest + "/connectors", body)
                return
            except urllib.error.HTTPError as e:
                if e.code != 409 or time.monotonic() > deadline:
                    raise
            time.sleep(0.1)

    def wait_running(self, worker, name, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                s = http("GET", f"{worker.rest}/connectors/{name}/status")
                if s["tasks"] and all(t["state"] == "RUNNING" for t in s["tasks"]):
                    return
            except urllib.error.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"connector {name} is not RUNNING; see {worker.log_path}")

    def wait_state(self, worker, name, state, tasks, timeout):
        """The connector's status once it and its `tasks` tasks are all in `state`."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                s = http("GET", f"{worker.rest}/connectors/{name}/status")
                if (s["connector"]["state"] == state and len(s["tasks"]) == tasks
                        and all(t["state"] == state for t in s["tasks"])):
                    return s
            except urllib.error.HTTPError:
                s = None
            if time.monotonic() > deadline:
                raise RuntimeError(f"connector {name} is not {state} after {timeout} s: {s}; "
                                   f"see {worker.log_path}")
            time.sleep(0.05)

    def check_worker(self, worker, name):
        """Fails when a task of the connector failed (instead of waiting for the timeout)."""
        s = http("GET", f"{worker.rest}/connectors/{name}/status")
        for t in s.get("tasks", []):
            if t["state"] == "FAILED":
                raise RuntimeError(f"task {name}-{t['id']} FAILED: {t.get('trace', '')[:2000]}")

    # ---- completion --------------------------------------------------------------------

    def sink_done(self, kind):
        if kind == "stream":
            return self.r.xlen(KEYSPACE) >= self.count
        last = [max(s for s in range(max(0, self.count - PARTITIONS), self.count)
                    if s % PARTITIONS == p) for p in range(PARTITIONS) if p < self.count]
        pipe = self.r.pipeline(transaction=False)
        pipe.dbsize()
        pipe.exists(*[f"{KEYSPACE}:{s}" for s in last])
        size, present = pipe.execute()
        return size >= self.count and present == len(last)

    def wait_sink(self, kind, proc, worker_name=None, others=()):
        """Until Redis holds every record; fails early when `proc` (or one of `others`, the
        rest of a cluster) exits or, every 100 polls, when a task of `worker_name` failed."""
        deadline = time.monotonic() + self.a.timeout
        n = 0
        while not self.sink_done(kind):
            n += 1
            for p in (proc, *others):
                if p.poll() is not None:
                    raise RuntimeError(f"{p.args[0]} exited; see {p.log_path}")
            if worker_name and n % 100 == 0:
                self.check_worker(proc, worker_name)
            if time.monotonic() > deadline:
                raise RuntimeError(f"not complete after {self.a.timeout} s; see {proc.log_path}")
            time.sleep(0.005)

    def verify_sink(self, kind):
        if kind == "string":
            ok = self.r.get(f"{KEYSPACE}:0") == json_value(0).encode()
        elif kind == "hash":
            ok = self.r.hget(f"{KEYSPACE}:0", "user") == b"user-0000"
        else:
            ok = True
        n = self.r.xlen(KEYSPACE) if kind == "stream" else self.r.dbsize()
        return ok, n

    # ---- scenarios -----------------------------------------------------------------------

    def record(self, row):
        self.runs.append(row)
        log(f"{row['scenario']:<34} {row['system']:<7} {row['records_per_s']:>10,.0f} rec/s "
            f"{row['cpu_s_per_1m']:6.2f} CPU s/1M  {row['peak_rss_mb']:6.1f} MB  "
            f"(load {row['load1_before']:.2f}, others {row['foreign_cores']:.2f} cores)")

    def finish_row(self, row, m, records, nbytes):
        row.update(m)
        row["records"] = records
        row["records_per_s"] = records / m["seconds"]
        row["mb_per_s"] = nbytes / m["seconds"] / 1e6
        row["cpu_s_per_1m"] = m["cpu_s"] / records * 1e6
        return row

    def sink_config(self, kind, eos, tasks):
        """The worker's RedisSink for the sink scenarios (standalone and cluster alike)."""
        config = {"connector.class": "RedisSink", "topics": SINK_TOPIC,
                  "tasks.max": str(tasks), "redis.uri": self.redis_url,
                  "redis.type": kind.upper(), "redis.keyspace": KEYSPACE,
                  "redis.exactly.once": "true" if eos else "false"}
        if kind != "string":
            config.update({"value.converter": JSON_CONVERTER,
                           "value.converter.schemas.enable": "false"})
        return config

    def sink_run(self, system, kind, eos=None, tasks=None, rep=0):
        self.r.flushall()
        time.sleep(self.a.settle)
        scenario = f"sink {kind.upper()}"
        if system == "worker":
            scenario += f" eos={'on' if eos else 'off'} tasks={tasks}"
            name = f"sink-{kind}-{'eos' if eos else 'alo'}-{tasks}-{rep}"
            worker = self.start_worker(name)
            config = self.sink_config(kind, eos, tasks)
            w = Window(self, worker.pid)
            self.create_connector(worker, name, config)
            proc = worker
            self.wait_sink(kind, worker, name)
        elif system == "cluster":
            # One connector on a cluster of CLUSTER_SIZE workers, created PAUSED through the
            # second worker (it forwards to the leader). Handing out the connector and then its
            # tasks takes two rebalances, whose length is the broker's (tansu holds a JoinGroup
            # for half the session timeout), so it is measured apart ("startup"); the clock
            # runs from the resume, which needs no rebalance, to the last record.
            scenario += f" eos={'on' if eos else 'off'} tasks={tasks} workers={CLUSTER_SIZE}"
            name = f"cluster-{kind}-{'eos' if eos else 'alo'}-{tasks}-{rep}"
            workers = self.start_cluster(name, CLUSTER_SIZE)
            config = self.sink_config(kind, eos, tasks)
            t0 = time.monotonic()
            self.create_connector(workers[1], name, config, initial_state="PAUSED")
            status = self.wait_state(workers[1], name, "PAUSED", tasks, timeout=60)
            startup = time.monotonic() - t0
            pids = [p.pid for p in workers]
            w = Window(self, pids)
            http("PUT", f"{workers[1].rest}/connectors/{name}/resume")
            self.wait_sink(kind, workers[1], name, others=[workers[0], workers[2]])
            m = w.close(pids)
            for p in workers:
                self.stop(p)
            ok, n = self.verify_sink(kind)
            row = {"kind": "sink", "scenario": scenario, "type": kind.upper(),
                   "system": system, "eos": eos, "tasks": tasks, "workers": CLUSTER_SIZE,
                   "task_workers": len({t["worker_id"] for t in status["tasks"]}),
                   "startup_s": startup, "rep": rep, "verified": ok, "redis_count": n}
            self.record(self.finish_row(row, m, self.count, self.data["sink_bytes"]))
            return
        else:
            w = Window(self)
            if system == "plain":
                proc = self.spawn([self.a.baseline_bin, "plain-bridge", *self.kafka_args(SINK_TOPIC),
                                   "--redis", self.redis_url, "--type", kind,
                                   "--keyspace", KEYSPACE], f"plain-sink-{kind}")
            elif system == "rust":
                # eos: each pipeline in MULTI/EXEC with the offsets, as the worker's sink does.
                if eos:
                    scenario += " eos=on"
                proc = self.spawn([self.a.baseline_bin, "sink-bridge", *self.kafka_args(SINK_TOPIC),
                                   "--redis", self.redis_url, "--type", kind,
                                   "--keyspace", KEYSPACE,
                                   "--transaction", "true" if eos else "false"],
                                  f"rust-sink-{kind}{'-eos' if eos else ''}")
            else:
                proc = self.spawn([sys.executable, os.path.join(self.a.scripts, "py_sink.py"),
                                   "--bootstrap", self.a.kafka, "--topic", SINK_TOPIC,
                                   "--redis-host", self.a.redis_host,
                                   "--redis-port", str(self.a.redis_port),
                                   "--type", kind, "--keyspace", KEYSPACE], f"python-sink-{kind}")
            self.wait_sink(kind, proc)
        m = w.close(proc.pid)
        self.stop(proc)
        ok, n = self.verify_sink(kind)
        row = {"kind": "sink", "scenario": scenario, "type": kind.upper(), "system": system,
               "eos": eos, "tasks": tasks, "rep": rep, "verified": ok, "redis_count": n}
        self.record(self.finish_row(row, m, self.count, self.data["sink_bytes"]))

    def source_run(self, system, rep=0):
        self.r.flushall()
        filled = self.tool("fill-stream", "--redis", self.redis_url, "--stream", STREAM,
                           "--count", str(self.count))
        self.seq += 1
        topic = f"bench-source-{self.seq}"
        self.tool("create-topic", *self.kafka_args(topic), "--partitions", str(PARTITIONS))
        time.sleep(self.a.settle)
        waiter = self.spawn([self.a.baseline_bin, "wait-topic", *self.kafka_args(topic),
                             "--count", str(self.count), "--timeout", str(self.a.timeout)],
                            f"wait-{topic}")
        if system == "worker":
            name = f"source-{rep}"
            worker = self.start_worker(name)
            config = {"connector.class": "RedisStreamSource", "redis.uri": self.redis_url,
                      "redis.stream.name": STREAM, "topic": topic, "tasks.max": "1",
                      "batch.size": str(self.a.source_batch),
                      "key.converter": STRING_CONVERTER, "value.converter": JSON_CONVERTER,
                      "value.converter.schemas.enable": "false"}
            w = Window(self, worker.pid)
            self.create_connector(worker, name, config)
            proc = worker
        else:
            w = Window(self)
            if system == "rust":
                proc = self.spawn([self.a.baseline_bin, "source-bridge", *self.kafka_args(topic),
                                   "--redis", self.redis_url, "--stream", STREAM,
                                   "--group", "bench", "--batch", str(self.a.source_batch)],
                                  "rust-source")
            else:
                proc = self.spawn([sys.executable, os.path.join(self.a.scripts, "py_source.py"),
                                   "--bootstrap", self.a.kafka, "--topic", topic,
                                   "--redis-host", self.a.redis_host,
                                   "--redis-port", str(self.a.redis_port),
                                   "--stream", STREAM, "--group", "bench"], "python-source")
        n = 0
        while waiter.poll() is None:
            n += 1
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[0]} exited; see {proc.log_path}")
            if system == "worker" and n % 100 == 0:
                self.check_worker(proc, name)
            time.sleep(0.005)
        if waiter.returncode != 0:
            raise RuntimeError(f"wait-topic failed; see {waiter.log_path}")
        self.children.remove(waiter)
        m = w.close(proc.pid)
        self.stop(proc)
        with open(waiter.log_path) as f:
            in_kafka = int(f.read().split()[-1])
        row = {"kind": "source", "scenario": "source STREAM -> Kafka", "type": "STREAM",
               "system": system, "eos": None, "tasks": 1, "rep": rep,
               "verified": in_kafka == self.count, "kafka_count": in_kafka}
        self.record(self.finish_row(row, m, self.count, filled["bytes"]))

    def latency_run(self, system, rep=0, eos=None, fetch_wait_ms=None):
        self.r.flushall()
        self.seq += 1
        topic = f"bench-latency-{self.seq}"
        self.tool("create-topic", *self.kafka_args(topic), "--partitions", str(PARTITIONS))
        keyspace = "lat"
        if system == "worker":
            label = f"worker eos={'on' if eos else 'off'}"
        elif system == "rust":
            label = f"rust bridge, fetch wait {fetch_wait_ms} ms"
        else:
            label = "python bridge"
        if system == "worker":
            name = f"latency-{self.seq}"
            proc = self.start_worker(name)
            self.create_connector(proc, name, {
                "connector.class": "RedisSink", "topics": topic, "tasks.max": "1",
                "redis.uri": self.redis_url, "redis.type": "STRING", "redis.keyspace": keyspace,
                "redis.exactly.once": "true" if eos else "false"})
            self.wait_running(proc, name)
        elif system == "rust":
            proc = self.spawn([self.a.baseline_bin, "sink-bridge", *self.kafka_args(topic),
                               "--redis", self.redis_url, "--type", "string",
                               "--keyspace", keyspace, "--fetch-wait-ms", str(fetch_wait_ms)],
                              "rust-latency")
        else:
            proc = self.spawn([sys.executable, os.path.join(self.a.scripts, "py_sink.py"),
                               "--bootstrap", self.a.kafka, "--topic", topic,
                               "--redis-host", self.a.redis_host,
                               "--redis-port", str(self.a.redis_port),
                               "--type", "string", "--keyspace", keyspace], "python-latency")
        time.sleep(2)
        w = Window(self, proc.pid)
        result = self.tool("latency", *self.kafka_args(topic), "--redis", self.redis_url,
                           "--keyspace", keyspace, "--rate", str(self.a.rate),
                           "--seconds", str(self.a.latency_seconds),
                           timeout=self.a.latency_seconds + 60)
        m = w.close(proc.pid)
        self.stop(proc)
        result.update({"system": system, "label": label, "eos": eos, "rep": rep,
                       "fetch_wait_ms": fetch_wait_ms,
                       "cpu_cores": m["cpu_s"] / m["seconds"], "peak_rss_mb": m["peak_rss_mb"],
                       "load1_before": m["load1_before"], "foreign_cores": m["foreign_cores"]})
        self.latency.append(result)
        log(f"latency {label:<16} p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms  "
            f"max {result['max_ms']:.1f} ms  ({result['measured']} records, "
            f"{result['cpu_cores']:.2f} cores)")

    def profile_run(self, eos):
        """The STRING sink (one task) under perf, sampled at 499 Hz with DWARF call graphs."""
        self.r.flushall()
        time.sleep(self.a.settle)
        tag = "eos" if eos else "alo"
        name = f"profile-{tag}"
        worker = self.start_worker(name)

        def workload():
            self.create_connector(worker, name, {
                "connector.class": "RedisSink", "topics": SINK_TOPIC, "tasks.max": "1",
                "redis.uri": self.redis_url, "redis.type": "STRING", "redis.keyspace": KEYSPACE,
                "redis.exactly.once": "true" if eos else "false"})
            self.wait_sink("string", worker, name)

        return {"kind": "sink", "eos": eos, **self.perf(tag, worker, workload)}

    def profile_source_run(self):
        """The stream source (one task, as in the source scenario) under perf."""
        self.r.flushall()
        self.tool("fill-stream", "--redis", self.redis_url, "--stream", STREAM,
                  "--count", str(self.count))
        self.seq += 1
        topic = f"bench-profile-source-{self.seq}"
        self.tool("create-topic", *self.kafka_args(topic), "--partitions", str(PARTITIONS))
        time.sleep(self.a.settle)
        name = "profile-source"
        worker = self.start_worker(name)

        def workload():
            waiter = self.spawn([self.a.baseline_bin, "wait-topic", *self.kafka_args(topic),
                                 "--count", str(self.count), "--timeout", str(self.a.timeout)],
                                f"wait-{topic}")
            self.create_connector(worker, name, {
                "connector.class": "RedisStreamSource", "redis.uri": self.redis_url,
                "redis.stream.name": STREAM, "topic": topic, "tasks.max": "1",
                "batch.size": str(self.a.source_batch),
                "key.converter": STRING_CONVERTER, "value.converter": JSON_CONVERTER,
                "value.converter.schemas.enable": "false"})
            if waiter.wait(self.a.timeout + 30) != 0:
                raise RuntimeError(f"wait-topic failed; see {waiter.log_path}")
            self.children.remove(waiter)

        return {"kind": "source", **self.perf("source", worker, workload)}

    def perf(self, tag, worker, workload):
        """Runs `workload` with perf recording the worker; the time, CPU and both reports."""
        data = os.path.join(self.results_dir, f"perf-{tag}.data")
        perf = subprocess.Popen(["perf", "record", "-F", "499", "--call-graph", "dwarf,8192",
                                 "-p", str(worker.pid), "-o", data],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        w = Window(self, worker.pid)
        workload()
        m = w.close(worker.pid)
        perf.send_signal(signal.SIGINT)
        perf.wait(60)
        self.stop(worker)
        reports = {}
        for mode, extra in (("self", ["--no-children"]), ("children", ["--children"])):
            out = subprocess.run(["perf", "report", "-i", data, "--stdio", "-g", "none",
                                  "--percent-limit", "0.5", "--sort", "symbol", *extra],
                                 capture_output=True, text=True, timeout=900)
            path = os.path.join(self.results_dir, f"perf-{tag}-{mode}.txt")
            with open(path, "w") as f:
                f.write(out.stdout)
            reports[mode] = parse_perf(out.stdout, interesting_only=mode == "children")
        log(f"profile {tag}: {m['seconds']:.2f} s, {m['cpu_s']:.2f} CPU s; "
            f"reports in {self.results_dir}")
        return {"seconds": m["seconds"], "cpu_s": m["cpu_s"],
                "self": reports["self"], "children": reports["children"]}


# Inclusive costs worth showing: functions of our crates and of the I/O libraries, not the
# runtime's and the async machinery's frames that every stack shares.
INTERESTING = ("connect_core::", "connect_worker::", "connect_redis::", "fred::", "rskafka::",
               "serde_json::", "<connect_", "<fred::", "<rskafka::")
BORING = ("{async", "poll<", "catch_unwind", "call_once", "do_call", "with_mut", "{closure#",
          "Instrumented", "spawn_task", "{{closure}}::{{closure}}", "ClientLike::connect",
          "process_command", "poll_future", "harness", "runtime::")


def parse_perf(text, interesting_only=False):
    """(percent, symbol, kernel) rows of a `perf report --stdio -g none --sort symbol`."""
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or line.startswith("#") or not parts[0].endswith("%"):
            continue
        pct = float(parts[0].rstrip("%"))
        # "--children" prints two percentages (children, self) before the symbol.
        sym = line.split("] ", 1)[1].strip() if "] " in line else " ".join(parts[1:])
        sym = re.sub(r"\s{2,}.*$", "", sym)  # perf pads and adds columns after the symbol
        kernel = "[k]" in line
        if interesting_only and (not sym.startswith(INTERESTING)
                                 or any(b in sym for b in BORING)):
            continue
        if any(r["symbol"] == sym for r in rows):
            continue  # the same function again, inlined elsewhere
        rows.append({"percent": pct, "symbol": sym, "kernel": kernel})
    return rows[:40]


def median_rows(runs):
    """One row per (scenario, system): the median of each figure over the repetitions."""
    groups = {}
    for r in runs:
        groups.setdefault((r["scenario"], r["system"]), []).append(r)
    out = []
    for (scenario, system), rs in groups.items():
        row = dict(rs[0])
        for k in ("seconds", "records_per_s", "mb_per_s", "cpu_s_per_1m", "peak_rss_mb",
                  "foreign_cores", "load1_before", "steal_cores", "redis_cpu_s", "tansu_cpu_s"):
            row[k] = statistics.median(r[k] for r in rs)
        if "startup_s" in row:
            row["startup_s"] = statistics.median(r["startup_s"] for r in rs)
        row["reps"] = len(rs)
        row["verified"] = all(r["verified"] for r in rs)
        out.append(row)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--results", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--scripts", required=True)
    p.add_argument("--worker-bin", required=True)
    p.add_argument("--baseline-bin", required=True)
    p.add_argument("--kafka", required=True)
    p.add_argument("--redis-host", required=True)
    p.add_argument("--redis-port", type=int, required=True)
    p.add_argument("--count", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=2, help="repetitions of each worker/Rust run")
    p.add_argument("--python-runs", type=int, default=1)
    p.add_argument("--rate", type=int, default=10_000)
    p.add_argument("--latency-seconds", type=int, default=20)
    p.add_argument("--source-batch", type=int, default=4000)
    p.add_argument("--timeout", type=int, default=300, help="seconds one run may take")
    p.add_argument("--settle", type=float, default=1.0, help="pause before each run")
    p.add_argument("--only", default="sink,source,latency,python,profile,distributed",
                   help="comma-separated parts to run: sink, source, latency, python, profile, "
                        "distributed (a 3-worker cluster sinking the STRING records; with sink)")
    p.add_argument("--types", default="string,hash,stream")
    p.add_argument("--source", choices=["auto", "yes", "no"], default="auto",
                   help="run the worker's source scenario (auto: if RedisStreamSource exists)")
    p.add_argument("--meta", default="{}", help="JSON merged into results.json's meta")
    a = p.parse_args()
    only = set(a.only.split(","))
    if "profile" in only and ("sink" not in only or "string" not in a.types.split(",")):
        p.error("the profile sinks the STRING scenario's topic: --only profile needs sink with "
                "--types including string")
    b = Bench(a)
    meta = json.loads(a.meta)
    meta.update({"count": a.count, "runs": a.runs, "python_runs": a.python_runs, "rate": a.rate,
                 "latency_seconds": a.latency_seconds, "source_batch": a.source_batch,
                 "partitions": PARTITIONS, "load1_start": loadavg1()})
    profile = None
    try:
        if "sink" in only or "python" in only:
            log(f"producing {a.count:,} records into {SINK_TOPIC} ({PARTITIONS} partitions)")
            b.data["sink_bytes"] = b.tool("produce", *b.kafka_args(SINK_TOPIC),
                                          "--partitions", str(PARTITIONS),
                                          "--count", str(a.count))["bytes"]
            meta["sink_value_bytes"] = (b.data["sink_bytes"] / a.count)
        for kind in a.types.split(","):
            if "sink" in only:
                for rep in range(a.runs):
                    b.sink_run("rust", kind, rep=rep)
                    b.sink_run("rust", kind, eos=True, rep=rep)
                    if kind == "string":
                        # The plainer bridge a user writes (issue 20's baseline).
                        b.sink_run("plain", kind, rep=rep)
                    for eos in (True, False):
                        for tasks in (1, 4):
                            b.sink_run("worker", kind, eos, tasks, rep)
                        if "distributed" in only and kind == "string":
                            b.sink_run("cluster", kind, eos, 4, rep)
            if "python" in only:
                for rep in range(a.python_runs):
                    b.sink_run("python", kind, rep=rep)
            if "sink" in only or "python" in only:
                b.phase(f"sink {kind}")
        if "source" in only or "python" in only:
            worker_source = a.source == "yes" or (a.source == "auto" and source_available(b))
            meta["source_available"] = worker_source
            for rep in range(a.runs if "source" in only else 0):
                b.source_run("rust", rep)
                if worker_source:
                    b.source_run("worker", rep)
            if "python" in only:
                for rep in range(a.python_runs):
                    b.source_run("python", rep)
            b.phase("source")
        if "latency" in only:
            # The worker fetches with its default fetch.max.wait.ms (25 ms, FetchConfig); the
            # Rust bridge runs with the same, the Python one with kafka-python's default
            # (500 ms, which tansu holds: see FetchConfig::max_wait).
            # Repeated and interleaved as the throughput runs are: one 10-second run's p99
            # moves by a millisecond or more with the machine's moment.
            for rep in range(a.runs):
                b.latency_run("worker", rep, eos=True)
                b.latency_run("worker", rep, eos=False)
                b.latency_run("rust", rep, fetch_wait_ms=WORKER_FETCH_WAIT_MS)
            if "python" in only:
                b.latency_run("python")
            b.phase("latency")
        if "profile" in only:
            # One profile (exactly-once, the mode with the most to gain) keeps the run short:
            # `perf report` of DWARF call graphs takes minutes per profile on 2 cores.
            profile = [b.profile_run(eos=True)]
            if source_available(b):
                profile.append(b.profile_source_run())
            b.phase("profile")
    finally:
        b.stop_all()
        meta["load1_end"] = loadavg1()
        meta["phase_seconds"] = b.phases
        results = {"meta": meta, "runs": b.runs, "summary": median_rows(b.runs),
                   "latency": b.latency, "profile": profile}
        with open(os.path.join(a.results, "results.json"), "w") as f:
            json.dump(results, f, indent=1)
        if b.runs:
            with open(os.path.join(a.results, "runs.csv"), "w", newline="") as f:
                cols = ["scenario", "system", "rep", "records", "seconds", "records_per_s",
                        "mb_per_s", "cpu_s", "cpu_s_per_1m", "peak_rss_mb", "redis_cpu_s",
                        "tansu_cpu_s", "load1_before", "foreign_cores", "steal_cores",
                        "verified"]
                wr = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
                wr.writeheader()
                wr.writerows(b.runs)
        log(f"results in {a.results}")


def source_available(b):
    """Whether the worker binary offers RedisStreamSource."""
    worker = b.start_worker("plugins")
    try:
        plugins = http("GET", worker.rest + "/connector-plugins?connectorsOnly=true")
        return any("RedisStreamSource" in p.get("class", "") for p in plugins)
    finally:
        b.stop(worker)


if __name__ == "__main__":
    main()
