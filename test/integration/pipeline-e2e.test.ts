/**
 * End to end: `minutely pipeline` as a child process (built CLI in dist/), in front of real
 * container processes it starts itself (test/fixtures/containers/model-server.mjs, with known
 * delays and failures), publishing to moto's CloudWatch and CloudWatch Logs. Requests go in
 * through real HTTP, the proxy is stopped with SIGTERM, and everything is read back from moto:
 * every seed metric's name, unit, dimensions and statistics, and each container's log lines
 * in its group and stream, in order, once.
 *
 * Two proxies run side by side:
 * - A, endpoint `e2e-pipeline`, 3 containers (`preprocess`, then two unnamed: `container-2`,
 *   `container-3`), instance count 2, container timeout 1 s; 12 requests: 8 succeed, 2 get a
 *   400 from container-2, 1 a 503 from container-3, 1 times out in container-3 (504). It
 *   also publishes instance metrics (memory and disk, Host endpoint/variant/instance-id).
 * - B, endpoint `e2e-down`, 2 containers, the second one down: /ping is 503, and 3 requests
 *   all get 502.
 *
 * moto's quirks (see test/helpers/moto.ts): GetMetricStatistics matches dimensions as a subset
 * (so each query names the full set, and the two proxies use different endpoint names), it
 * recomputes statistics from Values/Counts (so latencies are the bucket representatives:
 * within 1% of the exact values), and it cannot read gzip (hence --no-compression).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GetMetricStatisticsCommand, ListMetricsCommand, type Datapoint, type Dimension } from '@aws-sdk/client-cloudwatch'
import { CloudWatchLogsClient, DescribeLogStreamsCommand, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { cloudWatchClientFor, startMoto, type MotoServer } from '../helpers/moto.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const cli = `${root}dist/cli/main.js`
const fixture = `${root}test/fixtures/containers/model-server.mjs`
const NS = 'minutely/E2E'
const A = { endpoint: 'e2e-pipeline', instance: 'i-0e2e00000000000a1' }
const B = { endpoint: 'e2e-down', instance: 'i-0e2e00000000000b2' }
const credentials = { accessKeyId: 'AKIDMOTOTEST', secretAccessKey: 'moto-test-secret' }

let moto: MotoServer
let started: number
const procs: ChildProcess[] = []

async function freePort (): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => { resolve(port) })
    })
  })
}

interface Proxy { child: ChildProcess, url: Promise<string>, exit: Promise<number | null>, stderr: () => string }

/** Runs `minutely pipeline` with fake credentials in the environment. */
function runProxy (args: string[]): Proxy {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey, AWS_REGION: 'us-east-1' }
  const child = spawn(process.execPath, [cli, 'pipeline', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  procs.push(child)
  let err = ''
  child.stdout!.resume()
  const url = new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (b: Buffer) => {
      err += b.toString('utf8')
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err)
      if (m !== null) resolve(m[1])
    })
    child.once('exit', () => { reject(new Error(`the proxy exited before listening:\n${err}`)) })
  })
  url.catch(() => {})
  const exit = new Promise<number | null>(resolve => { child.once('exit', code => { resolve(code) }) })
  return { child, url, exit, stderr: () => err }
}

/** Polls /ping until `ready(doc)` (the containers start asynchronously). */
async function waitForPing (url: string, ready: (status: number, doc: { containers: Array<{ name: string, healthy: boolean }> }) => boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      const r = await fetch(`${url}/ping`)
      if (ready(r.status, await r.json() as { containers: Array<{ name: string, healthy: boolean }> })) return
    } catch { /* not yet */ }
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  throw new Error(`${url}/ping never became ready`)
}

async function invoke (url: string, doc: unknown): Promise<{ status: number, body: string, contentType: string | null, container: string | null }> {
  const r = await fetch(`${url}/invocations`, { method: 'POST', body: JSON.stringify(doc), headers: { 'content-type': 'application/json' } })
  return { status: r.status, body: await r.text(), contentType: r.headers.get('content-type'), container: r.headers.get('x-minutely-container') }
}

const responses: Array<Awaited<ReturnType<typeof invoke>>> = []
const responsesB: Array<Awaited<ReturnType<typeof invoke>>> = []
let pingB: number
let exitA: number | null
let exitB: number | null
let ports: { pre: number, c2: number, c3: number, b1: number }
let stderrA = ''

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first (npm test does)`)
  started = Date.now()
  moto = await startMoto()
  ports = { pre: await freePort(), c2: await freePort(), c3: await freePort(), b1: await freePort() }
  const down = await freePort() // nothing will listen there
  const common = ['--port', '0', '--sink', 'cloudwatch', '--cloudwatch-endpoint', moto.endpoint, '--no-compression', '--region', 'us-east-1',
    '--namespace', NS, '--logs-endpoint', moto.endpoint, '--log-flush-ms', '200', '--variant-name', 'AllTraffic']
  const a = runProxy([...common,
    '--container', `http://127.0.0.1:${ports.pre}`, '--container', `http://127.0.0.1:${ports.c2}`, '--container', `http://127.0.0.1:${ports.c3}`,
    '--container-name', 'preprocess', '--endpoint-name', A.endpoint, '--instance-id', A.instance, '--instance-count', '2', '--container-timeout-ms', '1000',
    '--instance-metrics', 'endpoint', '--instance-collect', 'memory,disk', '--cgroup-path', 'host',
    '--', process.execPath, fixture, '--name', 'preprocess', '--port', String(ports.pre), '--delay-ms', '20', '--content-type', 'application/x-preprocessed', '--boot-lines', '300',
    '--', process.execPath, fixture, '--name', 'container-2', '--port', String(ports.c2), '--delay-ms', '30',
    '--', process.execPath, fixture, '--name', 'container-3', '--port', String(ports.c3), '--delay-ms', '10', '--content-type', 'application/x-final'])
  const b = runProxy([...common,
    '--container', `http://127.0.0.1:${ports.b1}`, '--container', `http://127.0.0.1:${down}`, '--endpoint-name', B.endpoint, '--instance-id', B.instance,
    '--', process.execPath, fixture, '--name', 'container-1', '--port', String(ports.b1)])
  const [urlA, urlB] = await Promise.all([a.url, b.url])
  await waitForPing(urlA, status => status === 200)
  await waitForPing(urlB, (_s, doc) => doc.containers[0].healthy)
  pingB = (await fetch(`${urlB}/ping`)).status

  const plan: unknown[] = [
    ...[1, 2, 3, 4, 5, 6, 7].map(id => ({ id })),
    { id: 8, fail: { 'container-2': 400 } },
    { id: 9, fail: { 'container-2': 400 } },
    { id: 10, fail: { 'container-3': 503 } },
    { id: 11, sleep: { 'container-3': 1500 } },
    { id: 12 },
  ]
  for (const doc of plan) responses.push(await invoke(urlA, doc))
  for (const id of [1, 2, 3]) responsesB.push(await invoke(urlB, { id }))

  a.child.kill('SIGTERM')
  b.child.kill('SIGTERM')
  ;[exitA, exitB] = await Promise.all([a.exit, b.exit])
  stderrA = a.stderr()
}, 30_000)

afterAll(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
  await moto?.stop()
})

describe('the proxy answered like a SageMaker pipeline', () => {
  it('chained the containers, forwarding each response body and content type', () => {
    const ok = responses.filter(r => r.status === 200)
    expect(ok).toHaveLength(8)
    for (const r of ok) {
      expect(r.contentType).toBe('application/x-final')
      const doc = JSON.parse(r.body) as { trail: Array<{ name: string, contentType: string }> }
      expect(doc.trail).toEqual([
        { name: 'preprocess', contentType: 'application/json' },
        { name: 'container-2', contentType: 'application/x-preprocessed' },
        { name: 'container-3', contentType: 'application/json' },
      ])
    }
  })
  it('ended the chain with the failing container\'s status, or 504 / 502', () => {
    expect(responses.map(r => r.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 400, 400, 503, 504, 200])
    expect(responses.slice(7, 11).map(r => r.container)).toEqual(['container-2', 'container-2', 'container-3', 'container-3'])
    expect(JSON.parse(responses[10].body)).toMatchObject({ error: 'container_timeout', container: 'container-3' })
    expect(pingB).toBe(503)
    expect(responsesB.map(r => r.status)).toEqual([502, 502, 502])
    expect(JSON.parse(responsesB[0].body)).toMatchObject({ error: 'container_unreachable', container: 'container-2' })
  })
  it('exited 0 on SIGTERM after publishing everything', () => {
    expect(exitA, stderrA).toBe(0)
    expect(exitB).toBe(0)
    expect(stderrA).toMatch(/closed: .* datums published/)
  })
})

describe('metrics read back from moto', () => {
  const dims = (endpoint: string, container?: string): Dimension[] => [
    ...(container !== undefined ? [{ Name: 'ContainerName', Value: container }] : []),
    { Name: 'EndpointName', Value: endpoint },
    { Name: 'VariantName', Value: 'AllTraffic' },
  ]

  interface Stats { SampleCount: number, Sum: number, Minimum: number, Maximum: number, units: string[] }
  async function stats (metric: string, d: Dimension[]): Promise<Stats> {
    const cw = cloudWatchClientFor(moto.endpoint)
    try {
      const out = await cw.send(new GetMetricStatisticsCommand({
        Namespace: NS, MetricName: metric, Dimensions: d, Period: 60,
        StartTime: new Date(started - 120_000), EndTime: new Date(Date.now() + 120_000),
        Statistics: ['SampleCount', 'Sum', 'Minimum', 'Maximum', 'Average'],
      }))
      const dp: Datapoint[] = out.Datapoints ?? []
      return {
        SampleCount: dp.reduce((a, x) => a + (x.SampleCount ?? 0), 0),
        Sum: dp.reduce((a, x) => a + (x.Sum ?? 0), 0),
        Minimum: Math.min(...dp.map(x => x.Minimum ?? Infinity)),
        Maximum: Math.max(...dp.map(x => x.Maximum ?? -Infinity)),
        units: [...new Set(dp.map(x => String(x.Unit)))],
      }
    } finally {
      cw.destroy()
    }
  }

  it('Invocations, errors and InvocationsPerInstance: Sum, SampleCount, Average, unit None', async () => {
    const inv = await stats('Invocations', dims(A.endpoint))
    expect(inv).toMatchObject({ SampleCount: 12, Sum: 12, units: ['None'] })
    const e4 = await stats('Invocation4XXErrors', dims(A.endpoint))
    expect(e4).toMatchObject({ SampleCount: 12, Sum: 2, units: ['None'] })
    expect(e4.Sum / e4.SampleCount).toBeCloseTo(2 / 12, 12) // the Average is the error rate
    expect(await stats('Invocation5XXErrors', dims(A.endpoint))).toMatchObject({ SampleCount: 12, Sum: 2, units: ['None'] })
    expect(await stats('InvocationsPerInstance', dims(A.endpoint))).toMatchObject({ SampleCount: 12, Sum: 6, units: ['None'] }) // 12 / instance count 2

    expect(await stats('Invocations', dims(B.endpoint))).toMatchObject({ SampleCount: 3, Sum: 3, units: ['None'] })
    expect(await stats('Invocation5XXErrors', dims(B.endpoint))).toMatchObject({ Sum: 3 })
    expect(await stats('Invocation4XXErrors', dims(B.endpoint))).toMatchObject({ Sum: 0 })
    expect(await stats('InvocationsPerInstance', dims(B.endpoint))).toMatchObject({ Sum: 3 })
  })

  it('ContainerLatency per ContainerName, ModelLatency = their sum, OverheadLatency: unit Microseconds', async () => {
    const pre = await stats('ContainerLatency', dims(A.endpoint, 'preprocess'))
    const c2 = await stats('ContainerLatency', dims(A.endpoint, 'container-2'))
    const c3 = await stats('ContainerLatency', dims(A.endpoint, 'container-3'))
    for (const s of [pre, c2, c3]) expect(s.units).toEqual(['Microseconds'])
    expect([pre.SampleCount, c2.SampleCount, c3.SampleCount]).toEqual([12, 12, 10]) // container-3 never saw the two 400s
    // Lower bounds only (the fixtures sleep at least this long); 2% for the histogram buckets.
    expect(pre.Minimum).toBeGreaterThanOrEqual(20_000 * 0.98)
    expect(c2.Maximum).toBeGreaterThanOrEqual(30_000 * 0.98)
    expect(c3.Maximum).toBeGreaterThanOrEqual(1_000_000 * 0.98) // the call that timed out is timed up to the timeout
    const model = await stats('ModelLatency', dims(A.endpoint))
    expect(model).toMatchObject({ SampleCount: 12, units: ['Microseconds'] })
    const containers = pre.Sum + c2.Sum + c3.Sum
    expect(Math.abs(model.Sum - containers) / containers).toBeLessThan(0.02)
    expect(model.Maximum).toBeGreaterThanOrEqual((20_000 + 30_000 + 1_000_000) * 0.98)
    const overhead = await stats('OverheadLatency', dims(A.endpoint))
    expect(overhead).toMatchObject({ SampleCount: 12, units: ['Microseconds'] })
    expect(overhead.Minimum).toBeGreaterThanOrEqual(0)

    const b1 = await stats('ContainerLatency', dims(B.endpoint, 'container-1'))
    const b2 = await stats('ContainerLatency', dims(B.endpoint, 'container-2'))
    expect([b1.SampleCount, b2.SampleCount]).toEqual([3, 3]) // the unreachable calls are timed too
    expect(await stats('ModelLatency', dims(B.endpoint))).toMatchObject({ SampleCount: 3 })
  })

  it('every metric has exactly the seed\'s dimensions: EndpointName, VariantName (+ ContainerName for ContainerLatency)', async () => {
    const cw = cloudWatchClientFor(moto.endpoint)
    const seen = new Map<string, Set<string>>()
    try {
      let token: string | undefined
      do {
        const out = await cw.send(new ListMetricsCommand({ Namespace: NS, NextToken: token }))
        for (const m of out.Metrics ?? []) {
          const key = (m.Dimensions ?? []).map(d => `${d.Name}=${d.Value}`).sort().join(',')
          if (!seen.has(m.MetricName!)) seen.set(m.MetricName!, new Set())
          seen.get(m.MetricName!)!.add(key)
        }
        token = out.NextToken
      } while (token !== undefined)
    } finally {
      cw.destroy()
    }
    const ep = (e: string): string => `EndpointName=${e},VariantName=AllTraffic`
    for (const m of ['Invocations', 'Invocation4XXErrors', 'Invocation5XXErrors', 'InvocationsPerInstance', 'ModelLatency', 'OverheadLatency']) {
      expect([...seen.get(m)!].sort(), m).toEqual([ep(B.endpoint), ep(A.endpoint)].sort())
    }
    expect([...seen.get('ContainerLatency')!].sort()).toEqual([
      `ContainerName=container-1,${ep(B.endpoint)}`, `ContainerName=container-2,${ep(B.endpoint)}`,
      `ContainerName=container-2,${ep(A.endpoint)}`, `ContainerName=container-3,${ep(A.endpoint)}`, `ContainerName=preprocess,${ep(A.endpoint)}`,
    ].sort())
    expect([...seen.keys()].sort()).toEqual(['ContainerLatency', 'Invocation4XXErrors', 'Invocation5XXErrors', 'Invocations', 'InvocationsPerInstance', 'ModelLatency', 'OverheadLatency'])
  })
})

describe('instance metrics read back from moto', () => {
  it('MemoryUtilization and DiskUtilization in /aws/sagemaker/Endpoints with Host = endpoint/variant/instance-id, unit Percent', async () => {
    const cw = cloudWatchClientFor(moto.endpoint)
    try {
      for (const metric of ['MemoryUtilization', 'DiskUtilization']) {
        const out = await cw.send(new GetMetricStatisticsCommand({
          Namespace: '/aws/sagemaker/Endpoints', MetricName: metric, Dimensions: [{ Name: 'Host', Value: `${A.endpoint}/AllTraffic/${A.instance}` }],
          Period: 60, StartTime: new Date(started - 120_000), EndTime: new Date(Date.now() + 120_000), Statistics: ['SampleCount', 'Minimum', 'Maximum'],
        }))
        const dp = out.Datapoints ?? []
        expect(dp.reduce((a, x) => a + (x.SampleCount ?? 0), 0), metric).toBeGreaterThanOrEqual(1) // the reading taken at start
        for (const x of dp) {
          expect(x.Unit).toBe('Percent')
          expect(x.Minimum).toBeGreaterThanOrEqual(0)
          expect(x.Maximum).toBeLessThanOrEqual(100)
        }
      }
    } finally {
      cw.destroy()
    }
  })
})

describe('logs read back from moto', () => {
  async function events (group: string, stream: string): Promise<string[]> {
    const logs = new CloudWatchLogsClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials })
    try {
      const out = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true, limit: 10_000 }))
      return (out.events ?? []).map(e => e.message!)
    } finally {
      logs.destroy()
    }
  }
  async function streams (group: string): Promise<string[]> {
    const logs = new CloudWatchLogsClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials })
    try {
      const out = await logs.send(new DescribeLogStreamsCommand({ logGroupName: group }))
      return (out.logStreams ?? []).map(s => s.logStreamName!).sort()
    } finally {
      logs.destroy()
    }
  }
  const groupA = `/aws/sagemaker/Endpoints/${A.endpoint}`

  it('one stream per container: [variant]/[instance-id]/[container-name], in /aws/sagemaker/Endpoints/[EndpointName]', async () => {
    expect(await streams(groupA)).toEqual([`AllTraffic/${A.instance}/container-2`, `AllTraffic/${A.instance}/container-3`, `AllTraffic/${A.instance}/preprocess`])
    expect(await streams(`/aws/sagemaker/Endpoints/${B.endpoint}`)).toEqual([`AllTraffic/${B.instance}/container-1`])
  })

  it('every stdout line landed in its stream, in order, once; the stderr line too', async () => {
    const expected: Record<string, string[]> = {
      preprocess: [
        ...Array.from({ length: 300 }, (_, i) => `preprocess boot ${i + 1}`),
        `preprocess listening on ${ports.pre}`,
        ...Array.from({ length: 12 }, (_, i) => `preprocess received ${i + 1}`),
        'preprocess stopping',
      ],
      'container-2': [`container-2 listening on ${ports.c2}`, ...Array.from({ length: 12 }, (_, i) => `container-2 received ${i + 1}`), 'container-2 stopping'],
      'container-3': [`container-3 listening on ${ports.c3}`, ...[1, 2, 3, 4, 5, 6, 7, 10, 11, 12].map(i => `container-3 received ${i}`), 'container-3 stopping'],
    }
    for (const [name, lines] of Object.entries(expected)) {
      const got = await events(groupA, `AllTraffic/${A.instance}/${name}`)
      const stderr = `${name} stderr: warming up`
      expect(got.filter(l => l === stderr), name).toHaveLength(1)
      expect(got.filter(l => l !== stderr), name).toEqual(lines)
    }
    const b = await events(`/aws/sagemaker/Endpoints/${B.endpoint}`, `AllTraffic/${B.instance}/container-1`)
    expect(b.filter(l => !l.includes('stderr'))).toEqual([`container-1 listening on ${ports.b1}`, ...[1, 2, 3].map(i => `container-1 received ${i}`), 'container-1 stopping'])
  })
})
