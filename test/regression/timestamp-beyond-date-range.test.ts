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
