/**
 * The sidecar as a process, on its worst days: killed with SIGKILL, stopped while CloudWatch
 * is unreachable, and asked by strangers. Prints its figures.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync, statSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'

const kMain = join(process.cwd(), 'dist/cli/main.js')
const kQuiet = ['--statsd-port', 'off', '--emf-port', 'off', '--http-port', '0', '--log-format', 'json']
const live = new Set<ChildProcess>()
const dirs: string[] = []
afterEach(() => { for (const c of live) c.kill('SIGKILL'); live.clear() })
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })

interface Running { child: ChildProcess, base: string, stdout: () => string, stderr: () => string, exit: Promise<number | null> }

async function start (args: string[], env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, [kMain, 'sidecar', ...kQuiet, ...args], { env: { ...process.env, AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'us-east-1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  let out = ''; let err = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  const exit = new Promise<number | null>(resolve => { child.on('close', code => { live.delete(child); resolve(code) }) })
  const base = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString()
      const m = /HTTP ingest on (http:\/\/127\.0\.0\.1:\d+)\/v1\/samples/.exec(err)
      if (m !== null) resolve(m[1])
    })
    void exit.then(code => { reject(new Error(`sidecar exited ${String(code)} before it was ready:\n${err}`)) })
  })
  return { child, base, stdout: () => out, stderr: () => err, exit }
}

async function post (base: string, samples: unknown[], token?: string): Promise<{ status: number, body: any }> {
  const r = await fetch(`${base}/v1/samples`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify({ samples }) })
  return { status: r.status, body: await r.json() }
}

/** SampleCount and Sum of every aggregated EMF member of a metric in stdout. */
function emfTotals (stdout: string, metric: string): { count: number, sum: number } {
  let count = 0; let sum = 0
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue
    const doc = JSON.parse(line) as Record<string, { Count: number, Sum: number }>
    if (doc[metric] !== undefined) { count += doc[metric].Count; sum += doc[metric].Sum }
  }
  return { count, sum }
}

function samples (n: number, metric: string): { list: unknown[], sum: number } {
  const list = Array.from({ length: n }, (_, i) => ({ metric, value: 100 + i, unit: 'Microseconds', dimensions: { EndpointName: 'ep', VariantName: 'v1' } }))
  return { list, sum: list.reduce((a: number, s) => a + (s as { value: number }).value, 0) }
}

function tmp (): string { const d = mkdtempSync(join(tmpdir(), 'minutely-cli-')); dirs.push(d); return d }

describe('sidecar guarantees', () => {
  it('SIGKILL: open minutes are checkpointed, and the next start with the same spool publishes them', async () => {
    const spool = join(tmp(), 'spool')
    // CloudWatch unreachable (nothing listens on port 9), so nothing leaves before the kill.
    const a = await start(['--sink', 'cloudwatch', '--cloudwatch-endpoint', 'http://127.0.0.1:9', '--spool-dir', spool, '--checkpoint-interval-ms', '200'])
    const { list, sum } = samples(500, 'KilledLatency')
    expect((await post(a.base, list)).body.accepted).toBe(500)
    await new Promise(resolve => setTimeout(resolve, 800))   // a few checkpoints
    a.child.kill('SIGKILL')
    await a.exit
    expect(statSync(spool).mode & 0o777).toBe(0o700)
    for (const f of readdirSync(spool)) expect(statSync(join(spool, f)).mode & 0o777).toBe(0o600)

    const b = await start(['--sink', 'emf', '--spool-dir', spool])
    b.child.kill('SIGTERM')
    expect(await b.exit).toBe(0)
    const got = emfTotals(b.stdout(), 'KilledLatency')
    console.log(`sigkill: posted 500 (sum ${sum}), published after restart ${got.count} (sum ${got.sum})`)
    expect(got).toEqual({ count: 500, sum })
  })

  it('SIGTERM while CloudWatch is down: everything is spooled within the deadline and sent at the next start', async () => {
    const spool = join(tmp(), 'spool')
    const a = await start(['--sink', 'cloudwatch', '--cloudwatch-endpoint', 'http://127.0.0.1:9', '--spool-dir', spool, '--close-timeout-ms', '500'])
    const { list, sum } = samples(300, 'DownLatency')
    expect((await post(a.base, list)).body.accepted).toBe(300)
    a.child.kill('SIGTERM')
    expect(await a.exit).toBe(0)   // nothing lost: kept in the spool
    expect(a.stderr(), a.stderr()).toMatch(/kept in the spool/)

    const b = await start(['--sink', 'emf', '--spool-dir', spool])
    b.child.kill('SIGTERM')
    expect(await b.exit).toBe(0)
    expect(emfTotals(b.stdout(), 'DownLatency')).toEqual({ count: 300, sum })
  })

  it('SIGTERM while CloudWatch is down and no spool: exit 1, saying what was not published', async () => {
    const a = await start(['--sink', 'cloudwatch', '--cloudwatch-endpoint', 'http://127.0.0.1:9', '--close-timeout-ms', '300'])
    expect((await post(a.base, samples(10, 'Lost').list)).body.accepted).toBe(10)
    a.child.kill('SIGTERM')
    expect(await a.exit).toBe(1)
    expect(a.stderr()).toMatch(/could NOT be published/)
  })

  it('--auth-token protects every route but /healthz, and is never logged', async () => {
    const token = 's3cr3t-token-value-123'
    const a = await start(['--sink', 'memory', '--auth-token', token, '--log-level', 'debug'])
    expect((await post(a.base, samples(1, 'A').list)).status).toBe(401)
    expect((await post(a.base, samples(1, 'A').list, 'wrong')).status).toBe(401)
    expect((await post(a.base, samples(2, 'A').list, token)).body.accepted).toBe(2)
    expect((await fetch(`${a.base}/metrics`)).status).toBe(401)
    expect((await fetch(`${a.base}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    expect((await fetch(`${a.base}/healthz`)).status).toBe(200)
    a.child.kill('SIGTERM')
    expect(await a.exit).toBe(0)
    expect(a.stderr() + a.stdout()).not.toContain(token)
  })

  it('--auth-token-file reads the token from a file', async () => {
    const f = join(tmp(), 'token'); writeFileSync(f, 'from-a-file\n', { mode: 0o600 })
    const a = await start(['--sink', 'memory', '--auth-token-file', f])
    expect((await post(a.base, samples(1, 'A').list)).status).toBe(401)
    expect((await post(a.base, samples(1, 'A').list, 'from-a-file')).status).toBe(200)
    a.child.kill('SIGTERM')
    expect(await a.exit).toBe(0)
  })

  it.each(['--auth-token', 'MINUTELY_AUTH_TOKEN', '--config', '--auth-token-file'])('a token from %s never reaches the log, even in a sample named after it; the scheme is case-insensitive', async (from) => {
    const token = `tok-${from.replace(/\W/g, '')}-9f8e7d6c5b4a`
    const dir = tmp()
    const args = ['--sink', 'memory']
    const env: Record<string, string> = {}
    if (from === '--auth-token') args.push('--auth-token', token)
    if (from === 'MINUTELY_AUTH_TOKEN') env.MINUTELY_AUTH_TOKEN = token
    if (from === '--config') { writeFileSync(join(dir, 'c.json'), JSON.stringify({ 'auth-token': token }), { mode: 0o600 }); args.push('--config', join(dir, 'c.json')) }
    if (from === '--auth-token-file') { writeFileSync(join(dir, 'token'), token + '\n', { mode: 0o600 }); args.push('--auth-token-file', join(dir, 'token')) }
    const a = await start(args, env)
    const bad = [{ metric: `Leak-${token}`, value: 'not a number' }, { metric: 'Fine', value: 1 }]
    for (const scheme of ['Bearer', 'bearer', 'BEARER  ']) {
      const r = await fetch(`${a.base}/v1/samples`, { method: 'POST', headers: { authorization: `${scheme} ${token}` }, body: JSON.stringify({ samples: bad }) })
      expect(r.status, scheme).toBe(200)
      expect(((await r.json()) as { accepted: number }).accepted).toBe(1)
    }
    const wrong = await fetch(`${a.base}/v1/samples`, { method: 'POST', headers: { authorization: `Basic ${token}` }, body: '{"samples":[]}' })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer')
    a.child.kill('SIGTERM')
    expect(await a.exit).toBe(0)
    const out = a.stderr() + a.stdout()
    const rejection = out.split('\n').find(l => l.includes('not_a_number'))
    console.log(`token from ${from}: the rejection as logged: ${rejection ?? '(none)'}`)
    expect(rejection).toContain('Leak-[redacted]')   // the line was logged, without the token
    expect(out).not.toContain(token)
  })

  it('a --config file that is not JSON: the line and column, never its text (it may hold the token)', async () => {
    const token = 'tok-in-a-broken-config-5e6f7a8b'
    const f = join(tmp(), 'c.json')
    writeFileSync(f, `{\n  "auth-token": "${token}",\n  "namespace": "N",,\n  "sink": "memory"\n}\n`, { mode: 0o600 })
    const child = spawn(process.execPath, [kMain, 'sidecar', ...kQuiet, '--config', f], { stdio: ['ignore', 'pipe', 'pipe'] })
    live.add(child)
    let err = ''
    child.stderr!.on('data', (d: Buffer) => { err += d.toString() })
    const code = await new Promise<number | null>(resolve => { child.on('close', resolve) })
    console.log(`broken --config: ${err.trim()}`)
    expect(code).toBe(2)
    expect(err).toContain(`--config ${f}: not valid JSON at line 3, column 20`)
    expect(err).not.toContain(token)
    expect(err).not.toContain('tok-')
    expect(err).not.toContain('namespace')
  })

  it('says so when bound beyond loopback', async () => {
    const child = spawn(process.execPath, [kMain, 'sidecar', ...kQuiet, '--sink', 'memory', '--bind', '0.0.0.0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    live.add(child)
    let err = ''
    await new Promise<void>(resolve => { child.stderr!.on('data', (d: Buffer) => { err += d.toString(); if (/HTTP ingest on/.test(err)) resolve() }) })
    expect(err).toMatch(/not loopback/)
    child.kill('SIGTERM')
  })
})
