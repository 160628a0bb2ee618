/**
 * The sidecar's spool under attack, with real processes: two sidecars on one --spool-dir, a
 * directory others can write, a bad or read-only --spool-dir at start, a disk that fills up
 * while it runs, and a journaled batch damaged on disk. Prints its figures.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { mountNamespace, onTestDisk } from '../helpers/mount-ns.js'

const kMain = join(process.cwd(), 'dist/cli/main.js')
const kQuiet = ['--statsd-port', 'off', '--emf-port', 'off', '--log-format', 'json']
const kDown = ['--sink', 'cloudwatch', '--cloudwatch-endpoint', 'http://127.0.0.1:9']   // nothing listens on port 9
const kEnv = { AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'us-east-1' }
const live = new Set<ChildProcess>()
const dirs: string[] = []
afterEach(() => { for (const c of live) c.kill('SIGKILL'); live.clear() })
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })
function tmp (): string { const d = mkdtempSync(join(tmpdir(), 'minutely-spool-cli-')); dirs.push(d); return d }

interface Proc { child: ChildProcess, pid: number, stdout: () => string, stderr: () => string, exit: Promise<number | null>, ready: Promise<string> }

/** `minutely sidecar ...args` (or `wrap(argv)`: the same under another command). */
function sidecar (args: string[], wrap?: (argv: string[]) => [string, string[]]): Proc {
  const argv = [process.execPath, kMain, 'sidecar', ...kQuiet, ...args]
  const [cmd, rest] = wrap !== undefined ? wrap(argv) : [argv[0], argv.slice(1)]
  const child = spawn(cmd, rest, { env: { PATH: process.env.PATH, ...kEnv }, stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  let out = ''; let err = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  const exit = new Promise<number | null>(resolve => { child.on('close', code => { live.delete(child); resolve(code) }) })
  const ready = new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString()
      const m = /HTTP ingest on (http:\/\/127\.0\.0\.1:\d+)\/v1\/samples/.exec(err)
      if (m !== null) resolve(m[1])
    })
    void exit.then(code => { reject(new Error(`sidecar exited ${String(code)} before it was ready:\n${err}`)) })
  })
  ready.catch(() => {})
  return { child, pid: child.pid!, stdout: () => out, stderr: () => err, exit, ready }
}

/** The sidecar's JSON log lines. */
function logLines (stderr: string): Array<{ level: string, msg: string }> {
  return stderr.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as { level: string, msg: string })
}

async function post (base: string, samples: unknown[]): Promise<number> {
  const r = await fetch(`${base}/v1/samples`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ samples }) })
  return ((await r.json()) as { accepted: number }).accepted
}

/** `n` samples of `metric` over `series` series, posted in slices the body limit allows. */
async function postMany (base: string, metric: string, n: number, series = 10): Promise<number> {
  let accepted = 0
  for (let i = 0; i < n; i += 2000) {
    const list = Array.from({ length: Math.min(2000, n - i) }, (_, k) => ({ metric, value: 1 + ((i + k) % 100), unit: 'Milliseconds', dimensions: { Host: `h${(i + k) % series}` } }))
    accepted += await post(base, list)
  }
  return accepted
}

function emfCount (stdout: string, metric: string): number {
  let count = 0
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue
    const doc = JSON.parse(line) as Record<string, { Count: number }>
    if (doc[metric] !== undefined) count += doc[metric].Count
  }
  return count
}

async function until<T> (f: () => Promise<T | undefined>, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

const healthz = async (base: string): Promise<{ status: number, body: { status: string, problems?: Array<{ component: string, message: string }> } }> => {
  const r = await fetch(`${base}/healthz`)
  return { status: r.status, body: await r.json() as never }
}
const metric = async (base: string, name: string): Promise<number> => {
  const text = await (await fetch(`${base}/metrics`)).text()
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
  return m === null ? NaN : Number(m[1])
}

describe('one sidecar per spool directory', () => {
  it('a second sidecar on the same --spool-dir is refused (exit 2, naming the holder); everything is published once', async () => {
    const spool = join(tmp(), 'spool')
    const a = sidecar([...kDown, '--http-port', '0', '--spool-dir', spool, '--close-timeout-ms', '1000'])
    const base = await a.ready
    expect(await postMany(base, 'Once', 10_000)).toBe(10_000)
    const port = new URL(base).port
    // A new sidecar while the old one runs: on the same port (busy), and on another one.
    const samePort = sidecar([...kDown, '--http-port', port, '--spool-dir', spool])
    const otherPort = sidecar([...kDown, '--http-port', '0', '--spool-dir', spool])
    for (const b of [samePort, otherPort]) {
      expect(await b.exit).toBe(2)
      expect(b.stderr()).toContain(`minutely: --spool-dir (MINUTELY_SPOOL_DIR) ${spool} is in use by another minutely process: pid ${a.pid}`)
    }
    a.child.kill('SIGTERM')
    expect(await a.exit).toBe(0)
    expect(a.stderr()).toMatch(/10000 datums kept in the spool|datums kept in the spool/)
    expect(readdirSync(spool)).not.toContain('minutely.lock')   // released at exit

    const c = sidecar(['--sink', 'emf', '--http-port', '0', '--spool-dir', spool])
    await c.ready
    c.child.kill('SIGTERM')
    expect(await c.exit).toBe(0)
    const published = emfCount(c.stdout(), 'Once')
    console.log(`two sidecars on one spool: second refused, exit 2, holder pid ${a.pid} (same port and another port); 10,000 sent, ${published.toLocaleString('en-US')} published after the restart`)
    expect(published).toBe(10_000)
  })

  it('after a SIGKILL, the next start takes the lock over and says so', async () => {
    const spool = join(tmp(), 'spool')
    const a = sidecar([...kDown, '--http-port', '0', '--spool-dir', spool, '--checkpoint-interval-ms', '200'])
    const base = await a.ready
    expect(await postMany(base, 'Killed', 300)).toBe(300)
    await new Promise(resolve => setTimeout(resolve, 600))
    a.child.kill('SIGKILL')
    await a.exit
    const b = sidecar(['--sink', 'emf', '--http-port', '0', '--spool-dir', spool])
    await b.ready
    b.child.kill('SIGTERM')
    expect(await b.exit).toBe(0)
    const line = logLines(b.stderr()).find(l => /took over the lock/.test(l.msg))
    console.log(`SIGKILL then restart: ${line?.msg ?? '(no line)'}; published ${emfCount(b.stdout(), 'Killed')} of 300`)
    expect(line).toMatchObject({ level: 'warn', msg: expect.stringContaining(`took over the lock of pid ${a.pid}, started `) })
    expect(line?.msg).toContain(`pid ${a.pid} is no longer running`)
    expect(emfCount(b.stdout(), 'Killed')).toBe(300)
  })
})

describe('a bad --spool-dir at start is a config error (exit 2) naming the flag', () => {
  it('a directory others can write (like /tmp) is refused and left as it was', async () => {
    const dir = join(tmp(), 'shared')
    mkdirSync(dir)
    chmodSync(dir, 0o1777)
    const a = sidecar(['--sink', 'memory', '--http-port', '0', '--spool-dir', dir])
    expect(await a.exit).toBe(2)
    console.log(`--spool-dir on a mode 1777 directory: exit 2, mode still ${(statSync(dir).mode & 0o7777).toString(8)}: ${a.stderr().trim()}`)
    expect(a.stderr()).toContain(`--spool-dir (MINUTELY_SPOOL_DIR) ${dir} can be read or written by others (mode 1777)`)
    expect(a.stderr()).toContain(`chmod 700 ${dir}, or pass a path that does not exist yet`)
    expect(statSync(dir).mode & 0o7777).toBe(0o1777)
    expect(readdirSync(dir)).toEqual([])
  })

  it('a file, or a path through a file', async () => {
    const file = join(tmp(), 'file')
    writeFileSync(file, 'x')
    for (const [path, re] of [[file, /is not a directory/], [join(file, 'spool'), /is not a directory \(ENOTDIR/]] as const) {
      const a = sidecar(['--sink', 'memory', '--http-port', '0', '--spool-dir', path])
      expect(await a.exit).toBe(2)
      expect(a.stderr()).toContain(`minutely: --spool-dir (MINUTELY_SPOOL_DIR) ${path} `)
      expect(a.stderr()).toMatch(re)
      expect(a.stderr()).not.toMatch(/\n\s+at /)   // no stack trace
    }
  })

  const ns = mountNamespace()
  it.skipIf(!('prefix' in ns))(`a read-only or full filesystem (a real one, in a mount namespace)${'why' in ns ? `: skipped, ${ns.why}` : ''}`, async () => {
    const prefix = (ns as { prefix: string[] }).prefix
    const cases: Array<[string, string, string, RegExp]> = [
      ['read-only, spool missing', 'mount -o remount,ro "$0"', 'spool', /cannot be created \(EROFS/],
      ['read-only, spool there', 'mkdir -m 700 "$0/spool" && mount -o remount,ro "$0"', 'spool', /cannot be written \(EROFS/],
      ['full', 'mkdir -m 700 "$0/spool" && (cat /dev/zero > "$0/filler" 2>/dev/null || true)', 'spool', /cannot be written \(ENOSPC/],
    ]
    for (const [what, setup, sub, re] of cases) {
      const mnt = join(tmp(), 'disk'); mkdirSync(mnt)
      const a = sidecar(['--sink', 'memory', '--http-port', '0', '--spool-dir', join(mnt, sub)], argv => onTestDisk(prefix, mnt, '256k', setup, argv))
      expect(await a.exit, a.stderr()).toBe(2)
      console.log(`--spool-dir on a ${what} filesystem: exit 2: ${a.stderr().trim()}`)
      expect(a.stderr()).toContain(`minutely: --spool-dir (MINUTELY_SPOOL_DIR) ${join(mnt, sub)} `)
      expect(a.stderr()).toMatch(re)
      expect(a.stderr()).not.toMatch(/\n\s+at /)
    }
  })
})

describe('a spool that cannot be written while the sidecar runs', () => {
  /** Checks that the sidecar at `base` says the spool fails, everywhere, with `code` as the reason. */
  async function saysFailing (p: Proc, base: string, code: string): Promise<void> {
    const h = await until(async () => { const x = await healthz(base); return x.status === 503 ? x : undefined }, '/healthz 503')
    expect(h.body.problems).toEqual([{ component: 'spool', message: expect.stringContaining(`cannot be written (${code}`), since: expect.any(Number) }])
    const line = logLines(p.stderr()).find(l => /cannot be written/.test(l.msg))
    expect(line).toMatchObject({ level: 'error', msg: expect.stringContaining(`(${code}`) })
    expect(await metric(base, 'minutely_spool_write_errors_total')).toBeGreaterThan(0)
    expect(await metric(base, 'minutely_spool_failing')).toBe(1)
    const status = await (await fetch(`${base}/api/status`)).json() as { health: { problems: Array<{ component: string }> }, publish: { spool: { failure: string | null } } }
    expect(status.health.problems.map(x => x.component)).toEqual(['spool'])
    expect(status.publish.spool.failure).toContain(`(${code}`)
    console.log(`spool unwritable (${code}): /healthz ${h.status}, log level ${line!.level}: ${line!.msg}`)
  }

  async function recovers (p: Proc, base: string): Promise<void> {
    await until(async () => (await healthz(base)).status === 200 ? true : undefined, '/healthz 200 again')
    expect(await metric(base, 'minutely_spool_failing')).toBe(0)
    expect(logLines(p.stderr()).some(l => /is writable again/.test(l.msg))).toBe(true)
  }

  it('the directory replaced by a file (ENOTDIR): error log, /healthz 503, /metrics, status; healthy again once it is back', async () => {
    const d = tmp()
    const spool = join(d, 'spool')
    const a = sidecar(['--sink', 'memory', '--http-port', '0', '--spool-dir', spool, '--checkpoint-interval-ms', '200'])
    const base = await a.ready
    expect((await healthz(base)).status).toBe(200)
    renameSync(spool, join(d, 'away'))
    writeFileSync(spool, 'not a directory')
    await saysFailing(a, base, 'ENOTDIR')
    unlinkSync(spool)
    renameSync(join(d, 'away'), spool)
    await recovers(a, base)
    a.child.kill('SIGTERM')
    expect(await a.exit).toBe(0)
  })

  const ns = mountNamespace()
  it.skipIf(!('prefix' in ns))(`the disk fills up (a real ENOSPC, in a mount namespace)${'why' in ns ? `: skipped, ${ns.why}` : ''}`, async () => {
    const prefix = (ns as { prefix: string[] }).prefix
    const mnt = join(tmp(), 'disk'); mkdirSync(mnt)
    const a = sidecar(['--sink', 'memory', '--http-port', '0', '--spool-dir', join(mnt, 'spool'), '--checkpoint-interval-ms', '200'], argv => onTestDisk(prefix, mnt, '1m', '', argv))
    const base = await a.ready
    expect(await post(base, [{ metric: 'Open', value: 1 }])).toBe(1)
    expect((await healthz(base)).status).toBe(200)
    // The child's tmpfs, seen from here.
    const filler = `/proc/${a.pid}/root${mnt}/filler`
    const fd = openSync(filler, 'w')
    try { for (;;) writeSync(fd, Buffer.alloc(65536)) } catch (err) { expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC') } finally { closeSync(fd) }
    await saysFailing(a, base, 'ENOSPC')
    unlinkSync(filler)
    await recovers(a, base)
    a.child.kill('SIGTERM')
    expect(await a.exit).toBe(0)
  })
})

describe('a damaged journal', () => {
  it('a batch of 14 datums with 8 bytes overwritten: said at error level with what was lost, counted, 0 published', async () => {
    const spool = join(tmp(), 'spool')
    const a = sidecar([...kDown, '--http-port', '0', '--spool-dir', spool, '--close-timeout-ms', '300'])
    const base = await a.ready
    expect(await postMany(base, 'Damaged', 140, 14)).toBe(140)
    a.child.kill('SIGTERM')
    expect(await a.exit).toBe(0)
    const [batch] = readdirSync(spool).filter(f => f.endsWith('.batch'))
    const fd = openSync(join(spool, batch), 'r+')
    writeSync(fd, Buffer.from('12345678'), 0, 8, 300)
    closeSync(fd)

    const b = sidecar(['--sink', 'emf', '--http-port', '0', '--spool-dir', spool])
    const base2 = await b.ready
    const corrupt = await until(async () => { const v = await metric(base2, 'minutely_spool_corrupt_datums_total'); return v > 0 ? v : undefined }, 'the damaged batch to be read')
    b.child.kill('SIGTERM')
    expect(await b.exit).toBe(0)
    const line = logLines(b.stderr()).find(l => /damaged/.test(l.msg))
    const published = emfCount(b.stdout(), 'Damaged')
    console.log(`corrupt batch: ${corrupt} datums reported lost, ${published} published: ${line?.msg ?? '(no line)'}`)
    expect(corrupt).toBe(14)
    expect(published).toBe(0)
    expect(line).toMatchObject({ level: 'error', msg: expect.stringMatching(/journaled batch is damaged and not sent: 14 datums \(140 samples\) are lost/) })
  })
})
