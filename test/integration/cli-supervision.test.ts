/**
 * Model servers run with `-- cmd` are supervised like a container entrypoint: one that ends
 * (exits, is killed, cannot be started) is logged at error level and ends minutely, which
 * publishes everything first and exits with that server's status — its code, 128 + the
 * signal's number when killed, 127 when the program does not exist (as a shell). With
 * `--restart-model-servers` it is restarted with backoff instead, and `/healthz` answers
 * 503 while it is down. Real child processes: the CLI (dist/cli/main.js) and its model servers.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { killAll, spawnCli, type CliChild } from '../helpers/cli.js'

const node = process.execPath
const kEnv = { HOME: tmpdir(), MINUTELY_STATSD_PORT: 'off', MINUTELY_EMF_PORT: 'off' }
/** EMF on stdout (no AWS needed), the model servers' own lines nowhere: stdout holds only the metrics. */
const kSidecar = ['sidecar', '--http-port', '0', '--sink', 'emf', '--namespace', 'Minutely/Supervision', '--endpoint-name', 'ep', '--log-sink', 'off']

let dir: string
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'minutely-supervision-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })
afterEach(() => { killAll() })

/** A model server that runs until `marker` exists, then exits with `code`. */
function exitsOnMarker (marker: string, code: number): string[] {
  return [node, '-e', `const fs = require('fs'); setInterval(() => { if (fs.existsSync(${JSON.stringify(marker)})) process.exit(${code}) }, 20)`]
}

function request (base: string, method: string, path: string, body?: string): Promise<{ status: number, json: any }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}
    const req = http.request(`${base}${path}`, { method, headers, agent: false }, res => {
      let s = ''
      res.on('data', (d: Buffer) => { s += d.toString() })
      res.on('end', () => { let json: unknown; try { json = JSON.parse(s) } catch { json = s } resolve({ status: res.statusCode ?? 0, json }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function ready (c: CliChild): Promise<string> {
  return (await c.waitFor(/HTTP ingest on (http:\/\/127\.0\.0\.1:\d+)\/v1\/samples/))[1]
}

describe('the sidecar exits with its model server\'s status, after publishing everything', () => {
  it('exit code 3: logged at error level; the samples received are published (EMF on stdout); exit 3', async () => {
    const marker = join(dir, 'exit-3')
    const c = spawnCli([...kSidecar, '--log-format', 'json', '--', ...exitsOnMarker(marker, 3)], kEnv)
    const base = await ready(c)
    expect((await request(base, 'GET', '/healthz')).status).toBe(200)
    const posted = await request(base, 'POST', '/v1/samples', JSON.stringify({ samples: [{ metric: 'BeforeTheEnd', value: 42, unit: 'Milliseconds' }] }))
    expect(posted.json).toEqual({ accepted: 1, rejected: [] })
    await writeFile(marker, '')
    const r = await c.closed
    expect(r.code).toBe(3)
    const errors = r.stderr.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as { level: string, msg: string }).filter(l => l.level === 'error')
    expect(errors.map(e => e.msg)).toContainEqual(expect.stringMatching(/^container model: exited with code 3 \(exit status 3\); not restarted/))
    expect(errors.map(e => e.msg)).toContainEqual(expect.stringMatching(/^model server model exited with code 3: publishing everything and exiting with status 3/))
    const emf = r.stdout.trim().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
    expect(emf.filter(d => d.BeforeTheEnd !== undefined)).toHaveLength(1)
  })

  it('a program that does not exist: exit 127, as a shell', async () => {
    const c = spawnCli([...kSidecar, '--', join(dir, 'no-such-model-server')], kEnv)
    const r = await c.closed
    expect(r.code).toBe(127)
    expect(r.stderr).toMatch(/error.*container model: cannot start .*no-such-model-server.*ENOENT/)
    expect(r.stderr).toMatch(/model server model could not be started \(ENOENT\): publishing everything and exiting with status 127/)
  })

  it('killed by a signal: exit 128 + its number (SIGKILL: 137); /healthz was 200 while it ran', async () => {
    const c = spawnCli([...kSidecar, '--', node, '-e', 'setInterval(() => {}, 1000)'], kEnv)
    const base = await ready(c)
    const pid = Number((await c.waitFor(/container model: started .* \(pid (\d+)\)/))[1])
    expect(await request(base, 'GET', '/healthz')).toEqual({ status: 200, json: { status: 'ok' } })
    process.kill(pid, 'SIGKILL')
    const r = await c.closed
    expect(r.code).toBe(137)
    expect(r.stderr).toMatch(/container model: was killed by SIGKILL \(exit status 137\)/)
  })

  it('a clean exit (0) ends the sidecar with 0', async () => {
    const marker = join(dir, 'exit-0')
    const c = spawnCli([...kSidecar, '--', ...exitsOnMarker(marker, 0)], kEnv)
    await ready(c)
    await writeFile(marker, '')
    expect((await c.closed).code).toBe(0)
  })
})

describe('where the model servers\' output goes decides whether a log group is needed', () => {
  const kNoEndpoint = ['sidecar', '--http-port', '0', '--sink', 'emf', '--namespace', 'Minutely/Supervision']
  for (const logSink of ['off', 'stdout']) {
    it(`--log-sink ${logSink} with no --endpoint-name: it runs the model server (and exits with its status, 3)`, async () => {
      const r = await spawnCli([...kNoEndpoint, '--log-sink', logSink, '--', node, '-e', 'process.exit(3)'], kEnv).closed
      expect(r.stderr).not.toMatch(/log group/)
      expect(r.code).toBe(3)
    })
  }
  it('--log-sink cloudwatch with no --endpoint-name and no --log-group: exit 2, saying the three ways out', async () => {
    const r = await spawnCli([...kNoEndpoint, '--log-sink', 'cloudwatch', '--region', 'us-east-1', '--', node, '-e', 'setInterval(() => {}, 1000)'],
      { ...kEnv, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret-example-key' }).closed
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--endpoint-name .* is needed to name the CloudWatch Logs group; or pass --log-group, or --log-sink stdout\|file\|off/)
  })
})

describe('--restart-model-servers', () => {
  it('restarts it with backoff; /healthz and the status page say it is down; SIGTERM still exits 0', async () => {
    const c = spawnCli([...kSidecar, '--restart-model-servers', '--', node, '-e', 'process.exit(3)'], kEnv)
    const base = await ready(c)
    // Exponential backoff: 1 s, then 2 s (the second restart proves it is not a loop at the transient cadence).
    await c.waitFor(/container model: exited with code 3 \(exit status 3\); restarting in 1000 ms \(restart policy always\)/)
    const h = await request(base, 'GET', '/healthz')
    expect(h.status).toBe(503)
    expect(h.json.status).toBe('unhealthy')
    expect(h.json.problems).toEqual([expect.objectContaining({ component: 'model-server:model', message: expect.stringMatching(/^model server model exited with code 3; restarting in \d+ ms/) })])
    const page = (await request(base, 'GET', '/api/status')).json.health
    expect(page.status).toBe('unhealthy')
    expect(page.problems.map((p: { component: string }) => p.component)).toEqual(['model-server:model'])
    await c.waitFor(/restarting in 2000 ms/)
    expect(c.stderr()).not.toMatch(/publishing everything and exiting/)
    c.child.kill('SIGTERM')
    const r = await c.closed
    expect(r.code).toBe(0)
  })
})

describe('the pipeline, likewise', () => {
  const pipeline = ['pipeline', '--port', '0', '--container', 'http://127.0.0.1:9', '--endpoint-name', 'ep', '--sink', 'emf', '--log-sink', 'off']

  it('exits with the status of the model server it runs (3)', async () => {
    const marker = join(dir, 'pipeline-exit-3')
    const c = spawnCli([...pipeline, '--', ...exitsOnMarker(marker, 3)], kEnv)
    const base = (await c.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]
    expect((await request(base, 'GET', '/ping')).status).toBe(503)   // nothing answers at --container
    await writeFile(marker, '')
    const r = await c.closed
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(/error: model server container-1 exited with code 3: publishing everything and exiting with status 3/)
  })

  it('a program that does not exist: exit 127', async () => {
    const r = await spawnCli([...pipeline, '--', join(dir, 'no-such-container')], kEnv).closed
    expect(r.code).toBe(127)
  })

  it('--restart-model-servers keeps it up; /ping says the process is down', async () => {
    const c = spawnCli([...pipeline, '--restart-model-servers', '--', node, '-e', 'process.exit(4)'], kEnv)
    const base = (await c.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]
    await c.waitFor(/restarting in 1000 ms/)
    const ping = await request(base, 'GET', '/ping')
    expect(ping.status).toBe(503)
    expect(ping.json.containers[0].state).toMatch(/process exited \(code 4\)/)
    c.child.kill('SIGTERM')
    expect((await c.closed).code).toBe(0)
  })
})
