/**
 * The status page (`GET /`): plain HTML, a stylesheet and one small inline script, served as
 * a string — no build step, no framework, no external request. The script polls
 * `api/status` every couple of seconds and renders with `createElement` / `textContent`
 * only (never `innerHTML`), so metric names and dimension values, which are user input,
 * cannot inject markup; a Content-Security-Policy that allows only this script (by hash)
 * backs that up.
 *
 * Number formatting is the code of `format.ts`, embedded with `Function.prototype.toString`,
 * so the page and the tests format alike.
 */
import { createHash } from 'node:crypto'
import { formatAge, formatNumber, formatValue } from './format.js'
import { kBinsPerOctave } from './api.js'

const kStyle = `
:root { --fg:#1d2330; --muted:#6b7385; --line:#e3e6ec; --bg:#f6f7f9; --card:#fff; --accent:#2f6fd6; --p99:#d6452f; --ok:#1f9d55; --warn:#c98a00; --bad:#d6452f; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; align-items:baseline; gap:16px; flex-wrap:wrap; padding:12px 20px; background:#1d2330; color:#fff; }
header h1 { font-size:18px; margin:0; letter-spacing:.5px; }
header .meta { color:#b9c0cf; font-size:13px; }
header .meta b { color:#fff; font-weight:600; }
#live { margin-left:auto; font-size:13px; color:#b9c0cf; }
.dot { display:inline-block; width:9px; height:9px; border-radius:50%; background:var(--ok); margin-right:6px; vertical-align:middle; }
.dot.bad { background:var(--bad); } .dot.paused { background:var(--warn); }
main { padding:16px 20px 40px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(260px, 1fr)); gap:12px; margin-bottom:16px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 14px; }
.card h2 { font-size:13px; text-transform:uppercase; letter-spacing:.6px; color:var(--muted); margin:0 0 6px; display:flex; justify-content:space-between; }
.card dl { display:grid; grid-template-columns:auto 1fr; gap:2px 12px; margin:0; }
.card dt { color:var(--muted); } .card dd { margin:0; text-align:right; font-variant-numeric:tabular-nums; overflow-wrap:anywhere; }
.state { font-size:11px; padding:1px 7px; border-radius:9px; background:#e8f5ee; color:var(--ok); text-transform:none; letter-spacing:0; }
.state.retrying, .state.stalled, .state.blocked { background:#fdecea; color:var(--bad); } .state.publishing { background:#eaf1fc; color:var(--accent); }
.card dl.where dd { text-align:left; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size:12px; }
.err { color:var(--bad); font-size:12px; text-align:left !important; }
#health { background:#fdecea; border:1px solid #f3b8ae; color:#7a1d10; border-radius:8px; padding:8px 14px; margin-bottom:12px; }
#health b { color:var(--bad); text-transform:uppercase; font-size:12px; letter-spacing:.6px; } #health .problem { overflow-wrap:anywhere; margin-top:2px; }
.toolbar { display:flex; gap:10px; align-items:center; flex-wrap:wrap; margin:4px 0 10px; }
.toolbar input { font:inherit; padding:5px 8px; border:1px solid var(--line); border-radius:6px; min-width:220px; }
.toolbar button { font:inherit; padding:4px 10px; border:1px solid var(--line); border-radius:6px; background:#fff; cursor:pointer; }
.tabs { display:flex; gap:6px; flex-wrap:wrap; margin-bottom:8px; }
.tabs button { font:inherit; font-size:13px; padding:4px 10px; border:1px solid var(--line); border-radius:14px; background:#fff; cursor:pointer; }
.tabs button[aria-selected="true"] { background:var(--accent); border-color:var(--accent); color:#fff; }
.summary { color:var(--muted); font-size:13px; margin:0 0 6px; }
table { border-collapse:collapse; width:100%; background:var(--card); border:1px solid var(--line); border-radius:8px; overflow:hidden; }
th, td { padding:5px 10px; border-bottom:1px solid var(--line); text-align:right; vertical-align:middle; font-variant-numeric:tabular-nums; white-space:nowrap; }
th { background:#fafbfc; color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.4px; }
td.name, th.name { text-align:left; white-space:normal; }
td.name .metric { font-weight:600; } td.name .ns { color:var(--muted); font-size:12px; }
.dim { display:inline-block; background:#eef1f6; border-radius:4px; padding:0 5px; margin:2px 4px 0 0; font-size:12px; color:#36405a; overflow-wrap:anywhere; }
td.hist { padding:3px 10px; } td.hist svg { display:block; }
.empty { padding:24px; text-align:center; color:var(--muted); background:var(--card); border:1px dashed var(--line); border-radius:8px; }
footer { color:var(--muted); font-size:12px; margin-top:14px; }
footer a { color:var(--accent); }
`

/** The client: renders `api/status` into the page. Plain ES2017, no backticks. */
function clientScript (refreshMs: number): string {
  return `(function () {
'use strict';
var REFRESH_MS = ${Number(refreshMs)};
var BINS = ${kBinsPerOctave};
${formatNumber.toString()}
${formatValue.toString()}
${formatAge.toString()}
var SVGNS = 'http://www.w3.org/2000/svg';
var st = { minute: null, paused: false, prev: null, prevAt: 0, seq: 0, failAt: -1, lastFailed: -1, timer: 0, loading: false };

function $(id) { return document.getElementById(id); }
/* Elements are built with textContent and setAttribute only: sample data never becomes markup. */
function h(tag, attrs) {
  var el = document.createElement(tag);
  if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) el.setAttribute(k, String(attrs[k]));
  for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
  return el;
}
function s(tag, attrs) {
  var el = document.createElementNS(SVGNS, tag);
  for (var k in attrs) el.setAttribute(k, String(attrs[k]));
  for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
  return el;
}
function add(el, c) {
  if (c === undefined || c === null || c === false) return;
  if (Array.isArray(c)) { for (var j = 0; j < c.length; j++) add(el, c[j]); return; }
  el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
}
function replace(id, node) { var el = $(id); while (el.firstChild) el.removeChild(el.firstChild); add(el, node); }
function clock(ms) { var d = new Date(ms); return d.toISOString().slice(11, 16); }
function clockS(ms) { var d = new Date(ms); return d.toISOString().slice(11, 19); }
function n(v) { return formatNumber(v); }
function row(label, value, attrs) { return [h('dt', null, label), h('dd', attrs || null, value)]; }

function readFilters() {
  var p = new URLSearchParams(location.hash.slice(1));
  $('f-metric').value = p.get('metric') || '';
  $('f-dim').value = p.get('dim') || '';
}
function filterQuery() {
  var p = new URLSearchParams();
  var m = $('f-metric').value.trim(), d = $('f-dim').value.trim();
  if (m) p.set('metric', m);
  if (d) p.set('dim', d);
  return p.toString();
}

function histogram(x) {
  var W = 220, H = 30, PAD = 12;
  var hist = x.hist, bins = hist.b, u = x.unit;
  var svg = s('svg', { width: W, height: H + PAD, viewBox: '0 0 ' + W + ' ' + (H + PAD), role: 'img', 'class': 'histogram' });
  var low = hist.z + hist.n;
  if (bins.length === 0 && low === 0) return svg;
  var k0 = bins.length ? bins[0][0] : 0, k1 = bins.length ? bins[bins.length - 1][0] : 0;
  while (k1 - k0 < 7) { k0--; k1++; }
  var slots = k1 - k0 + 1 + (low > 0 ? 1 : 0);
  var off = low > 0 ? 1 : 0;
  var bw = W / slots, max = low;
  for (var i = 0; i < bins.length; i++) if (bins[i][1] > max) max = bins[i][1];
  svg.appendChild(s('title', {}, x.metric + ': ' + n(x.count) + ' samples, ' + formatValue(x.min, u) + ' to ' + formatValue(x.max, u) + ' (log scale)'));
  svg.appendChild(s('line', { x1: 0, y1: H + 0.5, x2: W, y2: H + 0.5, stroke: '#c9ced8' }));
  function bar(slot, c, label) {
    var bh = Math.max(1, Math.round(c / max * (H - 2)));
    var r = s('rect', { x: (slot * bw + 0.5).toFixed(1), y: H - bh, width: Math.max(1, bw - 1).toFixed(1), height: bh, fill: '#7fa4e6' });
    r.appendChild(s('title', {}, label + ': ' + n(c)));
    svg.appendChild(r);
  }
  if (low > 0) bar(0, low, hist.n > 0 ? '\\u2264 0' : '0');
  for (var j = 0; j < bins.length; j++) {
    var k = bins[j][0];
    bar(k - k0 + off, bins[j][1], formatValue(Math.pow(2, k / BINS), u) + ' \\u2013 ' + formatValue(Math.pow(2, (k + 1) / BINS), u));
  }
  function mark(v, color, name) {
    if (!(v > 0)) return;
    var pos = (Math.log2(v) * BINS - k0 + off) * bw;
    if (pos < 0 || pos > W) return;
    var l = s('line', { x1: pos.toFixed(1), y1: 0, x2: pos.toFixed(1), y2: H, stroke: color, 'stroke-width': 1.5 });
    l.appendChild(s('title', {}, name + ' ' + formatValue(v, u)));
    svg.appendChild(l);
  }
  mark(x.p50, '#1d2330', 'p50');
  mark(x.p99, '#d6452f', 'p99');
  var lo = low > 0 ? (hist.n > 0 ? formatValue(x.min, u) : '0') : formatValue(Math.pow(2, k0 / BINS), u);
  svg.appendChild(s('text', { x: 0, y: H + PAD - 1, 'font-size': 10, fill: '#6b7385' }, lo));
  svg.appendChild(s('text', { x: W, y: H + PAD - 1, 'font-size': 10, fill: '#6b7385', 'text-anchor': 'end' }, formatValue(Math.pow(2, (k1 + 1) / BINS), u)));
  return svg;
}

function cell(stat, v, unit) { return h('td', { 'data-stat': stat, 'data-v': v }, formatValue(v, unit)); }

function seriesRow(x) {
  var dims = x.dims.map(function (d) { return h('span', { 'class': 'dim' }, d[0] + '=' + d[1]); });
  return h('tr', { 'data-key': x.key },
    h('td', { 'class': 'name' }, h('div', { 'class': 'metric' }, x.metric), h('div', { 'class': 'ns' }, x.namespace + ' \\u00b7 ' + x.unit), dims),
    cell('count', x.count, 'Count'),
    cell('avg', x.sum / x.count, x.unit),
    cell('p50', x.p50, x.unit),
    cell('p90', x.p90, x.unit),
    cell('p99', x.p99, x.unit),
    cell('max', x.max, x.unit),
    h('td', { 'class': 'hist' }, histogram(x)));
}

function minuteId(m) { return m.state + ':' + m.start; }

function renderMinutes(doc) {
  var ms = doc.minutes;
  var sel = null;
  for (var i = 0; i < ms.length; i++) if (minuteId(ms[i]) === st.minute) sel = ms[i];
  if (!sel && ms.length) { sel = ms[0]; st.minute = minuteId(sel); }
  replace('tabs', ms.map(function (m) {
    var b = h('button', { type: 'button', role: 'tab', 'aria-selected': minuteId(m) === st.minute ? 'true' : 'false', 'data-minute': minuteId(m) },
      (m.state === 'open' ? 'open \\u00b7 ' : 'sealed \\u00b7 ') + clock(m.start) + (m.late ? ' (late)' : ''));
    b.addEventListener('click', function () { st.minute = minuteId(m); renderMinutes(doc); });
    return b;
  }));
  if (!sel) {
    replace('summary', '');
    replace('table', h('div', { 'class': 'empty' }, 'No samples yet. Send some: POST /v1/samples {"samples":[{"metric":"ModelLatency","value":1234,"unit":"Microseconds"}]}'));
    return;
  }
  replace('summary', (sel.state === 'open' ? 'Open minute ' : 'Sealed minute ') + clock(sel.start) + '\\u2013' + clock(sel.start + 60000) + ' UTC: ' +
    n(sel.samples) + ' samples in ' + n(sel.total) + ' series' + (sel.matched !== sel.total ? ', ' + n(sel.matched) + ' match the filter' : '') +
    (sel.series.length < sel.matched ? ' (first ' + n(sel.series.length) + ' shown)' : ''));
  if (sel.series.length === 0) { replace('table', h('div', { 'class': 'empty' }, 'No series match the filter.')); return; }
  var head = h('tr', null, h('th', { 'class': 'name' }, 'series'), h('th', null, 'count'), h('th', null, 'avg'), h('th', null, 'p50'),
    h('th', null, 'p90'), h('th', null, 'p99'), h('th', null, 'max'), h('th', null, 'histogram (log scale)'));
  replace('table', h('table', { 'data-minute': minuteId(sel) }, h('thead', null, head), h('tbody', null, sel.series.map(seriesRow))));
}

/* idle: nothing to send; publishing: sending; retrying: the last request failed and datums wait; stalled: nothing accepted for 2 min;
   blocked: a failure only a person can fix (access denied, no credentials): kept and retried slowly. */
function pipelineState(doc) {
  var p = doc.publish;
  if (p.blockedBy) return 'blocked';
  var failAt = p.latency && p.latency.lastFailureAt !== null ? p.latency.lastFailureAt : -1;
  if (failAt < 0) {   /* without timings, notice failures between two refreshes */
    if (st.lastFailed >= 0 && p.requestsFailed > st.lastFailed) st.failAt = doc.now;
    st.lastFailed = p.requestsFailed;
    failAt = st.failAt;
  }
  if (p.datumsQueued > 0 && failAt >= 0 && failAt >= p.lastPublishAt) return 'retrying';
  if (p.datumsQueued > 0 && p.lastPublishAt > 0 && doc.now - p.lastPublishAt > 120000) return 'stalled';
  if (p.datumsQueued > 0 || p.inFlight > 0) return 'publishing';
  return 'idle';
}

function render(doc) {
  var i = doc.ingest, p = doc.publish, prev = st.prev;
  var at = Date.now();
  var rate = prev && at > st.prevAt ? (i.accepted - prev.ingest.accepted) / ((at - st.prevAt) / 1000) : NaN;
  var info = doc.info;
  replace('meta', [h('span', null, 'namespace ', h('b', null, info.namespace || '')), ' ', h('span', null, 'sink ', h('b', null, info.sink || '')),
    info.version ? [' ', h('span', null, 'version ', h('b', null, info.version))] : null,
    ' ', h('span', null, 'up ', h('b', null, formatAge(doc.now - doc.startedAt)))]);
  var problems = doc.health ? doc.health.problems : [];
  replace('health', problems.length === 0 ? [] : [h('b', null, 'unhealthy'),
    problems.map(function (x) { return h('div', { 'class': 'problem', 'data-component': x.component }, x.message + ' (since ' + clockS(x.since) + ' UTC)'); })]);
  $('health').hidden = problems.length === 0;
  var reasons = Object.keys(i.rejectedByReason).map(function (r) { return r + ' ' + n(i.rejectedByReason[r]); }).join(', ');
  replace('c-ingest', [h('h2', null, 'Ingest'), h('dl', null,
    row('accepted', n(i.accepted), { id: 'v-accepted', 'data-v': i.accepted }),
    row('rate', isFinite(rate) ? n(rate) + ' /s' : '\\u2013'),
    row('rejected', n(i.rejected) + (reasons ? ' (' + reasons + ')' : ''), { id: 'v-rejected', 'data-v': i.rejected }),
    row('late', n(i.late)),
    row('active series', n(i.activeSeries), { id: 'v-series', 'data-v': i.activeSeries }),
    row('overflowed', n(i.overflowed)),
    i.pool ? [row('worker queue', n(i.pool.queuedBatches) + ' batches (' + (i.pool.queuedBytes / 1048576).toFixed(1) + ' MiB), ' + i.pool.threads + ' threads'), row('datagrams dropped', n(i.pool.datagramsDropped))] : null,
    Object.keys(i.listeners).map(function (l) {
      var c = i.listeners[l];
      return row(l, Object.keys(c).map(function (k) { return k + ' ' + n(c[k]); }).join(', '));
    }))]);
  var state = pipelineState(doc);
  var lat = p.latency;
  replace('c-publish', [h('h2', null, 'Publish pipeline', h('span', { 'class': 'state ' + state, id: 'v-state' }, state)), h('dl', null,
    row('queue', n(p.datumsQueued) + ' datums, ' + formatValue(p.bytesQueued, 'Bytes'), { id: 'v-queue', 'data-v': p.datumsQueued }),
    row('in flight', p.inFlight + ' of ' + p.concurrency),
    row('requests sent / ok', n(p.requestsSent) + ' / ' + n(p.requestsSucceeded)),
    row('failed', n(p.requestsFailed), { id: 'v-failed', 'data-v': p.requestsFailed }),
    row('throttled / retried', n(p.requestsThrottled) + ' / ' + n(p.requestsRetried)),
    row('datums', n(p.datumsPublished) + ' published' + (p.datumsFailed ? ', ' + n(p.datumsFailed) + ' rejected' : '') + (p.datumsDropped ? ', ' + n(p.datumsDropped) + ' dropped' : ''), { id: 'v-published', 'data-v': p.datumsPublished }),
    lat ? row('request p50 / p99', lat.recent ? formatValue(lat.p50Ms, 'Milliseconds') + ' / ' + formatValue(lat.p99Ms, 'Milliseconds') : '\\u2013') : null,
    lat ? row('minute end \\u2192 published', lat.lastDelayMs === null ? '\\u2013' : formatValue(lat.lastDelayMs, 'Milliseconds')) : null,
    row('last publish', p.lastPublishAt > 0 ? formatAge(doc.now - p.lastPublishAt) + ' ago' : 'never', { id: 'v-last-publish' }),
    row('last error', p.lastError === null ? 'none' : p.lastError, { id: 'v-error', 'class': p.lastError === null ? null : 'err' }))]);
  var sp = p.spool;
  replace('c-spool', [h('h2', null, 'Spool'), h('dl', null,
    row('on disk', formatValue(sp.bytes, 'Bytes') + ' in ' + n(sp.batches) + ' batches', { id: 'v-spool', 'data-v': sp.bytes }),
    row('oldest', sp.batches > 0 ? formatAge(sp.oldestAgeMs) : '\\u2013'),
    row('dropped datums', n(sp.droppedDatums)),
    row('write errors', n(sp.writeErrors), { id: 'v-spool-write-errors', 'class': sp.failure ? 'err' : null }),
    row('damaged files', sp.corruptFiles ? n(sp.corruptFiles) + ' (' + n(sp.corruptDatums) + ' datums, ' + n(sp.corruptSamples) + ' samples lost)' : '0', { id: 'v-spool-corrupt', 'data-v': sp.corruptFiles, 'class': sp.corruptFiles ? 'err' : null }))]);
  var eps = info.endpoints || {};
  replace('c-where', [h('h2', null, 'Where'), h('dl', { 'class': 'where' }, Object.keys(eps).map(function (k) { return row(k, eps[k]); }),
    row('metrics', location.origin + '/metrics'), row('API', location.origin + '/api/status'))]);
  renderMinutes(doc);
  st.prev = doc;
  st.prevAt = at;
  st.seq = doc.seq;
  document.body.setAttribute('data-seq', doc.seq);
  document.body.setAttribute('data-snapshot-accepted', doc.snapshotAccepted);
}

function setLive(ok, text) {
  replace('live', [h('span', { 'class': 'dot' + (ok ? (st.paused ? ' paused' : '') : ' bad') }), text]);
}

function schedule() { clearTimeout(st.timer); if (!st.paused) st.timer = setTimeout(refresh, REFRESH_MS); }

function refresh() {
  if (st.loading) return;
  st.loading = true;
  var q = filterQuery();
  fetch('api/status' + (q ? '?' + q : ''), { cache: 'no-store', headers: { accept: 'application/json' } })
    .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
    .then(function (doc) { render(doc); setLive(true, (st.paused ? 'paused \\u00b7 ' : 'live \\u00b7 ') + 'updated ' + clockS(Date.now()) + ' UTC'); },
      function (e) { setLive(false, 'cannot reach the sidecar: ' + e.message + ' (retrying)'); })
    .then(function () { st.loading = false; schedule(); });
}

var debounce = 0;
function onFilter() {
  var q = filterQuery();
  history.replaceState(null, '', q ? '#' + q : location.pathname);
  clearTimeout(debounce);
  debounce = setTimeout(refresh, 200);
}
readFilters();
$('f-metric').addEventListener('input', onFilter);
$('f-dim').addEventListener('input', onFilter);
$('pause').addEventListener('click', function () {
  st.paused = !st.paused;
  this.textContent = st.paused ? 'resume' : 'pause';
  if (st.paused) clearTimeout(st.timer); else refresh();
  setLive(true, st.paused ? 'paused' : 'live');
});
refresh();
})();
`
}

export interface StatusPage {
  html: string
  /** The Content-Security-Policy header that lets only the page's own script run. */
  csp: string
}

/** Builds the page. `refreshMs`: how often the page polls `api/status`. */
export function renderPage (opts: { title?: string, refreshMs?: number } = {}): StatusPage {
  const script = clientScript(opts.refreshMs ?? 2000)
  const hash = createHash('sha256').update(script, 'utf8').digest('base64')
  const title = (opts.title ?? 'minutely').replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${title} · status</title>
<style>${kStyle}</style>
</head>
<body>
<header>
  <h1>${title}</h1>
  <span class="meta" id="meta"></span>
  <span id="live"><span class="dot paused"></span>loading…</span>
</header>
<main>
  <div id="health" role="alert" hidden></div>
  <section class="cards">
    <div class="card" id="c-ingest"><h2>Ingest</h2></div>
    <div class="card" id="c-publish"><h2>Publish pipeline</h2></div>
    <div class="card" id="c-spool"><h2>Spool</h2></div>
    <div class="card" id="c-where"><h2>Where</h2></div>
  </section>
  <div class="toolbar">
    <label>metric <input id="f-metric" type="search" placeholder="e.g. ModelLatency" autocomplete="off"></label>
    <label>dimension <input id="f-dim" type="search" placeholder="e.g. EndpointName=chat-llm" autocomplete="off"></label>
    <button type="button" id="pause">pause</button>
  </div>
  <div class="tabs" id="tabs" role="tablist"></div>
  <p class="summary" id="summary"></p>
  <div id="table"><div class="empty">Loading…</div></div>
  <footer>Each minute is sealed a few seconds after it ends and published; percentiles are within 1%, count, sum, min and max are exact. Histograms: ${kBinsPerOctave} bins per doubling; black line p50, red line p99. <a href="metrics">/metrics</a> · <a href="api/status">/api/status</a></footer>
</main>
<noscript>This page needs JavaScript; the same numbers are at /api/status and /metrics.</noscript>
<script>${script}</script>
</body>
</html>
`
  const csp = `default-src 'none'; script-src 'sha256-${hash}'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`
  return { html, csp }
}
