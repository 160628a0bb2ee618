/**
 * The status page in headless Chromium, driven by `playwright-core`: the machine's Chromium if it
 * has one, else the one from npm (`@sparticuz/chromium`; see test/helpers/chromium.ts). A real aggregator behind the real HTTP listener on 127.0.0.1 is fed
 * over `POST /v1/samples` while the page loads; time is a ManualClock, so that one minute can
 * be sealed on demand. The test checks that:
 *
 * - the page renders the open minute and the sealed one, and every number on it (count, avg,
 *   p50, p90, p99, max of every series, the ingest and publish counters) is the aggregator's,
 *   formatted with its unit;
 * - each series has a histogram plot; the pipeline card shows the publish state;
 * - the metric and dimension filters narrow the table; the page refreshes by itself;
 * - metric names and dimension values are shown as text, never run as markup (XSS);
 * - a failing publish pipeline shows as "retrying", with the error (escaped);
 * - a blocked one (a permanent failure) shows as "blocked", with the health banner (escaped);
 * - the screenshot it saves is not blank (`MINUTELY_SCREENSHOT=docs/status-page.png` writes it there).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BrowserContext, Page } from 'playwright-core'
import { createAggregator, inMemorySink, ManualClock, SinkError, type Aggregator, type MetricSink, type SealedSeries } from '../../src/index.js'
import { startHttpListener, type HttpListener } from '../../src/listeners/http.js'
import { statusRoutes } from '../../src/status/routes.js'
import { timedSink } from '../../src/status/publish-timing.js'
import { seriesKey } from '../../src/status/api.js'
import { formatNumber, formatValue } from '../../src/status/format.js'
import { seededRandom as rng } from '../../src/core/seeded-random.js'
import { findChromium } from '../helpers/chromium.js'

const kArgs = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync']
const kXssDim = '<img src=x onerror=alert(1)>'
const kXssMetric = '<script>alert(2)</script>'

/** Traffic that looks like a small fleet, plus the hostile series. */
function makeBatch (rand: () => number): unknown[] {
  const normal = (): number => { let u = 0; while (u === 0) u = rand(); return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand()) }
  const out: unknown[] = []
  const fleet = [
    { EndpointName: 'chat-llm', VariantName: 'v1', median: 180_000, sigma: 0.6, n: 12 },
    { EndpointName: 'chat-llm', VariantName: 'v2-canary', median: 140_000, sigma: 0.7, n: 3 },
    { EndpointName: 'embedder', VariantName: 'AllTraffic', median: 7_500, sigma: 0.35, n: 20 },
  ]
  for (const e of fleet) {
    const dimensions = { EndpointName: e.EndpointName, VariantName: e.VariantName }
    for (let i = 0; i < e.n; i++) {
      out.push({ metric: 'ModelLatency', value: Math.round(e.median * Math.exp(e.sigma * normal())), unit: 'Microseconds', dimensions })
      out.push({ metric: 'OverheadLatency', value: Math.round(1200 * Math.exp(0.5 * normal())), unit: 'Microseconds', dimensions })
      out.push({ metric: 'Invocations', value: 1, unit: 'Count', dimensions })
    }
  }
  for (const host of ['chat-llm/v1/i-0a1', 'embedder/AllTraffic/i-0b2']) {
    out.push({ metric: 'CPUUtilization', value: Math.round(1000 * (120 + 60 * rand())) / 1000, unit: 'Percent', dimensions: { Host: host } })
    out.push({ metric: 'MemoryUtilization', value: Math.round(1000 * (40 + 5 * rand())) / 1000, unit: 'Percent', dimensions: { Host: host } })
  }
  out.push({ metric: 'ModelLatency', value: Math.round(5000 * Math.exp(0.3 * normal())), unit: 'Microseconds', dimensions: { EndpointName: kXssDim, VariantName: 'v1' } })
  out.push({ metric: kXssMetric, value: 1, unit: 'Count', dimensions: { Note: '"quoted" & <b>bold</b>' } })
  out.push({ metric: 'ModelLatency', value: 'fast' })   // rejected: shows in the counters
  return out
}

/**
 * Polls a JavaScript expression in the page until it is true. (Playwright's waitForFunction
 * evaluates its predicate with eval, which the page's Content-Security-Policy forbids, as it
 * should; page.evaluate goes through the DevTools protocol and is not subject to it.)
 */
async function waitFor (page: Page, expression: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await page.evaluate(expression) === true) return
    if (Date.now() > deadline) throw new Error(`the page never satisfied: ${expression}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

interface Row { key: string, stats: Record<string, { v: number, text: string }>, rects: number, name: string }

/** Reads the rendered table: one entry per series row. Strings only cross into the page. */
async function readRows (page: Page): Promise<Row[]> {
  return await page.evaluate(`Array.from(document.querySelectorAll('#table tbody tr')).map(function (tr) {
    var stats = {};
    tr.querySelectorAll('td[data-stat]').forEach(function (td) { stats[td.getAttribute('data-stat')] = { v: Number(td.getAttribute('data-v')), text: td.textContent }; });
    return { key: tr.getAttribute('data-key'), stats: stats, rects: tr.querySelectorAll('svg rect').length, name: tr.querySelector('td.name').textContent };
  })`)
}

function expectRowsMatch (rows: Row[], series: SealedSeries[]): void {
  expect(rows.length).toBe(series.length)
  const byKey = new Map(rows.map(r => [r.key, r]))
  for (const s of series) {
    const r = byKey.get(seriesKey(s))
    expect(r, `row of ${seriesKey(s)}`).toBeDefined()
    const want: Record<string, [number, string]> = {
      count: [s.count, 'Count'], avg: [s.sum / s.count, s.unit], p50: [s.p50, s.unit], p90: [s.p90, s.unit], p99: [s.p99, s.unit], max: [s.max, s.unit],
    }
    for (const [stat, [v, unit]] of Object.entries(want)) {
      expect(r!.stats[stat].v, `${stat} of ${seriesKey(s)}`).toBe(v)
      expect(r!.stats[stat].text, `${stat} text of ${seriesKey(s)}`).toBe(formatValue(v, unit))
    }
    expect(r!.rects, `histogram bars of ${seriesKey(s)}`).toBeGreaterThan(0)
  }
}

describe('status page in headless Chromium', () => {
  let agg: Aggregator
  let clock: ManualClock
  let http: HttpListener
  let ctx: BrowserContext | undefined
  let profile: string
  let base: string
  let flowing = false
  let flow: Promise<void> = Promise.resolve()
  let posted = 0
  const dialogs: string[] = []
  const pageErrors: string[] = []

  function startFlow (seed: number): void {
    const rand = rng(seed)
    flowing = true
    flow = (async () => {
      while (flowing) {
        const r = await fetch(`${base}/v1/samples`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ samples: makeBatch(rand) }) })
        await r.arrayBuffer()
        posted++
        await new Promise(resolve => setTimeout(resolve, 25))
      }
    })()
  }
  async function stopFlow (): Promise<void> { flowing = false; await flow }

  beforeAll(async () => {
    // First: the first run on a machine without a Chromium unpacks the npm one (a few seconds).
    const browser = await findChromium()
    const now = Date.now()
    clock = new ManualClock(now - (now % 60_000) + 20_000)   // hh:mm:20 of the current minute: real-looking times
    const sink = timedSink(inMemorySink(), () => clock.now())
    agg = createAggregator({ namespace: 'Demo', sink, clock, gracePeriodMs: 5000, onWarning: () => {} })
    const routes = statusRoutes({
      aggregator: agg,
      timing: sink.timing,
      refreshMs: 400,
      minSnapshotIntervalMs: 0,
      info: { version: '0.1.0', endpoints: { 'HTTP ingest': 'http://127.0.0.1:8126/v1/samples', StatsD: 'udp://127.0.0.1:8125' } },
    })
    http = await startHttpListener({ aggregator: agg, port: 0, host: '127.0.0.1', routes })
    base = `http://127.0.0.1:${http.port}`
    const { chromium } = await import('playwright-core')
    profile = mkdtempSync(path.join(tmpdir(), 'minutely-chromium-'))
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: browser.executablePath, headless: true, args: [...browser.args, ...kArgs], viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1,
    })
  }, 120_000)

  afterAll(async () => {
    flowing = false
    await flow.catch(() => {})
    await ctx?.close()
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true })
    await http?.close()
    await agg?.close()
  })

  it('shows the aggregator\'s numbers while samples flow, escapes sample data, filters and refreshes', async () => {
    // A first minute of traffic, then seal it: the page shows it as "sealed".
    startFlow(1)
    while (posted < 10) await new Promise(resolve => setTimeout(resolve, 10))
    await stopFlow()
    clock.advance(50_000)   // hh:(mm+1):10: the first minute ended and its grace period is over: sealed and published
    await agg.flush()
    expect(agg.snapshot().sealed).toHaveLength(1)

    startFlow(2)
    const page = ctx!.pages()[0] ?? await ctx!.newPage()
    page.on('dialog', d => { dialogs.push(d.message()); void d.dismiss() })
    page.on('pageerror', e => { pageErrors.push(e.message) })
    page.on('console', m => { if (m.type() === 'error') pageErrors.push(m.text()) })
    const resp = await page.goto(base + '/')
    expect(resp?.status()).toBe(200)
    await page.waitForSelector('#table tbody tr')
    await page.waitForSelector('#v-accepted')

    // Refreshes by itself while samples flow: the sequence number and the accepted count move.
    const seq0 = Number(await page.getAttribute('body', 'data-seq'))
    const acc0 = Number(await page.getAttribute('#v-accepted', 'data-v'))
    await waitFor(page, `Number(document.body.getAttribute('data-seq')) >= ${seq0 + 2} && Number(document.getElementById('v-accepted').getAttribute('data-v')) > ${acc0}`)

    // Stop the flow; once the page has rendered a document computed after the last sample, every number must be the aggregator's.
    await stopFlow()
    const st = agg.stats()
    await waitFor(page, `Number(document.body.getAttribute('data-snapshot-accepted')) === ${st.samplesAccepted} && Number(document.getElementById('v-accepted').getAttribute('data-v')) === ${st.samplesAccepted}`)
    const snap = agg.snapshot()
    expect(snap.open).toHaveLength(1)
    expect(snap.sealed).toHaveLength(1)
    expect(Number(await page.getAttribute('#v-rejected', 'data-v'))).toBe(st.samplesRejected)
    expect(st.samplesRejected).toBeGreaterThan(0)
    expect(Number(await page.getAttribute('#v-series', 'data-v'))).toBe(st.activeSeries)
    expect(Number(await page.getAttribute('#v-published', 'data-v'))).toBe(st.datumsPublished)
    expect(st.datumsPublished).toBeGreaterThan(0)
    expect(await page.textContent('#v-accepted')).toBe(formatNumber(st.samplesAccepted))
    expect(await page.textContent('#v-state')).toBe('idle')
    expect(await page.textContent('#v-last-publish')).toMatch(/ ago$/)
    expect(await page.textContent('#v-error')).toBe('none')

    // The open minute (selected first), then the sealed one.
    const tabs = await page.locator('#tabs button').allTextContents()
    expect(tabs).toHaveLength(2)
    expect(tabs[0]).toMatch(/^open · \d\d:\d\d$/)
    expect(tabs[1]).toMatch(/^sealed · \d\d:\d\d$/)
    expect(await page.getAttribute('#table table', 'data-minute')).toBe(`open:${snap.open[0].periodStart}`)
    expectRowsMatch(await readRows(page), snap.open[0].series)
    await page.click('#tabs button:nth-child(2)')
    await page.waitForSelector(`#table table[data-minute="sealed:${snap.sealed[0].periodStart}"]`)
    expectRowsMatch(await readRows(page), snap.sealed[0].series)
    await page.click('#tabs button:nth-child(1)')
    await page.waitForSelector(`#table table[data-minute="open:${snap.open[0].periodStart}"]`)

    // Sample data is text, never markup: no dialog, no injected element, the literal strings shown.
    const rows = await readRows(page)
    expect(rows.some(r => r.name.includes(`EndpointName=${kXssDim}`))).toBe(true)
    expect(rows.some(r => r.name.includes(kXssMetric))).toBe(true)
    expect(rows.some(r => r.name.includes('Note="quoted" & <b>bold</b>'))).toBe(true)
    expect(await page.locator('img').count()).toBe(0)
    expect(await page.locator('#table b, #table img, #table script').count()).toBe(0)
    expect(await page.locator('script').count()).toBe(1)
    expect(dialogs).toEqual([])

    // Filters: by metric, by dimension text; the table follows within a refresh.
    await page.fill('#f-metric', 'cpu')
    await waitFor(page, `(function () { var rows = document.querySelectorAll('#table tbody tr'); return rows.length === 2 && Array.prototype.every.call(rows, function (r) { return r.querySelector('.metric').textContent === 'CPUUtilization'; }); })()`)
    await page.fill('#f-metric', 'latency')
    await page.fill('#f-dim', 'canary')
    await waitFor(page, `(function () { var rows = document.querySelectorAll('#table tbody tr'); return rows.length === 2 && Array.prototype.every.call(rows, function (r) { return /VariantName=v2-canary/.test(r.textContent); }); })()`)
    expect(await page.textContent('#summary')).toMatch(/2 match the filter/)
    expect(page.url()).toContain('#metric=latency&dim=canary')
    await page.fill('#f-metric', '')
    await page.fill('#f-dim', '')
    await waitFor(page, `document.querySelectorAll('#table tbody tr').length === ${snap.open[0].series.length}`)

    // The screenshot: samples flowing again, the whole page.
    startFlow(3)
    const seq1 = Number(await page.getAttribute('body', 'data-seq'))
    await waitFor(page, `Number(document.body.getAttribute('data-seq')) >= ${seq1 + 2}`)
    await page.locator('#f-dim').blur()
    const png = await page.screenshot({ fullPage: true, type: 'png' })
    await stopFlow()
    expect(await page.textContent('#live')).toMatch(/^live · updated \d\d:\d\d:\d\d UTC$/)
    await page.click('#pause')
    expect(await page.textContent('#pause')).toBe('resume')
    expect(await page.textContent('#live')).toBe('paused')
    const out = process.env.MINUTELY_SCREENSHOT ?? path.join(tmpdir(), 'minutely-status-page.png')
    mkdirSync(path.dirname(path.resolve(out)), { recursive: true })
    writeFileSync(out, png)

    // Not blank: decode it in the browser and look at the pixels.
    const check = await ctx!.newPage()
    await check.setContent('<canvas id="c"></canvas>')
    const pixels = await check.evaluate(`new Promise(function (resolve, reject) {
      var img = new Image();
      img.onload = function () {
        var c = document.getElementById('c'); c.width = img.width; c.height = img.height;
        var g = c.getContext('2d'); g.drawImage(img, 0, 0);
        var d = g.getImageData(0, 0, img.width, img.height).data, colors = {}, distinct = 0, bg = 0;
        for (var i = 0; i < d.length; i += 4) {
          var k = (d[i] >> 3) + ',' + (d[i + 1] >> 3) + ',' + (d[i + 2] >> 3);
          if (!colors[k]) { colors[k] = 1; distinct++; }
          if (d[i] === d[0] && d[i + 1] === d[1] && d[i + 2] === d[2]) bg++;
        }
        resolve({ width: img.width, height: img.height, distinct: distinct, background: bg / (d.length / 4) });
      };
      img.onerror = function () { reject(new Error('screenshot is not a PNG')); };
      img.src = 'data:image/png;base64,${png.toString('base64')}';
    })`) as { width: number, height: number, distinct: number, background: number }
    await check.close()
    expect(pixels.width).toBe(1360)
    expect(pixels.height).toBeGreaterThanOrEqual(600)
    expect(pixels.distinct).toBeGreaterThan(30)        // text, bars, cards: many colors
    expect(pixels.background).toBeLessThan(0.95)       // not a page of one color

    expect(pageErrors).toEqual([])
    expect(dialogs).toEqual([])
  })
  it('shows a failing publish pipeline as retrying, with the last error as text', async () => {
    const clock2 = new ManualClock(clock.now())
    const failing: MetricSink = {
      name: 'cloudwatch', maxValuesPerDatum: 150, maxDatumsPerBatch: 1000, maxBatchBytes: 1_000_000,
      async send () { throw new SinkError('PutMetricData: Rate exceeded <img src=x onerror=alert(3)>', { retryable: true, throttled: true }) },
    }
    const sink2 = timedSink(failing, () => clock2.now())
    const agg2 = createAggregator({ namespace: 'Failing', sink: sink2, clock: clock2, gracePeriodMs: 1000, retryBaseMs: 600_000, retryMaxMs: 600_000, closeTimeoutMs: 50, onWarning: () => {} })
    agg2.on('error', () => {})
    const http2 = await startHttpListener({ aggregator: agg2, port: 0, host: '127.0.0.1', routes: statusRoutes({ aggregator: agg2, timing: sink2.timing, refreshMs: 400 }) })
    try {
      agg2.record('ModelLatency', 1000, { EndpointName: 'ep' }, { unit: 'Microseconds' })
      clock2.advance(62_000)   // the seal sends once and fails…
      await agg2.flush()       // …and flush() tries again at once (it ignores backoff)
      const st = agg2.stats()
      expect(st.requestsFailed).toBeGreaterThanOrEqual(1)
      expect(st.requestsThrottled).toBe(st.requestsFailed)
      expect(st.datumsQueued).toBe(1)
      const page = await ctx!.newPage()
      page.on('dialog', d => { dialogs.push(d.message()); void d.dismiss() })
      page.on('pageerror', e => { pageErrors.push(e.message) })
      await page.goto(`http://127.0.0.1:${http2.port}/`)
      await page.waitForSelector('#v-state')
      expect(await page.textContent('#v-state')).toBe('retrying')
      expect(await page.textContent('#v-error')).toBe(st.lastError)
      expect(await page.getAttribute('#v-error', 'class')).toBe('err')
      expect(Number(await page.getAttribute('#v-failed', 'data-v'))).toBe(st.requestsFailed)
      expect(Number(await page.getAttribute('#v-queue', 'data-v'))).toBe(1)
      expect(await page.textContent('#v-last-publish')).toBe('never')
      expect(await page.locator('img').count()).toBe(0)
      expect(await page.isHidden('#health')).toBe(true)   // retrying is not unhealthy
      await page.close()
      expect(dialogs).toEqual([])
      expect(pageErrors).toEqual([])
    } finally {
      await http2.close()
      await agg2.close()
    }
  })

  it('shows a publish pipeline blocked by a permanent failure as blocked, with the health banner as text', async () => {
    const clock3 = new ManualClock(clock.now())
    let denied = true
    const sink: MetricSink = {
      name: 'cloudwatch', maxValuesPerDatum: 150, maxDatumsPerBatch: 1000, maxBatchBytes: 1_000_000,
      async send () { if (denied) throw new SinkError('PutMetricData: AccessDenied: not authorized <img src=x onerror=alert(4)>', { retryable: true, permanent: true }) },
    }
    const agg3 = createAggregator({ namespace: 'Blocked', sink, clock: clock3, gracePeriodMs: 1000, retryBaseMs: 10, retryMaxMs: 60_000, closeTimeoutMs: 50, onWarning: () => {} })
    agg3.on('error', () => {})
    const http3 = await startHttpListener({ aggregator: agg3, port: 0, host: '127.0.0.1', routes: statusRoutes({ aggregator: agg3, refreshMs: 300 }) })
    try {
      agg3.record('ModelLatency', 1000, { EndpointName: 'ep' }, { unit: 'Microseconds' })
      clock3.advance(62_000)
      await agg3.flush()
      const st = agg3.stats()
      expect(st.blockedBy).toContain('AccessDenied')
      const page = await ctx!.newPage()
      page.on('dialog', d => { dialogs.push(d.message()); void d.dismiss() })
      page.on('pageerror', e => { pageErrors.push(e.message) })
      await page.goto(`http://127.0.0.1:${http3.port}/`)
      await page.waitForSelector('#v-state')
      expect(await page.textContent('#v-state')).toBe('blocked')
      expect(await page.isVisible('#health')).toBe(true)
      expect(await page.getAttribute('#health .problem', 'data-component')).toBe('publish')
      expect(await page.textContent('#health .problem')).toContain(`publishing is blocked (the data is kept and retried): ${st.blockedBy!}`)
      expect(await page.locator('img').count()).toBe(0)
      // Fixed: the next attempt succeeds and the banner goes away at the next refresh.
      denied = false
      clock3.advance(60_000)
      await agg3.flush()
      expect(agg3.stats().blockedBy).toBeNull()
      await waitFor(page, `document.getElementById('health').hidden === true && document.getElementById('v-state').textContent !== 'blocked'`)
      await page.close()
      expect(dialogs).toEqual([])
      expect(pageErrors).toEqual([])
    } finally {
      await http3.close()
      await agg3.close()
    }
  })
})
