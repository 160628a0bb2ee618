/**
 * The `minutely sidecar` command as a child process (`node dist/cli/main.js`; run `npm run
 * build` first — `npm test` does): flags and MINUTELY_* variables, exit codes, the HTTP ingest
 * contract, and SIGTERM sealing and publishing the open minute — to moto through the real SDK
 * (`--sink cloudwatch`) and as EMF lines on stdout (`--sink emf`). All traffic on 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import zlib from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch'
import { kSettings } from '../../src/cli/config.js'
import { kPeriodMs } from '../../src/limits.js'
import { relativeErrorBound } from '../../src/store/histogram.js'
import { useMoto } from '../helpers/moto.js'
import { ExactSum, mulberry32 } from '../helpers/cw-reference.js'

const kRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const kMain = path.join(kRoot, 'dist/cli/main.js')

/** The parent's environment without anything that would change the sidecar's settings. */
function cleanEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('MINUTELY_') || k.startsWith('AWS_') || k.startsWith('NODE_OPTIONS') || k.startsWith('VITEST')) continue
    env[k] = v
  }
  // The sidecar also listens for StatsD (UDP 8125) and EMF (25888) by default: fixed ports that
  // parallel test files would fight over, and worker threads these tests do not need. Turned off
  // through their variables (a build without those listeners ignores unknown variables).
  return { ...env, AWS_EC2_METADATA_DISABLED: 'true', MINUTELY_STATSD_PORT: 'off', MINUTELY_EMF_PORT: 'off', ...extra }
}

interface Run { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

const live = new Set<ChildProcess>()

afterEach(() => {
  // A failed test must not leave a sidecar behind.
  for (const c of live) c.kill('SIGKILL')
  live.clear()
})

/** Runs the CLI to completion (for commands that exit by themselves). */
function runCli (args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [kMain, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
    live.add(c)
    let stdout = ''
    let stderr = ''
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    c.on('error', reject)
    c.on('close', (code, signal) => { live.delete(c); resolve({ code, signal, stdout, stderr }) })
  })
}

interface Sidecar {
  child: ChildProcess
  base: string
  out: () => string
  err: () => string
  /** Sends SIGTERM and resolves with how the process ended. */
  stop: () => Promise<Run>
}

/** Starts `minutely sidecar ...` and waits for its "HTTP ingest on http://HOST:PORT/v1/samples" line. */
async function startCli (args: string[], env: Record<string, string> = {}): Promise<Sidecar> {
  const child = spawn(process.execPath, [kMain, 'sidecar', ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  let stdout = ''
  let stderr = ''
  const closed = new Promise<Run>(resolve => {
    child.on('close', (code, signal) => { live.delete(child); resolve({ code, signal, stdout, stderr }) })
  })
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString() })
  const base = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString()
      const m = /HTTP ingest on (http:\/\/127\.0\.0\.1:\d+)\/v1\/samples/.exec(stderr)
      if (m !== null) resolve(m[1])
    })
    void closed.then(r => { reject(new Error(`sidecar exited (${String(r.code)}/${String(r.signal)}) before listening:\n${r.stderr}`)) })
  })
  // main.ts installs its SIGTERM/SIGINT handlers before it starts the sidecar (a signal during
  // start-up is honoured once it is up); /healthz answering is the readiness check.
  const health = await request(base, 'GET', '/healthz')
  if (health.status !== 200) throw new Error(`sidecar /healthz answered ${health.status}`)
  return {
    child,
    base,
    out: () => stdout,
    err: () => stderr,
    stop: async () => { child.kill('SIGTERM'); return await closed },
  }
}

/** One HTTP request with node:http (so that the test controls content-length and chunking). */
function request (base: string, method: string, urlPath: string, body?: string | string[] | Buffer, headers: Record<string, string> = {}): Promise<{ status: number, json: any }> {
  return new Promise((resolve, reject) => {
    const u = new URL(urlPath, base)
    const chunks = body === undefined ? [] : Array.isArray(body) ? body : [body]
    const h: Record<string, string> = { ...headers }
    if (typeof body === 'string' || Buffer.isBuffer(body)) h['content-length'] = String(Buffer.byteLength(body))
    if (body !== undefined) h['content-type'] ??= 'application/json'
    const req = http.request({ host: u.hostname, port: u.port, method, path: u.pathname, headers: h, agent: false }, res => {
      let s = ''
      res.on('data', (d: Buffer) => { s += d.toString() })
      res.on('end', () => {
        let json: unknown
        try { json = JSON.parse(s) } catch { json = s }
        resolve({ status: res.statusCode!, json })
      })
    })
    req.on('error', reject)
    for (const c of chunks) req.write(c)
    req.end()
  })
}

function postSamples (base: string, samples: unknown[]): Promise<{ status: number, json: any }> {
  return request(base, 'POST', '/v1/samples', JSON.stringify({ samples }))
}

beforeAll(() => {
  if (!existsSync(kMain)) throw new Error(`${kMain} is missing: run \`npm run build\` first (npm test does)`)
})

// -------------------------------------------------------------------------------------------

describe('usage and configuration errors', () => {
  it('--help lists every flag with its MINUTELY_* variable and exits 0', async () => {
    const r = await runCli(['sidecar', '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/usage: minutely sidecar/)
    for (const s of kSettings) {
      expect(r.stdout, s.flag).toContain(`--${s.flag}`)
      expect(r.stdout, s.env).toContain(s.env)
      // the variable is listed right under its flag
      const lines = r.stdout.split('\n')
      const i = lines.findIndex(l => l.trimStart().startsWith(`--${s.flag}`))
      expect(lines[i + 1].trim(), s.flag).toBe(s.env)
    }
  })

  it.each([
    { args: ['--bogus'], names: '--bogus' },
    { args: ['--http-port', 'abc'], names: '--http-port' },
    { args: ['--http-port', '-1'], names: '--http-port' },
    { args: ['--max-dimensions', '3.5'], names: '--max-dimensions' },
    { args: ['--sink', 'kinesis'], names: '--sink' },
    { args: ['--no-compression=maybe'], names: '--no-compression' },
    { args: ['--region'], names: '--region' },
  ])('$args exits 2 with a message naming $names', async ({ args, names }) => {
    const r = await runCli(['sidecar', '--http-port', '0', '--sink', 'memory', ...args])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(names)
    expect(r.stderr).toMatch(/^minutely: /)
    expect(r.stderr).not.toMatch(/HTTP ingest on/)   // never started
  })

  it('a bad MINUTELY_* value exits 2 naming the variable', async () => {
    const r = await runCli(['sidecar', '--sink', 'memory'], { MINUTELY_HTTP_PORT: 'eighty' })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('MINUTELY_HTTP_PORT')
    expect(r.stderr).toContain('eighty')
  })

  it('--namespace AWS/x exits 2: the namespace is reserved', async () => {
    const r = await runCli(['sidecar', '--http-port', '0', '--sink', 'memory', '--namespace', 'AWS/x'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/namespace/i)
    expect(r.stderr).toContain('AWS/')
    expect(r.stderr).toMatch(/reserve/)
    expect(r.stderr).not.toMatch(/\n\s+at /)   // a message, not a stack trace
  })

  it('an unknown command exits 2 with the usage', async () => {
    const r = await runCli(['sidecars'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('sidecars')
    expect(r.stderr).toContain('usage: minutely')
  })

  // Out-of-range numbers pass config.ts (it only checks "non-negative integer") and fail later.
  it('--http-port 70000 exits 2 naming --http-port', async () => {
    const r = await runCli(['sidecar', '--sink', 'memory', '--http-port', '70000'])
    expect(r.stderr).toContain('--http-port')
    expect(r.code).toBe(2)
  })

  it('--max-dimensions 31 exits 2 naming the flag', async () => {
    const r = await runCli(['sidecar', '--sink', 'memory', '--http-port', '0', '--max-dimensions', '31'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--max-dimensions')
    expect(r.stderr).not.toContain('options.')
  })
})

describe('version, usage and typos', () => {
  const version = (JSON.parse(readFileSync(path.join(kRoot, 'package.json'), 'utf8')) as { version: string }).version

  it.each([['--version'], ['-v'], ['sidecar', '--version'], ['sidecar', '-v'], ['demo', '--version'], ['pipeline', '--version']])('%s prints the version and exits 0', async (...args) => {
    const r = await runCli(args)
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`${version}\n`)
    expect(r.stderr).toBe('')
  })

  it('bare minutely prints the usage to stderr and exits 2; --help, -h and help print it to stdout and exit 0', async () => {
    const bare = await runCli([])
    expect(bare.code).toBe(2)
    expect(bare.stdout).toBe('')
    expect(bare.stderr).toMatch(/usage: minutely <command>/)
    for (const h of ['--help', '-h', 'help']) {
      const r = await runCli([h])
      expect(r.code, h).toBe(0)
      expect(r.stdout, h).toMatch(/^usage: minutely <command>/)
      expect(r.stdout, h).toMatch(/--version/)
    }
  })

  it('an unknown flag exits 2 naming the closest one', async () => {
    const r = await runCli(['sidecar', '--sink', 'memory', '--namespce', 'X'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^minutely: Unknown option '--namespce'; did you mean --namespace\?/)
  })

  it('an unknown MINUTELY_* variable: one warning at start naming the closest variable and its flag; known ones are quiet', async () => {
    const sc = await startCli(['--http-port', '0', '--sink', 'memory'], { MINUTELY_NAMESPCE: 'X', MINUTELY_PORT: '8080', MINUTELY_LOG_FORMAT: 'json' })
    const end = await sc.stop()
    const warnings = end.stderr.split('\n').filter(l => l.includes('unknown variable'))
    expect(warnings).toHaveLength(1)
    expect(JSON.parse(warnings[0])).toMatchObject({ level: 'warn', msg: 'unknown variable MINUTELY_NAMESPCE ignored; did you mean MINUTELY_NAMESPACE (--namespace)?' })
    expect(end.stderr).not.toContain('MINUTELY_PORT')   // the pipeline's: not a typo
  })

  it('the demo warns too', async () => {
    const c = spawn(process.execPath, [kMain, 'demo', '--http-port', '0'], { env: cleanEnv({ MINUTELY_SELF_METRIC: 'true' }), stdio: ['ignore', 'pipe', 'pipe'] })
    live.add(c)
    let stderr = ''
    let stdout = ''
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    // The first screen is printed once the demo runs: the warnings at start came before it.
    await new Promise<void>((resolve, reject) => {
      c.stdout.on('data', (d: Buffer) => { stdout += d.toString(); if (stdout.includes('── minutely demo')) resolve() })
      c.on('close', () => { reject(new Error(`demo exited:\n${stderr}`)) })
    })
    c.kill('SIGKILL')
    expect(stderr).toMatch(/unknown variable MINUTELY_SELF_METRIC ignored; did you mean MINUTELY_SELF_METRICS \(--self-metrics\)\?/)
  })
})

describe('HTTP ingest through the CLI: answers in the body\'s words, gzip, 415', () => {
  it('samples[i].field messages; gzip read; a bomb over --max-body-bytes once inflated gets 413; br gets 415', async () => {
    const sc = await startCli(['--http-port', '0', '--sink', 'memory', '--max-body-bytes', '4000', '--max-dimensions', '1'])
    const r = await request(sc.base, 'POST', '/v1/samples', JSON.stringify({ samples: [{ value: 1 }, { metric: 'm', value: 1, dimensions: { a: '1', b: '2' } }] }))
    expect(r.json.rejected.map((x: { message: string }) => x.message)).toEqual([
      'samples[0].metric is required: the metric name, a non-empty string',
      'samples[1].dimensions: 2 dimensions (a, b): at most 1 are allowed; drop some or raise --max-dimensions (CloudWatch\'s ceiling is 30)',
    ])
    const samples = JSON.stringify({ samples: [{ metric: 'ModelLatency', value: 5, unit: 'Microseconds' }] })
    expect(await request(sc.base, 'POST', '/v1/samples', zlib.gzipSync(samples), { 'content-encoding': 'gzip' })).toEqual({ status: 200, json: { accepted: 1, rejected: [] } })
    const bomb = zlib.gzipSync(Buffer.alloc(2 ** 20))   // 1 MiB of zeros in ~1 KB
    expect(bomb.length).toBeLessThan(4000)
    const big = await request(sc.base, 'POST', '/v1/samples', bomb, { 'content-encoding': 'gzip' })
    expect(big.status).toBe(413)
    expect(big.json.error).toMatch(/over the limit of 4000 bytes once decompressed/)
    const br = await request(sc.base, 'POST', '/v1/samples', samples, { 'content-encoding': 'br' })
    expect(br.status).toBe(415)
    expect(br.json.error).toMatch(/gzip, deflate or identity/)
    const end = await sc.stop()
    expect(end.code).toBe(0)
    expect(end.stderr).toMatch(/closed: 1 samples accepted, 4 rejected/)
    // The sidecar's own log speaks of flags and fields, never of library calls.
    expect(end.stderr).not.toMatch(/record\(|close\(\)|options\./)
    expect(end.stderr).toMatch(/raise --max-dimensions/)
  })
})

describe('HTTP ingest', () => {
  it('answers per sample, 400 for bad JSON, 413 over --max-body-bytes, 404 elsewhere, /healthz; exits 0 on SIGTERM', async () => {
    const sc = await startCli(['--http-port', '0', '--sink', 'memory', '--max-body-bytes', '4000'])
    const health = await request(sc.base, 'GET', '/healthz')
    expect(health).toEqual({ status: 200, json: { status: 'ok' } })

    const dims = { EndpointName: 'ep', VariantName: 'v1' }
    const now = Date.now()
    const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`D${i}`, 'x']))
    const samples: unknown[] = [
      { metric: 'ModelLatency', value: 1234, unit: 'Microseconds', dimensions: dims },           // 0 ok
      { metric: 'ModelLatency', value: 'fast', unit: 'Microseconds', dimensions: dims },         // 1
      { metric: 'ModelLatency', value: 5, unit: 'Millis', dimensions: dims },                    // 2
      { metric: 'ModelLatency', value: 5, unit: 'Microseconds', dimensions: eleven },            // 3
      { metric: 'ModelLatency', value: 5, timestamp: now - 21 * 24 * 3600_000, dimensions: dims }, // 4
      null,                                                                                     // 5
      { metric: 'ModelLatency', value: 5, dimensions: ['EndpointName', 'ep'] },                  // 6
      { metric: 'ModelLatency', value: 5, timestamp: 'yesterday' },                             // 7
      { metric: 'ModelLatency', value: 5, count: 0 },                                           // 8
      { metric: 'ModelLatency', value: 5, namespace: 'AWS/SageMaker' },                         // 9
      { metric: '', value: 5 },                                                                 // 10
      { metric: 'Invocations', value: 1, unit: 'Count', dimensions: dims, timestamp: now, count: 2 }, // 11 ok
    ]
    // 1e400 parses to Infinity: JSON can carry a non-finite value after all.
    const body = JSON.stringify({ samples }).replace(/\]\}$/, ',{"metric":"ModelLatency","value":1e400}]}')
    const r = await request(sc.base, 'POST', '/v1/samples', body)
    expect(r.status).toBe(200)
    expect(r.json.accepted).toBe(2)
    expect(r.json.rejected.map((x: { index: number, reason: string }) => [x.index, x.reason])).toEqual([
      [1, 'not_a_number'], [2, 'unit_invalid'], [3, 'too_many_dimensions'], [4, 'timestamp_too_old'], [5, 'malformed'],
      [6, 'dimension_invalid'], [7, 'timestamp_invalid'], [8, 'count_invalid'], [9, 'namespace_invalid'],
      [10, 'metric_name_invalid'], [12, 'not_finite'],
    ])
    for (const x of r.json.rejected) expect(typeof x.message === 'string' && x.message.length > 5).toBe(true)

    const bad = await request(sc.base, 'POST', '/v1/samples', '{"samples": [')
    expect(bad.status).toBe(400)
    expect(bad.json.error).toMatch(/JSON/)
    const shape = await request(sc.base, 'POST', '/v1/samples', '{"metric":"m","value":1}')
    expect(shape.status).toBe(400)
    expect(shape.json.error).toMatch(/samples/)

    const big = JSON.stringify({ samples: Array.from({ length: 100 }, () => ({ metric: 'ModelLatency', value: 1, dimensions: dims })) })
    expect(big.length).toBeGreaterThan(4000)
    const tooLarge = await request(sc.base, 'POST', '/v1/samples', big)                      // declared length
    expect(tooLarge.status).toBe(413)
    expect(tooLarge.json.error).toMatch(/4000/)
    const tooLargeChunked = await request(sc.base, 'POST', '/v1/samples', [big.slice(0, 3000), big.slice(3000)])  // chunked
    expect(tooLargeChunked.status).toBe(413)

    expect((await request(sc.base, 'GET', '/nothing-here')).status).toBe(404)
    expect((await request(sc.base, 'GET', '/')).status).toBe(200)   // the status page
    expect((await request(sc.base, 'POST', '/v1/metrics', '{}')).status).toBe(404)
    expect((await request(sc.base, 'GET', '/v1/samples')).status).toBe(405)

    // Nothing of the rejected bodies was recorded: still 2 accepted after all of that.
    const ok = await postSamples(sc.base, [{ metric: 'ModelLatency', value: 99, unit: 'Microseconds', dimensions: dims }])
    expect(ok).toEqual({ status: 200, json: { accepted: 1, rejected: [] } })
    const end = await sc.stop()
    expect(end.code).toBe(0)
    expect(end.stderr).toMatch(/SIGTERM: sealing and publishing/)
    expect(end.stderr).toMatch(/closed: 3 samples accepted/)
  })
})

describe('SIGTERM seals and publishes the open minute', () => {
  const peer = useMoto()

  it('--sink cloudwatch → moto: every sample of the current minute is there after exit 0', async () => {
    const ns = 'Minutely/CliSidecar'
    const sc = await startCli(['--http-port', '0', '--sink', 'cloudwatch', '--cloudwatch-endpoint', peer.moto.endpoint, '--no-compression',
      '--region', 'us-east-1', '--namespace', ns],
    { AWS_ACCESS_KEY_ID: 'AKIDCLITEST', AWS_SECRET_ACCESS_KEY: 'cli-test-secret' })
    const dims = { EndpointName: 'cli-ep', VariantName: 'AllTraffic' }
    const values: number[] = []
    for (let batch = 0; batch < 3; batch++) {
      const samples = Array.from({ length: 40 }, (_, i) => {
        const v = 1000 + batch * 40 + i + 0.5
        values.push(v)
        return { metric: 'SidecarLatency', value: v, unit: 'Microseconds', dimensions: dims }   // no timestamp: now
      })
      const r = await postSamples(sc.base, samples)
      expect(r).toEqual({ status: 200, json: { accepted: 40, rejected: [] } })
    }
    const t = Date.now()
    const end = await sc.stop()
    expect(end.stderr).toMatch(/closed: 120 samples accepted, 0 rejected, [1-9]\d* datums published/)
    expect(end.code).toBe(0)

    const out = await peer.cw.send(new GetMetricStatisticsCommand({
      Namespace: ns,
      MetricName: 'SidecarLatency',
      Dimensions: [{ Name: 'EndpointName', Value: 'cli-ep' }, { Name: 'VariantName', Value: 'AllTraffic' }],
      StartTime: new Date(t - 5 * kPeriodMs),
      EndTime: new Date(t + 5 * kPeriodMs),
      Period: 60,
      Unit: 'Microseconds',
      Statistics: ['SampleCount', 'Sum', 'Minimum', 'Maximum'],
    }))
    const dps = out.Datapoints ?? []
    expect(dps.length).toBeGreaterThanOrEqual(1)   // 2 if a minute boundary fell between the POSTs
    expect(dps.every(d => d.Timestamp!.getTime() % kPeriodMs === 0)).toBe(true)
    expect(dps.reduce((n, d) => n + d.SampleCount!, 0)).toBe(values.length)
    // moto recomputes Sum/Min/Max from the published bucket values: within the bound.
    const sum = values.reduce((a, b) => a + b, 0)
    const bound = relativeErrorBound(6)
    expect(Math.abs(dps.reduce((n, d) => n + d.Sum!, 0) - sum) / sum).toBeLessThanOrEqual(bound)
    expect(Math.abs(Math.min(...dps.map(d => d.Minimum!)) - 1000.5) / 1000.5).toBeLessThanOrEqual(bound)
    expect(Math.abs(Math.max(...dps.map(d => d.Maximum!)) - 1119.5) / 1119.5).toBeLessThanOrEqual(bound)
  })
})

describe('the log stream (stderr) with --sink cloudwatch', () => {
  const peer = useMoto()

  it('is JSON lines only; the AWS SDK\'s Node version warning (Node < 22) is one warn line of it', async () => {
    const sc = await startCli(['--http-port', '0', '--sink', 'cloudwatch', '--cloudwatch-endpoint', peer.moto.endpoint, '--no-compression',
      '--region', 'us-east-1', '--namespace', 'Minutely/CliLogStream', '--log-format', 'json'],
    { AWS_ACCESS_KEY_ID: 'AKIDCLITEST', AWS_SECRET_ACCESS_KEY: 'cli-test-secret' })
    expect(await postSamples(sc.base, [{ metric: 'LogStreamLatency', value: 1, unit: 'Microseconds' }])).toEqual({ status: 200, json: { accepted: 1, rejected: [] } })
    const end = await sc.stop()
    expect(end.code).toBe(0)
    const lines = end.stderr.split('\n').filter(l => l !== '')
    const docs = lines.map(l => {
      try { return JSON.parse(l) as Record<string, unknown> } catch { throw new Error(`a stderr line is not JSON: ${l}\n--- stderr:\n${end.stderr}`) }
    })
    for (const d of docs) {
      expect(typeof d.level).toBe('string')
      expect(typeof d.msg).toBe('string')
    }
    expect(docs.some(d => /closed: 1 samples accepted, 0 rejected, [1-9]\d* datums published/.test(String(d.msg)))).toBe(true)
    // @aws-sdk/core warns once per process, with process.emitWarning, on Node < 22.
    const sdk = docs.filter(d => String(d.msg).includes('NodeVersionSupportWarning'))
    expect(sdk).toHaveLength(Number(process.versions.node.split('.')[0]) < 22 ? 1 : 0)
    for (const d of sdk) expect(d).toMatchObject({ level: 'warn', warning: 'Warning' })
  })
})

/** EMF lines on stdout, aggregated per (namespace, metric, dimensions, timestamp). */
function readEmf (stdout: string): Map<string, { lines: number, count: number, sum: number, min: number, max: number }> {
  const out = new Map<string, { lines: number, count: number, sum: number, min: number, max: number }>()
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue
    const doc = JSON.parse(line) as Record<string, any>
    const meta = doc._aws
    expect(typeof meta.Timestamp).toBe('number')
    expect(meta.Timestamp % kPeriodMs).toBe(0)
    const [cwm] = meta.CloudWatchMetrics
    const [metric] = cwm.Metrics
    const dimNames: string[] = cwm.Dimensions[0]
    const m = doc[metric.Name]
    expect(Object.keys(m).sort()).toEqual(['Count', 'Counts', 'Max', 'Min', 'Sum', 'Values'])
    expect(m.Values.length).toBeLessThanOrEqual(100)
    expect(m.Counts.length).toBe(m.Values.length)
    expect(m.Counts.reduce((a: number, b: number) => a + b, 0)).toBe(m.Count)
    for (const v of m.Values) { expect(v).toBeGreaterThanOrEqual(m.Min); expect(v).toBeLessThanOrEqual(m.Max) }
    expect(m.Sum / m.Count).toBeGreaterThanOrEqual(m.Min * (1 - 1e-12))
    expect(m.Sum / m.Count).toBeLessThanOrEqual(m.Max * (1 + 1e-12))
    const key = JSON.stringify([cwm.Namespace, metric.Name, metric.Unit, dimNames.map(n => [n, doc[n]]), meta.Timestamp])
    const a = out.get(key) ?? { lines: 0, count: 0, sum: 0, min: Infinity, max: -Infinity }
    a.lines++
    a.count += m.Count
    a.sum += m.Sum
    a.min = Math.min(a.min, m.Min)
    a.max = Math.max(a.max, m.Max)
    out.set(key, a)
  }
  return out
}

describe('--sink emf', () => {
  it('SIGTERM writes the open minute as EMF lines whose aggregated members add up', async () => {
    const sc = await startCli(['--http-port', '0', '--sink', 'emf', '--namespace', 'Minutely/CliEmf'])
    const rand = mulberry32(5)
    const dims = { EndpointName: 'emf-ep', VariantName: 'AllTraffic' }
    const exact = new ExactSum()
    let min = Infinity
    let max = -Infinity
    const samples = Array.from({ length: 2000 }, () => {
      const v = Math.round(10 ** (1 + 5 * rand()) * 1000) / 1000   // wide: > 100 buckets, split at 100
      exact.add(v); min = Math.min(min, v); max = Math.max(max, v)
      return { metric: 'ModelLatency', value: v, unit: 'Microseconds', dimensions: dims }
    })
    const r = await postSamples(sc.base, samples)
    expect(r.json).toEqual({ accepted: 2000, rejected: [] })
    const cpu = await postSamples(sc.base, [37.25, 12.5, 99.75].map(v => ({ metric: 'CPUUtilization', value: v, unit: 'Percent', dimensions: { Host: 'emf-ep/AllTraffic/i-0abc' } })))
    expect(cpu.json.accepted).toBe(3)
    const end = await sc.stop()
    expect(end.code).toBe(0)

    const agg = readEmf(end.stdout)
    const lat = [...agg.entries()].filter(([k]) => k.includes('"ModelLatency"'))
    const latCount = lat.reduce((n, [, a]) => n + a.count, 0)
    expect(latCount).toBe(2000)
    expect(lat.reduce((n, [, a]) => n + a.lines, 0)).toBeGreaterThan(1)   // split: EMF allows 100 values a member
    expect(Math.abs(lat.reduce((n, [, a]) => n + a.sum, 0) - exact.value) / exact.value).toBeLessThanOrEqual(1e-12)
    expect(Math.min(...lat.map(([, a]) => a.min))).toBe(min)
    expect(Math.max(...lat.map(([, a]) => a.max))).toBe(max)
    for (const [k] of lat) {
      expect(JSON.parse(k).slice(0, 4)).toEqual(['Minutely/CliEmf', 'ModelLatency', 'Microseconds', [['EndpointName', 'emf-ep'], ['VariantName', 'AllTraffic']]])
    }
    const cpuLines = [...agg.entries()].filter(([k]) => k.includes('"CPUUtilization"'))
    expect(cpuLines.map(([k, a]) => [JSON.parse(k)[2], a.count, a.sum, a.min, a.max])).toEqual([['Percent', 3, 149.5, 12.5, 99.75]])
  })

  it('settings come from MINUTELY_* variables (port, sink, namespace, body limit)', async () => {
    const sc = await startCli([], { MINUTELY_HTTP_PORT: '0', MINUTELY_SINK: 'emf', MINUTELY_NAMESPACE: 'Minutely/FromEnv', MINUTELY_MAX_BODY_BYTES: '2000' })
    expect(sc.err()).toMatch(/sink emf · namespace Minutely\/FromEnv/)
    const r = await postSamples(sc.base, [{ metric: 'Invocations', value: 1, unit: 'Count', count: 7 }])
    expect(r.json).toEqual({ accepted: 1, rejected: [] })
    const big = await postSamples(sc.base, Array.from({ length: 100 }, () => ({ metric: 'Invocations', value: 1 })))
    expect(big.status).toBe(413)
    const end = await sc.stop()
    expect(end.code).toBe(0)
    const lines = end.stdout.trim().split('\n').map(l => JSON.parse(l) as Record<string, any>)
    expect(lines).toHaveLength(1)
    expect(lines[0]._aws.CloudWatchMetrics[0].Namespace).toBe('Minutely/FromEnv')
    expect(lines[0].Invocations).toMatchObject({ Count: 7, Sum: 7, Min: 1, Max: 1, Values: [1], Counts: [7] })
  })

  it('a flag wins over its variable', async () => {
    const sc = await startCli(['--sink', 'emf', '--namespace', 'Minutely/FromFlag'], { MINUTELY_HTTP_PORT: '0', MINUTELY_SINK: 'cloudwatch', MINUTELY_NAMESPACE: 'Minutely/FromEnv' })
    expect(sc.err()).toMatch(/sink emf · namespace Minutely\/FromFlag/)
    const end = await sc.stop()
    expect(end.code).toBe(0)
    expect(end.stdout).toBe('')   // nothing recorded, nothing written
  })
})
