"""The web console in a real browser: headless Chromium over WebDriver (selenium), against real
workers (the connect-worker binary), the real tansu broker and the real redis-server of
scripts/services.sh. Run by scripts/console-test.sh (scripts/test.sh calls it).

What the page did is checked with clients we did not write: the REST API over urllib,
kafka-python, redis-cli and the files a sink wrote. Every wait is bounded; every process a test
starts is stopped by its pid. A missing service, browser or binary fails the test.

Each view's screenshot goes to docs/console/*.png (docs/console.md shows them), the
measurements (size, first paint, the worker's CPU) to docs/console/measurements.json.
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import bcrypt
import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "docs" / "console"
REDIS_SINK = "com.redis.kafka.connect.RedisSinkConnector"
STRING_CONVERTER = "org.apache.kafka.connect.storage.StringConverter"
WAIT = 30  # seconds: the bound of every wait on the page or a service

# Wraps the page's fetch to keep the body of every response the page receives, so a test can
# check that no secret ever reached it.
RECORDER = """
window.__responses = [];
const __fetch = window.fetch;
window.fetch = async (...args) => {
  const response = await __fetch(...args);
  try {
    const body = await response.clone().text();
    window.__responses.push({url: response.url, status: response.status, body});
  } catch (e) { window.__responses.push({url: response.url, status: response.status, body: String(e)}); }
  return response;
};
"""


# ---------- services and processes ----------


def read_services():
    path = os.environ.get("CONNECT_SERVICES_ENV") or str(REPO / ".services" / "services.env")
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: start the services (scripts/services.sh start)")
    env = {}
    for line in Path(path).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key.strip()] = value.strip().strip('"').strip("'")
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_until(what, check, timeout=WAIT, every=0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - kept for the failure message
            last = e
        time.sleep(every)
    pytest.fail(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def http(url, method="GET", body=None, headers=None):
    """(status, headers, body text) of one HTTP request; never raises on an HTTP status."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


class Worker:
    """A connect-worker process on a free port, its files in a directory of its own."""

    def __init__(self, services, extra=None):
        binary = os.environ.get("CONSOLE_WORKER_BIN")
        if not binary or not os.access(binary, os.X_OK):
            pytest.fail(f"CONSOLE_WORKER_BIN ({binary}) is not an executable connect-worker")
        self.dir = Path(tempfile.mkdtemp(prefix="console-worker-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.auth = None
        props = {
            "bootstrap.servers": services["KAFKA_BOOTSTRAP"],
            "listeners": self.url,
            "offset.storage.file.filename": str(self.dir / "offsets.json"),
            "offset.flush.interval.ms": "1000",
            "key.converter": STRING_CONVERTER,
            "value.converter": STRING_CONVERTER,
        }
        props.update(extra or {})
        (self.dir / "worker.properties").write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        self.binary = binary
        self.log = open(self.dir / "worker.log", "ab")
        self._start()

    def _start(self):
        env = dict(os.environ, RUST_LOG=os.environ.get("WORKER_LOG", "warn"))
        self.process = subprocess.Popen(
            [self.binary, str(self.dir / "worker.properties")], stdout=self.log, stderr=subprocess.STDOUT, env=env
        )
        wait_until("the worker's REST API", self._answers, timeout=60)

    def terminate(self):
        """SIGTERM, and SIGKILL when it has not exited 20 s later."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def restart(self):
        """The same worker again: same port, same stored connectors and offsets."""
        self.terminate()
        self._start()

    def _answers(self):
        if self.process.poll() is not None:
            pytest.fail(f"the worker exited with {self.process.returncode}: {self.log_tail()}")
        try:
            return http(self.url + "/health")[0] in (200, 401)
        except OSError:
            return False

    def log_tail(self):
        return (self.dir / "worker.log").read_text(errors="replace")[-3000:]

    def call(self, method, path, body=None, expect=None):
        headers = {"Authorization": self.auth} if self.auth else {}
        status, _, text = http(self.url + path, method, body, headers)
        if expect is not None:
            assert status == expect, f"{method} {path}: {status} {text}"
        return json.loads(text) if text and text.lstrip()[:1] in "{[" else text

    def status(self, name):
        return self.call("GET", f"/connectors/{name}/status", expect=200)

    def cpu_seconds(self):
        """User + system CPU time of the worker so far, from /proc/<pid>/stat."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.terminate()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """A redis-server of the test's own, with a password."""

    def __init__(self, password):
        self.port = free_port()
        self.password = password
        self.dir = tempfile.mkdtemp(prefix="console-redis-")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--requirepass", password, "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until("the private redis-server", lambda: self.cli("PING") == "PONG")

    def cli(self, *args):
        out = subprocess.run(["redis-cli", "-p", str(self.port), "--no-auth-warning", "-a", self.password, *args],
                             capture_output=True, text=True, timeout=WAIT)
        return out.stdout.strip()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def redis_cli(services, *args):
    out = subprocess.run([services.get("REDIS_CLI", "redis-cli"), "-u", services["REDIS_URL"], *args],
                         capture_output=True, text=True, timeout=WAIT)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def create_topic(services, topic, partitions=1):
    admin = KafkaAdminClient(bootstrap_servers=services["KAFKA_BOOTSTRAP"], request_timeout_ms=20000)
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        admin.close()


def produce(services, topic, records, per_second=None):
    """Produces (key, value) pairs with kafka-python, paced at per_second when given."""
    producer = KafkaProducer(bootstrap_servers=services["KAFKA_BOOTSTRAP"], request_timeout_ms=20000)
    try:
        for i, (key, value) in enumerate(records):
            producer.send(topic, key=key.encode(), value=value.encode())
            if per_second and i % per_second == per_second - 1:
                producer.flush(timeout=WAIT)
                time.sleep(1)
        producer.flush(timeout=WAIT)
    finally:
        producer.close(timeout=WAIT)


# ---------- the browser ----------


class Page:
    """The console in headless Chromium."""

    def __init__(self):
        for program in ("chromium", "chromedriver"):
            if not shutil.which(program):
                pytest.fail(f"{program} is missing: scripts/console-test.sh installs it (apt-get install chromium chromium-driver)")
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium")
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1360,1000",
                    "--disable-gpu", "--hide-scrollbars", "--lang=en-US"):
            options.add_argument(arg)
        self.driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        self.driver.set_page_load_timeout(WAIT)
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORDER})
        # The responses of the documents left behind (each load starts a new record).
        self.seen = []

    def _recorded(self):
        try:
            return self.driver.execute_script("return window.__responses || []")
        except Exception:  # noqa: BLE001 - a page without a document (about:blank) has none
            return []

    def open(self, url):
        """Loads `url` afresh. Through about:blank: a URL that differs from the page's only in
        its fragment would not load the page again, only change the view later (hashchange),
        after which a field filled in the view shown first is gone."""
        self.seen.extend(self._recorded())
        self.driver.get("about:blank")
        self.driver.get(url)

    def go(self, fragment):
        """Another view of the page already open (its charts keep their history)."""
        self.driver.execute_script("location.hash = arguments[0]", fragment)

    def find(self, css, timeout=WAIT):
        return WebDriverWait(self.driver, timeout).until(
            lambda d: next(iter([e for e in d.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]), None),
            f"no visible {css}",
        )

    def text(self, css):
        """The text of every element `css` matches, read in one script (a refresh may replace
        the elements between two WebDriver calls)."""
        return self.driver.execute_script(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.innerText.trim()).join(' ')", css)

    def retry(self, action):
        """`action()`, again when a refresh replaced the element meanwhile."""
        for _ in range(5):
            try:
                return action()
            except StaleElementReferenceException:
                time.sleep(0.2)
        return action()

    def wait_text(self, css, predicate, what, timeout=WAIT):
        try:
            WebDriverWait(self.driver, timeout).until(lambda d: predicate(self.text(css)))
            return self.text(css)
        except TimeoutException:
            pytest.fail(f"timed out waiting for {what}: {css} shows {self.text(css)!r}; notice {self.text('#notice')!r}")

    def fill(self, css, value):
        def fill():
            element = self.find(css)
            element.clear()
            element.send_keys(value)
        self.retry(fill)

    def select(self, css, value):
        """Picks `value` in the select `css` once the option is there (options may load later)."""
        self.find(f'{css} option[value="{value}"]')
        self.retry(lambda: Select(self.find(css)).select_by_value(value))

    def click(self, css):
        self.retry(lambda: self.find(css).click())

    def accept_confirm(self):
        def alert(d):
            try:
                return d.switch_to.alert
            except NoAlertPresentException:
                return None
        WebDriverWait(self.driver, WAIT).until(alert).accept()

    def shot(self, name):
        SHOTS.mkdir(parents=True, exist_ok=True)
        time.sleep(0.3)  # let a chart's last frame land
        self.driver.save_screenshot(str(SHOTS / f"{name}.png"))

    def responses(self, origin=""):
        """Every response the page's scripts received since the browser started (from every
        document it loaded), those from `origin` when given."""
        return [r for r in self.seen + self._recorded() if r["url"].startswith(origin)]

    def quit(self):
        self.driver.quit()


@pytest.fixture(scope="module")
def services():
    env = read_services()
    for key in ("KAFKA_BOOTSTRAP", "REDIS_URL"):
        if key not in env:
            pytest.fail(f"{key} is missing from the services' env file")
    return env


@pytest.fixture(scope="module")
def worker(services):
    w = Worker(services)
    yield w
    w.stop()


@pytest.fixture(scope="module")
def page():
    p = Page()
    yield p
    p.quit()


MEASURED = {}


def connector_state(page):
    return page.text("#view .bar .badge")


# ---------- the tests ----------


def test_create_a_redis_sink_from_the_form_and_drive_it(services, worker, page):
    topic, keyspace, name = unique("console-orders"), unique("console:list"), unique("orders-to-redis")
    create_topic(services, topic)

    page.open(f"{worker.url}/ui/#/new")
    page.select("#plugin", REDIS_SINK)
    page.find("#f-topics")
    page.fill("#connector-name", name)
    page.fill("#f-topics", topic)
    page.fill("#f-redis_uri", services["REDIS_URL"])
    page.fill("#f-redis_keyspace", keyspace)
    # One invalid value first: its error shows beside the field, and nothing is created.
    page.fill("#f-redis_type", "NOT-A-TYPE")
    page.wait_text('[data-key="redis.type"] .err', bool, "the error beside redis.type")
    page.click("#create")
    page.wait_text("#notice", lambda t: "errors" in t, "the refusal to create")
    assert "invalid" in page.find('[data-key="redis.type"]').get_attribute("class")
    page.shot("create-validation")
    assert worker.call("GET", f"/connectors/{name}")["error_code"] == 404, "a connector was created with an invalid value"
    assert name not in worker.call("GET", "/connectors", expect=200)

    page.fill("#f-redis_type", "LIST")
    page.wait_text('[data-key="redis.type"] .err', lambda t: t == "", "the error to clear")
    page.click("#create")
    page.wait_text("#view h1", lambda t: t == name, "the connector's page")
    page.wait_text("#view .bar .badge", lambda t: t.startswith("RUNNING"), "RUNNING")
    assert worker.status(name)["connector"]["state"] == "RUNNING"
    config = worker.call("GET", f"/connectors/{name}/config", expect=200)
    assert config["redis.type"] == "LIST" and config["topics"] == topic and config["redis.keyspace"] == keyspace

    # records/s move while records are produced (10 a second for 10 s).
    records = [(f"k{i:03}", f"v{i}") for i in range(100)]
    producer = threading.Thread(target=produce, args=(services, topic, records, 10))
    producer.start()
    try:
        page.wait_text("#view .bar", lambda t: "records/s: " in t and t.split("records/s: ")[1].split()[0] not in ("–", "0.0"),
                       "records/s above 0", timeout=40)
        page.go("#/connectors")
        page.wait_text(f'tr[data-connector="{name}"] td.num', lambda t: t not in ("", "–", "0.0"), "records/s in the table")
        page.shot("connectors")
    finally:
        producer.join(timeout=60)
    wait_until("100 entries in the Redis list", lambda: redis_cli(services, "LLEN", keyspace) == "100")
    assert redis_cli(services, "LRANGE", keyspace, "0", "-1").split() == [k for k, _ in records]
    page.go(f"#/connectors/{name}/charts")
    page.find("canvas.chart")
    time.sleep(3.5)
    page.shot("connector-charts")
    page.go("#/")
    page.wait_text(".cards", lambda t: "RUNNING" in t.upper(), "the overview")
    time.sleep(1)
    page.shot("overview")

    # Pause, resume, stop from the page; REST sees each.
    page.go(f"#/connectors/{name}")
    page.wait_text("#view .bar .badge", lambda t: t.startswith("RUNNING"), "RUNNING")
    page.shot("connector")
    for action, state in (("pause", "PAUSED"), ("resume", "RUNNING"), ("stop", "STOPPED")):
        page.click(f'[data-action="{action}"]')
        wait_until(f"REST to show {state}", lambda: worker.status(name)["connector"]["state"] == state)
        page.wait_text("#view .bar .badge", lambda t, s=state: t.startswith(s), state)

    # Edit the stopped sink's offset back to 90: resumed, it writes k090..k099 again.
    page.click("#tab-offsets")
    editor = page.find("#offsets-editor")
    wait_until("editable offsets", lambda: editor.get_attribute("readonly") is None)
    offsets = json.loads(editor.get_attribute("value"))
    assert offsets["offsets"] == [{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 100}}]
    offsets["offsets"][0]["offset"]["kafka_offset"] = 90
    page.driver.execute_script("arguments[0].value = arguments[1]", editor, json.dumps(offsets, indent=2))
    page.shot("connector-offsets")
    page.click('[data-action="save-offsets"]')
    page.wait_text("#notice", lambda t: "offsets" in t.lower(), "the offsets saved")
    got = worker.call("GET", f"/connectors/{name}/offsets", expect=200)
    assert got["offsets"][0]["offset"]["kafka_offset"] == 90, got
    page.click('[data-action="resume"]')
    wait_until("the sink to re-read from offset 90", lambda: redis_cli(services, "LLEN", keyspace) == "110")
    assert redis_cli(services, "LRANGE", keyspace, "100", "-1").split() == [f"k{i:03}" for i in range(90, 100)]
    assert worker.status(name)["connector"]["state"] == "RUNNING"

    page.click("#tab-config")
    page.find("#f-topics")
    page.shot("connector-config")
    page.click("#tab-topics")
    page.wait_text("#topics", lambda t: topic in t, "the active topic")

    page.click('[data-action="delete"]')
    page.accept_confirm()
    wait_until("the connector to be gone", lambda: worker.call("GET", f"/connectors/{name}").get("error_code") == 404)
    page.wait_text("#view h1", lambda t: t == "Connectors", "the connectors table after delete")


def test_a_failing_task_shows_its_trace_and_restart_failed_tasks_brings_it_back(services, worker, page):
    topic, name = unique("console-lines"), unique("lines-to-file")
    create_topic(services, topic)
    missing = Path(tempfile.mkdtemp(prefix="console-file-")) / "not-yet"
    out = missing / "out.txt"
    # Pasted as properties, as a Kafka Connect user keeps them.
    properties = f"# a FileStreamSink\nname={name}\nconnector.class=FileStreamSink\ntopics={topic}\nfile={out}\n"
    page.open(f"{worker.url}/ui/#/new")
    page.click("#paste-box summary")
    page.find("#paste").send_keys(properties)
    page.click("#load-paste")
    page.wait_text("#validation", lambda t: "valid" in t, "the pasted configuration validated")
    assert page.find("#f-file").get_attribute("value") == str(out)
    page.click("#create")
    page.wait_text("#view h1", lambda t: t == name, "the connector's page")
    # The task cannot open its file: FAILED, with the trace in the page.
    page.wait_text("#tasks .badge", lambda t: "FAILED" in t, "the task FAILED")
    trace = page.find("#tasks pre.trace").text
    assert "out.txt" in trace, trace
    assert worker.status(name)["tasks"][0]["state"] == "FAILED"
    page.shot("connector-failed")
    page.open(f"{worker.url}/ui/#/")
    page.wait_text("#view", lambda t: name in t and "out.txt" in t, "the failing task on the overview")

    # The cause fixed, "restart failed tasks" brings it back.
    missing.mkdir(parents=True)
    page.open(f"{worker.url}/ui/#/connectors/{name}")
    page.click('[data-action="restart-failed-tasks"]')
    wait_until("the task RUNNING again", lambda: worker.status(name)["tasks"][0]["state"] == "RUNNING")
    page.wait_text("#tasks .badge", lambda t: t == "RUNNING", "RUNNING in the page")
    produce(services, topic, [("a", "first line"), ("b", "second line")])
    wait_until("the lines in the file", lambda: out.exists() and out.read_text().splitlines() == ["first line", "second line"])
    worker.call("DELETE", f"/connectors/{name}", expect=204)
    shutil.rmtree(missing.parent, ignore_errors=True)


def test_the_page_reconnects_when_the_worker_restarts(services, worker, page):
    name = unique("survives-restart")
    out = Path(tempfile.mkdtemp(prefix="console-restart-"))
    worker.call("POST", "/connectors", {"name": name, "config": {
        "connector.class": "FileStreamSink", "topics": unique("console-restart"), "file": str(out / "out.txt")}}, expect=201)
    page.open(f"{worker.url}/ui/#/connectors")
    page.wait_text("#connectors tbody", lambda t: name in t, "the connector in the table")
    worker.terminate()
    page.wait_text("#link", lambda t: "unreachable" in t, "the page to say the worker is away")
    page.shot("reconnecting")
    worker.restart()
    page.wait_text("#link", lambda t: "unreachable" not in t, "the page to reconnect")
    page.wait_text(f'tr[data-connector="{name}"]', lambda t: "RUNNING" in t, "the connector RUNNING again in the table")
    page.click(f'tr[data-connector="{name}"] a')
    page.wait_text("#view h1", lambda t: t == name, "the connector's page after the restart")
    worker.call("DELETE", f"/connectors/{name}", expect=204)
    shutil.rmtree(out, ignore_errors=True)


def test_a_secret_never_reaches_the_page(services, worker, page):
    secret = "s3cr3t-" + uuid.uuid4().hex
    redis = PrivateRedis(secret)
    topic, keyspace, name = unique("console-secret"), unique("console:secret"), unique("secret-sink")
    try:
        create_topic(services, topic)
        page.open(f"{worker.url}/ui/#/new")
        page.select("#plugin", REDIS_SINK)
        page.find("#f-redis_password")
        assert page.find("#f-redis_password").get_attribute("type") == "password"
        page.fill("#connector-name", name)
        page.fill("#f-topics", topic)
        page.fill("#f-redis_uri", f"redis://127.0.0.1:{redis.port}")
        page.fill("#f-redis_password", secret)
        page.fill("#f-redis_type", "LIST")
        page.fill("#f-redis_keyspace", keyspace)
        page.wait_text("#validation", lambda t: "valid" in t, "the configuration validated")
        assert secret not in page.driver.page_source
        page.click("#create")
        page.wait_text("#view .bar .badge", lambda t: t.startswith("RUNNING"), "RUNNING")
        produce(services, topic, [("one", "1"), ("two", "2")])
        # The sink writes with the password: the secret works.
        wait_until("the entries in the private Redis", lambda: redis.cli("LRANGE", keyspace, "0", "-1").split() == ["one", "two"])
        # Every view of it, and an edit that saves the masked config back.
        for tab in ("status", "config", "topics", "offsets", "charts"):
            page.click(f"#tab-{tab}")
            time.sleep(0.5)
            assert secret not in page.driver.page_source, f"the secret is in the DOM of the {tab} tab"
        page.click("#tab-config")
        password = page.find("#f-redis_password")
        assert password.get_attribute("value") == ""
        assert "hidden" in password.get_attribute("placeholder")
        page.fill("#f-tasks_max", "1")
        page.click('[data-action="save-config"]')
        page.wait_text("#notice", lambda t: "saved" in t, "the configuration saved")
        assert worker.call("GET", f"/connectors/{name}/config", expect=200)["redis.password"] == "[hidden]"
        produce(services, topic, [("three", "3")])
        wait_until("the sink still writing with the kept password",
                   lambda: redis.cli("LRANGE", keyspace, "0", "-1").split() == ["one", "two", "three"])
        for view in ("#/", "#/connectors"):
            page.open(f"{worker.url}/ui/{view}")
            page.find("#view h1")
            time.sleep(3.5)
            assert secret not in page.driver.page_source
        responses = page.responses(worker.url)
        # The create form's validations too (they carried the typed secret in their requests).
        assert any("/config/validate" in r["url"] for r in responses), "the recorder missed the validations"
        leaked = [r["url"] for r in responses if secret in r["body"]]
        assert not leaked, f"responses holding the secret: {leaked}"
        worker.call("DELETE", f"/connectors/{name}", expect=204)
    finally:
        redis.stop()


def test_with_basic_auth_the_console_shows_only_the_login(services, page):
    users = Path(tempfile.mkdtemp(prefix="console-auth-")) / "users"
    users.write_text("ann:" + bcrypt.hashpw(b"wonderland", bcrypt.gensalt(rounds=10)).decode() + "\n")
    secured = Worker(services, {"rest.auth.basic.file": str(users)})
    name = unique("behind-auth")
    try:
        secured.auth = "Basic " + base64.b64encode(b"ann:wonderland").decode()
        secured.call("POST", "/connectors", {"name": name, "config": {
            "connector.class": "FileStreamSink", "topics": unique("console-auth"), "file": str(users.parent / "out.txt")}},
            expect=201)
        # No REST call is answered without credentials (the console's files hold no data).
        for path in ("/", "/connectors", "/connectors?expand=status&expand=info", f"/connectors/{name}/config",
                     f"/connectors/{name}/status", "/connector-plugins", "/metrics", "/openapi.json"):
            status, headers, body = http(secured.url + path)
            assert status == 401, f"{path}: {status} {body}"
            assert name not in body
            status, headers, _ = http(secured.url + path, headers={"X-Requested-With": "connect-console"})
            assert status == 401 and "WWW-Authenticate" not in headers, f"{path}: {status} {headers}"

        page.open(f"{secured.url}/ui/#/connectors")
        page.find("#login-user")
        assert not page.driver.find_element(By.ID, "nav").is_displayed()
        assert name not in page.driver.page_source
        view = page.driver.find_element(By.ID, "view")
        assert view.find_elements(By.CSS_SELECTOR, "form.login") and not view.find_elements(By.CSS_SELECTOR, "table")
        unanswered = [r for r in page.responses(secured.url) if r["status"] != 401 and "/ui/" not in r["url"]]
        assert not unanswered, f"answered without credentials: {unanswered}"
        page.shot("login")

        page.fill("#login-user", "ann")
        page.fill("#login-password", "not-the-password")
        page.click("form.login button")
        page.wait_text("#login-error", lambda t: "refused" in t, "the refusal")
        assert name not in page.driver.page_source
        page.fill("#login-user", "ann")
        page.fill("#login-password", "wonderland")
        page.click("form.login button")
        page.wait_text("#connectors", lambda t: name in t, "the connectors after signing in")
        assert page.driver.find_element(By.ID, "nav").is_displayed()
        # The credentials are in no URL the page used.
        assert all("wonderland" not in r["url"] and "ann:" not in r["url"] for r in page.responses())
        page.click("#logout")
        page.find("#login-user")
        assert name not in page.driver.page_source
    finally:
        secured.stop()
        shutil.rmtree(users.parent, ignore_errors=True)


def test_plugins_view_lists_every_plugin_with_its_documentation(worker, page):
    page.open(f"{worker.url}/ui/#/plugins")
    page.wait_text("#plugins", lambda t: "RedisSinkConnector" in t, "the plugins")
    plugins = worker.call("GET", "/connector-plugins?connectorsOnly=false", expect=200)
    shown = {e.get_attribute("data-plugin") for e in page.driver.find_elements(By.CSS_SELECTOR, "details.plugin")}
    assert shown == {p["class"] for p in plugins}
    assert {p["type"] for p in plugins} >= {"sink", "source", "converter", "transformation", "predicate"}
    page.click(f'details[data-plugin="{REDIS_SINK}"] summary')
    page.wait_text(f'details[data-plugin="{REDIS_SINK}"] table', lambda t: "redis.uri" in t, "the sink's settings")
    page.shot("plugins")


def test_ui_enabled_false_serves_no_console_and_the_api_still_answers(services):
    off = Worker(services, {"ui.enabled": "false"})
    try:
        for path in ("/ui", "/ui/", "/ui/app.js"):
            status, _, body = http(off.url + path)
            assert status == 404 and '"error_code":404' in body, f"{path}: {status} {body}"
        assert http(off.url + "/connectors")[0] == 200
    finally:
        off.stop()


# Every control of these views has an accessible name (a label, aria-label or
# aria-labelledby, or its own text).
UNLABELLED = """
return [...document.querySelectorAll('input, select, textarea, button, a[href]')]
  .filter(e => e.checkVisibility())
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
    && !e.getAttribute('aria-labelledby') && !(e.textContent || '').trim())
  .map(e => e.outerHTML.slice(0, 120));
"""


def test_every_control_is_labelled_and_the_keyboard_reaches_the_views(services, worker, page):
    name = unique("labelled")
    worker.call("POST", "/connectors", {"name": name, "config": {
        "connector.class": "FileStreamSink", "topics": unique("console-a11y"), "file": "/dev/null"}}, expect=201)
    try:
        page.open(f"{worker.url}/ui/#/")
        page.find("#view h1")
        for fragment, ready in (("#/", ".cards"), ("#/connectors", "#connectors"), (f"#/connectors/{name}", "#tasks"),
                                (f"#/connectors/{name}/config", "#f-topics"), (f"#/connectors/{name}/offsets", "#offsets-editor"),
                                ("#/plugins", "details.plugin")):
            page.go(fragment)
            page.find(ready)
            assert page.driver.execute_script(UNLABELLED) == [], fragment
        page.go("#/new")
        page.select("#plugin", REDIS_SINK)
        page.find("#f-redis_uri")
        assert page.driver.execute_script(UNLABELLED) == [], "#/new"

        # From the top of a fresh page, Tab reaches the navigation, and Enter follows it.
        page.open(f"{worker.url}/ui/#/")
        page.find(".cards")
        body = page.driver.find_element(By.TAG_NAME, "body")
        body.click()
        reached = []
        for _ in range(8):
            page.driver.switch_to.active_element.send_keys(Keys.TAB)
            focused = page.driver.switch_to.active_element
            reached.append(focused.text)
            if focused.get_attribute("href") and focused.get_attribute("href").endswith("#/connectors"):
                focused.send_keys(Keys.ENTER)
                break
        page.wait_text("#view h1", lambda t: t == "Connectors", f"the connectors view by keyboard (focus went {reached})")
    finally:
        worker.call("DELETE", f"/connectors/{name}", expect=204)


# The metric families the console reads (connect-worker/ui/app.js, FAMILIES), which it asks for
# by name (`GET /metrics?name[]=..`).
CONSOLE_FAMILIES = [
    "kafka_connect_source_task_metrics_source_record_write_total",
    "kafka_connect_sink_task_metrics_sink_record_send_total",
    "kafka_connect_sink_task_metrics_sink_record_lag_max",
    "kafka_connect_task_error_metrics_total_record_errors",
    "kafka_connect_task_error_metrics_deadletterqueue_produce_requests",
]
CONSOLE_METRICS = "/metrics?" + "&".join(f"name[]={f}" for f in CONSOLE_FAMILIES)


def write_measurements_table(m):
    """Puts `m` in docs/console.md, between its MEASUREMENTS markers."""
    refresh_ms = m["worker_cpu_ms_per_console_metrics"] + m["worker_cpu_ms_per_connectors_expand_status_info"]
    rows = [
        ("The console's files (HTML, CSS, JavaScript, icon), uncompressed",
         f"{m['console_files_bytes']:,} bytes (limit 200 KB: a unit test and this test fail above it)"),
        ("Bytes the page loads on a first visit, cache off", f"{m['bytes_loaded_by_the_page']:,} bytes"),
        ("First contentful paint, cache off", f"{m['first_contentful_paint_ms']:.0f} ms"),
        (f"The worker's CPU, 50 RUNNING FileStreamSink connectors, no page open ({m['cpu_window_seconds']:.0f} s)",
         f"{m['worker_cpu_percent_idle_50_connectors']:.1f} % of one core"),
        (f"The same with the console open on the connectors table ({m['cpu_window_seconds']:.0f} s)",
         f"{m['worker_cpu_percent_console_open_50_connectors']:.1f} % of one core"),
        (f"Worker CPU per `GET /metrics`, a Prometheus scrape (50 connectors: {m['metrics_bytes_50_connectors'] // 1000} KB of text)",
         f"{m['worker_cpu_ms_per_metrics_scrape']:.1f} ms"),
        (f"Worker CPU per `GET /metrics?name[]=..`, the console's five families ({m['console_metrics_bytes_50_connectors'] // 1000} KB)",
         f"{m['worker_cpu_ms_per_console_metrics']:.1f} ms"),
        ("Worker CPU per `GET /connectors?expand=status&expand=info` (50 connectors)",
         f"{m['worker_cpu_ms_per_connectors_expand_status_info']:.1f} ms"),
        (f"So one refresh (both, every {m['console_refresh_interval_seconds']} s)",
         f"{refresh_ms:.1f} ms, {refresh_ms / m['worker_cpu_ms_per_metrics_scrape']:.1f} scrapes' worth, "
         f"{refresh_ms / (10 * m['console_refresh_interval_seconds']):.1f} % of a core"),
    ]
    table = "| What | Measured |\n|---|---|\n" + "".join(f"| {what} | {value} |\n" for what, value in rows)
    doc = REPO / "docs" / "console.md"
    text = doc.read_text()
    begin = text.index("<!-- BEGIN MEASUREMENTS")
    begin = text.index("\n", begin) + 1
    end = text.index("<!-- END MEASUREMENTS -->")
    doc.write_text(text[:begin] + table + text[end:])


def test_size_first_paint_and_the_workers_cpu_with_50_connectors(services, worker, page):
    topic = unique("console-load")
    create_topic(services, topic)
    names = [f"load-{i:02}" for i in range(50)]
    out = Path(tempfile.mkdtemp(prefix="console-load-"))
    for n in names:
        worker.call("POST", "/connectors", {"name": n, "config": {
            "connector.class": "FileStreamSink", "topics": topic, "file": str(out / f"{n}.txt")}}, expect=201)
    wait_until("50 RUNNING connectors", lambda: all(
        s["status"]["connector"]["state"] == "RUNNING" and s["status"]["tasks"]
        and s["status"]["tasks"][0]["state"] == "RUNNING"
        for s in worker.call("GET", "/connectors?expand=status").values()) , timeout=90)
    seconds = float(os.environ.get("CONSOLE_CPU_SECONDS", "30"))

    # Filter, select what is shown, pause it in one go; the others keep running.
    page.open(f"{worker.url}/ui/#/connectors")
    page.wait_text("#connectors tbody", lambda t: "load-49" in t, "50 connectors in the table")
    page.fill("#filter-text", "load-1")
    page.wait_text("#connectors tbody", lambda t: "load-10" in t and "load-20" not in t, "the filtered table")
    page.click("#select-all")
    page.click('[data-batch="pause"]')
    batch = [f"load-1{i}" for i in range(10)]

    def states():
        return {n: s["status"]["connector"]["state"] for n, s in worker.call("GET", "/connectors?expand=status").items()}
    wait_until("the ten filtered connectors PAUSED", lambda: all(states()[n] == "PAUSED" for n in batch))
    assert all(state == "RUNNING" for n, state in states().items() if n not in batch)
    page.select("#filter-state", "PAUSED")
    page.fill("#filter-text", "")
    page.wait_text("#connectors tbody", lambda t: sorted(x for x in t.split() if x.startswith("load-")) == batch,
                   "the PAUSED filter showing the ten")
    page.click('[data-batch="resume"]')
    wait_until("the ten RUNNING again", lambda: all(state == "RUNNING" for state in states().values()))

    def cpu_over(duration):
        time.sleep(2)
        start_cpu, start = worker.cpu_seconds(), time.monotonic()
        time.sleep(duration)
        return 100 * (worker.cpu_seconds() - start_cpu) / (time.monotonic() - start)

    def cpu_ms_per_call(path, calls=20):
        start_cpu = worker.cpu_seconds()
        for _ in range(calls):
            assert http(worker.url + path)[0] == 200
        return round(1000 * (worker.cpu_seconds() - start_cpu) / calls, 2)

    page.open("about:blank")
    scrape_ms = cpu_ms_per_call("/metrics")
    console_metrics_ms = cpu_ms_per_call(CONSOLE_METRICS)
    list_ms = cpu_ms_per_call("/connectors?expand=status&expand=info")
    idle = cpu_over(seconds)
    page.open(f"{worker.url}/ui/#/connectors")
    page.wait_text("#connectors tbody", lambda t: "load-49" in t, "50 connectors in the table")
    console = cpu_over(seconds)
    page.shot("connectors-50")

    # First paint and bytes of a fresh load of the page (no cache: a new page with cache off).
    page.driver.execute_cdp_cmd("Network.enable", {})
    page.driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    page.open(f"{worker.url}/ui/")
    page.find("#view h1")
    paint = page.driver.execute_script(
        "const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : null")
    assets = page.driver.execute_script(
        "return performance.getEntriesByType('resource').filter(r => r.name.includes('/ui/'))"
        ".map(r => [r.name, r.encodedBodySize]).concat([[location.href, performance.getEntriesByType('navigation')[0].encodedBodySize]])")
    page.driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})
    files = sum(p.stat().st_size for p in (REPO / "connect-worker" / "ui").iterdir())
    bytes_loaded = sum(size for _, size in assets)
    metrics_size = len(http(worker.url + "/metrics")[2])
    console_metrics = http(worker.url + CONSOLE_METRICS)[2]
    families = {line.split()[2] for line in console_metrics.splitlines() if line.startswith("# TYPE ")}
    MEASURED.update({
        "console_files_bytes": files,
        "bytes_loaded_by_the_page": bytes_loaded,
        "first_contentful_paint_ms": round(paint, 1) if paint is not None else None,
        "worker_cpu_percent_idle_50_connectors": round(idle, 2),
        "worker_cpu_percent_console_open_50_connectors": round(console, 2),
        "cpu_window_seconds": seconds,
        "metrics_bytes_50_connectors": metrics_size,
        "worker_cpu_ms_per_metrics_scrape": scrape_ms,
        "console_metrics_bytes_50_connectors": len(console_metrics),
        "worker_cpu_ms_per_console_metrics": console_metrics_ms,
        "worker_cpu_ms_per_connectors_expand_status_info": list_ms,
        "console_refresh_interval_seconds": 3,
        "worker_binary": "debug" if "/debug/" in os.environ.get("CONSOLE_WORKER_BIN", "") else "release",
    })
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "measurements.json").write_text(json.dumps(MEASURED, indent=2) + "\n")
    write_measurements_table(MEASURED)
    print(json.dumps(MEASURED, indent=2))
    for n in names:
        worker.call("DELETE", f"/connectors/{n}", expect=204)
    shutil.rmtree(out, ignore_errors=True)
    # The console asks only for what it charts, and gets exactly that.
    assert families == {"kafka_connect_sink_task_metrics_sink_record_send_total",
                        "kafka_connect_sink_task_metrics_sink_record_lag_max",
                        "kafka_connect_task_error_metrics_total_record_errors",
                        "kafka_connect_task_error_metrics_deadletterqueue_produce_requests"}, families
    assert files < 200_000, f"the console is {files} bytes"
    assert bytes_loaded < 200_000, f"the page loaded {bytes_loaded} bytes: {assets}"
    assert paint is not None and paint < 1000, f"first paint at {paint} ms"
