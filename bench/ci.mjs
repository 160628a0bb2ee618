/**
 * `npm run bench:ci`: a short form of the benchmarks for CI. It fails (exit 1) only when a
 * ratio is far outside its target, so that a regression of a hot path cannot land unnoticed
 * while a noisy machine cannot fail the build:
 *
 * - ratios are taken between libraries measured in the same run (prom-client's bound child
 *   is the yardstick of the machine's speed), never against wall-clock constants;
 * - the ingest check runs well below the target rates and tolerates a few % of loss, but
 *   never more samples published than sent, nor a Sum that does not match what was published.
 *
 * Writes bench/results.local.json (git-ignored).
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { formatMicro, runMicro } from './micro.mjs'
import { formatIngest, runIngest } from './sidecar-ingest.mjs'
import { formatMemory, runMemory } from './run.mjs'

const failures = []
const checks = []
function check (what, value, ok, bound) {
  checks.push({ what, value: Number(value.toFixed(3)), bound, ok })
  if (!ok) failures.push(`${what}: ${value.toFixed(2)} (bound ${bound})`)
}

const rows = await runMicro({ timeMs: 150, warmupMs: 60 })
console.log(formatMicro(rows) + '\n')
const ns = (prefix) => rows.find(r => r.name.startsWith(prefix)).nsP50
const handle = ns('minutely handle')
const prom = ns('prom-client')
const hdrWasm = ns('hdr-histogram-js recordValue (WASM)')
// Targets: handle ≥ 50× prom-client; reused ≤ 25 ns, fresh 3-dim ≤ 100, fresh 10-dim ≤ 200 (prom ≈ 450–900 ns here).
check('prom-client bound child ÷ minutely handle', prom / handle, prom / handle >= 10, '≥ 10 (target 50)')
check('minutely handle ÷ hdr-histogram-js WASM', handle / hdrWasm, handle / hdrWasm <= 3, '≤ 3 (target < 1)')
check('agg.record reused dims ÷ prom-client', ns('minutely agg.record(name') / prom, ns('minutely agg.record(name') / prom <= 0.4, '≤ 0.4 (target ≈ 0.04)')
check('agg.record fresh 3-dim ÷ prom-client', ns('minutely agg.record fresh 3') / prom, ns('minutely agg.record fresh 3') / prom <= 0.6, '≤ 0.6 (target ≈ 0.15)')
check('agg.record fresh 10-dim ÷ prom-client', ns('minutely agg.record fresh 10') / prom, ns('minutely agg.record fresh 10') / prom <= 1.5, '≤ 1.5 (target ≈ 0.3)')

const memory = await runMemory([10_000], [100])
console.log(formatMemory(memory) + '\n')
const m = memory[0]
check('bytes per series-minute (10k series)', m.bytesPerSeries, m.bytesPerSeries <= 8192, '≤ 8192 (target 4096)')
check('seal of 10k series: published ÷ recorded samples', m.publishedSamples / m.sentSamples, m.publishedSamples === m.sentSamples, '= 1')

const ingest = []
for (const p of [{ lines: 20, rate: 1_000_000, durationMs: 2000 }, { lines: 1, rate: 100_000, durationMs: 2000 }]) {
  const r = await runIngest(p)
  ingest.push(r)
  console.log(formatIngest(r))
  const ratio = r.published / r.sentSamples
  check(`sidecar ${r.lines} line(s)/datagram at ${r.targetRate / 1e3}k/s: published ÷ sent`, ratio, ratio <= 1 && ratio >= 0.95, '0.95 .. 1')
  // With loss, which samples were lost is unknown; without, the Sum must be what was sent.
  if (r.lost === 0) check(`sidecar ${r.lines} line(s)/datagram: published Sum ÷ sent Sum`, r.publishedSum / r.sentSum, r.sumMatches, '= 1')
}

writeFileSync(fileURLToPath(new URL('./results.local.json', import.meta.url)), JSON.stringify({ date: new Date().toISOString(), micro: rows, memory, ingest, checks }, null, 2) + '\n')
console.log('\n' + checks.map(c => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.what}: ${c.value} (${c.bound})`).join('\n'))
if (failures.length > 0) {
  console.error(`\nbench:ci: ${failures.length} ratio(s) far outside their targets:\n  ${failures.join('\n  ')}`)
  process.exit(1)
}
console.log('\nbench:ci: every ratio within its generous bound')
