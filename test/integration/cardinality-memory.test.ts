/**
 * A buggy client puts a request id in a dimension: 1M distinct series are attempted. The
 * series cap folds everything past it into one overflow series, so memory stays bounded and
 * every sample is still published. Prints its figure.
 */
import { execFileSync } from 'node:child_process'
import { expect, it } from 'vitest'

it('1M distinct series attempted: memory stays under budget and every sample is published', () => {
  const out = execFileSync(process.execPath, ['--expose-gc', 'test/fixtures/cardinality.mjs', '1000000', '20000'], { encoding: 'utf8', timeout: 120_000 })
  const r = JSON.parse(out.trim().split('\n').pop()!) as { heapGrowthMB: number, peakHeapGrowthMB: number, activeSeries: number, samplesOverflowed: number, samplesAccepted: number, published: number }
  console.log(`cardinality: ${JSON.stringify(r)}`)
  expect(r.activeSeries).toBe(20_001)            // the cap plus one overflow series
  expect(r.samplesOverflowed).toBe(1_000_000 - 20_000)
  expect(r.samplesAccepted).toBe(1_000_000)
  expect(r.published).toBe(1_000_000)
  expect(r.peakHeapGrowthMB).toBeLessThan(256)   // the budget: 20k series, not 1M
}, 150_000)
