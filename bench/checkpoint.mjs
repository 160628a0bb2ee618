/**
 * What a checkpoint costs in steady state: bytes written per second and CPU ms per
 * checkpoint, with `series` open series of which 1% or 100% take samples each second.
 *
 *   node bench/checkpoint.mjs [--series 25000,100000] [--changing 0.01,1] [--seconds N]
 *
 * Seconds default to 150 at 1% and 5 at 100% (where every checkpoint is a snapshot). At 1%
 * the log does not reach the snapshot's size within 150 s, so the figure has no compaction in
 * it (`snapshots` counts them): one snapshot each time the log has grown as large as it, which
 * at most doubles the average bytes.
 *
 * Every series first gets 20 latencies (1-300 ms); a full checkpoint is written. Then, each second
 * (ManualClock, inside one minute, so no seal runs), the changing share of series takes one
 * sample and the clock moves 1 s: the checkpoint timer writes what changed. Bytes are this
 * process's write() bytes (/proc/self/io wchar), exact; CPU is process.cpuUsage() around the
 * clock step (the checkpoint alone: recording happens before it). `fullBytes` is the size of
 * a full checkpoint of the same series: what rewriting everything every second writes.
 * Writes its figures into bench/results.json under "checkpoint", leaving other keys alone.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createAggregator, inMemorySink, ManualClock } from '../dist/index.js'

const { values: args } = parseArgs({ options: { series: { type: 'string', default: '25000,100000' }, changing: { type: 'string', default: '0.01,1' }, seconds: { type: 'string', default: '' } } })
const wchar = () => Number(/wchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))[1])

function run (series, changing, seconds) {
  const base = mkdtempSync(join(tmpdir(), 'minutely-bench-checkpoint-'))
  const dir = join(base, 'spool')
  const t0 = Date.UTC(2026, 0, 1, 0, 0, 1)
  const clock = new ManualClock(t0)
  const a = createAggregator({ namespace: 'Bench', sink: inMemorySink(), clock, spoolDir: dir, checkpointIntervalMs: 1000, maxSeries: series + 10, onWarning: () => {} })
  const handles = []
  for (let i = 0; i < series; i++) handles.push(a.series('Latency', { Endpoint: `e${i % 50}`, Host: `host-${i}` }))
  for (let i = 0; i < series; i++) for (let k = 0; k < 20; k++) handles[i].record(1 + ((i * 7 + k * 31) % 300))
  clock.advance(1000)   // the full checkpoint of every series
  const fullBytes = statSync(join(dir, 'checkpoint')).size
  const n = Math.max(1, Math.round(series * changing))
  let cursor = 0
  let bytes = 0; let cpu = 0; const perTick = []
  for (let s = 0; s < seconds; s++) {
    for (let k = 0; k < n; k++) { handles[cursor].record(1 + ((cursor + s * 13) % 300)); cursor = (cursor + 1) % series }
    const w0 = wchar(); const c0 = process.cpuUsage()
    clock.advance(1000)
    const c = process.cpuUsage(c0); const w = wchar() - w0
    bytes += w; cpu += (c.user + c.system) / 1000; perTick.push(w)
  }
  // Dropped without close(): its timers run on the ManualClock, so nothing more happens.
  rmSync(base, { recursive: true, force: true })
  return { series, changing, seconds, fullBytes, bytesPerSecond: Math.round(bytes / seconds), cpuMsPerCheckpoint: +(cpu / seconds).toFixed(2), vsFull: +(bytes / seconds / fullBytes).toFixed(4), maxBytesOneSecond: Math.max(...perTick), snapshots: perTick.filter(w => w > fullBytes / 2).length }
}

const out = []
for (const series of args.series.split(',').map(Number)) {
  for (const changing of args.changing.split(',').map(Number)) {
    const r = run(series, changing, args.seconds !== '' ? Number(args.seconds) : changing >= 0.5 ? 5 : 150)
    console.log(`${series.toLocaleString('en-US')} series, ${(changing * 100).toFixed(0)}% changing/s: ${r.bytesPerSecond.toLocaleString('en-US')} B/s written (${(r.vsFull * 100).toFixed(1)}% of a full ${r.fullBytes.toLocaleString('en-US')}-byte checkpoint a second), ${r.cpuMsPerCheckpoint} ms CPU per checkpoint`)
    out.push(r)
  }
}
const file = new URL('./results.json', import.meta.url)
const all = JSON.parse(readFileSync(file, 'utf8'))
all.checkpoint = { date: new Date().toISOString(), node: process.version, runs: out }
writeFileSync(file, JSON.stringify(all, null, 2) + '\n')
