/**
 * SIGKILL during a sliced seal, with a real sidecar: 25,000 series, CloudWatch answering 503,
 * the process killed right after the seal journals its first batch (before the checkpoint
 * records the slice). The restart, with CloudWatch healthy, publishes each series once.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startStrictEndpoint, type StrictEndpoint } from '../helpers/strict-endpoint.js'

const kMain = join(process.cwd(), 'dist/cli/main.js')
const kSeries = 25_000
const kEnv = { AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'us-east-1' }
const live = new Set<ChildProcess>()
const dirs: string[] = []
let strict: StrictEndpoint
beforeAll(async () => { strict = await startStrictEndpoint() })
afterEach(() => { for (const c of live) c.kill('SIGKILL'); live.clear() })
afterAll(async () => { await strict.close(); for (const d of dirs) rmSync(d, { recursive: true, force: true }) })

function sidecar (spool: string, env: Record<string, string> = {}): { child: ChildProcess, exit: Promise<{ code: number | null, signal: string | null }>, ready: Promise<string>, stderr: () => string } {
  const child = spawn(process.execPath, [kMain, 'sidecar', '--statsd-port', 'off', '--emf-port', 'off', '--log-format', 'json', '--http-port', '0',
    '--sink', 'cloudwatch', '--cloudwatch-endpoint', strict.endpoint, '--namespace', 'Crash', '--spool-dir', spool,
    '--checkpoint-interval-ms', '200', '--max-body-bytes', '16000000', '--max-series', '30000'], { env: { PATH: process.env.PATH, ...kEnv, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  live.add(child)
  let err = ''
  const exit = new Promise<{ code: number | null, signal: string | null }>(resolve => { child.on('close', (code, signal) => { live.delete(child); resolve({ code, signal }) }) })
  const ready = new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString()
      const m = /HTTP ingest on (http:\/\/127\.0\.0\.1:\d+)\/v1\/samples/.exec(err)
      if (m !== null) resolve(m[1])
    })
    void exit.then(() => { reject(new Error(`sidecar exited before it was ready:\n${err}`)) })
  })
  ready.catch(() => {})
  return { child, exit, ready, stderr: () => err }
}

describe('SIGKILL during a sliced seal', () => {
  it(`${kSeries.toLocaleString('en-US')} series, killed as the first batch is journaled: the restart publishes each exactly once`, async () => {
    const d = mkdtempSync(join(tmpdir(), 'minutely-seal-kill-')); dirs.push(d)
    const spool = join(d, 'spool')
    strict.reset()
    const outage = strict.inject('503', { every: 1 })
    // The samples land in a minute that is already over: it is sealed at the next minute
    // boundary, by when several checkpoints hold every series.
    if (60_000 - (Date.now() % 60_000) < 3_000) await new Promise(resolve => setTimeout(resolve, 60_000 - (Date.now() % 60_000) + 100))
    const minute = Date.now() - (Date.now() % 60_000) - 120_000
    const a = sidecar(spool, { MNLY_KILL_AFTER_JOURNALED_BATCHES: '1' })
    const base = await a.ready
    const samples = Array.from({ length: kSeries }, (_, i) => ({ metric: 'Lat', value: i % 1000, unit: 'Milliseconds', timestamp: minute + (i % 60_000), dimensions: { Host: `h${i}` } }))
    const r = await fetch(`${base}/v1/samples`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ samples }) })
    expect(((await r.json()) as { accepted: number }).accepted).toBe(kSeries)
    expect(await a.exit).toEqual({ code: null, signal: 'SIGKILL' })
    const journaled = readdirSync(spool).filter(f => f.endsWith('.batch')).length
    expect(journaled).toBe(1)   // the kill came right after the first batch, inside the seal's first slice

    outage.remove()
    const b = sidecar(spool)
    await b.ready
    await strict.waitFor(ep => ep.stats.datums >= kSeries, 60_000)
    await new Promise(resolve => setTimeout(resolve, 1_000))   // time for any duplicate to arrive
    b.child.kill('SIGTERM')
    expect((await b.exit).code).toBe(0)
    const datums = strict.allDatums('Crash')
    const per = new Map<string, number>()
    for (const x of datums) {
      const k = x.Dimensions!.map(y => y.Value).join(',')
      per.set(k, (per.get(k) ?? 0) + (x.StatisticValues?.SampleCount ?? 0))
    }
    const sampleCounts = [...per.values()].reduce((s, n) => s + n, 0)
    console.log(`SIGKILL after the first journaled batch of a ${kSeries.toLocaleString('en-US')}-series seal (CloudWatch 503): ${datums.length.toLocaleString('en-US')} datums published after the restart, ${per.size.toLocaleString('en-US')} series, SampleCount total ${sampleCounts.toLocaleString('en-US')}`)
    expect(datums.length).toBe(kSeries)
    expect(per.size).toBe(kSeries)
    expect([...per.values()].every(n => n === 1)).toBe(true)
  }, 150_000)
})
