#!/usr/bin/env python3
"""Scrape a worker's /metrics over time, and render docs/grafana-dashboard.json's panels from
those samples: the dashboard's own PromQL, evaluated here for the subset it uses
(`sum|max|avg by (label) (rate(metric{...}[1m]))` and `... (metric{...})`), drawn with
matplotlib. Used by scripts/dashboard-snapshot.sh; not a Grafana, but the same queries on
real data.

  render_dashboard.py scrape URL OUT.jsonl SECONDS
  render_dashboard.py render DASHBOARD.json SAMPLES.jsonl OUT.png
"""
import json
import re
import sys
import time
import urllib.request

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
QUERY = re.compile(r'^(sum|max|avg) by \((\w+)\) \((.*)\)$')
RATE = re.compile(r'^rate\((\w+)\{(.*)\}\[(\d+)m\]\)$')
PLAIN = re.compile(r'^(\w+)\{(.*)\}$')


def scrape(url, out, seconds):
    end = time.time() + float(seconds)
    with open(out, "w") as f:
        while time.time() < end:
            try:
                text = urllib.request.urlopen(url, timeout=5).read().decode()
            except OSError as e:
                print(f"scrape failed: {e}", file=sys.stderr)
                time.sleep(1)
                continue
            series = []
            for line in text.splitlines():
                m = SAMPLE.match(line)
                if m:
                    labels = dict(LABEL.findall(m.group(2) or ""))
                    series.append([m.group(1), labels, float(m.group(3))])
            f.write(json.dumps({"t": time.time(), "series": series}) + "\n")
            f.flush()
            time.sleep(1)


def matches(labels, selector):
    # The dashboard's only selector is connector=~"$connector", i.e. every connector.
    return True


def evaluate(expr, samples, index):
    """The expression's value per group at samples[index]: {group_label_value: value}."""
    q = QUERY.match(expr.strip())
    if not q:
        raise ValueError(f"unsupported query: {expr}")
    agg, by, inner = q.groups()
    t_now = samples[index]["t"]
    values = {}
    r = RATE.match(inner)
    if r:
        metric, selector, minutes = r.group(1), r.group(2), int(r.group(3))
        # The earliest sample inside the window (shorter at the start of the run).
        j = index
        while j > 0 and samples[j - 1]["t"] >= t_now - 60 * minutes:
            j -= 1
        if j == index:
            return {}
        then = {(n, json.dumps(l, sort_keys=True)): v for n, l, v in samples[j]["series"] if n == metric}
        dt = t_now - samples[j]["t"]
        for n, l, v in samples[index]["series"]:
            key = (n, json.dumps(l, sort_keys=True))
            if n == metric and key in then and matches(l, selector):
                values.setdefault(l.get(by, ""), []).append(max(v - then[key], 0.0) / dt)
    else:
        p = PLAIN.match(inner)
        if not p:
            raise ValueError(f"unsupported query: {inner}")
        metric, selector = p.groups()
        for n, l, v in samples[index]["series"]:
            if n == metric and matches(l, selector):
                values.setdefault(l.get(by, ""), []).append(v)
    combine = {"sum": sum, "max": max, "avg": lambda xs: sum(xs) / len(xs)}[agg]
    return {group: combine(vs) for group, vs in values.items()}


def render(dashboard_path, samples_path, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dashboard = json.load(open(dashboard_path))
    samples = [json.loads(line) for line in open(samples_path)]
    if len(samples) < 3:
        sys.exit("too few samples to draw")
    t0 = samples[0]["t"]
    panels = sorted(dashboard["panels"], key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"]))
    rows = (len(panels) + 1) // 2
    plt.style.use("dark_background")
    fig, axes = plt.subplots(rows, 2, figsize=(16, 3.4 * rows), facecolor="#111217")
    fig.suptitle(dashboard["title"] + "  (rendered from a real run by scripts/dashboard-snapshot.sh)",
                 color="#d8d9da", fontsize=13)
    for ax, panel in zip(axes.flat, panels):
        ax.set_facecolor("#181b1f")
        ax.set_title(panel["title"], loc="left", color="#d8d9da", fontsize=11)
        for target in panel["targets"]:
            lines = {}
            for i in range(len(samples)):
                for group, value in evaluate(target["expr"], samples, i).items():
                    lines.setdefault(group, ([], []))
                    lines[group][0].append(samples[i]["t"] - t0)
                    lines[group][1].append(value)
            for group, (xs, ys) in sorted(lines.items()):
                legend = re.sub(r"\{\{\w+\}\}", group, target.get("legendFormat", group))
                ax.plot(xs, ys, label=legend, linewidth=1.6)
        ax.grid(color="#2c3235", linewidth=0.6)
        ax.set_xlabel("seconds", color="#8e8e8e", fontsize=8)
        ax.tick_params(colors="#8e8e8e", labelsize=8)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper left", framealpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(out, dpi=80, facecolor=fig.get_facecolor())


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "scrape":
        scrape(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 5 and sys.argv[1] == "render":
        render(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
