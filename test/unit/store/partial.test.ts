import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PartialStore } from '../../../src/store/partial.js'
import { kPackedLayout } from '../../../src/store/histogram.js'
import { createAggregator, inMemorySink, ManualClock } from '../../../src/index.js'

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0)

function setup () {
  const clock = new ManualClock(T0 + 10_000)
  const sink = inMemorySink()
  const agg = createAggregator({ namespace: 'W', sink, clock, onWarning: () => {} })
  return { clock, sink, agg }
}

describe('PartialStore → Aggregator.mergePartial', () => {
  it('packs, moves through structured clone, and merges what one thread would record', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.tuple(fc.constantFrom('A', 'B'), fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom('x', 'y', 'z'), fc.nat(2)), { minLength: 1, maxLength: 300 }),
      async (samples) => {
        const direct = setup()
        const split = setup()
        const dims = { x: { Host: 'x' }, y: { Host: 'y' }, z: { Host: 'z' } } as const
        const stores = [new PartialStore(6), new PartialStore(6), new PartialStore(6)]
        for (const [m, v, d, w] of samples) {
          direct.agg.record(m, v, dims[d], { unit: 'Milliseconds' })
          stores[w].sample(m, v, 'Milliseconds', { ...dims[d] }, NaN, 1)   // fresh objects: identity may differ
        }
        for (const s of stores) split.agg.mergePartial(structuredClone(s.drain()), split.clock.now())
        await Promise.all([direct.agg.close(), split.agg.close()])
        const norm = (xs: ReturnType<typeof direct.sink.datums>) => xs.map(d => JSON.stringify(d)).sort()
        expect(norm(split.sink.datums())).toEqual(norm(direct.sink.datums()))
        expect(split.agg.stats().samplesAccepted).toBe(samples.length)
      }), { numRuns: 50 })
  })

  it('counts rejections from the worker and from series validation by reason', async () => {
    const { agg } = setup()
    const s = new PartialStore(6)
    s.sample('M', Number.NaN, undefined, undefined, NaN, 1)
    s.sample('M', 1, undefined, undefined, NaN, 0)
    s.sample('M', 1, undefined, undefined, T0 - 30 * 86_400_000, 1)
    s.sample('M', 1, 'Parsecs', undefined, NaN, 1)
    s.sample('M', 1, 'Parsecs', undefined, NaN, 1)
    s.sample('Good', 5, undefined, { A: 'a' }, NaN, 1)
    s.reject('malformed', 'line 3: no type')
    agg.mergePartial(s.drain(), T0 + 10_000)
    const st = agg.stats()
    expect(st.rejectedByReason).toMatchObject({ not_a_number: 1, count_invalid: 1, timestamp_too_old: 1, unit_invalid: 2, malformed: 1 })
    expect(st.samplesRejected).toBe(6)
    expect(st.samplesAccepted).toBe(1)
    await agg.close()
  })

  it('puts timestamped samples in their minute and the rest in the batch minute', async () => {
    const { agg, sink } = setup()
    const s = new PartialStore(6)
    s.nowMs = T0 + 10_000
    s.sample('M', 1, undefined, undefined, NaN, 1)
    s.sample('M', 2, undefined, undefined, T0 - 120_000, 1)
    agg.mergePartial(s.drain(), T0 + 10_000)
    await agg.close()
    const ts = sink.datums().map(d => [d.Timestamp.getTime(), d.StatisticValues.Sum]).sort()
    expect(ts).toEqual([[T0 - 120_000, 2], [T0, 1]].sort())
  })

  it('a partial packed in another layout version is not misread: its samples are counted lost, naming both versions', async () => {
    const warnings: string[] = []
    const sink = inMemorySink()
    const agg = createAggregator({ namespace: 'W', sink, clock: new ManualClock(T0 + 10_000), onWarning: m => warnings.push(m) })
    const s = new PartialStore(6)
    s.sample('M', 1, undefined, undefined, NaN, 1)
    s.sample('M', 2, undefined, undefined, NaN, 1)
    s.sample('M', Number.NaN, undefined, undefined, NaN, 1)
    const p = s.drain()
    expect(p.layout).toBe(kPackedLayout)
    agg.mergePartial({ ...p, layout: kPackedLayout + 1 }, T0 + 10_000)
    const st = agg.stats()
    expect(st.samplesAccepted).toBe(0)
    expect(st.rejectedByReason).toMatchObject({ worker_failed: 2, not_a_number: 1 })
    expect(warnings.join('\n')).toMatch(new RegExp(`layout version ${kPackedLayout + 1}; this engine reads layout version ${kPackedLayout}`))
    await agg.close()
    expect(sink.datums()).toHaveLength(0)
  })
})
