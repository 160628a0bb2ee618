/**
 * The spool under attack: two owners, a directory others can read, files it did not write, a
 * disk that refuses writes, and files damaged on disk. Each case prints its figure.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync, openSync, writeSync, closeSync, renameSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import * as zlib from 'node:zlib'
import { afterEach, describe, expect, it } from 'vitest'
import { createAggregator, inMemorySink, ManualClock, SinkError, type MetricSink } from '../../../src/index.js'
import { Spool } from '../../../src/publish/spool.js'
import { crc32Table, kRecordHeaderBytes } from '../../../src/publish/spool-record.js'
import { crash } from '../../helpers/spool-crash.js'
import { healthOf } from '../../../src/status/health.js'
import type { DatumBatch } from '../../../src/encode/datum.js'

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0)
const dirs: string[] = []
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })
function tmp (): string { const d = mkdtempSync(join(tmpdir(), 'minutely-spool-faults-')); dirs.push(d); return d }

function downSink (): MetricSink {
  return { name: 'down', maxValuesPerDatum: 150, maxDatumsPerBatch: 1000, maxBatchBytes: 983_616, async send () { throw new SinkError('connect ECONNREFUSED', { retryable: true }) } }
}

interface Said { code: string, message: string }
function listener (): { said: Said[], onWarning: (message: string, code: string) => void } {
  const said: Said[] = []
  return { said, onWarning: (message, code) => { said.push({ code, message }) } }
}

const lockOf = (dir: string): Record<string, unknown> => JSON.parse(readFileSync(join(dir, 'minutely.lock'), 'utf8'))

const batchFiles = (dir: string): string[] => readdirSync(dir).filter(f => f.endsWith('.batch')).sort()

/** One closed run with the sink down: `series` datums in one journaled batch. */
async function spoolOneBatch (dir: string, series: number): Promise<void> {
  const a = createAggregator({ namespace: 'S', sink: downSink(), clock: new ManualClock(T0), spoolDir: dir, closeTimeoutMs: 20, onWarning: () => {} })
  for (let i = 0; i < series; i++) a.record('Lat', i + 1, { Host: `h${i}` })
  await a.close()
}

describe('one owner per spool directory', () => {
  it('a second aggregator on the same directory is refused, naming it and the holder; after close() it may take it', async () => {
    const dir = join(tmp(), 'spool')
    const a = createAggregator({ namespace: 'S', sink: inMemorySink(), clock: new ManualClock(T0), spoolDir: dir, onWarning: () => {} })
    expect(lockOf(dir)).toMatchObject({ pid: process.pid })
    let err: unknown
    try { createAggregator({ namespace: 'S', sink: inMemorySink(), clock: new ManualClock(T0), spoolDir: dir, onWarning: () => {} }) } catch (e) { err = e }
    expect(err).toMatchObject({ name: 'ConfigError', code: 'METRICS_ERR_INVALID_OPTION' })
    expect((err as Error).message).toContain(dir)
    expect((err as Error).message).toContain(`pid ${process.pid}`)
    console.log(`two aggregators on one spool: second refused (${(err as Error).message})`)
    await a.close()
    expect(readdirSync(dir)).not.toContain('minutely.lock')   // released
    const b = createAggregator({ namespace: 'S', sink: inMemorySink(), clock: new ManualClock(T0), spoolDir: dir, onWarning: () => {} })
    await b.close()
  })

  it('a lock whose pid no longer runs is taken over, and said so', async () => {
    const dir = join(tmp(), 'spool')
    const a = createAggregator({ namespace: 'S', sink: inMemorySink(), clock: new ManualClock(T0), spoolDir: dir, onWarning: () => {} })
    crash(dir)
    const dead = lockOf(dir).pid as number
    const l = listener()
    const b = createAggregator({ namespace: 'S', sink: inMemorySink(), clock: new ManualClock(T0), spoolDir: dir, onWarning: l.onWarning })
    expect(l.said.map(x => x.message).join('\n')).toMatch(new RegExp(`took over the lock of pid ${dead}.*pid ${dead} is no longer running`))
    expect(lockOf(dir)).toMatchObject({ pid: process.pid })
    await b.close()
    void a
  })

  it('a lock whose pid now runs a later process (a reused pid) is taken over', async () => {
    const dir = join(tmp(), 'spool')
    const a = createAggregator({ namespace: 'S', sink: inMemorySink(), clock: new ManualClock(T0), spoolDir: dir, onWarning: () => {} })
    // The parent process is alive; the lock says it started at tick 1, long before it did.
    writeFileSync(join(dir, 'minutely.lock'), JSON.stringify({ ...lockOf(dir), pid: process.ppid, procStart: 1 }))
    const l = listener()
    const b = createAggregator({ namespace: 'S', sink: inMemorySink(), clock: new ManualClock(T0), spoolDir: dir, onWarning: l.onWarning })
    expect(l.said.map(x => x.message).join('\n')).toMatch(new RegExp(`pid ${process.ppid} now belongs to a process started after that lock was written`))
    await b.close()
    void a
  })

  it('a live process of this host holds it: refused', () => {
    const dir = join(tmp(), 'spool')
    mkdirSync(dir, { mode: 0o700 })
    const stat = readFileSync(`/proc/${process.ppid}/stat`, 'utf8')
    const procStart = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
    writeFileSync(join(dir, 'minutely.lock'), JSON.stringify({ pid: process.ppid, host: hostname(), boot: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), pidns: readlinkSync('/proc/self/ns/pid'), procStart, started: 'then', token: 'x' }), { mode: 0o600 })
    expect(() => createAggregator({ namespace: 'S', sink: inMemorySink(), spoolDir: dir, onWarning: () => {} }))
      .toThrow(new RegExp(`is in use by another minutely process: pid ${process.ppid}, started then`))
  })

  it('a holder that cannot be checked (another host or container) holds it while it refreshes the lock, and loses it 15 s after', async () => {
    const dir = join(tmp(), 'spool')
    mkdirSync(dir, { mode: 0o700 })
    const lock = join(dir, 'minutely.lock')
    writeFileSync(lock, JSON.stringify({ pid: 7, host: 'other-host', boot: 'another-boot', pidns: 'pid:[1]', procStart: 5, started: 'then', token: 'x' }), { mode: 0o600 })
    expect(() => createAggregator({ namespace: 'S', sink: inMemorySink(), spoolDir: dir, onWarning: () => {} }))
      .toThrow(/pid 7 on host other-host, started then; cannot be checked from here .* taken over once it has not for 15 s/)
    const old = new Date(Date.now() - 20_000)
    utimesSync(lock, old, old)
    const l = listener()
    const a = createAggregator({ namespace: 'S', sink: inMemorySink(), spoolDir: dir, onWarning: l.onWarning })
    expect(l.said.map(x => x.message).join('\n')).toMatch(/took over the lock of pid 7 on host other-host.*has not refreshed it for 20 s/)
    await a.close()
  })

  it('a takeover in progress by another process is not raced', () => {
    const dir = join(tmp(), 'spool')
    const a = createAggregator({ namespace: 'S', sink: inMemorySink(), spoolDir: dir, onWarning: () => {} })
    crash(dir)
    writeFileSync(join(dir, 'minutely.lock.takeover'), '', { mode: 0o600 })
    expect(() => createAggregator({ namespace: 'S', sink: inMemorySink(), spoolDir: dir, onWarning: () => {} })).toThrow(/being taken over by another process right now/)
    void a
  })

  it('the holder notices when another process took its lock, says so at error level, and stops writing to the spool', async () => {
    const dir = join(tmp(), 'spool')
    const clock = new ManualClock(T0)
    const l = listener()
    const a = createAggregator({ namespace: 'S', sink: inMemorySink(), clock, spoolDir: dir, checkpointIntervalMs: 1000, onWarning: l.onWarning })
    clock.advance(1000)   // a first checkpoint
    writeFileSync(join(dir, 'minutely.lock'), JSON.stringify({ ...lockOf(dir), pid: 4242, token: 'someone-else' }))
    await new Promise(resolve => setTimeout(resolve, 2300))   // the lock is checked every 2 s
    const said = l.said.find(x => x.code === 'METRICS_ERR_SPOOL')
    expect(said?.message).toMatch(/another process took the spool's lock .* \(pid 4242\): this process no longer writes to the spool/)
    expect(a.stats().spoolFailure).toMatch(/another process took/)
    expect(healthOf({ aggregator: a }).problems.map(p => p.component)).toEqual(['spool'])
    const before = readFileSync(join(dir, 'checkpoint'))
    a.record('Lat', 1)
    clock.advance(1000)   // a checkpoint is due: not written any more
    expect(readFileSync(join(dir, 'checkpoint'))).toEqual(before)
    await a.close()
    expect(lockOf(dir)).toMatchObject({ token: 'someone-else' })   // not removed: not this process's
  })

  it('batch file names never collide across runs, and older runs are replayed first', async () => {
    const dir = join(tmp(), 'spool')
    const c1 = new ManualClock(T0)
    const r1 = createAggregator({ namespace: 'S', sink: downSink(), clock: c1, spoolDir: dir, gracePeriodMs: 0, onWarning: () => {} })
    for (let m = 0; m < 3; m++) { r1.record('Run1', m); c1.advance(60_000) }
    await r1.flush()
    const first = batchFiles(dir)
    crash(dir)
    const c2 = new ManualClock(T0 + 180_000)
    const r2 = createAggregator({ namespace: 'S', sink: downSink(), clock: c2, spoolDir: dir, gracePeriodMs: 0, onWarning: () => {} })
    for (let m = 0; m < 2; m++) { r2.record('Run2', m); c2.advance(60_000) }
    await r2.flush()
    crash(dir)
    const all = batchFiles(dir)
    const second = all.filter(f => !first.includes(f))
    expect(first).toHaveLength(3)
    expect(second).toHaveLength(2)
    expect(all).toHaveLength(5)   // none overwritten
    const out = inMemorySink()
    const r3 = createAggregator({ namespace: 'S', sink: out, clock: new ManualClock(T0 + 600_000), spoolDir: dir, onWarning: () => {} })
    await r3.close()
    const names = out.datums().map(d => d.MetricName)
    console.log(`two runs on one spool: ${first.length} + ${second.length} batch files, ${first.length + second.length - all.length} names shared, replayed ${names.join(', ')}`)
    expect(names).toEqual(['Run1', 'Run1', 'Run1', 'Run2', 'Run2'])
  })
})

describe('the spool directory', () => {
  it('an existing directory others can read or write is refused, and its mode left as it was', () => {
    for (const mode of [0o755, 0o1777, 0o770]) {
      const dir = join(tmp(), 'shared')
      mkdirSync(dir)
      chmodSync(dir, mode)
      let msg = ''
      try { createAggregator({ namespace: 'S', sink: inMemorySink(), spoolDir: dir, onWarning: () => {} }) } catch (e) { msg = (e as Error).message }
      expect(msg).toContain(`options.spoolDir ${dir} can be read or written by others (mode ${mode.toString(8).padStart(4, '0')})`)
      expect(msg).toContain(`chmod 700 ${dir}`)
      expect(statSync(dir).mode & 0o7777).toBe(mode)
      expect(readdirSync(dir)).toEqual([])
      if (mode === 0o1777) console.log(`spool dir mode 1777 (like /tmp): refused, mode still ${(statSync(dir).mode & 0o7777).toString(8)}: ${msg}`)
    }
  })

  it('an existing owner-only directory is used as it is', async () => {
    const dir = join(tmp(), 'mine')
    mkdirSync(dir, { mode: 0o700 })
    const a = createAggregator({ namespace: 'S', sink: inMemorySink(), spoolDir: dir, onWarning: () => {} })
    await a.close()
    expect(statSync(dir).mode & 0o7777).toBe(0o700)
  })

  it.skipIf(process.getuid?.() !== 0)('a directory another user owns is refused (as root: they could plant links in it)', () => {
    const dir = join(tmp(), 'theirs')
    mkdirSync(dir, { mode: 0o700 })
    chownSync(dir, 12345, 12345)
    expect(() => createAggregator({ namespace: 'S', sink: inMemorySink(), spoolDir: dir, onWarning: () => {} })).toThrow(/is owned by uid 12345, not by this process's uid 0/)
  })

  it('a file where the directory should be, or on the way to it, is a ConfigError', () => {
    const d = tmp()
    const file = join(d, 'file')
    writeFileSync(file, 'x')
    expect(() => createAggregator({ namespace: 'S', sink: inMemorySink(), spoolDir: file, onWarning: () => {} })).toThrow(new RegExp(`options.spoolDir ${file} is not a directory`))
    expect(() => createAggregator({ namespace: 'S', sink: inMemorySink(), spoolDir: join(file, 'spool'), onWarning: () => {} })).toThrow(new RegExp(`options.spoolDir ${file}/spool is not a directory \\(ENOTDIR`))
  })

  it('replays only the files minutely wrote: others are left alone and mentioned once', async () => {
    const dir = join(tmp(), 'spool')
    await spoolOneBatch(dir, 3)
    const ours = batchFiles(dir)[0]
    const body = JSON.stringify({ namespace: 'Planted', bytes: 10, datums: [{ MetricName: 'Planted', Dimensions: [], Timestamp: T0, Unit: 'None', StorageResolution: 60, StatisticValues: { SampleCount: 1, Sum: 1, Minimum: 1, Maximum: 1 }, Values: [1], Counts: [1] }] })
    writeFileSync(join(dir, '0.batch'), body)                   // an old-style name
    writeFileSync(join(dir, 'notes.txt'), 'hello')
    writeFileSync(join(dir, '9-0badc0de-0.batch'), body)        // minutely's name, not its header
    const l = listener()
    const out = inMemorySink()
    const a = createAggregator({ namespace: 'S', sink: out, clock: new ManualClock(T0 + 120_000), spoolDir: dir, onWarning: l.onWarning })
    await a.close()
    expect(out.datums().map(d => d.MetricName)).toEqual(['Lat', 'Lat', 'Lat'])
    const text = l.said.map(x => x.message).join('\n')
    expect(l.said.filter(x => /did not write/.test(x.message))).toHaveLength(1)
    expect(text).toMatch(/2 files minutely did not write are left alone \(not replayed, not counted in the spool's size\): 0\.batch, notes\.txt/)
    expect(text).toMatch(/9-0badc0de-0\.batch: it does not start with minutely's header/)
    expect(readdirSync(dir).sort()).toEqual(['0.batch', 'checkpoint', 'notes.txt'])   // left alone; ours sent and removed
    expect(ours).toMatch(/^1-[0-9a-f]{8}-0\.batch$/)
  })
})

describe('a spool that cannot be written', () => {
  const enospc = (): Error => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
  const batch = (n: number): DatumBatch => ({ namespace: 'S', bytes: 100, datums: Array.from({ length: n }, (_, i) => ({ MetricName: 'Lat', Dimensions: [{ Name: 'Host', Value: `h${i}` }], Timestamp: new Date(T0), Unit: 'None', StorageResolution: 60, StatisticValues: { SampleCount: 2, Sum: 2, Minimum: 1, Maximum: 1 }, Values: [1], Counts: [2] })) })

  it('is said at once at error level, counted, and failing until a write of that kind succeeds again', () => {
    const dir = join(tmp(), 'spool')
    let full = true
    const said: Said[] = []
    let now = T0
    const spool = new Spool({
      dir, maxBytes: 2 ** 30, now: () => now,
      warner: { warn: (_k, code, message) => { said.push({ code: String(code), message }) } },
      writeFile: (path, chunks) => {
        if (full) throw enospc()
        writeFileSync(path, Buffer.concat(chunks.map(c => Buffer.from(c))), { mode: 0o600 })
      },
    })
    expect(spool.append(batch(3))).toBe(-1)
    expect(said).toEqual([{ code: 'METRICS_ERR_SPOOL', message: expect.stringMatching(/cannot be written \(ENOSPC: no space left on device, write, writing a batch\): sealed minutes are kept in memory only/) }])
    expect(spool.writeCheckpoint(new Uint8Array(16), { aggregates: 1, samples: 5 })).toBe(false)
    expect(spool.stats.spoolWriteErrors).toBe(2)
    expect(spool.stats.spoolFailure).toMatch(/cannot be written \(ENOSPC.*\): sealed minutes are kept in memory only and open minutes are not checkpointed \(a crash now loses them\)/)
    expect(spool.stats.spoolFailureSince).toBe(T0)
    expect(readdirSync(dir).filter(f => f.endsWith('.tmp'))).toEqual([])
    full = false
    now += 5000
    expect(spool.writeCheckpoint(new Uint8Array(16), { aggregates: 1, samples: 5 })).toBe(true)
    expect(spool.stats.spoolFailure).toMatch(/sealed minutes are kept in memory only \(a crash/)   // batches have not been written yet
    expect(spool.append(batch(3))).toBeGreaterThanOrEqual(0)
    expect(spool.stats.spoolFailure).toBeNull()
    expect(said.at(-1)?.message).toMatch(/is writable again \(2 writes failed since 2026-11-25T12:00:00.000Z\)/)
    console.log(`spool full (ENOSPC through the write seam): ${spool.stats.spoolWriteErrors} write errors, said at once as ${said[0].code}; writable again after space came back`)
    spool.release()
  })

  it('the directory replaced under a running engine: checkpoints fail, health says so, and it recovers', async () => {
    const d = tmp()
    const dir = join(d, 'spool')
    const clock = new ManualClock(T0)
    const l = listener()
    const a = createAggregator({ namespace: 'S', sink: inMemorySink(), clock, spoolDir: dir, checkpointIntervalMs: 1000, onWarning: l.onWarning })
    a.record('Lat', 1)
    clock.advance(1000)
    expect(healthOf({ aggregator: a }).status).toBe('ok')
    renameSync(dir, join(d, 'away'))
    writeFileSync(dir, 'not a directory')
    clock.advance(1000)
    const h = healthOf({ aggregator: a })
    expect(h.status).toBe('unhealthy')
    expect(h.problems).toEqual([{ component: 'spool', message: expect.stringMatching(/^the spool .* cannot be written \(ENOTDIR.*open minutes are not checkpointed \(a crash now loses them\)$/), since: T0 + 2000 }])
    expect(l.said.filter(x => x.code === 'METRICS_ERR_SPOOL')).toHaveLength(1)
    expect(a.stats().spoolWriteErrors).toBe(1)
    rmSync(dir); renameSync(join(d, 'away'), dir)
    clock.advance(1000)
    expect(healthOf({ aggregator: a }).status).toBe('ok')
    await a.close()
  })
})

describe('damaged spool files', () => {
  it('node:zlib crc32 and the fallback table agree', () => {
    const data = new Uint8Array(4096).map((_, i) => (i * 7919) & 0xff)
    expect(crc32Table(new TextEncoder().encode('123456789'))).toBe(0xcbf43926)   // the CRC-32 check value
    if (typeof (zlib as { crc32?: unknown }).crc32 === 'function') expect(crc32Table(data)).toBe((zlib as unknown as { crc32: (d: Uint8Array) => number }).crc32(data))
  })

  it('a batch with 8 overwritten bytes: its 14 datums reported lost, 0 published', async () => {
    const dir = join(tmp(), 'spool')
    await spoolOneBatch(dir, 14)
    const file = join(dir, batchFiles(dir)[0])
    const fd = openSync(file, 'r+')
    writeSync(fd, Buffer.from('99999999'), 0, 8, kRecordHeaderBytes + 200)
    closeSync(fd)
    const l = listener()
    const out = inMemorySink()
    const a = createAggregator({ namespace: 'S', sink: out, clock: new ManualClock(T0 + 120_000), spoolDir: dir, onWarning: l.onWarning })
    await a.close()
    const st = a.stats()
    const said = l.said.filter(x => x.code === 'METRICS_ERR_SPOOL').map(x => x.message)
    console.log(`corrupt batch (8 bytes overwritten): ${st.spoolCorruptDatums} datums reported lost, ${out.datums().length} published: ${said[0]}`)
    expect(out.datums()).toHaveLength(0)
    expect(st.spoolCorruptFiles).toBe(1)
    expect(st.spoolCorruptDatums).toBe(14)
    expect(st.spoolCorruptSamples).toBe(14)
    expect(said).toEqual([expect.stringMatching(/journaled batch is damaged and not sent: 14 datums \(14 samples\) are lost \(.*: its body fails its checksum/)])
    expect(batchFiles(dir)).toEqual([])
  })

  it('a batch of 14 datums cut short: 14 datums reported lost, 0 published', async () => {
    const dir = join(tmp(), 'spool')
    await spoolOneBatch(dir, 14)
    const file = join(dir, batchFiles(dir)[0])
    truncateSync(file, statSync(file).size - 100)
    const l = listener()
    const out = inMemorySink()
    const a = createAggregator({ namespace: 'S', sink: out, clock: new ManualClock(T0 + 120_000), spoolDir: dir, onWarning: l.onWarning })
    await a.close()
    console.log(`truncated batch: ${a.stats().spoolCorruptDatums} datums reported lost, ${out.datums().length} published`)
    expect(out.datums()).toHaveLength(0)
    expect(a.stats().spoolCorruptDatums).toBe(14)
    expect(l.said.map(x => x.message).join('\n')).toMatch(/14 datums \(14 samples\) are lost .*cut short or overwritten/)
  })

  it('a batch torn while it was written (the process died before the rename) is said lost; a complete one is kept', async () => {
    const dir = join(tmp(), 'spool')
    await spoolOneBatch(dir, 5)
    const [name] = batchFiles(dir)
    const whole = readFileSync(join(dir, name))
    renameSync(join(dir, name), join(dir, name + '.tmp'))                    // complete, not yet renamed
    writeFileSync(join(dir, '1-00000000-7.batch.tmp'), whole.subarray(0, 100), { mode: 0o600 })   // torn
    const l = listener()
    const out = inMemorySink()
    const a = createAggregator({ namespace: 'S', sink: out, clock: new ManualClock(T0 + 120_000), spoolDir: dir, onWarning: l.onWarning })
    await a.close()
    expect(out.datums()).toHaveLength(5)
    expect(l.said.map(x => x.message).join('\n')).toMatch(/5 datums \(5 samples\) are lost \(1-00000000-7\.batch\.tmp: it is cut short/)
  })

  it('a zero-length checkpoint is said: the open minutes are lost, how many unknown', () => {
    const dir = join(tmp(), 'spool')
    mkdirSync(dir, { mode: 0o700 })
    writeFileSync(join(dir, 'checkpoint'), '', { mode: 0o600 })
    const l = listener()
    const a = createAggregator({ namespace: 'S', sink: inMemorySink(), spoolDir: dir, onWarning: l.onWarning })
    expect(l.said).toContainEqual({ code: 'METRICS_ERR_SPOOL', message: expect.stringMatching(/checkpoint is damaged and not restored: the open minutes of the previous run are lost \(how many is unknown\) \(checkpoint: the file is empty \(0 bytes\)\)/) })
    expect(a.stats().spoolCorruptFiles).toBe(1)
    void a.close()
  })

  it('a checkpoint cut short: what it held is said, and nothing of it (no NaN) is published', async () => {
    const dir = join(tmp(), 'spool')
    const clock = new ManualClock(T0)
    const a = createAggregator({ namespace: 'S', sink: inMemorySink(), clock, spoolDir: dir, checkpointIntervalMs: 1000, onWarning: () => {} })
    for (let i = 0; i < 20; i++) a.record('Lat', i, { Host: `h${i % 4}` })
    clock.advance(1000)
    crash(dir)
    const file = join(dir, 'checkpoint')
    truncateSync(file, statSync(file).size - 40)
    const l = listener()
    const out = inMemorySink()
    const b = createAggregator({ namespace: 'S', sink: out, clock: new ManualClock(T0 + 2000), spoolDir: dir, onWarning: l.onWarning })
    await b.close()
    const msg = l.said.find(x => x.code === 'METRICS_ERR_SPOOL')?.message
    console.log(`checkpoint cut short: ${msg}; published ${out.datums().length} datums`)
    expect(msg).toMatch(/checkpoint is damaged and not restored: 4 open aggregates \(20 samples\) of the previous run are lost \(checkpoint: it is cut short/)
    expect(out.datums()).toHaveLength(0)
    expect(b.stats().spoolCorruptSamples).toBe(20)
  })
})
