#!/usr/bin/env python3
"""Scrape workers' /metrics over time, and render docs/grafana-dashboard.json's panels from
those samples: the dashboard's own PromQL, evaluated here for the subset it uses, drawn with
matplotlib. Used by scripts/dashboard-snapshot.sh; not a Grafana, but the same queries on
real data.

  render_dashboard.py scrape OUT.jsonl SECONDS URL [URL...]
  render_dashboard.py render DASHBOARD.json SAMPLES.jsonl OUT.png [EVENTS.jsonl]

`scrape` reads every URL once a second, all at once, and labels each series with
`instance="host:port"`, as Prometheus does with its targets; a URL that does not answer (a
worker not started yet, or killed) has no series in that sample, as Prometheus marks a failed
target's series stale. It stops after SECONDS or at SIGTERM.

`render` understands `AGG [by (l1, l2)] (EXPR)` with AGG one of sum, max, min, avg, count and
EXPR either `metric{matchers}` or `rate(metric{matchers}[N(s|m)])`; matchers are `=`, `!=`,
`=~`, `!~` (regexes anchored, as in Prometheus); the dashboard's template variables take
their "All" value and Grafana's `$__rate_interval` its value for the scrape interval of the
samples (4 s for 1 s). rate() is per series, over the points inside the window (at least two),
as Prometheus computes it (counter resets, extrapolation to the window's edges). Any other
query, panel type or layout stops the render with an error naming it: a panel is never
silently left empty. EVENTS.jsonl (lines of {"t": unix time, "label": text}) marks what the
run did on every panel.
"""
import bisect
import io
import json
import re
import signal
import sys
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
AGGREGATION = re.compile(r'^(sum|max|min|avg|count)\s*(?:by\s*\(([\w\s,]+)\)\s*)?\((.*)\)$')
RATE = re.compile(r'^rate\((.*)\[(\d+)([sm])\]\)$')
SELECTOR = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$')
MATCHER = re.compile(r'\s*(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
COMBINE = {
    "sum": sum,
    "max": max,
    "min": min,
    "avg": lambda xs: sum(xs) / len(xs),
    "count": len,
}


def scrape_one(url):
    """The series of one target, each labelled with its instance; None when it does not answer."""
    instance = urllib.parse.urlsplit(url).netloc
    try:
        text = urllib.request.urlopen(url, timeout=2).read().decode()
    except OSError:
        return None
    series = []
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m:
            labels = dict(LABEL.findall(m.group(2) or ""))
            labels["instance"] = instance
            series.append([m.group(1), labels, float(m.group(3))])
    return series


def scrape(out, seconds, urls):
    end = time.time() + float(seconds)
    down = set()
    # SIGTERM ends the scraping after the sample being taken: the file never ends in half a line.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with open(out, "w") as f, ThreadPoolExecutor(len(urls)) as pool:
        while time.time() < end and not stop.is_set():
            tick = time.time()
            sample = {"t": tick, "series": []}
            for url, series in zip(urls, pool.map(scrape_one, urls)):
                # One line per change of a target's state, not one per failed scrape.
                if series is None and url not in down:
                    print(f"scrape: {url} does not answer", file=sys.stderr)
                    down.add(url)
                elif series is not None:
                    if url in down:
                        print(f"scrape: {url} answers", file=sys.stderr)
                        down.discard(url)
                    sample["series"].extend(series)
            f.write(json.dumps(sample) + "\n")
            f.flush()
            stop.wait(max(0.0, tick + 1 - time.time()))


def parse_matchers(text, expr):
    """[(label, op, value)] of a selector's braces; ValueError on anything else."""
    matchers, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = MATCHER.match(text, pos)
        if not m:
            raise ValueError(f"unsupported label matcher {text[pos:]!r} in: {expr}")
        value = m.group(3).encode().decode("unicode_escape")
        matchers.append((m.group(1), m.group(2), value))
        pos = m.end()
    return matchers


def matches(labels, matchers):
    for label, op, value in matchers:
        actual = labels.get(label, "")
        if op == "=" and actual != value:
            return False
        if op == "!=" and actual == value:
            return False
        if op == "=~" and not re.fullmatch(value, actual):
            return False
        if op == "!~" and re.fullmatch(value, actual):
            return False
    return True


def prometheus_rate(points, start, end):
    """rate() of a counter's `points` [(t, value)] inside the window (start, end], as
    Prometheus computes it (promql's extrapolatedRate): the increase, resets counted, extended
    to the window's edges where the points come close to them, over the window's length. A
    series that starts or stops inside the window (a task that moved, a worker killed) is not
    extended, so its rate ramps up or down over one window, as in Grafana."""
    first_t, first_v = points[0]
    last_t = points[-1][0]
    gained = 0.0
    for (_, before), (_, after) in zip(points, points[1:]):
        gained += after - before if after >= before else after
    sampled = last_t - first_t
    average = sampled / (len(points) - 1)
    to_start, to_end = first_t - start, end - last_t
    if to_start >= average * 1.1:
        to_start = average / 2
    if gained > 0 and first_v >= 0:
        # A counter is not extrapolated below zero.
        to_start = min(to_start, sampled * first_v / gained)
    if to_end >= average * 1.1:
        to_end = average / 2
    return gained * (sampled + to_start + to_end) / sampled / (end - start)


class Samples:
    """The scraped samples, with each series' points by sample index."""

    def __init__(self, samples):
        self.times = [s["t"] for s in samples]
        self.instances = sorted({labels.get("instance", "") for s in samples for _, labels, _ in s["series"]})
        # The scrape interval, as a Prometheus data source is told it (the median spacing).
        self.interval = sorted(b - a for a, b in zip(self.times, self.times[1:]))[len(self.times) // 2 - 1]
        self.history = {}  # (metric, sorted label items) -> ([sample index], [value])
        for i, s in enumerate(samples):
            for name, labels, value in s["series"]:
                indexes, values = self.history.setdefault(
                    (name, tuple(sorted(labels.items()))), ([], []))
                indexes.append(i)
                values.append(value)

    def select(self, selector, expr):
        """[(labels, indexes, values)] of the series `metric{matchers}` names."""
        s = SELECTOR.match(selector.strip())
        if not s:
            raise ValueError(f"unsupported selector {selector!r} in: {expr}")
        metric, matchers = s.group(1), parse_matchers(s.group(2) or "", expr)
        return [(dict(labels), indexes, values)
                for (name, labels), (indexes, values) in self.history.items()
                if name == metric and matches(dict(labels), matchers)]


def substitute_variables(expr, dashboard, scrape_interval):
    """The expression with each template variable replaced by its "All" value, and Grafana's
    $__rate_interval by its value: max(4 scrape intervals, query step + scrape interval), here
    with a step of one scrape interval (a value per sample), so 4 scrape intervals."""
    expr = expr.replace("$__rate_interval", f"{max(1, round(4 * scrape_interval))}s")
    for var in dashboard.get("templating", {}).get("list", []):
        if not var.get("includeAll") or "allValue" not in var:
            raise ValueError(f"template variable {var.get('name')} has no 'All' value to render with")
        for form in ("${%s}" % var["name"], "$" + var["name"]):
            expr = expr.replace(form, var["allValue"])
    if "$" in re.sub(r"\$\d", "", expr):
        raise ValueError(f"unknown template variable in: {expr}")
    return expr


def evaluate(expr, samples):
    """The expression's value per group at every sample: {group label tuple: ([index], [value])}.

    `by` labels a series lacks count as empty, as in Prometheus."""
    q = AGGREGATION.match(expr.strip())
    if not q:
        raise ValueError(f"unsupported query: {expr}")
    agg, by, inner = q.groups()
    by = tuple(label.strip() for label in by.split(",")) if by else ()
    per_index = [{} for _ in samples.times]  # index -> {group: [values]}
    r = RATE.match(inner.strip())
    if r:
        window = int(r.group(2)) * (60 if r.group(3) == "m" else 1)
        # The first sample inside each sample's window (now - window, now].
        starts = [bisect.bisect_right(samples.times, now - window) for now in samples.times]
        for labels, indexes, values in samples.select(r.group(1), expr):
            group = tuple(labels.get(label, "") for label in by)
            for i, start in enumerate(starts):
                first = bisect.bisect_left(indexes, start)
                last = bisect.bisect_right(indexes, i)
                points = [(samples.times[j], v) for j, v in zip(indexes[first:last], values[first:last])]
                if len(points) < 2:
                    continue
                rate = prometheus_rate(points, samples.times[i] - window, samples.times[i])
                per_index[i].setdefault(group, []).append(rate)
    else:
        if "(" in inner:
            raise ValueError(f"unsupported expression {inner!r} in: {expr}")
        for labels, indexes, values in samples.select(inner, expr):
            group = tuple(labels.get(label, "") for label in by)
            for i, v in zip(indexes, values):
                per_index[i].setdefault(group, []).append(v)
    lines = {}
    for i, groups in enumerate(per_index):
        for group, vs in groups.items():
            xs, ys = lines.setdefault(group, ([], []))
            xs.append(i)
            ys.append(COMBINE[agg](vs))
    return by, lines


def legend(target, by, group):
    """The target's legendFormat with {{label}} filled in from the group."""
    values = dict(zip(by, group))
    fmt = target.get("legendFormat")
    if fmt is None:
        return "{" + ", ".join(f'{k}="{v}"' for k, v in values.items()) + "}"

    def fill(m):
        if m.group(1) not in values:
            raise ValueError(f"legend {fmt!r} names {m.group(1)}, which {target['expr']} does not keep")
        return values[m.group(1)]
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", fill, fmt)


def layout(dashboard):
    """The dashboard as lines to draw, top to bottom: ("row", title) for a row's header and
    ("panels", [(column, span, panel)]) for panels side by side (Grafana's 24-column grid in
    halves)."""
    panels = sorted(dashboard["panels"], key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"]))
    lines, by_y = [], {}
    for p in panels:
        if p["type"] == "row":
            if p.get("collapsed") and p.get("panels"):
                raise ValueError(f"collapsed row {p['title']!r}: its panels are not drawn")
            lines.append(("row", p["title"]))
            continue
        if p["type"] != "timeseries":
            raise ValueError(f"panel {p['title']!r}: type {p['type']!r} is not drawn")
        x, w = p["gridPos"]["x"], p["gridPos"]["w"]
        if (x, w) not in ((0, 12), (12, 12), (0, 24)):
            raise ValueError(f"panel {p['title']!r}: gridPos x={x} w={w} is not a half or full width")
        y = p["gridPos"]["y"]
        if y not in by_y:
            by_y[y] = []
            lines.append(("panels", by_y[y]))
        by_y[y].append((0 if x == 0 else 1, 2 if w == 24 else 1, p))
    return lines


def render(dashboard_path, samples_path, out, events_path=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    dashboard = json.load(open(dashboard_path))
    raw = [json.loads(line) for line in open(samples_path)]
    if len(raw) < 3:
        sys.exit("too few samples to draw")
    samples = Samples(raw)
    t0 = samples.times[0]
    events = [json.loads(line) for line in open(events_path)] if events_path else []
    lines = layout(dashboard)
    heights = [0.22 if kind == "row" else 1.0 for kind, _ in lines]
    plt.style.use("dark_background")
    fig = plt.figure(figsize=(16, 3.9 * sum(heights) + 0.6), facecolor="#111217")
    grid = GridSpec(len(lines), 2, figure=fig, height_ratios=heights)
    fig.suptitle(dashboard["title"] + "  (rendered from a real run by scripts/dashboard-snapshot.sh;"
                 " x axis: seconds)",
                 color="#d8d9da", fontsize=13)
    for row, (kind, content) in enumerate(lines):
        if kind == "row":
            ax = fig.add_subplot(grid[row, :])
            ax.axis("off")
            ax.text(0, 0.2, content, color="#d8d9da", fontsize=13, weight="bold",
                    transform=ax.transAxes)
            continue
        for column, span, panel in content:
            ax = fig.add_subplot(grid[row, column:column + span])
            draw_panel(ax, panel, dashboard, samples, t0, events)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    drawn = io.BytesIO()
    fig.savefig(drawn, format="png", dpi=80, facecolor=fig.get_facecolor())
    # 128 colours look the same and take a third of the bytes in the repository.
    from PIL import Image
    Image.open(drawn).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)


def draw_panel(ax, panel, dashboard, samples, t0, events):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    ax.set_facecolor("#181b1f")
    ax.set_title(panel["title"], loc="left", color="#d8d9da", fontsize=11)
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    stacking = defaults.get("custom", {}).get("stacking", {}).get("mode", "none")
    if stacking not in ("none", "normal"):
        raise ValueError(f"panel {panel['title']!r}: stacking {stacking!r} is not drawn")
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    series = []  # (label, colour, line style, {sample index: value})
    for number, target in enumerate(panel["targets"]):
        by, lines = evaluate(substitute_variables(target["expr"], dashboard, samples.interval), samples)
        for group, (indexes, ys) in sorted(lines.items()):
            # A worker has one colour on every panel; a panel's second query is dashed.
            if "instance" in by:
                color = palette[samples.instances.index(group[by.index("instance")]) % len(palette)]
            else:
                color = palette[len(series) % len(palette)]
            series.append((legend(target, by, group), color, ("-", "--", ":")[number % 3],
                           dict(zip(indexes, ys))))
    base = [0.0] * len(samples.times)
    highest = 0.0
    for drawn, (label, color, style, values) in enumerate(series):
        # Stacked, each series is drawn on top of the ones before it (Grafana's "normal").
        below = base if stacking == "normal" else [0.0] * len(base)
        points = [(i, below[i], below[i] + v) for i, v in sorted(values.items())]
        xs, lows, ys = [], [], []
        for k, (i, low, y) in enumerate(points):
            # A series that vanishes (a killed worker) and comes back is not joined across the gap.
            if k and i != points[k - 1][0] + 1:
                for column in (xs, lows, ys):
                    column.append(float("nan"))
            xs.append(samples.times[i] - t0)
            lows.append(low)
            ys.append(y)
        if stacking == "normal":
            ax.fill_between(xs, lows, ys, color=color, alpha=0.45, linewidth=0)
            ax.plot(xs, ys, label=label, color=color, linestyle=style, linewidth=1.4)
            for i, _, y in points:
                base[i] = y
        else:
            # Each line a little thinner than the one before: equal lines (three workers with
            # two tasks each) stay visible as a striped band.
            ax.plot(xs, ys, label=label, color=color, linestyle=style,
                    linewidth=max(1.0, 3.2 - 0.5 * drawn))
        highest = max([highest] + [y for _, _, y in points if y != float("inf")])
    for event in events:
        ax.axvline(event["t"] - t0, color="#8e8e8e", linestyle=":", linewidth=1)
        ax.text(event["t"] - t0, 0.98, event["label"], color="#b0b0b0", fontsize=7,
                rotation=90, va="top", ha="left", transform=ax.get_xaxis_transform())
    if not series:
        ax.text(0.5, 0.5, "No data", color="#8e8e8e", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlim(0, samples.times[-1] - t0)
    if "min" in defaults:
        # Room above the highest line, as Grafana leaves (a line at the top stays visible).
        ax.set_ylim(bottom=defaults["min"], top=max(highest * 1.15, defaults["min"] + 1))
    if defaults.get("decimals") == 0:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(color="#2c3235", linewidth=0.6)
    ax.tick_params(colors="#8e8e8e", labelsize=8)
    if series:
        # Under the panel, as the dashboard's legends are (placement bottom).
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.08), ncol=4,
                  frameon=False, handlelength=1.5)


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "scrape":
        scrape(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif len(sys.argv) in (5, 6) and sys.argv[1] == "render":
        render(*sys.argv[2:])
    else:
        sys.exit(__doc__)
