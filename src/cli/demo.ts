/**
 * `minutely demo`: the sidecar fed over its real HTTP ingest by a traffic generator that
 * looks like a small inference fleet (endpoints, variants, a three-container pipeline,
 * log-normal latencies, some 4xx/5xx, a malformed sample now and then), with a sink that
 * needs no AWS account. Prints signs of life every few seconds and each sealed minute as
 * a table.
 */
import type { SealedPeriod, SealedSeries } from '../core/aggregator.js'
import { startSidecar, type Settings, type Sidecar } from './sidecar.js'
import { seededRandom as rng } from '../core/seeded-random.js'

interface Endpoint { name: string, variant: string, instances: number, containers: Array<{ name: string, medianUs: number, sigma: number }>, rps: number, err4xx: number, err5xx: number }

const kFleet: Endpoint[] = [
  { name: 'chat-llm', variant: 'v1', instances: 4, rps: 400, err4xx: 0.02, err5xx: 0.004, containers: [{ name: 'tokenizer', medianUs: 900, sigma: 0.3 }, { name: 'llm', medianUs: 180_000, sigma: 0.6 }, { name: 'detokenizer', medianUs: 600, sigma: 0.25 }] },
  { name: 'chat-llm', variant: 'v2-canary', instances: 1, rps: 50, err4xx: 0.02, err5xx: 0.02, containers: [{ name: 'tokenizer', medianUs: 900, sigma: 0.3 }, { name: 'llm', medianUs: 140_000, sigma: 0.7 }, { name: 'detokenizer', medianUs: 600, sigma: 0.25 }] },
  { name: 'embedder', variant: 'AllTraffic', instances: 2, rps: 900, err4xx: 0.005, err5xx: 0.001, containers: [{ name: 'model', medianUs: 7_500, sigma: 0.35 }] },
]

function fmt (v: number): string {
  if (!Number.isFinite(v)) return '-'
  const a = Math.abs(v)
  if (a >= 1e6) return (v / 1e6).toFixed(2) + 'M'
  if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k'
  if (a >= 100) return v.toFixed(0)
  if (a >= 1) return v.toFixed(2)
  return v.toPrecision(3)
}

const kUnitShort: Record<string, string> = { Microseconds: 'µs', Milliseconds: 'ms', Seconds: 's', Percent: '%', None: '', Count: '' }

/** Renders a sealed minute as a table. */
export function renderSealed (p: SealedPeriod): string {
  const when = new Date(p.periodStart).toISOString().slice(11, 16)
  const total = p.series.reduce((a, s) => a + s.count, 0)
  const rows = [...p.series].sort((a, b) => (a.metric + dimsText(a)).localeCompare(b.metric + dimsText(b)))
  const head = ['metric', 'dimensions', 'unit', 'count', 'avg', 'p50', 'p99', 'max']
  const body = rows.map(s => [s.metric, dimsText(s), kUnitShort[s.unit] ?? s.unit, fmt(s.count), fmt(s.sum / s.count), fmt(s.p50), fmt(s.p99), fmt(s.max)])
  const w = head.map((h, i) => Math.max(h.length, ...body.map(r => r[i].length)))
  const line = (r: string[]): string => r.map((c, i) => i < 3 ? c.padEnd(w[i]) : c.padStart(w[i])).join('  ')
  const title = `── minute ${when} UTC sealed${p.late ? ' (late samples)' : ''}: ${p.series.length} series, ${fmt(total)} samples `
  return [title.padEnd(Math.max(title.length, w.reduce((a, b) => a + b + 2, 0)), '─'), line(head), ...body.map(line), ''].join('\n') + '\n'
}

function dimsText (s: SealedSeries): string { return s.dimensions.map(d => `${d.Name}=${d.Value}`).join(' ') }

/** True when the sidecar answers `path` (the status routes are mounted unless turned off). */
async function answers (url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(2_000) })
    await r.arrayBuffer()
    return r.ok
  } catch { return false }
}

/** A listener's bound port when the sidecar exposes it, else the configured one (unless 0 or off). */
function portOf (sidecar: Sidecar, name: 'statsd' | 'emf', configured: unknown): number | undefined {
  const l = (sidecar as unknown as Record<string, { port?: unknown } | undefined>)[name]
  if (l !== undefined && l !== null && typeof l.port === 'number') return l.port
  return typeof configured === 'number' && configured > 0 && l !== undefined ? configured : undefined
}

/** The first screen of `npm start`: what runs where. */
export async function firstRunScreen (sidecar: Sidecar, settings: Settings, base: string): Promise<string> {
  const bind = sidecar.http.host.includes(':') ? `[${sidecar.http.host}]` : sidecar.http.host
  const status = await answers(`${base}/api/status`)
  const metrics = await answers(`${base}/metrics`)
  const rows: Array<[string, string, string]> = [
    ['status page', status ? `${base}/` : '(off)', status ? 'open it in a browser: every series, live, with p50/p90/p99 and a histogram' : ''],
    ['self-metrics', metrics ? `${base}/metrics` : '(off)', metrics ? 'Prometheus text: accepted, rejected, queues, requests, publish latency' : ''],
    ['HTTP ingest', `${base}/v1/samples`, 'POST {"samples":[{"metric","value","unit","dimensions"}]}'],
  ]
  const statsd = portOf(sidecar, 'statsd', settings.statsdPort)
  if (statsd !== undefined) rows.push(['StatsD', `udp://${bind}:${statsd}`, 'metric:value|ms|#Dim:value'])
  const emf = portOf(sidecar, 'emf', settings.emfPort)
  if (emf !== undefined) rows.push(['EMF agent', `tcp+udp://${bind}:${emf}`, 'aws-embedded-metrics in Agent mode'])
  rows.push(
    ['health', `${base}/healthz`, ''],
    ['sink', String(settings.sink), settings.sink === 'memory' ? 'in memory: no AWS account needed, nothing leaves this machine' : ''],
    ['namespace', String(settings.namespace), ''],
    ['traffic', `${kFleet.length} endpoint variants, ${kFleet.reduce((a, e) => a + e.rps, 0)} requests/s`, 'a 3-container pipeline on chat-llm, some 4xx/5xx, a bad sample now and then'],
  )
  const w0 = Math.max(...rows.map(r => r[0].length))
  const w1 = Math.max(...rows.map(r => r[1].length))
  const lines = rows.map(([k, v, note]) => `  ${k.padEnd(w0)}  ${note === '' ? v : v.padEnd(w1) + '  ' + note}`)
  const title = '── minutely demo '
  return [
    title.padEnd(Math.min(100, Math.max(...lines.map(l => l.length))), '─'),
    ...lines,
    '',
    '  Every 5 s a line says what was accepted; each minute is sealed 5 s after it ends and printed',
    '  below as a table. Ctrl-C seals and publishes everything, the open minute too, and exits.',
    '',
  ].join('\n') + '\n'
}

export interface DemoIO { out: (s: string) => void, log: (s: string) => void }

/** Starts the sidecar and the generator; `stop()` stops the generator only. */
export async function runDemo (settings: Settings, io: DemoIO, seed = 42, commands: readonly string[][] = []): Promise<{ sidecar: Sidecar, stop: () => void }> {
  const sidecar = await startSidecar(settings, { log: io.log, commands })
  const agg = sidecar.aggregator
  const host = sidecar.http.host.includes(':') ? `[${sidecar.http.host}]` : sidecar.http.host
  const base = `http://${host}:${sidecar.http.port}`
  const url = `${base}/v1/samples`
  io.out(await firstRunScreen(sidecar, settings, base))
  agg.on('seal', (p: SealedPeriod) => { io.out(renderSealed(p)) })
  const rand = rng(seed)
  const normal = (): number => { let u = 0; while (u === 0) u = rand(); return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand()) }
  const tickMs = 200
  let stopped = false
  let inFlight = false
  let ticks = 0
  const gen = setInterval(() => {
    if (stopped || inFlight) return
    ticks++
    const samples: unknown[] = []
    for (const e of kFleet) {
      const dims = { EndpointName: e.name, VariantName: e.variant }
      const n = Math.round(e.rps * tickMs / 1000 * (0.8 + 0.4 * rand()))
      for (let i = 0; i < n; i++) {
        let model = 0
        for (let c = 0; c < e.containers.length; c++) {
          const k = e.containers[c]
          const us = k.medianUs * Math.exp(k.sigma * normal())
          model += us
          if (e.containers.length > 1) samples.push({ metric: 'ContainerLatency', value: Math.round(us), unit: 'Microseconds', dimensions: { ...dims, ContainerName: k.name } })
        }
        const overhead = 1_200 * Math.exp(0.5 * normal())
        const r = rand()
        const is4 = r < e.err4xx ? 1 : 0
        const is5 = !is4 && r < e.err4xx + e.err5xx ? 1 : 0
        samples.push(
          { metric: 'Invocations', value: 1, dimensions: dims },
          { metric: 'Invocation4XXErrors', value: is4, dimensions: dims },
          { metric: 'Invocation5XXErrors', value: is5, dimensions: dims },
          { metric: 'InvocationsPerInstance', value: 1 / e.instances, dimensions: dims },
          { metric: 'ModelLatency', value: Math.round(model), unit: 'Microseconds', dimensions: dims },
          { metric: 'OverheadLatency', value: Math.round(overhead), unit: 'Microseconds', dimensions: dims },
        )
      }
    }
    // Now and then a sample a buggy client would send: shown as rejected, never published.
    if (ticks % 50 === 0) samples.push({ metric: 'ModelLatency', value: 'fast', dimensions: { EndpointName: 'chat-llm', VariantName: 'v1' } })
    inFlight = true
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ samples }) })
      .then(async r => { await r.arrayBuffer() }, (err: unknown) => { io.log(`generator: ${String(err)}`) })
      .finally(() => { inFlight = false })
  }, tickMs)
  let last = 0
  let lastAt = Date.now()
  const life = setInterval(() => {
    const st = agg.stats()
    const now = Date.now()
    const rate = (st.samplesAccepted - last) / ((now - lastAt) / 1000)
    last = st.samplesAccepted; lastAt = now
    const reasons = Object.entries(st.rejectedByReason).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`).join(', ')
    io.out(`${new Date(now).toISOString().slice(11, 19)}  ${fmt(st.samplesAccepted)} samples accepted (${fmt(rate)}/s) · ${st.samplesRejected} rejected${reasons !== '' ? ` (${reasons})` : ''} · ${st.activeSeries} series · ${st.datumsPublished} datums published in ${st.requestsSucceeded} requests\n`)
  }, 5_000)
  const stop = (): void => { stopped = true; clearInterval(gen); clearInterval(life) }
  return { sidecar, stop }
}
