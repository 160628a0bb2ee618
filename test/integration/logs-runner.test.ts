/**
 * The process runner with real child processes: lines in order from stdout and stderr,
 * graceful and forced stops, restart policies, a program that does not exist; and
 * startContainerLogs end to end into the file sink.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { exitCodeOf, startProcess, type ExitInfo } from '../../src/logs/runner.js'
import { kLogSettings, startContainerLogs } from '../../src/cli/container-logs.js'
import { resolveSettings } from '../../src/cli/config.js'
import { kIdentitySettings } from '../../src/cli/instance-settings.js'

const node = process.execPath
const dirs: string[] = []
afterAll(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })

function collect (): { lines: Array<[string, string]>, onLine: (l: string, from: 'stdout' | 'stderr') => void } {
  const lines: Array<[string, string]> = []
  return { lines, onLine: (l, from) => { lines.push([from, l]) } }
}

/** Resolves once `pred` holds, checking on each line (no sleeping). */
function waitLines (c: ReturnType<typeof collect>, pred: (lines: Array<[string, string]>) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error(`timed out; got ${JSON.stringify(c.lines)}`)) }, 10_000)
    const orig = c.onLine
    const check = (): void => { if (pred(c.lines)) { clearTimeout(t); resolve() } }
    c.onLine = (l, f) => { orig(l, f); check() }
    check()
  })
}

describe('process runner', () => {
  it('hands over stdout and stderr lines in order, partial writes and a last unterminated line included', async () => {
    const c = collect()
    const script = `
      process.stderr.write('err one\\n')
      for (let i = 0; i < 2000; i++) process.stdout.write('out ' + i + '\\n')
      process.stdout.write('par'); setTimeout(() => { process.stdout.write('tial\\nlast without newline'); process.exit(3) }, 20)`
    const p = startProcess({ name: 'c1', command: node, args: ['-e', script], onLine: (l, f) => { c.onLine(l, f) }, log: () => {} })
    expect(await p.exited()).toEqual({ code: 3, signal: null })
    const out = c.lines.filter(([f]) => f === 'stdout').map(([, l]) => l)
    expect(out).toEqual([...Array.from({ length: 2000 }, (_, i) => `out ${i}`), 'partial', 'last without newline'])
    expect(c.lines.filter(([f]) => f === 'stderr').map(([, l]) => l)).toEqual(['err one'])
  })

  it('stops gracefully with SIGTERM, and the last words still arrive', async () => {
    const c = collect()
    const script = `process.on('SIGTERM', () => { console.log('bye'); process.exit(0) }); console.log('up'); setInterval(() => {}, 1000)`
    const p = startProcess({ name: 'c2', command: node, args: ['-e', script], onLine: (l, f) => { c.onLine(l, f) }, log: () => {} })
    await waitLines(c, ls => ls.some(([, l]) => l === 'up'))
    expect(p.running).toBe(true)
    await p.stop(5000)
    expect(c.lines.map(([, l]) => l)).toEqual(['up', 'bye'])
    expect(p.lastExit).toEqual({ code: 0, signal: null })
    expect(p.running).toBe(false)
  })

  it('kills a child that ignores SIGTERM after the stop timeout', async () => {
    const c = collect()
    const logs: string[] = []
    const script = `process.on('SIGTERM', () => { console.log('ignoring') }); console.log('up'); setInterval(() => {}, 1000)`
    const p = startProcess({ name: 'stubborn', command: node, args: ['-e', script], onLine: (l, f) => { c.onLine(l, f) }, log: l => logs.push(l) })
    await waitLines(c, ls => ls.some(([, l]) => l === 'up'))
    await p.stop(300)
    expect(p.lastExit?.signal).toBe('SIGKILL')
    expect(logs.some(l => l.includes('SIGKILL'))).toBe(true)
  })

  it('restarts on failure with backoff, and not after a clean exit or under "never"', async () => {
    const c = collect()
    const exits: Array<number | null> = []
    const failing = startProcess({ name: 'flaky', command: node, args: ['-e', `console.log('run'); process.exit(2)`], restart: 'on-failure', restartBaseMs: 5, restartMaxMs: 10,
      onLine: (l, f) => { c.onLine(l, f) }, onExit: code => exits.push(code), log: () => {} })
    await waitLines(c, ls => ls.filter(([, l]) => l === 'run').length >= 3)
    await failing.stop(1000)
    expect(failing.restarts).toBeGreaterThanOrEqual(2)
    expect(exits.filter(x => x === 2).length).toBeGreaterThanOrEqual(2)
    expect(exits.every(x => x === 2 || x === null)).toBe(true) // null: the one stop() terminated, if one ran

    const once: Array<number | null> = []
    const clean = startProcess({ name: 'clean', command: node, args: ['-e', 'process.exit(0)'], restart: 'on-failure', restartBaseMs: 1, onLine: () => {}, onExit: code => once.push(code), log: () => {} })
    const never = startProcess({ name: 'never', command: node, args: ['-e', 'process.exit(1)'], restart: 'never', onLine: () => {}, onExit: code => once.push(code), log: () => {} })
    await Promise.all([clean.exited(), never.exited()])
    await new Promise(resolve => setTimeout(resolve, 30)) // a restart would be due by now
    expect(clean.restarts).toBe(0)
    expect(never.restarts).toBe(0)
    expect(once.sort()).toEqual([0, 1])
  })

  it('reports a program that does not exist as an exit, without throwing', async () => {
    const logs: string[] = []
    const p = startProcess({ name: 'ghost', command: '/nonexistent/model-server', onLine: () => {}, log: l => logs.push(l) })
    await p.started
    await p.stop()
    expect(p.running).toBe(false)
    expect(logs.some(l => l.includes('cannot start'))).toBe(true)
  })
})

describe('how a child ended, as a shell reports it', () => {
  it('its own code; 128 + the signal\'s number when killed; 127 when not found; 126 when it cannot be run', async () => {
    const infos: ExitInfo[] = []
    const run = async (command: string, args: string[]): Promise<void> => {
      const p = startProcess({ name: 'x', command, args, onLine: () => {}, log: () => {}, onExit: (_c, _s, info) => { infos.push(info) } })
      await p.exited()
    }
    await run(node, ['-e', 'process.exit(3)'])
    await run(node, ['-e', 'process.kill(process.pid, "SIGKILL")'])
    await run(node, ['-e', 'process.kill(process.pid, "SIGTERM")'])
    await run('/nonexistent/model-server', [])
    await run(tmpdir(), [])   // a directory: found, not runnable
    expect(infos.map(i => [i.exitCode, i.restarting, i.stopped, i.error])).toEqual([
      [3, false, false, undefined], [137, false, false, undefined], [143, false, false, undefined], [127, false, false, 'ENOENT'], [126, false, false, 'EACCES'],
    ])
    expect(exitCodeOf({ code: 0, signal: null })).toBe(0)
    expect(exitCodeOf({ code: null, signal: 'SIGINT' })).toBe(130)
  })

  it('an end under a restart policy says it restarts; one after stop() says it was stopped', async () => {
    const infos: ExitInfo[] = []
    const p = startProcess({ name: 'r', command: node, args: ['-e', 'process.exit(5)'], restart: 'always', restartBaseMs: 60_000, onLine: () => {}, log: () => {}, onExit: (_c, _s, i) => { infos.push(i) } })
    await p.exited()
    expect(infos).toEqual([{ restarting: true, stopped: false, exitCode: 5 }])
    expect(p.restartAt).toBeGreaterThan(Date.now())
    expect(p.downSince).toBeLessThanOrEqual(Date.now())
    await p.stop()
    expect(p.stopped).toBe(true)
    expect(p.restartAt).toBeUndefined()
    const q = startProcess({ name: 's', command: node, args: ['-e', 'setInterval(() => {}, 1000)'], onLine: () => {}, log: () => {}, onExit: (_c, _s, i) => { infos.push(i) } })
    await q.started
    await q.stop(5000)
    expect(infos[1]).toEqual({ restarting: false, stopped: true, exitCode: 143 })
  })
})

describe('startContainerLogs', () => {
  it('runs one process per container and ships each one\'s lines to its stream, in order (file sink)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'minutely-logs-'))
    dirs.push(dir)
    const file = join(dir, 'logs.jsonl')
    const settings = resolveSettings([...kLogSettings, ...kIdentitySettings], {
      'log-sink': 'file', 'log-file': file, 'endpoint-name': 'ep-file', 'instance-id': 'i-0abc', 'log-flush-ms': '50',
    }, {})
    const script = (name: string): string => `for (let i = 0; i < 500; i++) console.log('${name} ' + i); console.error('${name} on stderr')`
    const logs = startContainerLogs(settings, [
      { name: 'pre', command: [node, '-e', script('pre')] },
      { name: 'container-2' }, // not run by us
      { name: 'post', command: [node, '-e', script('post')] },
    ], { log: () => {} })!
    expect(logs.group).toBe('/aws/sagemaker/Endpoints/ep-file')
    expect(logs.processes.map(p => p.stream)).toEqual(['AllTraffic/i-0abc/pre', 'AllTraffic/i-0abc/post'])
    await Promise.all(logs.processes.map(async p => await p.exited()))
    const r = await logs.stop(5000)
    expect(r.eventsUnsent).toBe(0)
    const rows = (await readFile(file, 'utf8')).trim().split('\n').map(l => JSON.parse(l) as { logGroup: string, logStream: string, message: string })
    for (const name of ['pre', 'post']) {
      const mine = rows.filter(x => x.logStream === `AllTraffic/i-0abc/${name}`)
      expect(mine.every(x => x.logGroup === '/aws/sagemaker/Endpoints/ep-file')).toBe(true)
      expect(mine.filter(x => !x.message.includes('stderr')).map(x => x.message)).toEqual(Array.from({ length: 500 }, (_, i) => `${name} ${i}`))
      expect(mine.filter(x => x.message.includes('stderr')).map(x => x.message)).toEqual([`${name} on stderr`])
    }
  })

  it('needs an endpoint name (or --log-group) to name the group of CloudWatch Logs, and checks --restart', () => {
    const base = { 'log-sink': 'stdout' }
    const s = resolveSettings([...kLogSettings, ...kIdentitySettings], base, {})
    // Lines kept local (stdout, file, off) need no group name: the sidecar test runs such a model server.
    const cw = resolveSettings([...kLogSettings, ...kIdentitySettings], { 'log-sink': 'cloudwatch' }, {})
    expect(() => startContainerLogs(cw, [{ name: 'a', command: ['true'] }], { env: {} })).toThrow(/--endpoint-name .* CloudWatch Logs group; or pass --log-group, or --log-sink/)
    const bad = resolveSettings([...kLogSettings, ...kIdentitySettings], { ...base, 'endpoint-name': 'e', restart: 'sometimes' }, {})
    expect(() => startContainerLogs(bad, [{ name: 'a', command: ['true'] }], { env: {} })).toThrow(/--restart/)
    expect(startContainerLogs(s, [{ name: 'a' }], { env: {} })).toBeUndefined()
  })
})
