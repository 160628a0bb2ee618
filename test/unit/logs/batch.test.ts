import { describe, expect, it } from 'vitest'
import { batchEnd, type QueuedEvent } from '../../../src/logs/batch.js'
import { kEventOverheadBytes, kMaxBatchBytes, kMaxBatchSpanMs, kMaxEventsPerBatch } from '../../../src/logs/limits.js'

const limits = { maxEvents: kMaxEventsPerBatch, maxBytes: kMaxBatchBytes }
const ev = (timestamp: number, message = 'x'): QueuedEvent => ({ timestamp, message, bytes: Buffer.byteLength(message) + kEventOverheadBytes })

describe('batchEnd', () => {
  it('takes at most 10,000 events', () => {
    const q = Array.from({ length: 25_000 }, (_, i) => ev(1000 + i))
    expect(batchEnd(q, 0, limits)).toBe(10_000)
    expect(batchEnd(q, 20_000, limits)).toBe(25_000)
  })
  it('counts 26 bytes of overhead per event against 1,048,576', () => {
    const msg = 'y'.repeat(1000) // 1026 bytes an event
    const q = Array.from({ length: 2000 }, () => ev(5, msg))
    const n = batchEnd(q, 0, limits)
    expect(n).toBe(Math.floor(kMaxBatchBytes / 1026))
    expect(n * 1026).toBeLessThanOrEqual(kMaxBatchBytes)
    expect((n + 1) * 1026).toBeGreaterThan(kMaxBatchBytes)
  })
  it('stops before an event that goes back in time', () => {
    expect(batchEnd([ev(10), ev(11), ev(9), ev(12)], 0, limits)).toBe(2)
  })
  it('keeps a batch within 24 hours', () => {
    const q = [ev(0), ev(kMaxBatchSpanMs - 1), ev(kMaxBatchSpanMs), ev(kMaxBatchSpanMs + 5)]
    expect(batchEnd(q, 0, limits)).toBe(2)
    expect(batchEnd(q, 2, limits)).toBe(4)
  })
  it('always takes one event, and honours a cap', () => {
    expect(batchEnd([ev(1, 'z'.repeat(200_000))], 0, { maxEvents: 10, maxBytes: 1000 })).toBe(1)
    expect(batchEnd([ev(1), ev(2), ev(3), ev(4)], 0, limits, 3)).toBe(3)
    expect(batchEnd([ev(1)], 1, limits)).toBe(1)
  })
})
