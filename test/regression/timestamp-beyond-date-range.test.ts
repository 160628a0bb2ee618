// Found by the hostile-input fuzz: a timestamp outside Date's range made the rejection
// message itself throw (toISOString on an invalid Date), so record() threw.
import { expect, it } from 'vitest'
import { createAggregator, inMemorySink, ManualClock } from '../../src/index.js'

it('a timestamp beyond what Date can hold is rejected, not thrown', () => {
  const agg = createAggregator({ namespace: 'R', sink: inMemorySink(), clock: new ManualClock(), onWarning: () => {} })
  expect(() => { agg.record('M', 0, undefined, { timestamp: -8640000000000001 }) }).not.toThrow()
  expect(() => { agg.record('M', 0, undefined, { timestamp: 1e300 }) }).not.toThrow()
  expect(agg.stats().rejectedByReason).toMatchObject({ timestamp_too_old: 1, timestamp_in_future: 1 })
})

// Found by the long fuzz run (npm run fuzz): a metric name whose toString is not callable
// made the rejection message throw when options were not an object.
it('a name, unit or timestamp that cannot be turned into text is rejected, not thrown', () => {
  const agg = createAggregator({ namespace: 'R', sink: inMemorySink(), clock: new ManualClock(), onWarning: () => {} })
  const hostile = { toString: 0, toJSON () { throw new Error('no') } }
  expect(() => { agg.record(hostile as never, 0, undefined, false as never) }).not.toThrow()
  expect(() => { agg.record('M', 1, undefined, { unit: hostile as never }) }).not.toThrow()
  expect(() => { agg.record('M', 1, undefined, { timestamp: hostile as never }) }).not.toThrow()
  expect(() => { agg.record('M', hostile as never) }).not.toThrow()
  expect(agg.stats().samplesRejected).toBe(4)
})
