/**
 * moto's CloudWatch server as a test peer: one per test file (start in beforeAll, stop in afterAll).
 *
 * WHAT MOTO 5.2.1 DOES (measured through @aws-sdk/client-cloudwatch 3.1164; see harness-moto.test.ts)
 *
 * Storage and merging (GetMetricStatistics):
 * - Datums with the same name, dimensions and timestamp ARE merged into one datapoint:
 *   SampleCount and Sum add up, Minimum/Maximum are the min/max over all of them, Average = Sum/SampleCount.
 *   This holds for StatisticValues datums, for Values/Counts datums, and for plain Values.
 * - A datum carrying BOTH StatisticValues and Values/Counts: moto IGNORES StatisticValues and uses
 *   only Values expanded by Counts. So for minutely's "exact stats + distribution" datums, moto's
 *   Sum/Min/Max/SampleCount are those of the bucket representatives (Σ value·count), NOT the exact
 *   StatisticValues. Assert exact stats against the strict endpoint's records; against moto assert
 *   Σcounts (SampleCount) and Σ value·count, or send StatisticValues-only datums.
 * - Counts are truncated with int(): Counts [2.7] counts as 2; a count of 0 or below adds nothing.
 *   Each count is stored as ONE Python object per sample: Counts [100000, 100000] takes ~0.5 s to
 *   put. Keep counts small in moto tests.
 * - A datum with no Value/Values/StatisticValues is stored as Value 0.
 * - GetMetricStatistics buckets do NOT align to StartTime: the first bucket starts at the EARLIEST
 *   matching datum's timestamp, then steps by Period. Publish minute-aligned timestamps
 *   (as minutely does) and the buckets are the minutes. A datapoint's Timestamp is its bucket start.
 * - GetMetricStatistics dimension matching is a SUBSET match: querying with [EndpointName] (or with
 *   no dimensions at all) also returns datums that have [EndpointName, VariantName]. Real CloudWatch
 *   matches the exact dimension set. Use distinct metric names/namespaces per test to stay exact.
 * - Unit filter works; without it, mixed units are merged and the datapoint's Unit is the last seen.
 * - ExtendedStatistics (p50, p99, ...) are accepted but ignored: datapoints come back with only
 *   Timestamp (and Unit), no ExtendedStatistics field. Percentiles cannot be checked with moto.
 * - StorageResolution is not stored; any Period (1 s included) is served from the raw samples.
 *
 * GetMetricData:
 * - Stat Sum/SampleCount/Average/Minimum/Maximum work, same merging as above; buckets ARE aligned
 *   to StartTime; default ScanBy is TimestampDescending (newest first), as in CloudWatch.
 * - Percentile stats ('p50', 'p99') make moto answer HTTP 500 with an HTML page: the SDK throws a
 *   SyntaxError ("Unexpected token '<'... Deserialization error"). Don't ask moto for percentiles.
 * - With Dimensions given, dimension ORDER matters (reversed order returns no data) and the
 *   Namespace is NOT checked (a query for namespace 'OTHER' returns the data of any namespace).
 *
 * ListMetrics: returns one entry per stored sample when a metric has 0 or >= 2 dimensions
 *   (dedup only works for exactly 1 dimension), pages at 500. Don't count metrics with it.
 *
 * Validation moto does: Value NaN (InvalidParameterValue); Value with StatisticValues
 *   (InvalidParameterCombination; but Value 0 + StatisticValues passes); Value with Values and
 *   Values/Counts of unequal length (InvalidParameterValue); StatisticValues missing a field
 *   (InvalidParameterValue "Missing required parameter in MetricData[1].StatisticValues: ...").
 * Validation moto does NOT do: 'AWS/' namespaces, empty namespace, > 30 dimensions (35 accepted),
 *   duplicate dimension names, > 1000 datums, > 150 Values, ±Infinity and 1e300, unknown Units,
 *   StorageResolution 5, Minimum > Maximum, negative Counts, timestamps older than 2 weeks
 *   (400 days accepted and returned) or more than 2 hours ahead. Limits are the strict endpoint's job.
 *
 * Wire: moto cannot read gzipped bodies (HTTP 500 HTML -> SDK SyntaxError), hence
 *   `disableRequestCompression: true` in {@link cloudWatchClientFor}. State is per region/account:
 *   use region us-east-1 everywhere; `reset()` wipes all of it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { CloudWatchClient, type CloudWatchClientConfig } from '@aws-sdk/client-cloudwatch'
import { afterAll, beforeAll } from 'vitest'

export interface MotoServer {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string
  readonly port: number
  /** Wipes every backend (POST /moto-api/reset). */
  reset(): Promise<void>
  /** Kills the server (SIGTERM, then SIGKILL) and waits for it to exit. Idempotent. */
  stop(): Promise<void>
}

export interface StartMotoOptions {
  /** Python interpreter. Default `$MOTO_PYTHON` or `python3`. */
  python?: string
  /** How long to wait for the server to answer. Default 30 s. */
  startTimeoutMs?: number
}

/**
 * Runs `python3 -m moto.server -H 127.0.0.1 -p PORT`. The tiny wrapper first asks Linux to
 * SIGKILL moto when this process dies (prctl PR_SET_PDEATHSIG), so a crashed or killed test
 * worker never leaves a server behind; elsewhere it just runs the module.
 */
const kWrapper = [
  'import sys, runpy',
  'try:',
  '    import ctypes, signal',
  '    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)',
  'except Exception:',
  '    pass',
  'sys.argv = ["moto.server"] + sys.argv[1:]',
  'runpy.run_module("moto.server", run_name="__main__", alter_sys=True)',
].join('\n')

const kLive = new Set<ChildProcess>()
let exitHookInstalled = false
function installExitHook (): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const c of kLive) {
      try { c.kill('SIGKILL') } catch { /* already gone */ }
    }
  })
}

async function freePort (): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => resolve(port))
    })
  })
}

class StartError extends Error {
  constructor (message: string, readonly retryable: boolean) { super(message) }
}

async function startOnce (python: string, port: number, deadline: number): Promise<MotoServer> {
  const child = spawn(python, ['-c', kWrapper, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  })
  kLive.add(child)
  installExitHook()
  // Keep the last output for error messages. Always drain both pipes: werkzeug logs a line per
  // request, and a full pipe would block moto.
  let tail = ''
  const keep = (b: Buffer): void => { tail = (tail + b.toString('utf8')).slice(-8000) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  let exited: { code: number | null, signal: NodeJS.Signals | null } | undefined
  let spawnError: Error | undefined
  const exitP = new Promise<void>(resolve => {
    child.once('exit', (code, signal) => { exited = { code, signal }; kLive.delete(child); resolve() })
    child.once('error', (err) => { spawnError = err; kLive.delete(child); resolve() })
  })

  const endpoint = `http://127.0.0.1:${port}`
  const stop = async (): Promise<void> => {
    if (exited || spawnError) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => { if (!exited) child.kill('SIGKILL') }, 3000)
    await exitP
    clearTimeout(timer)
  }

  // Poll until moto answers, the child dies, or the deadline passes.
  let delay = 25
  for (;;) {
    if (spawnError) {
      throw new StartError(`moto: cannot run ${python}: ${spawnError.message}`, false)
    }
    if (exited) {
      const inUse = /address already in use/i.test(tail)
      throw new StartError(
        `moto: server exited before answering (code ${exited.code}, signal ${exited.signal}) on port ${port}.\n` +
        `Is moto installed (python3 -m pip show moto)? Its output:\n${tail || '(none)'}`, inUse)
    }
    try {
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(2000) })
      await res.arrayBuffer()
      if (res.ok) break
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await stop()
      throw new StartError(`moto: server on ${endpoint} did not answer in time. Its output:\n${tail || '(none)'}`, false)
    }
    await new Promise(resolve => setTimeout(resolve, delay))
    delay = Math.min(delay * 2, 200)
  }

  return {
    endpoint,
    port,
    async reset () {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' })
      const text = await res.text()
      if (!res.ok) throw new Error(`moto: reset failed: HTTP ${res.status} ${text.slice(0, 500)}`)
    },
    stop,
  }
}

/** Starts moto's server on a free 127.0.0.1 port and waits until it answers. */
export async function startMoto (opts: StartMotoOptions = {}): Promise<MotoServer> {
  const python = opts.python ?? process.env.MOTO_PYTHON ?? 'python3'
  const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000)
  let lastErr: unknown
  // The port found free may be taken before moto binds it: retry with another one.
  for (let tries = 0; tries < 3; tries++) {
    try {
      return await startOnce(python, await freePort(), deadline)
    } catch (err) {
      lastErr = err
      if (!(err instanceof StartError) || !err.retryable) throw err
    }
  }
  throw lastErr
}

/**
 * A real `CloudWatchClient` for moto: region us-east-1, static fake credentials, the endpoint,
 * and request compression OFF (moto fails on gzipped bodies). `config` is applied last.
 */
export function cloudWatchClientFor (endpoint: string, config: Partial<CloudWatchClientConfig> = {}): CloudWatchClient {
  return new CloudWatchClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'AKIDMOTOTEST', secretAccessKey: 'moto-test-secret' },
    disableRequestCompression: true,
    ...config,
  })
}

/**
 * Starts moto for the enclosing test file or `describe` (beforeAll) and stops it after
 * (afterAll); the server and a client for it are read from the returned object.
 */
export function useMoto (): { readonly moto: MotoServer, readonly cw: CloudWatchClient } {
  let moto: MotoServer | undefined
  let cw: CloudWatchClient | undefined
  beforeAll(async () => {
    moto = await startMoto()
    cw = cloudWatchClientFor(moto.endpoint)
  })
  afterAll(async () => {
    cw?.destroy()
    await moto?.stop()
  })
  return {
    get moto () { if (moto === undefined) throw new Error('moto is not started yet: read it inside a test'); return moto },
    get cw () { if (cw === undefined) throw new Error('moto is not started yet: read it inside a test'); return cw },
  }
}
