// Connect console: one page over the worker's own REST API (docs/console.md).
// Everything it shows comes from the REST API with the user's credentials, as any REST
// client sees it; rates come from GET /metrics, read every few seconds while the page is
// visible (one Prometheus scrape's worth of work for the worker).

const POLL_MS = 3000;
const HISTORY_MS = 5 * 60 * 1000;
const AUTH_KEY = 'connect-console-auth';
const HIDDEN = '[hidden]';

// ---------- REST ----------

let auth = sessionStorage.getItem(AUTH_KEY);
let authOn = false;

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// One REST call. Sends the user's credentials, and `X-Requested-With` so that a 401 comes
// without `WWW-Authenticate` (no browser dialog over the page).
async function api(method, path, body, { text = false } = {}) {
  const headers = { 'X-Requested-With': 'connect-console', Accept: text ? 'text/plain' : 'application/json' };
  if (auth) headers.Authorization = auth;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch (e) {
    linkDown();
    throw new ApiError(0, 'The worker does not answer (' + e.message + '); retrying');
  }
  linkUp();
  if (response.status === 401) {
    const hadCredentials = !!auth;
    authOn = true;
    auth = null;
    sessionStorage.removeItem(AUTH_KEY);
    showLogin(hadCredentials ? 'Your credentials were refused; sign in again.' : '');
    throw new ApiError(401, 'Authentication required');
  }
  const raw = await response.text();
  if (!response.ok) {
    let message = raw;
    try { message = JSON.parse(raw).message || raw; } catch (_) { /* not JSON */ }
    throw new ApiError(response.status, `${method} ${path}: ${response.status} ${message}`);
  }
  if (text) return raw;
  return raw ? JSON.parse(raw) : null;
}

const enc = encodeURIComponent;
const connectorPath = (name) => `/connectors/${enc(name)}`;

// ---------- small DOM helpers ----------

const $ = (sel, root = document) => root.querySelector(sel);
const view = () => $('#view');

// h('tag.class#id', {attrs}, ...children): builds an element; text children are text nodes,
// so nothing the worker sends is ever parsed as HTML.
function h(spec, attrs, ...children) {
  const [, tag, rest] = /^([a-z0-9]+)(.*)$/.exec(spec);
  const el = document.createElement(tag);
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1)); else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}
function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
function replace(el, ...children) { el.replaceChildren(); return append(el, children); }

// Rebuilds `el` with `build()` only when `signature` changed since the last time, and gives
// the focus back to the element with the same `data-focus` (a refresh every few seconds must
// not take a keyboard user's place away).
function rebuild(el, signature, build) {
  if (el.dataset.signature === signature) return;
  el.dataset.signature = signature;
  const focused = el.contains(document.activeElement) ? document.activeElement.dataset.focus : null;
  replace(el, build());
  if (focused) el.querySelector(`[data-focus="${CSS.escape(focused)}"]`)?.focus();
}

function notice(message, ok = false) {
  const el = $('#notice');
  el.className = ok ? 'ok' : '';
  el.textContent = message || '';
  if (message && ok) setTimeout(() => { if (el.textContent === message) el.textContent = ''; }, 4000);
}
function fail(e) { if (e.status !== 401) notice(e.message); }

function badge(state) { return h('span.badge', { class: `badge s-${state}` }, state || '?'); }

function fmtRate(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return '–';
  return v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(1);
}
function fmtDuration(ms) {
  const s = Math.floor(ms / 1000), d = Math.floor(s / 86400), hh = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  return d ? `${d}d ${hh}h ${m}m` : hh ? `${hh}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}
const shortClass = (c) => (c || '').split('.').pop();

let linkState = 'up';
function linkDown() {
  linkState = 'down';
  const el = $('#link');
  el.className = 'down';
  el.textContent = 'Worker unreachable: reconnecting…';
}
function linkUp() {
  if (linkState === 'up') return;
  linkState = 'up';
  const el = $('#link');
  el.className = '';
  el.textContent = 'Reconnected';
  setTimeout(() => { if (linkState === 'up') el.textContent = ''; }, 3000);
}

// ---------- metrics: rates from counters ----------

// The counters the console charts, per connector (summed over its tasks; the lag is the
// largest of its tasks').
const FAMILIES = {
  kafka_connect_source_task_metrics_source_record_write_total: 'src',
  kafka_connect_sink_task_metrics_sink_record_send_total: 'sink',
  kafka_connect_sink_task_metrics_sink_record_lag_max: 'lag',
  kafka_connect_task_error_metrics_total_record_errors: 'errors',
  kafka_connect_task_error_metrics_deadletterqueue_produce_requests: 'dlq',
};

// Only those families: the worker encodes a few series instead of its whole exposition.
const METRICS_PATH = '/metrics?' + Object.keys(FAMILIES).map((f) => 'name[]=' + f).join('&');

export function parseMetrics(text) {
  const byConnector = {};
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || !FAMILIES[m[1]]) continue;
    const label = /(?:^|,)connector="((?:[^"\\]|\\.)*)"/.exec(m[2] || '');
    if (!label) continue;
    const name = label[1].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    const key = FAMILIES[m[1]];
    const entry = (byConnector[name] ||= { src: 0, sink: 0, lag: 0, errors: 0, dlq: 0 });
    entry[key] = key === 'lag' ? Math.max(entry[key], value) : entry[key] + value;
  }
  return byConnector;
}

// Samples of the counters while the page is open: [{t, c: {connector: counters}}].
const samples = [];
// What each refresh computes: per-connector rates and the history of totals for the charts.
const history = []; // [{t, in, out, c: {name: {rate, lag, errors, dlq}}}]

function addSample(counters) {
  const t = Date.now();
  const prev = samples[samples.length - 1];
  samples.push({ t, c: counters });
  while (samples.length > 2) samples.shift();
  if (!prev) return;
  const dt = (t - prev.t) / 1000;
  if (dt <= 0) return;
  const point = { t, in: 0, out: 0, c: {} };
  for (const [name, now] of Object.entries(counters)) {
    const before = prev.c[name] || { src: 0, sink: 0 };
    // A restarted task's counters start again from 0: count what it did since.
    const delta = (k) => (now[k] >= before[k] ? now[k] - before[k] : now[k]);
    const src = delta('src') / dt, sink = delta('sink') / dt;
    point.in += src;
    point.out += sink;
    point.c[name] = { rate: src + sink, lag: now.lag, errors: now.errors, dlq: now.dlq };
  }
  history.push(point);
  while (history.length && history[0].t < t - HISTORY_MS) history.shift();
}
const latest = () => history[history.length - 1];
const rateOf = (name) => latest()?.c[name]?.rate;

// ---------- charts (canvas, drawn by hand) ----------

const COLORS = ['#0b5cad', '#b3261e', '#116329', '#7d4e00', '#5b3eb2'];

// A line chart of `series` ([{label, points: [[t, v]]}]) over the last HISTORY_MS; its
// accessible name says the latest values.
function drawChart(canvas, series, unit = '') {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 320, hgt = canvas.clientHeight || 160;
  canvas.width = w * dpr;
  canvas.height = hgt * dpr;
  const g = canvas.getContext('2d');
  g.scale(dpr, dpr);
  g.clearRect(0, 0, w, hgt);
  const now = Date.now(), left = 48, bottom = hgt - 18, top = 8, right = w - 8;
  let max = 0;
  for (const s of series) for (const [, v] of s.points) max = Math.max(max, v);
  max = max <= 0 ? 1 : niceMax(max);
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#57606a';
  g.strokeStyle = '#d0d7de';
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = bottom - ((bottom - top) * i) / 4;
    g.beginPath(); g.moveTo(left, y); g.lineTo(right, y); g.stroke();
    const tick = (max * i) / 4;
    g.fillText(tick >= 100 ? Math.round(tick).toLocaleString('en') : String(+tick.toFixed(2)), 4, y + 4);
  }
  g.fillText('-5 min', left, hgt - 4);
  g.fillText('now', right - 22, hgt - 4);
  const x = (t) => left + ((right - left) * (t - (now - HISTORY_MS))) / HISTORY_MS;
  const y = (v) => bottom - ((bottom - top) * v) / max;
  series.forEach((s, i) => {
    g.strokeStyle = COLORS[i % COLORS.length];
    g.lineWidth = 2;
    g.beginPath();
    s.points.forEach(([t, v], j) => (j ? g.lineTo(x(t), y(v)) : g.moveTo(x(t), y(v))));
    g.stroke();
  });
  const summary = series.map((s) => `${s.label}: ${fmtRate(s.points.at(-1)?.[1])}${unit}`).join(', ');
  canvas.setAttribute('aria-label', summary || 'no data yet');
  const legend = canvas.nextElementSibling;
  if (legend) replace(legend, series.map((s, i) => h('span', { style: `color:${COLORS[i % COLORS.length]}` }, `■ ${s.label}: ${fmtRate(s.points.at(-1)?.[1])}${unit}`)));
}
function niceMax(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= v);
}
function chart(caption) {
  return h('figure', h('figcaption', caption), h('canvas.chart', { role: 'img', 'aria-label': caption }), h('div.legend'));
}

// ---------- the connectors, refreshed while the page is visible ----------

let connectors = {}; // name -> {status, info}
let refreshing = null;
let refreshes = 0; // refreshes completed so far

// Views that show nothing of it (create, plugins) say `idle`: no refresh runs for them.
async function refresh() {
  if (current?.idle) return null;
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      const [list, metrics] = await Promise.all([
        api('GET', '/connectors?expand=status&expand=info'),
        api('GET', METRICS_PATH, undefined, { text: true }),
      ]);
      connectors = list || {};
      refreshes += 1;
      addSample(parseMetrics(metrics));
      current?.update?.();
    } catch (e) {
      if (e.status) fail(e);
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

let timer = null;
function startPolling() {
  clearInterval(timer);
  timer = setInterval(() => {
    if (document.visibilityState === 'visible' && signedIn()) refresh();
  }, POLL_MS);
}
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && signedIn()) refresh();
});
const signedIn = () => !authOn || !!auth;

const stateOf = (c) => c?.status?.connector?.state || 'UNASSIGNED';
const typeOf = (c) => c?.status?.type || c?.info?.type || '';
const tasksOf = (c) => c?.status?.tasks || [];
function topicsOf(c) {
  const cfg = c?.info?.config || {};
  return cfg.topics || cfg['topics.regex'] || cfg.topic || cfg['kafka.topic'] || cfg['redis.topic'] || '';
}

// ---------- views ----------

let current = null; // {update()}

const routes = [
  [/^#?\/?$/, overviewView, '#/'],
  [/^#\/connectors$/, connectorsView, '#/connectors'],
  [/^#\/connectors\/([^/]+)(?:\/([a-z]+))?$/, connectorView, '#/connectors'],
  [/^#\/new$/, createView, '#/new'],
  [/^#\/plugins$/, pluginsView, '#/plugins'],
];

function route() {
  if (!signedIn()) return showLogin('');
  notice('');
  const hash = location.hash || '#/';
  for (const [re, make, nav] of routes) {
    const m = re.exec(hash);
    if (!m) continue;
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.getAttribute('href') === nav) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    current = make(...m.slice(1).map((p) => (p === undefined ? p : decodeURIComponent(p))));
    current.update?.();
    refresh();
    return;
  }
  replace(view(), h('h1', 'Not found'), h('p', h('a', { href: '#/' }, 'Back to the overview')));
  current = null;
}

// Overview: the worker, connectors by state, failing tasks, total throughput.
function overviewView() {
  const info = h('div.cards');
  const states = h('div.cards');
  const failing = h('div');
  const rates = chart('Records per second: into Kafka (sources) and out of Kafka (sinks)');
  replace(view(), h('h1', 'Overview'), info, h('h2', 'Connectors by state'), states,
    h('h2', 'Throughput'), h('div.charts', rates), h('h2', 'Failing tasks'), failing);
  const card = (value, label) => h('div.card', h('b', value), h('span', label));
  const fetchedAt = Date.now();
  let server = null;
  api('GET', '/').then((s) => { server = s; update(); }).catch(fail);
  function update() {
    if (server) {
      replace(info, card(server.version, 'worker version'), card(server.commit.slice(0, 12), 'commit'),
        card(server.kafka_cluster_id, 'Kafka cluster id'),
        card(fmtDuration((server.uptime_ms || 0) + (Date.now() - fetchedAt)), 'uptime'));
    }
    const counts = {};
    for (const c of Object.values(connectors)) counts[stateOf(c)] = (counts[stateOf(c)] || 0) + 1;
    replace(states, card(Object.keys(connectors).length, 'connectors'),
      ['RUNNING', 'PAUSED', 'STOPPED', 'FAILED', 'UNASSIGNED', 'RESTARTING'].filter((s) => counts[s])
        .map((s) => h('div.card', h('b', { class: `s-${s}` }, counts[s]), h('span', s.toLowerCase()))));
    const bad = [];
    for (const [name, c] of Object.entries(connectors)) {
      if (stateOf(c) === 'FAILED') bad.push([name, 'connector', c.status.connector.trace]);
      for (const t of tasksOf(c)) if (t.state === 'FAILED') bad.push([name, `task ${t.id}`, t.trace]);
    }
    replace(failing, bad.length ? bad.map(([name, what, trace]) => h('section',
      h('h3', h('a', { href: `#/connectors/${enc(name)}` }, name), ` ${what} `, badge('FAILED')),
      h('pre.trace', trace || '(no trace)'))) : h('p.muted', 'No task is failing.'));
    drawChart($('canvas', rates), [
      { label: 'in (sources)', points: history.map((p) => [p.t, p.in]) },
      { label: 'out (sinks)', points: history.map((p) => [p.t, p.out]) },
    ], '/s');
  }
  return { update };
}

// The connectors table: filters, batch actions.
function connectorsView() {
  const selected = new Set();
  const text = h('input#filter-text', { type: 'search', placeholder: 'name, class or topic', oninput: () => update() });
  const state = h('select#filter-state', { onchange: () => update() },
    h('option', { value: '' }, 'any'), ['RUNNING', 'PAUSED', 'STOPPED', 'FAILED', 'UNASSIGNED', 'RESTARTING'].map((s) => h('option', { value: s }, s)));
  const body = h('tbody');
  const all = h('input#select-all', { type: 'checkbox', 'aria-label': 'Select every connector shown', onchange: () => {
    for (const name of shown) if (all.checked) selected.add(name); else selected.delete(name);
    update();
  } });
  const batch = (label, act) => h('button', { type: 'button', 'data-batch': label.toLowerCase(), onclick: async () => {
    const names = [...selected];
    if (!names.length) return notice('Select connectors first.');
    const results = await Promise.allSettled(names.map(act));
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length) notice(failed.map((r) => r.reason.message).join('\n'));
    else notice(`${label}: ${names.length} connector(s).`, true);
    refresh();
  } }, label);
  let shown = [];
  replace(view(), h('h1', 'Connectors'),
    h('div.bar', h('label', { for: 'filter-text' }, 'Filter'), text, h('label', { for: 'filter-state' }, 'State'), state,
      h('span.muted', '|'), h('span', 'Selected:'),
      batch('Pause', (n) => api('PUT', `${connectorPath(n)}/pause`)),
      batch('Resume', (n) => api('PUT', `${connectorPath(n)}/resume`)),
      batch('Restart', (n) => api('POST', `${connectorPath(n)}/restart?includeTasks=true&onlyFailed=false`)),
      h('a.button', { href: '#/new', style: 'margin-left:auto' }, 'Create connector')),
    h('table#connectors', h('caption.muted', { style: 'text-align:left' }, 'Refreshed every 3 s while this page is visible'),
      h('thead', h('tr', h('th', all), ['Name', 'Type', 'Class', 'State', 'Tasks running/total', 'Topics'].map((c) => h('th', { scope: 'col' }, c)),
        h('th.num', { scope: 'col' }, 'Records/s'))),
      body));
  function update() {
    const q = text.value.trim().toLowerCase();
    const names = Object.keys(connectors).sort();
    shown = names.filter((n) => {
      const c = connectors[n];
      if (state.value && stateOf(c) !== state.value) return false;
      return !q || [n, c.info?.config?.['connector.class'], topicsOf(c)].some((s) => (s || '').toLowerCase().includes(q));
    });
    for (const n of [...selected]) if (!connectors[n]) selected.delete(n);
    all.checked = shown.length > 0 && shown.every((n) => selected.has(n));
    const signature = JSON.stringify(shown.map((n) => [n, connectors[n], rateOf(n), selected.has(n)]));
    rebuild(body, signature, () => shown.length ? shown.map((n) => {
      const c = connectors[n], tasks = tasksOf(c);
      const running = tasks.filter((t) => t.state === 'RUNNING').length;
      const failed = tasks.filter((t) => t.state === 'FAILED').length;
      return h('tr', { 'data-connector': n },
        h('td', h('input', { type: 'checkbox', 'aria-label': `Select ${n}`, checked: selected.has(n), 'data-focus': `select:${n}`,
          onchange: (e) => { if (e.target.checked) selected.add(n); else selected.delete(n); } })),
        h('td', h('a', { href: `#/connectors/${enc(n)}`, 'data-focus': `link:${n}` }, n)),
        h('td', typeOf(c)),
        h('td', { title: c.info?.config?.['connector.class'] || '' }, shortClass(c.info?.config?.['connector.class'])),
        h('td', badge(stateOf(c))),
        h('td', `${running}/${tasks.length}`, failed ? h('span.err', ` (${failed} failed)`) : null),
        h('td', topicsOf(c)),
        h('td.num', fmtRate(rateOf(n))));
    }) : h('tr', h('td', { colspan: 8 }, h('span.muted', names.length ? 'No connector matches the filter.' : 'No connector yet.'))));
  }
  return { update };
}

// One connector: status and tasks, actions, config, topics, offsets, charts.
function connectorView(name, tab = 'status') {
  const path = connectorPath(name);
  const head = h('div.bar');
  const body = h('div');
  const act = (label, method, suffix, { confirmText, cls } = {}) => h('button', { type: 'button', class: cls, 'data-action': label.toLowerCase().replace(/ /g, '-'), onclick: async () => {
    if (confirmText && !confirm(confirmText)) return;
    try {
      await api(method, path + suffix);
      notice(`${label}: done.`, true);
      if (method === 'DELETE' && !suffix) { location.hash = '#/connectors'; return; }
    } catch (e) { fail(e); }
    await refresh();
    if (tab !== 'status') showTab(tab);
  } }, label);
  const includeTasks = h('input#include-tasks', { type: 'checkbox' });
  const onlyFailed = h('input#only-failed', { type: 'checkbox' });
  const restart = h('button', { type: 'button', 'data-action': 'restart', onclick: async () => {
    try {
      await api('POST', `${path}/restart?includeTasks=${includeTasks.checked}&onlyFailed=${onlyFailed.checked}`);
      notice('Restart: requested.', true);
    } catch (e) { fail(e); }
    refresh();
  } }, 'Restart');
  const actions = h('div.bar', act('Pause', 'PUT', '/pause'), act('Resume', 'PUT', '/resume'), act('Stop', 'PUT', '/stop'),
    h('span.muted', '|'), restart, h('label', includeTasks, ' include tasks'), h('label', onlyFailed, ' only failed'),
    act('Restart failed tasks', 'POST', '/restart?includeTasks=true&onlyFailed=true'),
    h('span.muted', '|'), act('Delete', 'DELETE', '', { cls: 'danger', confirmText: `Delete the connector ${name}? Its offsets are kept.` }));
  const tabs = ['status', 'config', 'topics', 'offsets', 'charts'];
  const tablist = h('div.tabs', { role: 'tablist', 'aria-label': 'Connector views' }, tabs.map((t) => h('button', {
    type: 'button', role: 'tab', id: `tab-${t}`, 'aria-controls': 'tab-body', onclick: () => { location.hash = `#/connectors/${enc(name)}/${t}`; },
  }, t[0].toUpperCase() + t.slice(1))));
  body.id = 'tab-body';
  body.setAttribute('role', 'tabpanel');
  replace(view(), h('h1', name), head, actions, tablist, body);
  let statusPart = null, chartsPart = null;
  function showTab(t) {
    for (const b of tablist.children) b.setAttribute('aria-selected', String(b.id === `tab-${t}`));
    statusPart = chartsPart = null;
    if (t === 'config') configTab(name, body);
    else if (t === 'topics') topicsTab(name, body);
    else if (t === 'offsets') offsetsTab(name, body);
    else if (t === 'charts') { chartsPart = chartsTab(name, body); }
    else statusPart = statusTab(name, body);
  }
  showTab(tabs.includes(tab) ? tab : 'status');
  function update() {
    const c = connectors[name];
    if (!c) {
      // Only a refresh made after the view opened can tell that it is gone.
      replace(head, h('span.muted', refreshes > openedAt ? 'This connector does not exist (any more).' : 'Loading…'));
      return;
    }
    replace(head, badge(stateOf(c)), h('span', typeOf(c)), h('span.muted', c.info?.config?.['connector.class'] || ''),
      h('span', `worker ${c.status.connector.worker_id}`), h('span', `records/s: ${fmtRate(rateOf(name))}`));
    statusPart?.(c);
    chartsPart?.();
  }
  const openedAt = refreshes;
  return { update };
}

function statusTab(name, body) {
  const holder = h('div');
  replace(body, holder);
  return (c) => {
    const conn = c.status.connector;
    rebuild(holder, JSON.stringify(c.status), () => [
      conn.state === 'FAILED' ? [h('h2', 'Connector failed'), h('pre.trace', conn.trace || '(no trace)')] : null,
      h('h2', 'Tasks'),
      h('table#tasks', h('thead', h('tr', ['Task', 'State', 'Worker', ''].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', tasksOf(c).length ? tasksOf(c).map((t) => [
          h('tr', { 'data-task': t.id }, h('td', String(t.id)), h('td', badge(t.state)), h('td', t.worker_id),
            h('td', h('button', { type: 'button', 'data-action': 'restart-task', 'data-focus': `restart:${t.id}`, onclick: async () => {
              try { await api('POST', `${connectorPath(name)}/tasks/${t.id}/restart`); notice(`Task ${t.id}: restart requested.`, true); } catch (e) { fail(e); }
              refresh();
            } }, `Restart task ${t.id}`))),
          t.trace ? h('tr', h('td', { colspan: 4 }, h('pre.trace', { 'aria-label': `Trace of task ${t.id}` }, t.trace))) : null,
        ]) : h('tr', h('td', { colspan: 4 }, h('span.muted', 'No task (a stopped connector has none).')))))]);
  };
}

function chartsTab(name, body) {
  const rate = chart('Records per second'), lag = chart('Sink lag (records, largest of the tasks)'), errors = chart('Record errors and dead-letter writes (totals)');
  replace(body, h('div.charts', rate, lag, errors));
  return () => {
    const of = (k) => history.map((p) => [p.t, p.c[name]?.[k] ?? 0]);
    drawChart($('canvas', rate), [{ label: 'records/s', points: of('rate') }], '/s');
    drawChart($('canvas', lag), [{ label: 'lag', points: of('lag') }]);
    drawChart($('canvas', errors), [{ label: 'errors', points: of('errors') }, { label: 'DLQ', points: of('dlq') }]);
  };
}

async function topicsTab(name, body) {
  replace(body, h('p.muted', 'Loading…'));
  try {
    const answer = await api('GET', `${connectorPath(name)}/topics`);
    const topics = answer?.[name]?.topics || [];
    replace(body, h('h2', 'Active topics'),
      topics.length ? h('ul#topics', topics.map((t) => h('li', t))) : h('p.muted', 'None recorded since the worker started.'),
      h('button', { type: 'button', 'data-action': 'reset-topics', onclick: async () => {
        try { await api('PUT', `${connectorPath(name)}/topics/reset`); notice('Active topics reset.', true); } catch (e) { fail(e); }
        topicsTab(name, body);
      } }, 'Reset active topics'));
  } catch (e) { fail(e); replace(body); }
}

async function offsetsTab(name, body) {
  replace(body, h('p.muted', 'Loading…'));
  try {
    const [offsets, status] = await Promise.all([api('GET', `${connectorPath(name)}/offsets`), api('GET', `${connectorPath(name)}/status`)]);
    const stopped = status.connector.state === 'STOPPED';
    const editor = h('textarea#offsets-editor', { rows: 12, readonly: !stopped, 'aria-label': 'Offsets (JSON)' });
    editor.value = JSON.stringify(offsets, null, 2);
    const save = async (method, payload) => {
      try {
        const answer = await api(method, `${connectorPath(name)}/offsets`, payload);
        notice(answer?.message || 'Offsets changed.', true);
        offsetsTab(name, body);
      } catch (e) { fail(e); }
    };
    replace(body, h('h2', 'Offsets'),
      stopped ? h('p', 'The connector is STOPPED: edit the offsets below and save them, or reset them all (KIP-875).')
        : h('p.muted', 'Offsets can be changed only while the connector is STOPPED (Stop it first).'),
      editor,
      h('div.bar',
        h('button.primary', { type: 'button', 'data-action': 'save-offsets', disabled: !stopped, onclick: () => {
          let parsed;
          try { parsed = JSON.parse(editor.value); } catch (e) { return notice(`The offsets are not valid JSON: ${e.message}`); }
          save('PATCH', parsed);
        } }, 'Save offsets'),
        h('button.danger', { type: 'button', 'data-action': 'reset-offsets', disabled: !stopped, onclick: () => {
          if (confirm(`Reset every offset of ${name}? It will start again from the beginning.`)) save('DELETE');
        } }, 'Reset offsets'),
        h('button', { type: 'button', onclick: () => offsetsTab(name, body) }, 'Reload')));
  } catch (e) { fail(e); replace(body); }
}

// ---------- configuration forms (create and edit) ----------

// The definitions of every key a connector of `plugin` reads: its own
// (/connector-plugins/{p}/config: groups, order, types, defaults, documentation) and the
// common ones a validation lists (name, topics, tasks.max, converters, errors.*).
async function definitionsOf(plugin, config) {
  const [own, validation] = await Promise.all([
    api('GET', `/connector-plugins/${enc(plugin)}/config`),
    api('PUT', `/connector-plugins/${enc(plugin)}/config/validate`, { ...config, 'connector.class': config['connector.class'] || plugin }),
  ]);
  const defs = new Map();
  const groups = [...(validation.groups || [])];
  for (const d of validation.configs.map((c) => c.definition)) defs.set(d.name, d);
  for (const d of own) { defs.set(d.name, d); if (d.group && !groups.includes(d.group)) groups.push(d.group); }
  return { defs: [...defs.values()], groups };
}

// A form over `defs`, filled with `values`. `hidden` lists the keys whose value the worker
// masked: their field is empty, and saving it empty keeps the stored secret.
function configForm(defs, groups, values, { onInput, hidden = new Set() } = {}) {
  const form = h('div.config-form');
  const inputs = new Map();
  const byGroup = new Map();
  for (const d of defs) {
    if (d.name === 'connector.class' || d.name === 'name') continue;
    const g = d.group || 'Other';
    if (!byGroup.has(g)) byGroup.set(g, []);
    byGroup.get(g).push(d);
  }
  const order = [...groups.filter((g) => byGroup.has(g)), ...[...byGroup.keys()].filter((g) => !groups.includes(g))];
  const commonish = (g) => /^(Transforms|Predicates|Error Handling|Exactly Once Support|offsets\.topic|Topic Creation|Converters)/i.test(g);
  for (const g of order) {
    const list = byGroup.get(g).sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
    const hasRequired = list.some((d) => d.required);
    const fields = list.map((d) => field(d));
    if (commonish(g) && !hasRequired && !list.some((d) => values[d.name] !== undefined)) {
      form.append(h('details', h('summary', `${g} (${list.length} settings)`), h('fieldset', h('legend', g), fields)));
    } else {
      form.append(h('fieldset', h('legend', g), fields));
    }
  }
  function field(d) {
    const id = `f-${d.name.replace(/[^a-zA-Z0-9_-]/g, '_')}`;
    const value = values[d.name];
    let input;
    if (d.type === 'BOOLEAN') {
      input = h('select', { id, name: d.name },
        h('option', { value: '' }, `default (${d.default_value ?? 'none'})`), h('option', { value: 'true' }, 'true'), h('option', { value: 'false' }, 'false'));
      input.value = value === undefined ? '' : String(value).toLowerCase();
    } else if (d.type === 'PASSWORD') {
      const masked = hidden.has(d.name);
      input = h('input', { id, name: d.name, type: 'password', autocomplete: 'new-password',
        placeholder: masked ? 'set (hidden); leave empty to keep it' : (d.default_value ? `default: ${HIDDEN}` : '') });
    } else {
      input = h('input', { id, name: d.name, type: 'text', spellcheck: 'false',
        inputmode: ['INT', 'LONG', 'SHORT', 'DOUBLE'].includes(d.type) ? 'decimal' : undefined,
        placeholder: d.default_value !== null && d.default_value !== undefined && d.default_value !== '' ? `default: ${d.default_value}` : '' });
      if (value !== undefined) input.value = value;
    }
    input.addEventListener('input', () => onInput?.());
    input.addEventListener('change', () => onInput?.());
    const err = h('span.err', { id: `${id}-error`, 'aria-live': 'polite' });
    const doc = h('span.doc', { id: `${id}-doc` }, `${d.type.toLowerCase()}${d.required ? ', required' : ''}. ${d.documentation || ''}`);
    input.setAttribute('aria-describedby', `${id}-error ${id}-doc`);
    if (d.required) input.setAttribute('aria-required', 'true');
    inputs.set(d.name, { input, err, def: d });
    return h('div.field', { 'data-key': d.name }, h('label', { for: id }, d.display_name && d.display_name !== d.name ? `${d.name}` : d.name,
      d.required ? h('span.req', { 'aria-hidden': 'true' }, ' *') : null), input, err, doc);
  }
  return {
    element: form,
    // The keys the user set (an empty field is unset: the default applies); a masked
    // secret left empty is sent back masked, which keeps the stored value.
    values() {
      const out = {};
      for (const [key, { input, def }] of inputs) {
        const v = input.value.trim();
        if (v !== '') out[key] = def.type === 'PASSWORD' ? input.value : v;
        else if (hidden.has(key)) out[key] = HIDDEN;
      }
      return out;
    },
    keys: () => new Set(inputs.keys()),
    // Shows each error of a /config/validate answer beside its field; returns the errors of
    // keys without a field.
    showErrors(validation) {
      const others = [];
      for (const { err } of inputs.values()) { err.textContent = ''; err.parentElement.classList.remove('invalid'); }
      for (const c of validation.configs || []) {
        const errors = c.value?.errors || [];
        if (!errors.length) continue;
        const f = inputs.get(c.value.name);
        if (f) { f.err.textContent = errors.join(' '); f.err.parentElement.classList.add('invalid'); }
        else others.push(`${c.value.name}: ${errors.join(' ')}`);
      }
      return others;
    },
  };
}

// `key=value` lines (Java properties: `#`/`!` comments, `=` or `:`, `\` continues a line) or
// a JSON object (a flat config, or `{"name", "config"}`) into a config map.
export function parseConfigText(text) {
  const t = text.trim();
  if (!t) return {};
  if (t.startsWith('{')) {
    const json = JSON.parse(t);
    const config = json.config && typeof json.config === 'object' ? { ...json.config } : { ...json };
    if (json.config && json.name && !config.name) config.name = json.name;
    for (const k of Object.keys(config)) config[k] = config[k] === null ? '' : String(config[k]);
    return config;
  }
  const config = {};
  const lines = t.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i].replace(/^\s+/, '');
    if (!line || line[0] === '#' || line[0] === '!') continue;
    while (/(^|[^\\])(\\\\)*\\$/.test(line) && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i].replace(/^\s+/, '');
    const m = /^((?:[^=:\s\\]|\\.)+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (m) config[m[1].replace(/\\(.)/g, '$1')] = m[2].trim();
    else config[line.trim()] = '';
  }
  return config;
}
function toProperties(config) {
  return Object.entries(config).map(([k, v]) => `${k}=${v}`).join('\n');
}

function debounce(fn, ms) {
  let t = null;
  return () => { clearTimeout(t); t = setTimeout(fn, ms); };
}

// Create a connector: pick a plugin, fill the generated form (validated as you type), or
// paste a configuration.
function createView() {
  const pluginSelect = h('select#plugin', { 'aria-describedby': 'plugin-doc' }, h('option', { value: '' }, 'Choose a connector plugin…'));
  const nameInput = h('input#connector-name', { type: 'text', spellcheck: 'false', 'aria-required': 'true' });
  const nameErr = h('span.err#connector-name-error', { 'aria-live': 'polite' });
  const formHolder = h('div');
  const extra = h('textarea#extra-config', { rows: 4, 'aria-describedby': 'extra-doc', spellcheck: 'false' });
  const otherErrors = h('div.err#other-errors', { 'aria-live': 'polite' });
  const paste = h('textarea#paste', { rows: 8, spellcheck: 'false', 'aria-label': 'Configuration to paste (JSON or properties)' });
  const summary = h('p#validation', { 'aria-live': 'polite' });
  const create = h('button.primary#create', { type: 'button', disabled: true }, 'Create');
  let form = null, plugin = '';
  replace(view(), h('h1', 'Create a connector'),
    h('details#paste-box', h('summary', 'Paste a configuration (JSON or properties)'),
      h('p.muted', 'A Kafka Connect configuration as JSON ({"name", "config"} or a flat object) or as a .properties file, e.g. the Java Redis connector\'s. It fills the form below.'),
      paste, h('button', { type: 'button', id: 'load-paste', onclick: loadPaste }, 'Fill the form')),
    h('div.field', h('label', { for: 'plugin' }, 'Connector plugin', h('span.req', ' *')), pluginSelect, h('span.doc#plugin-doc', 'From GET /connector-plugins')),
    h('div.field', h('label', { for: 'connector-name' }, 'Name', h('span.req', ' *')), nameInput, nameErr),
    formHolder,
    h('h2', h('label', { for: 'extra-config' }, 'Other keys')),
    h('p.muted#extra-doc', 'Keys the form does not list (transforms.<alias>.*, converter settings, …): one key=value a line.'),
    extra, otherErrors, summary, h('div.bar', create));
  api('GET', '/connector-plugins').then((plugins) => {
    for (const p of plugins) pluginSelect.append(h('option', { value: p.class }, `${shortClass(p.class)} (${p.type}, ${p.version})`));
  }).catch(fail);

  let validation = null;
  const configNow = () => {
    let other = {};
    try { other = parseConfigText(extra.value); } catch (_) { /* shown on validate */ }
    return { ...other, ...(form ? form.values() : {}), 'connector.class': plugin, name: nameInput.value.trim() };
  };
  async function validate() {
    if (!plugin) return null;
    try {
      validation = await api('PUT', `/connector-plugins/${enc(plugin)}/config/validate`, configNow());
    } catch (e) { fail(e); return null; }
    const others = form.showErrors(validation);
    nameErr.textContent = nameInput.value.trim() ? '' : 'A connector needs a name.';
    replace(otherErrors, others.map((o) => h('div', o)));
    const count = validation.error_count + (nameInput.value.trim() ? 0 : 1);
    summary.textContent = count ? `${count} problem(s) to fix before creating.` : 'The configuration is valid.';
    summary.className = count ? 'err' : '';
    create.disabled = false;
    return count;
  }
  const live = debounce(validate, 400);
  nameInput.addEventListener('input', live);
  extra.addEventListener('input', live);

  async function choose(p, values = {}) {
    plugin = p;
    pluginSelect.value = p;
    replace(formHolder, h('p.muted', 'Loading the definition…'));
    try {
      const { defs, groups } = await definitionsOf(p, { name: nameInput.value.trim(), ...values });
      form = configForm(defs, groups, values, { onInput: live });
      const known = form.keys();
      extra.value = toProperties(Object.fromEntries(Object.entries(values).filter(([k]) => !known.has(k) && k !== 'name' && k !== 'connector.class')));
      replace(formHolder, form.element);
      create.disabled = false;
    } catch (e) { fail(e); replace(formHolder); }
  }
  pluginSelect.addEventListener('change', () => choose(pluginSelect.value));

  async function loadPaste() {
    let config;
    try { config = parseConfigText(paste.value); } catch (e) { return notice(`Cannot read the pasted configuration: ${e.message}`); }
    if (!config['connector.class']) return notice('The pasted configuration has no connector.class.');
    if (config.name) nameInput.value = config.name;
    const { name: _, ...values } = config;
    const cls = values['connector.class'];
    const option = [...pluginSelect.options].find((o) => o.value && [o.value, shortClass(o.value), shortClass(o.value).replace(/Connector$/, '')].includes(cls));
    await choose(option ? option.value : cls, values);
    $('#paste-box').open = false;
    validate();
  }

  create.addEventListener('click', async () => {
    create.disabled = true;
    const count = await validate();
    if (count === null) return;
    if (count > 0) {
      notice('The configuration has errors: see the fields marked in red.');
      (document.querySelector('.field.invalid input, .field.invalid select') || nameInput).focus();
      return;
    }
    const { name, ...config } = configNow();
    try {
      await api('POST', '/connectors', { name, config });
      notice(`Connector ${name} created.`, true);
      await refresh();
      location.hash = `#/connectors/${enc(name)}`;
    } catch (e) { fail(e); create.disabled = false; }
  });
  return { idle: true };
}

// The connector's configuration: view (secrets masked), edit with validation, save.
async function configTab(name, body) {
  replace(body, h('p.muted', 'Loading…'));
  try {
    const config = await api('GET', `${connectorPath(name)}/config`);
    const plugin = config['connector.class'];
    const hidden = new Set(Object.entries(config).filter(([, v]) => v === HIDDEN).map(([k]) => k));
    const { defs, groups } = await definitionsOf(plugin, config);
    const values = { ...config };
    for (const k of hidden) delete values[k];
    const summary = h('p#validation', { 'aria-live': 'polite' });
    let form = null;
    const extra = h('textarea#extra-config', { rows: 4, spellcheck: 'false', 'aria-label': 'Other keys, one key=value a line' });
    const otherErrors = h('div.err#other-errors');
    const current = () => {
      let other = {};
      try { other = parseConfigText(extra.value); } catch (_) { /* validated below */ }
      return { ...other, ...form.values(), 'connector.class': plugin, name };
    };
    const validate = async () => {
      const validation = await api('PUT', `/connector-plugins/${enc(plugin)}/config/validate`, current());
      replace(otherErrors, form.showErrors(validation).map((o) => h('div', o)));
      summary.textContent = validation.error_count ? `${validation.error_count} problem(s) to fix before saving.` : 'The configuration is valid.';
      summary.className = validation.error_count ? 'err' : '';
      return validation.error_count;
    };
    const live = debounce(() => validate().catch(fail), 400);
    form = configForm(defs, groups, values, { onInput: live, hidden });
    const known = form.keys();
    extra.value = toProperties(Object.fromEntries(Object.entries(config).filter(([k]) => !known.has(k) && k !== 'name' && k !== 'connector.class')));
    extra.addEventListener('input', live);
    replace(body,
      h('details', h('summary', 'As JSON (secrets masked)'), h('pre#config-json', JSON.stringify(config, null, 2))),
      h('p.muted', `connector.class: ${plugin}`), form.element,
      h('h2', 'Other keys'), extra, otherErrors, summary,
      h('div.bar', h('button.primary', { type: 'button', 'data-action': 'save-config', onclick: async () => {
        try {
          if (await validate()) return notice('The configuration has errors: see the fields marked in red.');
          await api('PUT', `${connectorPath(name)}/config`, current());
          notice('Configuration saved.', true);
          refresh();
          configTab(name, body);
        } catch (e) { fail(e); }
      } }, 'Save configuration')));
  } catch (e) { fail(e); replace(body); }
}

// Every plugin with the documentation of its keys.
function pluginsView() {
  const list = h('div#plugins', h('p.muted', 'Loading…'));
  replace(view(), h('h1', 'Plugins'), h('p.muted', 'Connectors, converters, transforms and predicates this worker has (GET /connector-plugins?connectorsOnly=false). Open one for its settings.'), list);
  api('GET', '/connector-plugins?connectorsOnly=false').then((plugins) => {
    const order = ['source', 'sink', 'converter', 'header_converter', 'transformation', 'predicate'];
    plugins.sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type) || a.class.localeCompare(b.class));
    replace(list, plugins.map((p) => {
      const details = h('details.plugin', { 'data-plugin': p.class }, h('summary', h('b', shortClass(p.class)), ` ${p.type} · ${p.version} · `, h('code', p.class)));
      details.addEventListener('toggle', async () => {
        if (!details.open || details.dataset.loaded) return;
        details.dataset.loaded = '1';
        try {
          const defs = await api('GET', `/connector-plugins/${enc(p.class)}/config`);
          details.append(defs.length ? h('table', h('thead', h('tr', ['Key', 'Type', 'Default', 'Importance', 'Documentation'].map((x) => h('th', { scope: 'col' }, x)))),
            h('tbody', defs.map((d) => h('tr', h('td', h('code', d.name), d.required ? h('span.req', ' *') : null), h('td', d.type), h('td', d.default_value ?? ''), h('td', d.importance), h('td', d.documentation || '')))))
            : h('p.muted', 'No settings.'));
        } catch (e) { details.append(h('p.err', e.message)); }
      });
      return details;
    }));
  }).catch((e) => { fail(e); replace(list); });
  return { idle: true };
}

// ---------- sign-in ----------

function showLogin(message) {
  clearInterval(timer);
  current = null;
  $('#nav').hidden = true;
  $('#logout').hidden = true;
  notice('');
  const user = h('input#login-user', { type: 'text', autocomplete: 'username', required: true });
  const password = h('input#login-password', { type: 'password', autocomplete: 'current-password', required: true });
  const err = h('p.err#login-error', { 'aria-live': 'assertive' }, message);
  const form = h('form.login', { 'aria-labelledby': 'login-title' }, h('h1#login-title', 'Sign in to the worker'),
    h('p.muted', 'The REST API requires credentials (rest.auth.basic.file). They are kept in this tab only.'),
    h('label', { for: 'login-user' }, 'User'), user, h('label', { for: 'login-password' }, 'Password'), password,
    err, h('button.primary', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    auth = 'Basic ' + btoa(unescape(encodeURIComponent(`${user.value}:${password.value}`)));
    password.value = '';
    try {
      await api('GET', '/');
      sessionStorage.setItem(AUTH_KEY, auth);
      start();
    } catch (error) {
      if (error.status !== 401) err.textContent = error.message;
    }
  });
  replace(view(), form);
  user.focus();
}

function start() {
  $('#nav').hidden = false;
  $('#logout').hidden = !authOn;
  startPolling();
  refresh().then(() => current?.update?.());
  route();
}

$('#logout').addEventListener('click', () => {
  auth = null;
  connectors = {};
  sessionStorage.removeItem(AUTH_KEY);
  showLogin('Signed out.');
});
window.addEventListener('hashchange', () => { if (signedIn()) route(); });

// Boot: a first call tells whether the REST API wants credentials; an unreachable worker
// is asked again until it answers.
async function boot() {
  try {
    await api('GET', '/');
    authOn = !!auth;
    start();
  } catch (e) {
    if (e.status === 401) return;
    replace(view(), h('p.err', e.message));
    setTimeout(boot, POLL_MS);
  }
}
boot();
